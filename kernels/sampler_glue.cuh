#pragma once
// The sampler's pointwise kernels around the denoiser call (cuda/model.hpp's
// K-step loop), twins of lines of the loop in diffusion/ddim.hpp:
//   clamp_divide    out = clamp(in, lo, hi) / s    (the model input of a step)
//   average_halves  p = (p + q) / 2                (flip augmentation)
//   scatter_step    result[b, k] = x0[b] * scale   (every step's x0 estimate)
// fp32 (the sampler's state).
#include "finepose/kernels/glue_common.cuh"

namespace finepose::kernels {

template <class F>
FP_GLOBAL void clamp_divide_kernel(F* out, const F* in, std::int64_t n, F lo, F hi, F s) {
  FP_GLUE_LOOP(i, n) { out[i] = fminf(fmaxf(in[i], lo), hi) / s; }
}

template <class F>
FP_GLOBAL void average_halves_kernel(F* p, const F* q, std::int64_t n) {
  FP_GLUE_LOOP(i, n) { p[i] = (p[i] + q[i]) / F(2); }
}

template <class F>
FP_GLOBAL void scatter_step_kernel(F* result, const F* x0, std::int64_t B, std::int64_t m, std::int64_t K,
                                   std::int64_t k, F scale) {
  FP_GLUE_LOOP(i, B * m) {
    const std::int64_t b = i / m, e = i % m;
    result[(b * K + k) * m + e] = scale == F(1) ? x0[i] : x0[i] * scale;
  }
}

// out = min(max(in, lo), hi) / s (a division, as upstream; not a reciprocal multiply).
inline void clamp_divide(float* out, const float* in, std::int64_t n, float lo, float hi, float s,
                         stream_t stream = nullptr) {
  const char* k = "clamp_divide";
  detail::glue_check(k, n);
  if (!(lo <= hi) || !(s != 0.f)) fail("kernel ", k, ": bad clamp [", lo, ", ", hi, "] or scale ", s);
  if (n == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "in", in);
  launch_kernel(k, &clamp_divide_kernel<float>, dim3(glue_blocks(n)), dim3(kGlueThreads), 0, stream, out, in, n, lo, hi,
                s);
}

// p = (p + q) / 2
inline void average_halves(float* p, const float* q, std::int64_t n, stream_t stream = nullptr) {
  const char* k = "average_halves";
  detail::glue_check(k, n);
  if (n == 0) return;
  check_ptr(k, "p", p);
  check_ptr(k, "q", q);
  launch_kernel(k, &average_halves_kernel<float>, dim3(glue_blocks(n)), dim3(kGlueThreads), 0, stream, p, q, n);
}

// result [B, K, m]: result[b, k, :] = x0[b, :] * scale
inline void scatter_step(float* result, const float* x0, std::int64_t B, std::int64_t m, std::int64_t K, std::int64_t k,
                         float scale, stream_t stream = nullptr) {
  const char* name = "scatter_step";
  if (B < 0 || m < 0 || K <= 0 || k < 0 || k >= K) fail("kernel ", name, ": bad shape B=", B, " m=", m, " K=", K, " k=", k);
  if (B * m == 0) return;
  check_ptr(name, "result", result);
  check_ptr(name, "x0", x0);
  launch_kernel(name, &scatter_step_kernel<float>, dim3(glue_blocks(B * m)), dim3(kGlueThreads), 0, stream, result, x0,
                B, m, K, k, scale);
}

}  // namespace finepose::kernels
