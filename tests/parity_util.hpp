#pragma once
// Helpers for tests that compare finepose with PyTorch fixtures.
#include <cmath>
#include <cstdlib>
#include <string>
#include <sys/stat.h>

#include "finepose/core/tensor.hpp"

namespace finepose::test {

inline bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// ||a - b|| / ||b|| in double; shapes must agree.
inline double rel_l2(const TensorF& a, const TensorF& b) {
  if (a.shape() != b.shape()) return INFINITY;
  const TensorF ca = a.contiguous(), cb = b.contiguous();
  double num = 0, den = 0;
  for (int64_t i = 0; i < ca.numel(); ++i) {
    const double d = double(ca.data()[i]) - double(cb.data()[i]);
    num += d * d;
    den += double(cb.data()[i]) * double(cb.data()[i]);
  }
  if (!std::isfinite(num)) return INFINITY;
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace finepose::test
