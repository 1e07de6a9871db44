#pragma once
// LayerNorm from one storage type into another (the fp32 residual stream into a
// bf16 GEMM operand), fp32 statistics, one warp per row as layer_norm_forward.cuh.
// CPU twin: ops::layer_norm_forward followed by the storage rounding.
#include "finepose/kernels/layer_norm_forward.cuh"

namespace finepose::kernels {

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

}  // namespace finepose::kernels
