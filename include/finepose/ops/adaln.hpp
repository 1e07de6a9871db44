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
inline float silu_grad(float z) {
  const float s = 1.f / (1.f + std::exp(-z));
  return s * (1.f + z * (1.f - s));
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
  std::vector<float> mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows));
  // Pass 1, by rows: statistics and dh.
  parallel_for(rows, [&](std::int64_t r) {
    const float* x = h + r * dim;
    const float* dy = dout + r * dim;
    const float* sc = scale_shift + (r / rows_per_group) * 2 * dim;
    const float* sh = sc + dim;
    float m, rs;
    detail::row_moments(x, dim, eps, m, rs);
    mean[r] = m;
    rstd[r] = rs;
    if (!dh) return;
    float* dx = dh + r * dim;
    // g_i = d loss / d xhat_i, stored in dx first, then turned into d loss / d h
    float sg = 0.f, sgx = 0.f;
    for (std::int64_t i = 0; i < dim; ++i) {
      const float xh = (x[i] - m) * rs;
      const float gm = gamma ? gamma[i] : 1.f;
      const float y = xh * gm + (beta ? beta[i] : 0.f);
      const float z = y * (1.f + sc[i]) + sh[i];
      const float g = dy[i] * detail::silu_grad(z) * (1.f + sc[i]) * gm;
      dx[i] = g;
      sg += g;
      sgx += g * xh;
    }
    const float mg = sg / float(dim), mgx = sgx / float(dim);
    for (std::int64_t i = 0; i < dim; ++i) dx[i] = rs * (dx[i] - mg - (x[i] - m) * rs * mgx);
  }, 16);
  if (!dgamma && !dbeta && !dscale_shift) return;
  // Pass 2, by column chunks (fixed summation order): parameter and scale/shift grads.
  detail::for_column_chunks(dim, rows, [&](std::int64_t c0, std::int64_t c1) {
    float sgam[32] = {}, sbet[32] = {};
    for (std::int64_t g = 0; g < groups; ++g) {
      const float* sc = scale_shift + g * 2 * dim;
      const float* sh = sc + dim;
      float ssc[32] = {}, ssh[32] = {};
      for (std::int64_t rr = 0; rr < rows_per_group; ++rr) {
        const std::int64_t r = g * rows_per_group + rr;
        const float* x = h + r * dim;
        const float* dy = dout + r * dim;
        for (std::int64_t c = c0; c < c1; ++c) {
          const float xh = (x[c] - mean[r]) * rstd[r];
          const float y = xh * (gamma ? gamma[c] : 1.f) + (beta ? beta[c] : 0.f);
          const float z = y * (1.f + sc[c]) + sh[c];
          const float dz = dy[c] * detail::silu_grad(z);
          const float dyn = dz * (1.f + sc[c]);
          sgam[c - c0] += dyn * xh;
          sbet[c - c0] += dyn;
          ssc[c - c0] += dz * y;
          ssh[c - c0] += dz;
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
