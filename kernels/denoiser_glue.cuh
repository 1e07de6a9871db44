#pragma once
// The small pointwise and layout kernels the device denoiser (DeviceFinePose,
// include/finepose/cuda/model.hpp) needs between its GEMMs and the fused
// kernels, each the twin of a loop in model/mixste.hpp or diffusion/ddim.hpp:
//   swap_middle_axes      [A, P, Q, D] -> [A, Q, P, D]       (ops::swap_middle_axes)
//   build_pose_input      [x2d, x3d] rows for the patch embedding
//   add_row_embeddings    x = (x + pos[r mod period]) + cond[r / group]
//   bias_residual_add     x += y + bias                     (Linear bias, then residual)
//   layer_norm_convert    LayerNorm from one storage type into another (fp32
//                         residual stream -> bf16 GEMM operand)
//   bias_to_float         fp32 out = in + bias              (the head: storage -> sampler state)
//   clamp_divide          out = clamp(in, lo, hi) / s       (model input of a DDIM step)
//   average_halves        p = (p + q) / 2                   (flip TTA)
//   scatter_step          result[b, k] = x0[b] * scale      (every step's x0 estimate)
// Storage T = float, bfloat16 or half for activations; parameters and the
// sampler state are fp32. Grid-stride loops, one element per thread (layer
// norm: one warp per row, as layer_norm_forward.cuh).
#include "kernels/common.cuh"
#include "kernels/layer_norm_forward.cuh"

namespace finepose::kernels {

constexpr int kGlueThreads = 256;

inline unsigned glue_blocks(std::int64_t n) {
  const std::int64_t b = ceil_div(n, kGlueThreads);
  return unsigned(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

#define FP_GLUE_LOOP(i, n)                                             \
  const std::int64_t fp_stride_ = std::int64_t(gridDim.x) * blockDim.x; \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += fp_stride_)

template <class T>
FP_GLOBAL void swap_middle_axes_kernel(T* out, const T* in, std::int64_t A, std::int64_t P, std::int64_t Q,
                                       std::int64_t D) {
  FP_GLUE_LOOP(i, A * P * Q * D) {
    const std::int64_t d = i % D, r = i / D;  // r = (a * Q + q) * P + p in the output
    const std::int64_t p = r % P, q = (r / P) % Q, a = r / (P * Q);
    out[i] = in[((a * P + p) * Q + q) * D + d];
  }
}

template <class T>
FP_GLOBAL void build_pose_input_kernel(T* out, const float* x2d, const float* x3d, std::int64_t rows, std::int64_t HFJ,
                                       std::int64_t FJ, int C2) {
  const int W = C2 + 3;
  FP_GLUE_LOOP(i, rows * W) {
    const std::int64_t r = i / W;
    const int c = int(i % W);
    const std::int64_t b = r / HFJ, fj = r % FJ;
    store(out + i, c < C2 ? x2d[(b * FJ + fj) * C2 + c] : x3d[r * 3 + (c - C2)]);
  }
}

template <class T>
FP_GLOBAL void add_row_embeddings_kernel(T* x, std::int64_t rows, std::int64_t D, const float* pos,
                                         std::int64_t pos_period, const float* cond, std::int64_t cond_group) {
  FP_GLUE_LOOP(i, rows * D) {
    const std::int64_t r = i / D, c = i % D;
    float v = load(x + i) + pos[(r % pos_period) * D + c];
    if (cond) v = v + cond[(r / cond_group) * D + c];
    store(x + i, v);
  }
}

template <class X, class Y>
FP_GLOBAL void bias_residual_add_kernel(X* x, const Y* y, const float* bias, std::int64_t rows, std::int64_t cols) {
  FP_GLUE_LOOP(i, rows * cols) {
    float v = load(y + i);
    if (bias) v += bias[i % cols];
    store(x + i, load(x + i) + v);
  }
}

template <class In, class Out>
FP_GLOBAL void layer_norm_convert_kernel(Out* out, const In* in, const float* gamma, const float* beta,
                                         std::int64_t rows, int dim, float eps) {
  const int lane = int(threadIdx.x);
  const std::int64_t row = std::int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;  // the whole warp leaves together
  const In* x = in + row * dim;
  Out* y = out + row * dim;
  float mean, rstd;
  row_mean_rstd(x, dim, eps, lane, mean, rstd);
  for (int i = lane; i < dim; i += kWarpSize) {
    float v = (load(x + i) - mean) * rstd;
    if (gamma) v *= gamma[i];
    if (beta) v += beta[i];
    store(y + i, v);
  }
}

template <class T>
FP_GLOBAL void bias_to_float_kernel(float* out, const T* in, const float* bias, std::int64_t rows, std::int64_t cols) {
  FP_GLUE_LOOP(i, rows * cols) {
    float v = load(in + i);
    if (bias) v += bias[i % cols];
    out[i] = v;
  }
}

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

#undef FP_GLUE_LOOP

namespace detail {
inline void glue_check(const char* k, std::int64_t n) {
  if (n < 0) fail("kernel ", k, ": negative size ", n);
}
}  // namespace detail

// out[a, q, p, :] = in[a, p, q, :]; out must not alias in.
template <class T>
void swap_middle_axes(T* out, const T* in, std::int64_t A, std::int64_t P, std::int64_t Q, std::int64_t D,
                      stream_t stream = nullptr) {
  const char* k = "swap_middle_axes";
  if (A < 0 || P < 0 || Q < 0 || D < 0) fail("kernel ", k, ": bad shape A=", A, " P=", P, " Q=", Q, " D=", D);
  const std::int64_t n = A * P * Q * D;
  if (n == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "in", in);
  if (out == in) fail("kernel ", k, ": out aliases in");
  launch_kernel(k, &swap_middle_axes_kernel<T>, dim3(glue_blocks(n)), dim3(kGlueThreads), 0, stream, out, in, A, P, Q, D);
}

// out [NB*H*F*J, C2+3]: row (b, h, f, j) = [x2d[b, f, j, :], x3d[b, h, f, j, :]].
template <class T>
void build_pose_input(T* out, const float* x2d, const float* x3d, std::int64_t NB, std::int64_t H, std::int64_t FJ,
                      std::int64_t C2, stream_t stream = nullptr) {
  const char* k = "build_pose_input";
  if (NB < 0 || H <= 0 || FJ <= 0 || C2 < 0 || C2 > 64) fail("kernel ", k, ": bad shape NB=", NB, " H=", H, " FJ=", FJ, " C2=", C2);
  const std::int64_t rows = NB * H * FJ;
  if (rows == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "x3d", x3d);
  if (C2 > 0) check_ptr(k, "x2d", x2d);
  launch_kernel(k, &build_pose_input_kernel<T>, dim3(glue_blocks(rows * (C2 + 3))), dim3(kGlueThreads), 0, stream, out,
                x2d, x3d, rows, H * FJ, FJ, int(C2));
}

// x [rows, D] += pos[r mod pos_period] (then + cond[r / cond_group] when cond is given).
template <class T>
void add_row_embeddings(T* x, std::int64_t rows, std::int64_t D, const float* pos, std::int64_t pos_period,
                        const float* cond, std::int64_t cond_group, stream_t stream = nullptr) {
  const char* k = "add_row_embeddings";
  if (rows < 0 || D <= 0 || pos_period <= 0 || (cond && cond_group <= 0))
    fail("kernel ", k, ": bad shape rows=", rows, " D=", D, " pos_period=", pos_period, " cond_group=", cond_group);
  if (rows == 0) return;
  check_ptr(k, "x", x);
  check_ptr(k, "pos", pos);
  launch_kernel(k, &add_row_embeddings_kernel<T>, dim3(glue_blocks(rows * D)), dim3(kGlueThreads), 0, stream, x, rows, D,
                pos, pos_period, cond, cond_group);
}

// x [rows, cols] += y + bias (bias nullable); x and y may differ in storage type.
template <class X, class Y>
void bias_residual_add(X* x, const Y* y, const float* bias, std::int64_t rows, std::int64_t cols,
                       stream_t stream = nullptr) {
  const char* k = "bias_residual_add";
  if (rows < 0 || cols <= 0) fail("kernel ", k, ": bad shape rows=", rows, " cols=", cols);
  if (rows == 0) return;
  check_ptr(k, "x", x);
  check_ptr(k, "y", y);
  launch_kernel(k, &bias_residual_add_kernel<X, Y>, dim3(glue_blocks(rows * cols)), dim3(kGlueThreads), 0, stream, x, y,
                bias, rows, cols);
}

// out [rows, dim] = LayerNorm(in) with fp32 statistics; out must not alias in
// unless In == Out. gamma/beta nullable.
template <class In, class Out>
void layer_norm_convert(Out* out, const In* in, const float* gamma, const float* beta, std::int64_t rows,
                        std::int64_t dim, float eps, stream_t stream = nullptr) {
  const char* k = "layer_norm_convert";
  check_count(k, "rows", rows);
  if (dim <= 0 || dim > (1 << 30)) fail("kernel ", k, ": dim = ", dim, " must be in [1, 2^30]");
  if (!(eps >= 0.f)) fail("kernel ", k, ": eps = ", eps, " must be >= 0");
  if (rows == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "in", in);
  const std::int64_t blocks = ceil_div(rows, kLayerNormRowsPerBlock);
  if (blocks > 2147483647) fail("kernel ", k, ": ", rows, " rows is too many for one launch");
  launch_kernel(k, &layer_norm_convert_kernel<In, Out>, dim3(unsigned(blocks)), dim3(kWarpSize, kLayerNormRowsPerBlock),
                0, stream, out, in, gamma, beta, rows, int(dim), eps);
}

// fp32 out [rows, cols] = in + bias (bias nullable).
template <class T>
void bias_to_float(float* out, const T* in, const float* bias, std::int64_t rows, std::int64_t cols,
                   stream_t stream = nullptr) {
  const char* k = "bias_to_float";
  if (rows < 0 || cols <= 0) fail("kernel ", k, ": bad shape rows=", rows, " cols=", cols);
  if (rows == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "in", in);
  launch_kernel(k, &bias_to_float_kernel<T>, dim3(glue_blocks(rows * cols)), dim3(kGlueThreads), 0, stream, out, in,
                bias, rows, cols);
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
