#pragma once
// LayerNorm over the last dimension (torch.nn.LayerNorm): biased variance,
// y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/vec_math.hpp"

namespace finepose::ops {

namespace detail {
inline void check_rows_dim(const char* who, std::int64_t rows, std::int64_t dim) {
  if (rows < 0 || dim <= 0) fail(who, ": bad shape rows=", rows, " dim=", dim);
}

// Mean and 1/sqrt(var + eps) of one row; two passes for accuracy.
inline void row_moments(const float* x, std::int64_t dim, float eps, float& mean, float& rstd) {
  const float m = vec::sum(x, dim) / float(dim);
  mean = m;
  rstd = 1.f / std::sqrt(vec::sum_sq_centered(x, dim, m) / float(dim) + eps);
}

// Parameter gradients need sums over all rows; splitting by column chunks keeps
// the summation order fixed whatever the thread count. f(c0, c1) handles [c0, c1).
template <class F>
void for_column_chunks(std::int64_t cols, std::int64_t rows, F&& f) {
  constexpr std::int64_t chunk = 32;
  const std::int64_t chunks = (cols + chunk - 1) / chunk;
  parallel_for(chunks, [&](std::int64_t ci) {
    const std::int64_t c0 = ci * chunk;
    f(c0, std::min(cols, c0 + chunk));
  }, rows * chunk >= 4096 ? 1 : chunks);
}
}  // namespace detail

// gamma/beta nullable (no affine). mean/rstd nullable; when given, [rows] each, for backward.
inline void layer_norm_forward(float* out, float* mean, float* rstd, const float* in,
                               const float* gamma, const float* beta, std::int64_t rows,
                               std::int64_t dim, float eps) {
  detail::check_rows_dim("layer_norm_forward", rows, dim);
  if (rows == 0) return;
  if (!out || !in) fail("layer_norm_forward: null in/out");
  parallel_for(rows, [&](std::int64_t r) {
    const float* x = in + r * dim;
    float* y = out + r * dim;
    float m, rs;
    detail::row_moments(x, dim, eps, m, rs);
    for (std::int64_t i = 0; i < dim; ++i) {
      float v = (x[i] - m) * rs;
      if (gamma) v *= gamma[i];
      if (beta) v += beta[i];
      y[i] = v;
    }
    if (mean) mean[r] = m;
    if (rstd) rstd[r] = rs;
  }, 16);
}

// din overwritten (may not alias in or dout); dgamma/dbeta += (nullable). mean/rstd from forward.
inline void layer_norm_backward(float* din, float* dgamma, float* dbeta, const float* dout,
                                const float* in, const float* mean, const float* rstd,
                                const float* gamma, std::int64_t rows, std::int64_t dim) {
  detail::check_rows_dim("layer_norm_backward", rows, dim);
  if (rows == 0) return;
  if (!dout || !in || !mean || !rstd) fail("layer_norm_backward: null dout/in/mean/rstd");
  if (din) {
    parallel_for(rows, [&](std::int64_t r) {
      const float* x = in + r * dim;
      const float* dy = dout + r * dim;
      float* dx = din + r * dim;
      const float m = mean[r], rs = rstd[r];
      // din = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout * gamma
      if (gamma)  // g = dout * gamma, kept in dx
        for (std::int64_t i = 0; i < dim; ++i) dx[i] = dy[i] * gamma[i];
      else
        std::copy(dy, dy + dim, dx);
      const float mg = vec::sum(dx, dim) / float(dim);
      const float mgx = vec::dot_centered(dx, x, dim, m) * rs / float(dim);
      for (std::int64_t i = 0; i < dim; ++i) dx[i] = rs * (dx[i] - mg - (x[i] - m) * rs * mgx);
    }, 16);
  }
  if (dgamma || dbeta) {
    detail::for_column_chunks(dim, rows, [&](std::int64_t c0, std::int64_t c1) {
      float sg[32] = {}, sb[32] = {};
      for (std::int64_t r = 0; r < rows; ++r) {
        const float* x = in + r * dim;
        const float* dy = dout + r * dim;
        const float m = mean[r], rs = rstd[r];
        for (std::int64_t c = c0; c < c1; ++c) {
          sg[c - c0] += dy[c] * (x[c] - m) * rs;
          sb[c - c0] += dy[c];
        }
      }
      for (std::int64_t c = c0; c < c1; ++c) {
        if (dgamma) dgamma[c] += sg[c - c0];
        if (dbeta) dbeta[c] += sb[c - c0];
      }
    });
  }
}

}  // namespace finepose::ops
