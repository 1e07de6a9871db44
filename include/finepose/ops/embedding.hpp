#pragma once
// Token embedding lookup (CLIP) and the sinusoidal diffusion-timestep embedding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"

namespace finepose::ops {

// out[i, :] = table[ids[i], :]; throws if an id is outside [0, vocab).
inline void embedding_forward(float* out, const std::int32_t* ids, const float* table, std::int64_t n,
                              std::int64_t vocab, std::int64_t dim) {
  if (n < 0 || vocab <= 0 || dim <= 0)
    fail("embedding_forward: bad shape n=", n, " vocab=", vocab, " dim=", dim);
  for (std::int64_t i = 0; i < n; ++i)  // validate everything before writing anything
    if (ids[i] < 0 || ids[i] >= vocab)
      fail("embedding_forward: id ", ids[i], " at position ", i, " is outside [0, ", vocab, ")");
  parallel_for(n, [&](std::int64_t i) {
    std::memcpy(out + i * dim, table + std::int64_t(ids[i]) * dim, std::size_t(dim) * sizeof(float));
  }, 64);
}

// dtable[ids[i], :] += dout[i, :]. Repeated ids accumulate in position order;
// threads split the columns, so the order never depends on the thread count.
inline void embedding_backward(float* dtable, const float* dout, const std::int32_t* ids, std::int64_t n,
                               std::int64_t dim) {
  if (n < 0 || dim <= 0) fail("embedding_backward: bad shape n=", n, " dim=", dim);
  for (std::int64_t i = 0; i < n; ++i)
    if (ids[i] < 0) fail("embedding_backward: negative id ", ids[i], " at position ", i);
  constexpr std::int64_t chunk = 64;
  parallel_for((dim + chunk - 1) / chunk, [&](std::int64_t ci) {
    const std::int64_t c0 = ci * chunk, c1 = std::min(dim, c0 + chunk);
    for (std::int64_t i = 0; i < n; ++i) {
      float* dst = dtable + std::int64_t(ids[i]) * dim;
      const float* src = dout + i * dim;
      for (std::int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  }, n >= 256 ? 1 : dim);
}

// Sinusoidal timestep embedding of FinePOSE/MixSTE, in float32 step by step as
// torch computes it:
//   half = dim/2; c = float(log(10000) / (half - 1)); freq[i] = exp(float(i) * -c);
//   arg = float(t) * freq[i]; out = [sin(arg), i < half] ++ [cos(arg), i < half].
// dim must be even and >= 4 (torch would divide by zero for dim 2).
inline void timestep_embedding(float* out, const std::int64_t* t, std::int64_t n, std::int64_t dim) {
  if (n < 0) fail("timestep_embedding: negative count ", n);
  if (dim < 4 || dim % 2 != 0) fail("timestep_embedding: dim ", dim, " must be even and at least 4");
  const std::int64_t half = dim / 2;
  const float neg_c = -static_cast<float>(std::log(10000.0) / double(half - 1));
  parallel_for(n, [&](std::int64_t r) {
    const float tf = static_cast<float>(t[r]);
    float* o = out + r * dim;
    for (std::int64_t i = 0; i < half; ++i) {
      const float freq = std::exp(static_cast<float>(i) * neg_c);
      const float arg = tf * freq;
      o[i] = std::sin(arg);
      o[half + i] = std::cos(arg);
    }
  }, 16);
}

}  // namespace finepose::ops
