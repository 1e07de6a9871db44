#pragma once
// Row softmax, one warp per row (max, sum, normalise: three sweeps over the
// row, the later two from cache). -inf entries give 0; a row that is all
// -inf gives zeros, as ops::softmax_forward (its CPU twin). in may == out.
#include "finepose/kernels/reduce.cuh"

namespace finepose::kernels {

constexpr int kSoftmaxRowsPerBlock = 4;

template <class T>
FP_GLOBAL void softmax_forward_kernel(T* out, const T* in, std::int64_t rows, int cols) {
  const int lane = int(threadIdx.x);
  const std::int64_t row = std::int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;
  const T* x = in + row * cols;
  T* y = out + row * cols;
  float mx = -INFINITY;
  for (int i = lane; i < cols; i += kWarpSize) mx = fmaxf(mx, load(x + i));
  mx = warp_max(mx);
  if (mx == -INFINITY) {
    for (int i = lane; i < cols; i += kWarpSize) store(y + i, 0.f);
    return;
  }
  float s = 0.f;
  for (int i = lane; i < cols; i += kWarpSize) s += expf(load(x + i) - mx);
  const float inv = 1.f / warp_sum(s);
  for (int i = lane; i < cols; i += kWarpSize) store(y + i, expf(load(x + i) - mx) * inv);
}

template <class T>
void softmax_forward(T* out, const T* in, std::int64_t rows, std::int64_t cols, stream_t stream = nullptr) {
  const char* k = "softmax_forward";
  if (rows < 0 || cols <= 0 || cols > (1 << 30)) fail("kernel ", k, ": bad shape rows=", rows, " cols=", cols);
  if (rows == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "in", in);
  const std::int64_t blocks = ceil_div(rows, kSoftmaxRowsPerBlock);
  if (blocks > 2147483647) fail("kernel ", k, ": ", rows, " rows is too many for one launch");
  launch_kernel(k, &softmax_forward_kernel<T>, dim3(unsigned(blocks)), dim3(kWarpSize, kSoftmaxRowsPerBlock), 0, stream,
                out, in, rows, int(cols));
}

}  // namespace finepose::kernels
