#pragma once
// Pointwise epilogues after a GEMM, grid-stride loops:
//   bias_activation_forward: out[r, c] = act(in[r, c] + bias[c])  (GELU, QuickGELU, SiLU or none)
//   residual_add:            y += x
// CPU twins: ops::gelu_forward / quick_gelu_forward / silu_forward (after
// linear_forward's bias) and ops::add_inplace. Storage T; fp32 arithmetic.
#include "finepose/kernels/activation.cuh"

namespace finepose::kernels {

constexpr int kPointwiseThreads = 256;

inline unsigned pointwise_blocks(std::int64_t n) {
  const std::int64_t b = ceil_div(n, kPointwiseThreads);
  return unsigned(b < 65536 ? (b > 0 ? b : 1) : 65536);  // grid-stride beyond that
}

template <class T>
FP_GLOBAL void bias_activation_forward_kernel(T* out, const T* in, const float* bias, std::int64_t rows,
                                              std::int64_t cols, Activation act) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float v = load(in + i);
    if (bias) v += bias[i % cols];
    store(out + i, activate(act, v));
  }
}

template <class T>
FP_GLOBAL void residual_add_kernel(T* y, const T* x, std::int64_t n) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    store(y + i, load(y + i) + load(x + i));
}

// bias nullable; out may alias in.
template <class T>
void bias_activation_forward(T* out, const T* in, const float* bias, std::int64_t rows, std::int64_t cols,
                             Activation act, stream_t stream = nullptr) {
  const char* k = "bias_activation_forward";
  if (rows < 0 || cols <= 0) fail("kernel ", k, ": bad shape rows=", rows, " cols=", cols);
  if (int(act) < 0 || int(act) > 3) fail("kernel ", k, ": unknown activation ", int(act));
  if (rows == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "in", in);
  launch_kernel(k, &bias_activation_forward_kernel<T>, dim3(pointwise_blocks(rows * cols)), dim3(kPointwiseThreads),
                0, stream, out, in, bias, rows, cols, act);
}

template <class T>
void residual_add(T* y, const T* x, std::int64_t n, stream_t stream = nullptr) {
  const char* k = "residual_add";
  check_count(k, "n", n);
  if (n == 0) return;
  check_ptr(k, "y", y);
  check_ptr(k, "x", x);
  launch_kernel(k, &residual_add_kernel<T>, dim3(pointwise_blocks(n)), dim3(kPointwiseThreads), 0, stream, y, x, n);
}

}  // namespace finepose::kernels
