#pragma once
// Fully connected layer in torch layout: W is [out_f, in_f], out = in W^T + b.
#include <algorithm>
#include <cstdint>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/gemm.hpp"

namespace finepose::ops {

namespace detail {
inline void check_linear(const char* who, std::int64_t rows, std::int64_t in_f, std::int64_t out_f) {
  if (rows < 0 || in_f < 0 || out_f < 0)
    fail(who, ": negative size rows=", rows, " in_features=", in_f, " out_features=", out_f);
}

// acc[c] += sum over rows of x[r, c], split by column chunks so the sum order
// never depends on the thread count.
inline void add_column_sums(float* acc, const float* x, std::int64_t rows, std::int64_t cols) {
  constexpr std::int64_t chunk = 64;
  const std::int64_t chunks = (cols + chunk - 1) / chunk;
  parallel_for(chunks, [&](std::int64_t ci) {
    const std::int64_t c0 = ci * chunk, c1 = std::min(cols, c0 + chunk);
    float s[chunk] = {};
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      for (std::int64_t c = c0; c < c1; ++c) s[c - c0] += xr[c];
    }
    for (std::int64_t c = c0; c < c1; ++c) acc[c] += s[c - c0];
  }, rows > 256 ? 1 : chunks);
}
}  // namespace detail

// out[rows, out_f] = in[rows, in_f] W^T + bias (bias nullable).
inline void linear_forward(float* out, const float* in, const float* W, const float* bias,
                           std::int64_t rows, std::int64_t in_f, std::int64_t out_f) {
  detail::check_linear("linear_forward", rows, in_f, out_f);
  if (rows == 0 || out_f == 0) return;
  if (!out || (in_f > 0 && (!in || !W))) fail("linear_forward: null out/in/W pointer");
  if (bias) {
    parallel_for(rows, [&](std::int64_t r) { std::copy(bias, bias + out_f, out + r * out_f); }, 256);
    gemm(false, true, rows, out_f, in_f, 1.f, in, in_f, W, in_f, 1.f, out, out_f);
  } else {
    gemm(false, true, rows, out_f, in_f, 1.f, in, in_f, W, in_f, 0.f, out, out_f);
  }
}

// din = dout W (overwritten, nullable); dW += dout^T in (nullable: frozen weight); db += column sums of dout (nullable).
inline void linear_backward(float* din, float* dW, float* db, const float* dout, const float* in,
                            const float* W, std::int64_t rows, std::int64_t in_f, std::int64_t out_f) {
  detail::check_linear("linear_backward", rows, in_f, out_f);
  if (rows > 0 && out_f > 0 && !dout) fail("linear_backward: dout is null");
  if (din) gemm(false, false, rows, in_f, out_f, 1.f, dout, out_f, W, in_f, 0.f, din, in_f);
  if (dW) gemm(true, false, out_f, in_f, rows, 1.f, dout, out_f, in, in_f, 1.f, dW, in_f);
  if (db && rows > 0) detail::add_column_sums(db, dout, rows, out_f);
}

}  // namespace finepose::ops
