#pragma once
// Adaptive LayerNorm + SiLU, the core of FinePOSE's StylizationBlock:
//   out[g, r, :] = silu( LN(h[g, r, :]) * (1 + scale[g, :]) + shift[g, :] )
// LN has its own gamma/beta (nullable: no affine) and eps; scale_shift is
// [groups, 2*dim], scale first then shift (torch.chunk(emb, 2, dim=-1) order).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/layer_norm.hpp"
#include "finepose/ops/vec_math.hpp"

namespace finepose::ops {

namespace detail {
inline void check_adaln(const char* who, std::int64_t groups, std::int64_t rows_per_group, std::int64_t dim) {
  if (groups < 0 || rows_per_group < 0 || dim <= 0)
    fail(who, ": bad shape groups=", groups, " rows_per_group=", rows_per_group, " dim=", dim);
}
// Per-thread row scratch, grown once and reused.
inline float* adaln_scratch(std::size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}
}  // namespace detail

inline void adaln_silu_forward(float* out, const float* h, const float* gamma, const float* beta,
                               const float* scale_shift, std::int64_t groups,
                               std::int64_t rows_per_group, std::int64_t dim, float eps) {
  detail::check_adaln("adaln_silu_forward", groups, rows_per_group, dim);
  const std::int64_t rows = groups * rows_per_group;
  if (rows == 0) return;
  if (!out || !h || !scale_shift) fail("adaln_silu_forward: null out/h/scale_shift");
  parallel_for(rows, [&](std::int64_t r) {
    const float* x = h + r * dim;
    float* y = out + r * dim;
    const float* sc = scale_shift + (r / rows_per_group) * 2 * dim;
    const float* sh = sc + dim;
    float m, rs;
    detail::row_moments(x, dim, eps, m, rs);
    for (std::int64_t i = 0; i < dim; ++i) {
      float v = (x[i] - m) * rs;
      if (gamma) v *= gamma[i];
      if (beta) v += beta[i];
      y[i] = v * (1.f + sc[i]) + sh[i];
    }
    vec::mul_sigmoid(y, y, dim, 1.f);
  }, 16);
}

// dh overwritten (nullable); dgamma/dbeta += (nullable); dscale_shift
// [groups, 2*dim] overwritten (nullable). Recomputes the forward from h.
inline void adaln_silu_backward(float* dh, float* dgamma, float* dbeta, float* dscale_shift,
                                const float* dout, const float* h, const float* gamma,
                                const float* beta, const float* scale_shift, std::int64_t groups,
                                std::int64_t rows_per_group, std::int64_t dim, float eps) {
  detail::check_adaln("adaln_silu_backward", groups, rows_per_group, dim);
  const std::int64_t rows = groups * rows_per_group;
  if (dscale_shift) std::fill(dscale_shift, dscale_shift + groups * 2 * dim, 0.f);
  if (rows == 0) return;
  if (!dout || !h || !scale_shift) fail("adaln_silu_backward: null dout/h/scale_shift");
  const bool params = dgamma || dbeta || dscale_shift;
  // Pass 1, by rows: xhat and dz = d loss / d (pre-SiLU) kept for pass 2, and dh.
  const std::size_t keep = params ? static_cast<std::size_t>(rows * dim) : 0;
  std::vector<float> xhat_all(keep), dz_all(keep);
  parallel_for(rows, [&](std::int64_t r) {
    const float* x = h + r * dim;
    const float* dy = dout + r * dim;
    const float* sc = scale_shift + (r / rows_per_group) * 2 * dim;
    const float* sh = sc + dim;
    float* tmp = detail::adaln_scratch(std::size_t(3 * dim));
    float* xh = params ? xhat_all.data() + r * dim : tmp;
    float* dz = params ? dz_all.data() + r * dim : tmp + dim;
    float* z = tmp + 2 * dim;
    float m, rs;
    detail::row_moments(x, dim, eps, m, rs);
    for (std::int64_t i = 0; i < dim; ++i) {
      xh[i] = (x[i] - m) * rs;
      const float y = xh[i] * (gamma ? gamma[i] : 1.f) + (beta ? beta[i] : 0.f);
      z[i] = y * (1.f + sc[i]) + sh[i];
    }
    vec::sigmoid(dz, z, dim);  // silu'(z) = s (1 + z (1 - s))
    for (std::int64_t i = 0; i < dim; ++i) dz[i] = dy[i] * dz[i] * (1.f + z[i] * (1.f - dz[i]));
    if (!dh) return;
    float* dx = dh + r * dim;
    // g = d loss / d xhat, kept in dx, then LayerNorm's backward
    for (std::int64_t i = 0; i < dim; ++i) dx[i] = dz[i] * (1.f + sc[i]) * (gamma ? gamma[i] : 1.f);
    const float mg = vec::sum(dx, dim) / float(dim);
    const float mgx = vec::dot(dx, xh, dim) / float(dim);
    for (std::int64_t i = 0; i < dim; ++i) dx[i] = rs * (dx[i] - mg - xh[i] * mgx);
  }, 16);
  if (!params) return;
  // Pass 2, by column chunks (fixed summation order): parameter and scale/shift grads.
  detail::for_column_chunks(dim, rows, [&](std::int64_t c0, std::int64_t c1) {
    float sgam[32] = {}, sbet[32] = {};
    for (std::int64_t g = 0; g < groups; ++g) {
      const float* sc = scale_shift + g * 2 * dim;
      float ssc[32] = {}, ssh[32] = {};
      for (std::int64_t rr = 0; rr < rows_per_group; ++rr) {
        const std::int64_t r = g * rows_per_group + rr;
        const float* xh = xhat_all.data() + r * dim;
        const float* dz = dz_all.data() + r * dim;
        for (std::int64_t c = c0; c < c1; ++c) {
          const float y = xh[c] * (gamma ? gamma[c] : 1.f) + (beta ? beta[c] : 0.f);
          const float dyn = dz[c] * (1.f + sc[c]);
          sgam[c - c0] += dyn * xh[c];
          sbet[c - c0] += dyn;
          ssc[c - c0] += dz[c] * y;
          ssh[c - c0] += dz[c];
        }
      }
      if (dscale_shift)
        for (std::int64_t c = c0; c < c1; ++c) {
          dscale_shift[g * 2 * dim + c] = ssc[c - c0];
          dscale_shift[g * 2 * dim + dim + c] = ssh[c - c0];
        }
    }
    for (std::int64_t c = c0; c < c1; ++c) {
      if (dgamma) dgamma[c] += sgam[c - c0];
      if (dbeta) dbeta[c] += sbet[c - c0];
    }
  });
}

}  // namespace finepose::ops
