#pragma once
// Multi-head scaled dot-product attention, forward and backward.
//
// q/k/v are read through (batch, token) strides so that the output of a fused
// qkv Linear ([rows, 3*H*dh], q|k|v each split into heads) or separate q, k, v
// buffers can be used without copies. Work is split over (batch, head) pairs;
// each pair is a handful of small matrix products on per-thread scratch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/gemm.hpp"
#include "finepose/ops/softmax.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // see gemm.hpp
#endif

namespace finepose::ops {

struct AttnShape {
  std::int64_t batch, heads, q_len, kv_len, head_dim;
};

namespace detail {

// Scratch that lives as long as the thread: grows, never shrinks, so the
// (batch, head) loop never allocates once warmed up.
inline float* attn_scratch(std::size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

inline void check_attn_shape(const char* who, const AttnShape& s) {
  if (s.batch < 0 || s.heads <= 0 || s.q_len <= 0 || s.kv_len <= 0 || s.head_dim <= 0)
    fail(who, ": bad shape batch=", s.batch, " heads=", s.heads, " q_len=", s.q_len,
         " kv_len=", s.kv_len, " head_dim=", s.head_dim);
}

// One tensor's rows (b, t) are `ts` apart and hold all heads ([t, H*dh] slice);
// a row must hold H*dh elements, and batches must not overlap when written.
inline void check_strides(const char* who, const char* name, std::int64_t bs, std::int64_t ts,
                          std::int64_t len, const AttnShape& s, bool written) {
  const std::int64_t row = s.heads * s.head_dim;
  if (bs < 0 || ts < 0) fail(who, ": negative stride for ", name, " (bs=", bs, ", ts=", ts, ")");
  if (len > 1 && ts < row)
    fail(who, ": ", name, " token stride ", ts, " is smaller than heads*head_dim=", row);
  if (written && s.batch > 1 && bs < (len - 1) * ts + row)
    fail(who, ": ", name, " batch stride ", bs, " makes batches overlap (gradients would race)");
}

using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMapS = Eigen::Map<const RowMatF, Eigen::Unaligned, Eigen::OuterStride<>>;
using MapS = Eigen::Map<RowMatF, Eigen::Unaligned, Eigen::OuterStride<>>;

// Causal: probability row i covers keys 0..min(i, Tk-1); the rest are exact zeros.
inline std::int64_t causal_cols(bool causal, std::int64_t i, std::int64_t tk) {
  return causal ? std::min(i + 1, tk) : tk;
}

}  // namespace detail

// out [B, Tq, H*dh]; probs (nullable) [B, H, Tq, Tk]. scale multiplies q.k.
// causal masks key j > query i.
inline void attention_forward(float* out, float* probs, const float* q, std::int64_t q_bs,
                              std::int64_t q_ts, const float* k, std::int64_t k_bs,
                              std::int64_t k_ts, const float* v, std::int64_t v_bs,
                              std::int64_t v_ts, const AttnShape& s, float scale, bool causal) {
  const char* who = "attention_forward";
  detail::check_attn_shape(who, s);
  detail::check_strides(who, "q", q_bs, q_ts, s.q_len, s, false);
  detail::check_strides(who, "k", k_bs, k_ts, s.kv_len, s, false);
  detail::check_strides(who, "v", v_bs, v_ts, s.kv_len, s, false);
  if (s.batch == 0) return;
  if (!out || !q || !k || !v) fail(who, ": null out/q/k/v");
  detail::eigen_single_threaded_once();
  const std::int64_t H = s.heads, D = s.head_dim, Tq = s.q_len, Tk = s.kv_len;
  const std::int64_t pairs = s.batch * H, plane = Tq * Tk;
  parallel_for(pairs, [&](std::int64_t bh) {
    const std::int64_t b = bh / H, h = bh % H;
    float* P = probs ? probs + bh * plane : detail::attn_scratch(std::size_t(plane));
    detail::CMapS Q(q + b * q_bs + h * D, Tq, D, Eigen::OuterStride<>(std::max<std::int64_t>(q_ts, D)));
    detail::CMapS K(k + b * k_bs + h * D, Tk, D, Eigen::OuterStride<>(std::max<std::int64_t>(k_ts, D)));
    detail::CMapS V(v + b * v_bs + h * D, Tk, D, Eigen::OuterStride<>(std::max<std::int64_t>(v_ts, D)));
    detail::MapS S(P, Tq, Tk, Eigen::OuterStride<>(Tk));
    detail::MapS O(out + b * Tq * H * D + h * D, Tq, D, Eigen::OuterStride<>(H * D));
    S.noalias() = (scale * Q) * K.transpose();
    for (std::int64_t i = 0; i < Tq; ++i) {
      float* row = P + i * Tk;
      const std::int64_t n = detail::causal_cols(causal, i, Tk);
      detail::softmax_row(row, row, n);
      std::fill(row + n, row + Tk, 0.f);
    }
    O.noalias() = S * V;
  }, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, plane * D)));
}

// Gradients of attention_forward. probs is the forward's softmax output
// [B, H, Tq, Tk] (masked entries are zeros, so no causal flag is needed).
// dq/dk/dv are overwritten and laid out with the same strides as q/k/v (they
// may point into one fused [rows, 3*H*dh] buffer).
inline void attention_backward(float* dq, float* dk, float* dv, const float* dout,
                               const float* probs, const float* q, const float* k, const float* v,
                               std::int64_t q_bs, std::int64_t q_ts, std::int64_t k_bs,
                               std::int64_t k_ts, std::int64_t v_bs, std::int64_t v_ts,
                               const AttnShape& s, float scale) {
  const char* who = "attention_backward";
  detail::check_attn_shape(who, s);
  detail::check_strides(who, "q", q_bs, q_ts, s.q_len, s, true);
  detail::check_strides(who, "k", k_bs, k_ts, s.kv_len, s, true);
  detail::check_strides(who, "v", v_bs, v_ts, s.kv_len, s, true);
  if (s.batch == 0) return;
  if (!dq || !dk || !dv || !dout || !probs || !q || !k || !v) fail(who, ": null pointer argument");
  detail::eigen_single_threaded_once();
  const std::int64_t H = s.heads, D = s.head_dim, Tq = s.q_len, Tk = s.kv_len;
  const std::int64_t plane = Tq * Tk;
  // Two heads of one batch item share no q/k/v elements, and batches do not
  // overlap (checked), so (b, h) pairs write disjoint gradient slices.
  parallel_for(s.batch * H, [&](std::int64_t bh) {
    const std::int64_t b = bh / H, h = bh % H;
    const auto st = [D](std::int64_t ts) { return Eigen::OuterStride<>(std::max<std::int64_t>(ts, D)); };
    detail::CMapS P(probs + bh * plane, Tq, Tk, Eigen::OuterStride<>(Tk));
    detail::CMapS dO(dout + b * Tq * H * D + h * D, Tq, D, Eigen::OuterStride<>(H * D));
    detail::CMapS Q(q + b * q_bs + h * D, Tq, D, st(q_ts));
    detail::CMapS K(k + b * k_bs + h * D, Tk, D, st(k_ts));
    detail::CMapS V(v + b * v_bs + h * D, Tk, D, st(v_ts));
    detail::MapS dQ(dq + b * q_bs + h * D, Tq, D, st(q_ts));
    detail::MapS dK(dk + b * k_bs + h * D, Tk, D, st(k_ts));
    detail::MapS dV(dv + b * v_bs + h * D, Tk, D, st(v_ts));
    float* dp = detail::attn_scratch(std::size_t(plane));
    detail::MapS dS(dp, Tq, Tk, Eigen::OuterStride<>(Tk));
    dV.noalias() = P.transpose() * dO;
    dS.noalias() = dO * V.transpose();
    // softmax backward row by row, then the scale of the scores
    for (std::int64_t i = 0; i < Tq; ++i) {
      float* row = dp + i * Tk;
      detail::softmax_row_backward(row, row, probs + bh * plane + i * Tk, Tk);
      for (std::int64_t j = 0; j < Tk; ++j) row[j] *= scale;
    }
    dQ.noalias() = dS * K;
    dK.noalias() = dS.transpose() * Q;
  }, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, plane * D)));
}

// Same, with the strides next to their tensors (the order attention_forward uses).
inline void attention_backward(float* dq, float* dk, float* dv, const float* dout,
                               const float* probs, const float* q, std::int64_t q_bs,
                               std::int64_t q_ts, const float* k, std::int64_t k_bs,
                               std::int64_t k_ts, const float* v, std::int64_t v_bs,
                               std::int64_t v_ts, const AttnShape& s, float scale) {
  attention_backward(dq, dk, dv, dout, probs, q, k, v, q_bs, q_ts, k_bs, k_ts, v_bs, v_ts, s, scale);
}

}  // namespace finepose::ops

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
