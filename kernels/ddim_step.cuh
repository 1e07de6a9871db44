#pragma once
// The pointwise parts of a DDIM step, with upstream's arithmetic (CPU twin:
// the loop in diffusion/ddim.hpp):
//   ddim_predict: x0 = clamp(pred * scale, lo, hi);
//                 eps = float((sqrt_recip_ac * double(x_t) - double(x0)) / sqrt_recipm1_ac)
//   ddim_update:  x = (x0 * sqrt_a_next + c * eps) + sigma * noise     (float32)
// fp32 only (the sampler's state stays fp32); kernels are templates on the
// float type only so the header can be included from many translation units.
#include "finepose/kernels/common.cuh"

namespace finepose::kernels {

constexpr int kDdimThreads = 256;

template <class F>
FP_GLOBAL void ddim_predict_kernel(F* x0, F* eps, const F* pred, const F* x_t, std::int64_t n, F scale, F lo, F hi,
                                   double sqrt_recip_ac, double sqrt_recipm1_ac) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const F v = fminf(fmaxf(pred[i] * scale, lo), hi);
    x0[i] = v;
    eps[i] = F((sqrt_recip_ac * double(x_t[i]) - double(v)) / sqrt_recipm1_ac);
  }
}

template <class F>
FP_GLOBAL void ddim_update_kernel(F* x, const F* x0, const F* eps, const F* noise, std::int64_t n, F sqrt_a_next, F c,
                                  F sigma) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    F v = x0[i] * sqrt_a_next + c * eps[i];
    if (noise) v += sigma * noise[i];
    x[i] = v;
  }
}

inline unsigned ddim_blocks(std::int64_t n) {
  const std::int64_t b = ceil_div(n, kDdimThreads);
  return unsigned(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

// x0/eps may not alias pred/x_t.
inline void ddim_predict(float* x0, float* eps, const float* pred, const float* x_t, std::int64_t n, float scale,
                         float lo, float hi, double sqrt_recip_ac, double sqrt_recipm1_ac, stream_t stream = nullptr) {
  const char* k = "ddim_predict";
  check_count(k, "n", n);
  if (!(lo <= hi)) fail("kernel ", k, ": clamp range [", lo, ", ", hi, "] is empty");
  if (!(sqrt_recipm1_ac != 0.0)) fail("kernel ", k, ": sqrt_recipm1_alphas_cumprod is 0");
  if (n == 0) return;
  check_ptr(k, "x0", x0);
  check_ptr(k, "eps", eps);
  check_ptr(k, "pred", pred);
  check_ptr(k, "x_t", x_t);
  launch_kernel(k, &ddim_predict_kernel<float>, dim3(ddim_blocks(n)), dim3(kDdimThreads), 0, stream, x0, eps, pred, x_t,
                n, scale, lo, hi, sqrt_recip_ac, sqrt_recipm1_ac);
}

// noise nullable (deterministic step, sigma ignored); x may alias x0 or eps.
inline void ddim_update(float* x, const float* x0, const float* eps, const float* noise, std::int64_t n,
                        float sqrt_a_next, float c, float sigma, stream_t stream = nullptr) {
  const char* k = "ddim_update";
  check_count(k, "n", n);
  if (n == 0) return;
  check_ptr(k, "x", x);
  check_ptr(k, "x0", x0);
  check_ptr(k, "eps", eps);
  launch_kernel(k, &ddim_update_kernel<float>, dim3(ddim_blocks(n)), dim3(kDdimThreads), 0, stream, x, x0, eps, noise, n,
                sqrt_a_next, c, sigma);
}

}  // namespace finepose::kernels
