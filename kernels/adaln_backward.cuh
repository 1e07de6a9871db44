#pragma once
// Backward of the fused AdaLN + SiLU (adaln_forward.cuh):
//   z = (xhat * gamma + beta) * (1 + scale[g]) + shift[g],  out = silu(z)
// CPU twin: ops::adaln_silu_backward (same arguments and layouts; the forward
// is recomputed from h, nothing is saved).
//   dz     = dout * s * (1 + z * (1 - s)),  s = sigmoid(z)
//   dh     = LayerNorm backward of g = dz * (1 + scale) * gamma
//   dscale[g] = sum over the group's rows of dz * y,  dshift[g] = sum of dz
//   dgamma += sum over all rows of dz * (1 + scale) * xhat,  dbeta += ... dz * (1 + scale)
// dh: one warp per row, which also saves the row's mean/rstd for the column
// pass. Parameter gradients: per-(group, chunk) partial sums into the
// workspace, then a fixed-order sum per column (deterministic, no atomics).
#include "finepose/kernels/adaln_forward.cuh"
#include "finepose/kernels/layer_norm_backward.cuh"

namespace finepose::kernels {

// Chunks per group for the column pass (a chunk never spans two groups).
inline std::int64_t adaln_chunks_per_group(std::int64_t rows_per_group) { return column_chunks(rows_per_group); }

// Floats of workspace adaln_silu_backward needs when any of dgamma, dbeta,
// dscale_shift is given: the rows' mean/rstd and four partial sums per column.
inline std::int64_t adaln_silu_backward_workspace_floats(std::int64_t groups, std::int64_t rows_per_group,
                                                         std::int64_t dim) {
  return 2 * groups * rows_per_group + 4 * groups * adaln_chunks_per_group(rows_per_group) * dim;
}

// Recomputes the forward at one element: xhat, y = LN output, z, and dz.
FP_DEVICE void adaln_silu_element(float x, float dy, float mean, float rstd, float gamma, float beta, float scale,
                                  float shift, float& xh, float& y, float& dz) {
  xh = (x - mean) * rstd;
  y = xh * gamma + beta;
  const float z = y * (1.f + scale) + shift;
  const float s = 1.f / (1.f + expf(-z));
  dz = dy * s * (1.f + z * (1.f - s));  // silu'(z)
}

// block = (32, kLayerNormRowsPerBlock). dh and mean_out/rstd_out nullable.
template <class T>
FP_GLOBAL void adaln_silu_backward_input_kernel(T* dh, float* mean_out, float* rstd_out, const T* dout, const T* h,
                                                const float* gamma, const float* beta, const float* scale_shift,
                                                std::int64_t rows, std::int64_t rows_per_group, int dim, float eps) {
  const int lane = int(threadIdx.x);
  const std::int64_t row = std::int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;  // the whole warp leaves together
  const T* x = h + row * dim;
  const T* dy = dout + row * dim;
  const float* sc = scale_shift + (row / rows_per_group) * 2 * dim;
  const float* sh = sc + dim;
  float mean, rstd;
  row_mean_rstd(x, dim, eps, lane, mean, rstd);
  if (lane == 0 && mean_out) {
    mean_out[row] = mean;
    rstd_out[row] = rstd;
  }
  if (!dh) return;
  // g = d loss / d xhat; the row sums of g and g * xhat feed LayerNorm's backward
  float sg = 0.f, sgx = 0.f;
  for (int i = lane; i < dim; i += kWarpSize) {
    float xh, y, dz;
    const float gam = gamma ? gamma[i] : 1.f;
    adaln_silu_element(load(x + i), load(dy + i), mean, rstd, gam, beta ? beta[i] : 0.f, sc[i], sh[i], xh, y, dz);
    const float g = dz * (1.f + sc[i]) * gam;
    sg += g;
    sgx += g * xh;
  }
  const float mg = warp_sum(sg) / float(dim), mgx = warp_sum(sgx) / float(dim);
  T* dx = dh + row * dim;
  for (int i = lane; i < dim; i += kWarpSize) {  // recompute rather than keep a row in registers
    float xh, y, dz;
    const float gam = gamma ? gamma[i] : 1.f;
    adaln_silu_element(load(x + i), load(dy + i), mean, rstd, gam, beta ? beta[i] : 0.f, sc[i], sh[i], xh, y, dz);
    store(dx + i, rstd * (dz * (1.f + sc[i]) * gam - mg - xh * mgx));
  }
}

// grid = (ceil(dim/32), groups * chunks_per_group), block = (32, kColumnReduceRows).
// Block (t, b) sums over chunk (b % cpg) of group (b / cpg) and writes, for
// each of its columns, four partials to ws[(q * nblk + b) * dim + col]:
// q = 0 dgamma, 1 dbeta, 2 dscale, 3 dshift.
template <class T>
FP_GLOBAL void adaln_silu_backward_params_partial_kernel(float* ws, const T* dout, const T* h, const float* mean,
                                                         const float* rstd, const float* gamma, const float* beta,
                                                         const float* scale_shift, std::int64_t rows_per_group,
                                                         std::int64_t chunks_per_group, std::int64_t chunk_rows,
                                                         int dim) {
  FP_SHARED(float, part, [4][kColumnReduceRows][kWarpSize + 1]);
  const int tx = int(threadIdx.x), ty = int(threadIdx.y);
  const int col = int(blockIdx.x) * kWarpSize + tx;
  const std::int64_t b = blockIdx.y, group = b / chunks_per_group;
  const std::int64_t r0 = group * rows_per_group + (b % chunks_per_group) * chunk_rows;
  const std::int64_t group_end = (group + 1) * rows_per_group;
  const std::int64_t r1 = r0 + chunk_rows < group_end ? r0 + chunk_rows : group_end;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  if (col < dim) {  // no early exit: every thread must reach the barrier
    const float gam = gamma ? gamma[col] : 1.f, bet = beta ? beta[col] : 0.f;
    const float sc = scale_shift[group * 2 * dim + col], sh = scale_shift[group * 2 * dim + dim + col];
    for (std::int64_t r = r0 + ty; r < r1; r += kColumnReduceRows) {
      float xh, y, dz;
      adaln_silu_element(load(h + r * dim + col), load(dout + r * dim + col), mean[r], rstd[r], gam, bet, sc, sh, xh,
                         y, dz);
      const float dyn = dz * (1.f + sc);  // d loss / d (LN output)
      acc[0] += dyn * xh;
      acc[1] += dyn;
      acc[2] += dz * y;
      acc[3] += dz;
    }
  }
  for (int q = 0; q < 4; ++q) part[q][ty][tx] = acc[q];
  sync_threads();
  if (ty == 0 && col < dim) {
    const std::int64_t nblk = gridDim.y;
    for (int q = 0; q < 4; ++q) {
      float s = acc[q];
      for (int k = 1; k < kColumnReduceRows; ++k) s += part[q][k][tx];  // fixed order
      ws[(q * nblk + b) * dim + col] = s;
    }
  }
}

// One thread per column: per group, the chunks in order give dscale/dshift
// (overwritten); all of them in order give dgamma/dbeta (accumulated).
template <class F = float>
FP_GLOBAL void adaln_silu_backward_params_final_kernel(float* dgamma, float* dbeta, float* dscale_shift,
                                                       const float* ws, std::int64_t groups,
                                                       std::int64_t chunks_per_group, int dim) {
  const std::int64_t col = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= dim) return;
  const std::int64_t nblk = groups * chunks_per_group;
  float sgam = 0.f, sbet = 0.f;
  for (std::int64_t g = 0; g < groups; ++g) {
    float ssc = 0.f, ssh = 0.f;
    for (std::int64_t c = 0; c < chunks_per_group; ++c) {
      const std::int64_t b = g * chunks_per_group + c;
      sgam += ws[(0 * nblk + b) * dim + col];
      sbet += ws[(1 * nblk + b) * dim + col];
      ssc += ws[(2 * nblk + b) * dim + col];
      ssh += ws[(3 * nblk + b) * dim + col];
    }
    if (dscale_shift) {
      dscale_shift[g * 2 * dim + col] = ssc;
      dscale_shift[g * 2 * dim + dim + col] = ssh;
    }
  }
  if (dgamma) dgamma[col] += sgam;
  if (dbeta) dbeta[col] += sbet;
}

// dh overwritten (nullable); dgamma/dbeta += (nullable); dscale_shift
// [groups, 2*dim] overwritten (nullable). gamma/beta nullable (no affine).
// workspace: adaln_silu_backward_workspace_floats(groups, rows_per_group, dim)
// floats, needed only when a parameter gradient is asked for.
template <class T>
void adaln_silu_backward(T* dh, float* dgamma, float* dbeta, float* dscale_shift, const T* dout, const T* h,
                         const float* gamma, const float* beta, const float* scale_shift, std::int64_t groups,
                         std::int64_t rows_per_group, std::int64_t dim, float eps, float* workspace,
                         stream_t stream = nullptr) {
  const char* k = "adaln_silu_backward";
  check_adaln_args(k, groups, rows_per_group, dim, eps);
  const std::int64_t rows = groups * rows_per_group;
  const bool params = dgamma || dbeta || dscale_shift;
  if (rows == 0) {
    // as the CPU twin: dscale_shift is zeroed even when the groups are empty
    // (no chunks, so the final kernel reads no workspace)
    if (dscale_shift && groups > 0)
      launch_kernel("adaln_silu_backward_params_final", &adaln_silu_backward_params_final_kernel<float>,
                    dim3(unsigned(ceil_div(dim, kColumnFinalThreads))), dim3(kColumnFinalThreads), 0, stream,
                    static_cast<float*>(nullptr), static_cast<float*>(nullptr), dscale_shift,
                    static_cast<const float*>(nullptr), groups, std::int64_t(0), int(dim));
    return;
  }
  if (params) check_ptr(k, "workspace", workspace);
  check_ptr(k, "dout", dout);
  check_ptr(k, "h", h);
  check_ptr(k, "scale_shift", scale_shift);
  if (!dh && !params) return;
  const std::int64_t blocks = ceil_div(rows, kLayerNormRowsPerBlock);
  if (blocks > 2147483647) fail("kernel ", k, ": ", rows, " rows is too many for one launch");
  float* mean = params ? workspace : nullptr;
  float* rstd = params ? workspace + rows : nullptr;
  launch_kernel("adaln_silu_backward_input", &adaln_silu_backward_input_kernel<T>, dim3(unsigned(blocks)),
                dim3(kWarpSize, kLayerNormRowsPerBlock), 0, stream, dh, mean, rstd, dout, h, gamma, beta, scale_shift,
                rows, rows_per_group, int(dim), eps);
  if (!params) return;
  const std::int64_t cpg = adaln_chunks_per_group(rows_per_group), nblk = groups * cpg;
  if (ceil_div(dim, kWarpSize) > 2147483647 || nblk > 65535)
    fail("kernel ", k, ": groups = ", groups, ", rows_per_group = ", rows_per_group, " is too many for one launch");
  float* partial = workspace + 2 * rows;
  launch_kernel("adaln_silu_backward_params_partial", &adaln_silu_backward_params_partial_kernel<T>,
                dim3(unsigned(ceil_div(dim, kWarpSize)), unsigned(nblk)), dim3(kWarpSize, kColumnReduceRows), 0,
                stream, partial, dout, h, static_cast<const float*>(mean), static_cast<const float*>(rstd), gamma,
                beta, scale_shift, rows_per_group, cpg, column_chunk_rows(rows_per_group), int(dim));
  launch_kernel("adaln_silu_backward_params_final", &adaln_silu_backward_params_final_kernel<float>,
                dim3(unsigned(ceil_div(dim, kColumnFinalThreads))), dim3(kColumnFinalThreads), 0, stream, dgamma,
                dbeta, dscale_shift, static_cast<const float*>(partial), groups, cpg, int(dim));
}

}  // namespace finepose::kernels
