#pragma once
// Row softmax, max-subtracted. -inf entries give probability 0; a row that is
// entirely -inf gives all zeros (torch would give NaN) so masked rows stay finite.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/vec_math.hpp"

namespace finepose::ops {

namespace detail {
// One row, in may equal out.
inline void softmax_row(float* out, const float* in, std::int64_t cols) {
  const float mx = vec::row_max(in, cols);
  if (mx == -std::numeric_limits<float>::infinity()) {
    for (std::int64_t j = 0; j < cols; ++j) out[j] = 0.f;
    return;
  }
  const float inv = 1.f / vec::exp_shifted_sum(out, in, cols, mx);
  for (std::int64_t j = 0; j < cols; ++j) out[j] *= inv;
}

// din = out * (dout - sum(dout * out)); din may equal dout.
inline void softmax_row_backward(float* din, const float* dout, const float* out, std::int64_t cols) {
  const float dot = vec::dot(dout, out, cols);
  for (std::int64_t j = 0; j < cols; ++j) din[j] = out[j] * (dout[j] - dot);
}
}  // namespace detail

inline void softmax_forward(float* out, const float* in, std::int64_t rows, std::int64_t cols) {
  if (rows < 0 || cols <= 0) fail("softmax_forward: bad shape rows=", rows, " cols=", cols);
  if (rows > 0 && (!out || !in)) fail("softmax_forward: null in/out");
  parallel_for(rows, [&](std::int64_t r) { detail::softmax_row(out + r * cols, in + r * cols, cols); },
               std::max<std::int64_t>(1, 4096 / cols));
}

inline void softmax_backward(float* din, const float* dout, const float* out, std::int64_t rows,
                             std::int64_t cols) {
  if (rows < 0 || cols <= 0) fail("softmax_backward: bad shape rows=", rows, " cols=", cols);
  if (rows > 0 && (!din || !dout || !out)) fail("softmax_backward: null pointer");
  parallel_for(rows, [&](std::int64_t r) {
    detail::softmax_row_backward(din + r * cols, dout + r * cols, out + r * cols, cols);
  }, std::max<std::int64_t>(1, 4096 / cols));
}

}  // namespace finepose::ops
