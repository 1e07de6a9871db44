#pragma once
// Layout change between MixSTE's spatial view [A, P, Q, D] (tokens = Q joints)
// and its temporal view [A, Q, P, D] (tokens = P frames): rows of D floats move.
#include <cstdint>
#include <cstring>

#include "finepose/core/parallel.hpp"

namespace finepose::ops {

// out[a, q, p, :] = in[a, p, q, :]
inline void swap_middle_axes(float* out, const float* in, int64_t A, int64_t P, int64_t Q, int64_t D) {
  parallel_for(A * P, [&](int64_t ap) {
    const int64_t a = ap / P, p = ap % P;
    for (int64_t q = 0; q < Q; ++q)
      std::memcpy(out + ((a * Q + q) * P + p) * D, in + ((a * P + p) * Q + q) * D, sizeof(float) * D);
  }, 16);
}

}  // namespace finepose::ops
