#pragma once
// Elementwise activations (forward and backward). in may equal out, and din may
// equal dout: every element is read before its own slot is written.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/vec_math.hpp"

namespace finepose::ops {

namespace detail {
constexpr std::int64_t kElementChunk = 1 << 14;

// f(begin, end) over [0, n) in fixed chunks.
template <class F>
void for_chunks(std::int64_t n, F&& f) {
  if (n < 0) fail("elementwise op: negative element count ", n);
  const std::int64_t chunks = (n + kElementChunk - 1) / kElementChunk;
  parallel_for(chunks, [&](std::int64_t c) {
    const std::int64_t b = c * kElementChunk;
    f(b, std::min(n, b + kElementChunk));
  });
}

inline float sigmoidf(float x) { return 1.f / (1.f + std::exp(-x)); }
}  // namespace detail

// Exact GELU (torch.nn.GELU() default): x * Phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt 2)),
// vectorised (see vec::normal_cdf; absolute error ~1e-7 * |x|).
inline void gelu_forward(float* out, const float* in, std::int64_t n) {
  detail::for_chunks(n, [&](std::int64_t b, std::int64_t e) { vec::gelu(out + b, in + b, e - b); });
}

inline void gelu_backward(float* din, const float* dout, const float* in, std::int64_t n) {
  detail::for_chunks(n, [&](std::int64_t b, std::int64_t e) { vec::gelu_grad(din + b, dout + b, in + b, e - b); });
}

// QuickGELU (CLIP): x * sigmoid(1.702 x).
inline void quick_gelu_forward(float* out, const float* in, std::int64_t n) {
  detail::for_chunks(n, [&](std::int64_t b, std::int64_t e) {
    vec::mul_sigmoid(out + b, in + b, e - b, 1.702f);
  });
}

inline void quick_gelu_backward(float* din, const float* dout, const float* in, std::int64_t n) {
  detail::for_chunks(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const float x = in[i], s = detail::sigmoidf(1.702f * x);
      din[i] = dout[i] * (s + 1.702f * x * s * (1.f - s));
    }
  });
}

// SiLU: x * sigmoid(x).
inline void silu_forward(float* out, const float* in, std::int64_t n) {
  detail::for_chunks(n, [&](std::int64_t b, std::int64_t e) {
    vec::mul_sigmoid(out + b, in + b, e - b, 1.f);
  });
}

inline void silu_backward(float* din, const float* dout, const float* in, std::int64_t n) {
  detail::for_chunks(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const float x = in[i], s = detail::sigmoidf(x);
      din[i] = dout[i] * s * (1.f + x * (1.f - s));
    }
  });
}

// y += x (residual connections).
inline void add_inplace(float* y, const float* x, std::int64_t n) {
  detail::for_chunks(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) y[i] += x[i];
  });
}

}  // namespace finepose::ops
