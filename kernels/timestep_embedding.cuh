#pragma once
// Sinusoidal timestep embedding (FinePOSE/MixSTE), computed in float32 like
// the torch code and ops::timestep_embedding (its CPU twin):
//   half = dim/2; c = float(log(10000) / (half - 1)); freq[i] = expf(float(i) * -c)
//   arg = float(t) * freq[i]; out = [sin(arg) for i < half] ++ [cos(arg) for i < half]
// One thread per (row, i).
#include <cmath>

#include "finepose/kernels/common.cuh"

namespace finepose::kernels {

template <class F>
FP_GLOBAL void timestep_embedding_kernel(F* out, const std::int64_t* t, std::int64_t n, int half, F neg_c) {
  const std::int64_t total = n * half, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t g = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < total; g += stride) {
    const std::int64_t r = g / half;
    const int i = int(g % half);
    const F arg = F(t[r]) * expf(F(i) * neg_c);
    out[r * 2 * half + i] = sinf(arg);
    out[r * 2 * half + half + i] = cosf(arg);
  }
}

inline void timestep_embedding(float* out, const std::int64_t* t, std::int64_t n, std::int64_t dim,
                               stream_t stream = nullptr) {
  const char* k = "timestep_embedding";
  check_count(k, "n", n);
  if (dim < 4 || dim % 2 != 0 || dim > (1 << 20)) fail("kernel ", k, ": dim ", dim, " must be even and in [4, 2^20]");
  if (n == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "t", t);
  const std::int64_t half = dim / 2;
  // the constant is formed on the host in double and rounded once, as upstream
  const float neg_c = -static_cast<float>(std::log(10000.0) / double(half - 1));
  const std::int64_t b = ceil_div(n * half, 256);
  launch_kernel(k, &timestep_embedding_kernel<float>, dim3(unsigned(b < 65536 ? b : 65536)), dim3(256), 0, stream, out, t,
                n, int(half), neg_c);
}

}  // namespace finepose::kernels
