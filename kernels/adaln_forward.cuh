#pragma once
// AdaLN + SiLU fused (FinePOSE StylizationBlock core), one warp per row:
//   out[g, r, :] = silu( LN(h[g, r, :]) * (1 + scale[g, :]) + shift[g, :] )
// scale_shift is [groups, 2*dim], scale first then shift (torch.chunk order).
// CPU twin: ops::adaln_silu_forward. Storage T for h/out; gamma, beta,
// scale_shift and arithmetic fp32.
#include "finepose/kernels/activation.cuh"
#include "finepose/kernels/layer_norm_forward.cuh"

namespace finepose::kernels {

template <class T>
FP_GLOBAL void adaln_silu_forward_kernel(T* out, const T* h, const float* gamma, const float* beta,
                                         const float* scale_shift, std::int64_t rows, std::int64_t rows_per_group,
                                         int dim, float eps) {
  const int lane = int(threadIdx.x);
  const std::int64_t row = std::int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;
  const T* x = h + row * dim;
  T* y = out + row * dim;
  const float* sc = scale_shift + (row / rows_per_group) * 2 * dim;
  const float* sh = sc + dim;
  float mean, rstd;
  row_mean_rstd(x, dim, eps, lane, mean, rstd);
  for (int i = lane; i < dim; i += kWarpSize)
    store(y + i, silu(normalize_affine(load(x + i), mean, rstd, gamma, beta, i) * (1.f + sc[i]) + sh[i]));
}

// Shape and eps checks shared by the forward and backward launchers.
inline void check_adaln_args(const char* k, std::int64_t groups, std::int64_t rows_per_group, std::int64_t dim,
                             float eps) {
  if (groups < 0 || rows_per_group < 0 || dim <= 0 || dim > (1 << 30))
    fail("kernel ", k, ": bad shape groups=", groups, " rows_per_group=", rows_per_group, " dim=", dim);
  if (!(eps >= 0.f)) fail("kernel ", k, ": eps = ", eps, " must be >= 0");
}

template <class T>
void adaln_silu_forward(T* out, const T* h, const float* gamma, const float* beta, const float* scale_shift,
                        std::int64_t groups, std::int64_t rows_per_group, std::int64_t dim, float eps,
                        stream_t stream = nullptr) {
  const char* k = "adaln_silu_forward";
  check_adaln_args(k, groups, rows_per_group, dim, eps);
  const std::int64_t rows = groups * rows_per_group;
  if (rows == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "h", h);
  check_ptr(k, "scale_shift", scale_shift);
  const std::int64_t blocks = ceil_div(rows, kLayerNormRowsPerBlock);
  if (blocks > 2147483647) fail("kernel ", k, ": ", rows, " rows is too many for one launch");
  launch_kernel(k, &adaln_silu_forward_kernel<T>, dim3(unsigned(blocks)), dim3(kWarpSize, kLayerNormRowsPerBlock), 0,
                stream, out, h, gamma, beta, scale_shift, rows, rows_per_group, int(dim), eps);
}

}  // namespace finepose::kernels
