#pragma once
// The arithmetic precision of the denoiser's big matrix products (ops::linear_packed):
// fp32 (the default and the parity reference), bf16 (bf16 operands, fp32
// accumulation) or int8 (per-output-channel weights, per-row dynamic activations,
// int32 accumulation). Layer norms, softmax, attention and the residual stream stay
// fp32 in every precision.
#include <string>

#include "finepose/core/error.hpp"

namespace finepose {

enum class Precision { fp32, bf16, int8 };

inline const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
  }
  return "?";
}

// what: the option's name in the message ("--precision").
inline Precision parse_precision(const std::string& s, const char* what = "precision") {
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  if (s == "int8") return Precision::int8;
  fail(what, ": '", s, "' is not a precision (fp32, bf16 or int8)");
}

}  // namespace finepose
