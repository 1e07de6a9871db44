#pragma once
// What the small pointwise and layout kernels share: a grid-stride loop over n
// elements (one element per thread per pass), its launch size, and the size check.
#include "finepose/kernels/common.cuh"

namespace finepose::kernels {

constexpr int kGlueThreads = 256;

inline unsigned glue_blocks(std::int64_t n) {
  const std::int64_t b = ceil_div(n, kGlueThreads);
  return unsigned(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

// for (i over [0, n)) in a grid-stride loop; used inside FP_GLOBAL kernels only
#define FP_GLUE_LOOP(i, n)                                             \
  const std::int64_t fp_stride_ = std::int64_t(gridDim.x) * blockDim.x; \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += fp_stride_)

namespace detail {
inline void glue_check(const char* k, std::int64_t n) {
  if (n < 0) fail("kernel ", k, ": negative size ", n);
}
}  // namespace detail

}  // namespace finepose::kernels
