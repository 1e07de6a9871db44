#pragma once
// Layer norm backward over the last dimension. CPU twin: ops::layer_norm_backward.
//   din   = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dout * gamma
//   dgamma += sum_rows dout * xhat,  dbeta += sum_rows dout
// din: one warp per row (as the forward), using the forward's saved mean/rstd.
// dgamma/dbeta: a column reduction in two launches, per-chunk partial sums into
// a caller-provided workspace then a fixed-order sum over chunks, so results
// never depend on scheduling (no float atomics). Storage T for dout/in/din;
// statistics, gamma and the parameter gradients are fp32.
#include <algorithm>

#include "finepose/kernels/common.cuh"
#include "finepose/kernels/layer_norm_forward.cuh"
#include "finepose/kernels/reduce.cuh"

namespace finepose::kernels {

// Column reductions: blocks of (32 columns) x (kColumnReduceRows threads down
// the rows), each summing one chunk of rows.
constexpr int kColumnReduceRows = 8;
constexpr int kColumnFinalThreads = 256;

// Rows per chunk for a reduction over n rows: at least 64 (enough work per
// block), and at most ~1024 chunks so the workspace stays small.
inline std::int64_t column_chunk_rows(std::int64_t n) { return std::max<std::int64_t>(64, ceil_div(n, 1024)); }
inline std::int64_t column_chunks(std::int64_t n) { return n > 0 ? ceil_div(n, column_chunk_rows(n)) : 0; }

// Floats of workspace layer_norm_backward needs when dgamma or dbeta is given.
inline std::int64_t layer_norm_backward_workspace_floats(std::int64_t rows, std::int64_t dim) {
  return 2 * column_chunks(rows) * dim;
}

// block = (32, kLayerNormRowsPerBlock). gamma may be null (1).
template <class T>
FP_GLOBAL void layer_norm_backward_input_kernel(T* din, const T* dout, const T* in, const float* mean,
                                                const float* rstd, const float* gamma, std::int64_t rows, int dim) {
  const int lane = int(threadIdx.x);
  const std::int64_t row = std::int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;  // the whole warp leaves together
  const T* x = in + row * dim;
  const T* dy = dout + row * dim;
  T* dx = din + row * dim;
  const float m = mean[row], rs = rstd[row];
  float sg = 0.f, sgx = 0.f;
  for (int i = lane; i < dim; i += kWarpSize) {
    const float g = load(dy + i) * (gamma ? gamma[i] : 1.f);
    sg += g;
    sgx += g * (load(x + i) - m) * rs;
  }
  const float mg = warp_sum(sg) / float(dim), mgx = warp_sum(sgx) / float(dim);
  for (int i = lane; i < dim; i += kWarpSize) {
    const float g = load(dy + i) * (gamma ? gamma[i] : 1.f);
    const float xh = (load(x + i) - m) * rs;
    store(dx + i, rs * (g - mg - xh * mgx));
  }
}

// grid = (ceil(dim/32), chunks), block = (32, kColumnReduceRows). Block (t, c)
// writes the sums of dout*xhat and dout over chunk c's rows for columns
// [32t, 32t+32) to ws[c*dim + col] and ws[(chunks + c)*dim + col].
template <class T>
FP_GLOBAL void layer_norm_backward_params_partial_kernel(float* ws, const T* dout, const T* in, const float* mean,
                                                         const float* rstd, std::int64_t rows, int dim,
                                                         std::int64_t chunk_rows) {
  FP_SHARED(float, part_g, [kColumnReduceRows][kWarpSize + 1]);
  FP_SHARED(float, part_b, [kColumnReduceRows][kWarpSize + 1]);
  const int tx = int(threadIdx.x), ty = int(threadIdx.y);
  const int col = int(blockIdx.x) * kWarpSize + tx;
  const std::int64_t r0 = std::int64_t(blockIdx.y) * chunk_rows;
  const std::int64_t r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;  // (std::min is host-only)
  float sg = 0.f, sb = 0.f;
  if (col < dim)  // no early exit: every thread must reach the barrier
    for (std::int64_t r = r0 + ty; r < r1; r += kColumnReduceRows) {
      const float dy = load(dout + r * dim + col);
      sg += dy * (load(in + r * dim + col) - mean[r]) * rstd[r];
      sb += dy;
    }
  part_g[ty][tx] = sg;
  part_b[ty][tx] = sb;
  sync_threads();
  if (ty == 0 && col < dim) {
    for (int k = 1; k < kColumnReduceRows; ++k) {  // fixed order
      sg += part_g[k][tx];
      sb += part_b[k][tx];
    }
    const std::int64_t chunks = gridDim.y;
    ws[std::int64_t(blockIdx.y) * dim + col] = sg;
    ws[(chunks + blockIdx.y) * dim + col] = sb;
  }
}

// One thread per column: sums the chunks in order and accumulates. (A
// template only so the header can be included by several translation units.)
template <class F = float>
FP_GLOBAL void layer_norm_backward_params_final_kernel(float* dgamma, float* dbeta, const float* ws,
                                                       std::int64_t chunks, int dim) {
  const std::int64_t col = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= dim) return;
  float sg = 0.f, sb = 0.f;
  for (std::int64_t c = 0; c < chunks; ++c) {
    sg += ws[c * dim + col];
    sb += ws[(chunks + c) * dim + col];
  }
  if (dgamma) dgamma[col] += sg;
  if (dbeta) dbeta[col] += sb;
}

// din overwritten (nullable; may not alias dout or in); dgamma/dbeta += (nullable).
// mean/rstd from layer_norm_forward; gamma nullable (no affine). workspace:
// layer_norm_backward_workspace_floats(rows, dim) floats, needed only when
// dgamma or dbeta is given.
template <class T>
void layer_norm_backward(T* din, float* dgamma, float* dbeta, const T* dout, const T* in, const float* mean,
                         const float* rstd, const float* gamma, std::int64_t rows, std::int64_t dim,
                         float* workspace, stream_t stream = nullptr) {
  const char* k = "layer_norm_backward";
  check_count(k, "rows", rows);
  if (dim <= 0 || dim > (1 << 30)) fail("kernel ", k, ": dim = ", dim, " must be in [1, 2^30]");
  if (rows == 0) return;
  check_ptr(k, "dout", dout);
  check_ptr(k, "in", in);
  check_ptr(k, "mean", mean);
  check_ptr(k, "rstd", rstd);
  if (din) {
    const std::int64_t blocks = ceil_div(rows, kLayerNormRowsPerBlock);
    if (blocks > 2147483647) fail("kernel ", k, ": ", rows, " rows is too many for one launch");
    launch_kernel("layer_norm_backward_input", &layer_norm_backward_input_kernel<T>, dim3(unsigned(blocks)),
                  dim3(kWarpSize, kLayerNormRowsPerBlock), 0, stream, din, dout, in, mean, rstd, gamma, rows,
                  int(dim));
  }
  if (dgamma || dbeta) {
    check_ptr(k, "workspace", workspace);
    const std::int64_t chunks = column_chunks(rows);
    if (ceil_div(dim, kWarpSize) > 2147483647 || chunks > 65535)
      fail("kernel ", k, ": rows = ", rows, ", dim = ", dim, " is too large for one launch");
    launch_kernel("layer_norm_backward_params_partial", &layer_norm_backward_params_partial_kernel<T>,
                  dim3(unsigned(ceil_div(dim, kWarpSize)), unsigned(chunks)), dim3(kWarpSize, kColumnReduceRows), 0,
                  stream, workspace, dout, in, mean, rstd, rows, int(dim), column_chunk_rows(rows));
    launch_kernel("layer_norm_backward_params_final", &layer_norm_backward_params_final_kernel<float>,
                  dim3(unsigned(ceil_div(dim, kColumnFinalThreads))), dim3(kColumnFinalThreads), 0, stream, dgamma,
                  dbeta, static_cast<const float*>(workspace), chunks, int(dim));
  }
}

}  // namespace finepose::kernels
