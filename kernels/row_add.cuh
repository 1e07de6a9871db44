#pragma once
// Row-wise additions of the device denoiser (cuda/model.hpp), twins of loops in
// model/mixste.hpp:
//   add_row_embeddings  x = (x + pos[r mod period]) + cond[r / group]
//   bias_residual_add   x += y + bias                (a Linear's bias, then the residual)
//   bias_to_float       fp32 out = in + bias         (the head: storage -> sampler state)
// Storage of x / in: float, bfloat16 or half; pos, cond and bias are fp32.
#include "finepose/kernels/glue_common.cuh"

namespace finepose::kernels {

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

template <class T>
FP_GLOBAL void bias_to_float_kernel(float* out, const T* in, const float* bias, std::int64_t rows, std::int64_t cols) {
  FP_GLUE_LOOP(i, rows * cols) {
    float v = load(in + i);
    if (bias) v += bias[i % cols];
    out[i] = v;
  }
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

}  // namespace finepose::kernels
