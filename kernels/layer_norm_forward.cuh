#pragma once
// Layer norm over the last dimension, one warp per row: a single read pass
// gathers Welford statistics per lane, merged across the warp by shuffles,
// then a second sweep (from cache) writes the normalised row. CPU twin:
// ops::layer_norm_forward. Storage T = float, bfloat16 or half; statistics,
// gamma/beta and arithmetic are fp32.
#include "finepose/kernels/common.cuh"
#include "finepose/kernels/reduce.cuh"

namespace finepose::kernels {

constexpr int kLayerNormRowsPerBlock = 4;  // warps per block, one row each

// Mean and 1/sqrt(var + eps) of row x[0, dim), identical in every lane.
template <class T>
FP_DEVICE void row_mean_rstd(const T* x, int dim, float eps, int lane, float& mean, float& rstd) {
  Welford w;
  for (int i = lane; i < dim; i += kWarpSize) welford_add(w, load(x + i));
  w = warp_welford(w);
  mean = w.mean;
  rstd = rsqrt(w.m2 / float(dim) + eps);
}

// One normalised element: (x - mean) * rstd * gamma + beta (gamma/beta nullable:
// 1 and 0). Shared by every LayerNorm-shaped kernel (forward, convert, AdaLN).
FP_DEVICE float normalize_affine(float x, float mean, float rstd, const float* gamma, const float* beta, int i) {
  float v = (x - mean) * rstd;
  if (gamma) v *= gamma[i];
  if (beta) v += beta[i];
  return v;
}

// block = (32, kLayerNormRowsPerBlock); gamma/beta may be null (1 and 0);
// mean_out/rstd_out may be null. out may alias in when In == Out. In != Out:
// layer_norm_convert (e.g. the fp32 residual stream into a bf16 GEMM operand).
template <class In, class Out>
FP_GLOBAL void layer_norm_rows_kernel(Out* out, float* mean_out, float* rstd_out, const In* in, const float* gamma,
                                      const float* beta, std::int64_t rows, int dim, float eps) {
  const int lane = int(threadIdx.x);
  const std::int64_t row = std::int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;  // the whole warp leaves together
  const In* x = in + row * dim;
  Out* y = out + row * dim;
  float mean, rstd;
  row_mean_rstd(x, dim, eps, lane, mean, rstd);
  for (int i = lane; i < dim; i += kWarpSize) store(y + i, normalize_affine(load(x + i), mean, rstd, gamma, beta, i));
  if (lane == 0) {
    if (mean_out) mean_out[row] = mean;
    if (rstd_out) rstd_out[row] = rstd;
  }
}

namespace detail {
// The checks and the launch of layer_norm_rows_kernel, for the launchers named k.
template <class In, class Out>
void launch_layer_norm_rows(const char* k, Out* out, float* mean, float* rstd, const In* in, const float* gamma,
                            const float* beta, std::int64_t rows, std::int64_t dim, float eps, stream_t stream) {
  check_count(k, "rows", rows);
  if (dim <= 0 || dim > (1 << 30)) fail("kernel ", k, ": dim = ", dim, " must be in [1, 2^30]");
  if (!(eps >= 0.f)) fail("kernel ", k, ": eps = ", eps, " must be >= 0");
  if (rows == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "in", in);
  const std::int64_t blocks = ceil_div(rows, kLayerNormRowsPerBlock);
  if (blocks > 2147483647) fail("kernel ", k, ": ", rows, " rows is too many for one launch");
  launch_kernel(k, &layer_norm_rows_kernel<In, Out>, dim3(unsigned(blocks)), dim3(kWarpSize, kLayerNormRowsPerBlock), 0,
                stream, out, mean, rstd, in, gamma, beta, rows, int(dim), eps);
}
}  // namespace detail

// out [rows, dim] = LayerNorm(in); mean/rstd [rows] nullable (the backward reads them).
template <class T>
void layer_norm_forward(T* out, float* mean, float* rstd, const T* in, const float* gamma, const float* beta,
                        std::int64_t rows, std::int64_t dim, float eps, stream_t stream = nullptr) {
  detail::launch_layer_norm_rows("layer_norm_forward", out, mean, rstd, in, gamma, beta, rows, dim, eps, stream);
}

}  // namespace finepose::kernels
