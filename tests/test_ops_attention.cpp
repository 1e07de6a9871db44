// attention_forward / attention_backward against a naive double reference and
// central finite differences, for fused-qkv and separate layouts.
#include <doctest/doctest.h>

#include <string>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/attention.hpp"
#include "reference_ops.hpp"

using namespace finepose;
using ref::i64;

namespace {
// Every (q, k, v) layout below is one float buffer plus offsets and strides.
struct Layout {
  i64 B, H, Tq, Tk, D;
  i64 q_off, q_bs, q_ts, k_off, k_bs, k_ts, v_off, v_bs, v_ts, size;
  ref::Attn attn() const { return {B, H, Tq, Tk, D, q_bs, q_ts, k_bs, k_ts, v_bs, v_ts}; }
  ops::AttnShape shape() const { return {B, H, Tq, Tk, D}; }
};

// Output of a fused Linear: rows [B*T, 3*H*D], q|k|v.
Layout fused(i64 B, i64 H, i64 T, i64 D) {
  const i64 row = 3 * H * D;
  return {B, H, T, T, D, 0, T * row, row, H * D, T * row, row, 2 * H * D, T * row, row, B * T * row};
}

// Separate q [B, Tq, H*D], k and v [B, Tk, H*D] (row padding `pad`), in one buffer.
Layout separate(i64 B, i64 H, i64 Tq, i64 Tk, i64 D, i64 pad) {
  const i64 row = H * D + pad, qs = B * Tq * row, ks = B * Tk * row;
  return {B, H, Tq, Tk, D, 0, Tq * row, row, qs, Tk * row, row, qs + ks, Tk * row, row, qs + 2 * ks};
}

void run_case(const Layout& L, bool causal, std::uint32_t seed, bool finite_diff) {
  INFO("B=", L.B, " H=", L.H, " Tq=", L.Tq, " Tk=", L.Tk, " D=", L.D, " causal=", causal);
  const float scale = 1.f / std::sqrt(float(L.D));
  auto x = ref::randn(L.size, seed), dout = ref::randn(L.B * L.Tq * L.H * L.D, seed + 1);
  const ref::V xd = ref::to_d(x), w = ref::to_d(dout);
  const ref::Attn a = L.attn();
  auto ref_fwd = [&](const ref::V& buf, ref::V& out, ref::V& probs) {
    ref::V q(buf.begin() + L.q_off, buf.end()), k(buf.begin() + L.k_off, buf.end()), v(buf.begin() + L.v_off, buf.end());
    ref::attention(out, probs, q, k, v, a, scale, causal);
  };
  ref::V out_r, probs_r;
  ref_fwd(xd, out_r, probs_r);

  std::vector<float> out(out_r.size()), probs(probs_r.size(), -1.f);
  const float* X = x.data();
  ops::attention_forward(out.data(), probs.data(), X + L.q_off, L.q_bs, L.q_ts, X + L.k_off, L.k_bs, L.k_ts,
                         X + L.v_off, L.v_bs, L.v_ts, L.shape(), scale, causal);
  CHECK(ref::rel_l2(out, out_r) < 1e-5);
  CHECK(ref::rel_l2(probs, probs_r) < 1e-5);
  std::vector<float> out2(out.size());  // probs is optional and does not change the output
  ops::attention_forward(out2.data(), nullptr, X + L.q_off, L.q_bs, L.q_ts, X + L.k_off, L.k_bs, L.k_ts,
                         X + L.v_off, L.v_bs, L.v_ts, L.shape(), scale, causal);
  CHECK(out2 == out);

  // backward: gradients land in a buffer shaped like x (fused layouts included)
  ref::V g_r(xd.size(), 0.0);
  {
    ref::V dq(xd.size() - L.q_off), dk(xd.size() - L.k_off), dv(xd.size() - L.v_off);
    ref::V q(xd.begin() + L.q_off, xd.end()), k(xd.begin() + L.k_off, xd.end()), v(xd.begin() + L.v_off, xd.end());
    ref::attention_backward(dq, dk, dv, w, probs_r, q, k, v, a, scale);
    for (std::size_t i = 0; i < dq.size(); ++i) g_r[L.q_off + i] += dq[i];
    for (std::size_t i = 0; i < dk.size(); ++i) g_r[L.k_off + i] += dk[i];
    for (std::size_t i = 0; i < dv.size(); ++i) g_r[L.v_off + i] += dv[i];
  }
  std::vector<float> g(x.size(), 0.f);
  float* G = g.data();
  ops::attention_backward(G + L.q_off, G + L.k_off, G + L.v_off, dout.data(), probs.data(), X + L.q_off,
                          X + L.k_off, X + L.v_off, L.q_bs, L.q_ts, L.k_bs, L.k_ts, L.v_bs, L.v_ts, L.shape(), scale);
  CHECK(ref::rel_l2(g, g_r) < 1e-5);
  std::vector<float> g2(x.size(), 0.f);  // the strides-beside-tensors overload is the same function
  float* G2 = g2.data();
  ops::attention_backward(G2 + L.q_off, G2 + L.k_off, G2 + L.v_off, dout.data(), probs.data(), X + L.q_off, L.q_bs,
                          L.q_ts, X + L.k_off, L.k_bs, L.k_ts, X + L.v_off, L.v_bs, L.v_ts, L.shape(), scale);
  CHECK(g2 == g);

  if (finite_diff) {
    const auto fd = ref::fd_grad([&](const ref::V& buf) {
      ref::V o, p;
      ref_fwd(buf, o, p);
      return ref::dot(o, w);
    }, xd);
    CHECK(ref::rel_l2(g_r, fd) < 1e-7);
    CHECK(ref::rel_l2(g, fd) < 1e-5);
  }
}
}  // namespace

TEST_CASE("attention matches reference: fused qkv layout, 17 tokens, head_dim 64") {
  run_case(fused(3, 2, 17, 64), false, 1, false);
  run_case(fused(3, 2, 17, 64), true, 2, false);
  run_case(fused(1, 8, 17, 64), false, 3, false);  // batch 1
}

TEST_CASE("attention matches reference: separate layouts, kv_len != q_len, odd sizes") {
  std::uint32_t seed = 10;
  for (bool causal : {false, true}) {
    run_case(separate(2, 3, 5, 11, 7, 0), causal, seed++, false);   // Tq < Tk
    run_case(separate(1, 1, 9, 4, 13, 3), causal, seed++, false);   // Tq > Tk, padded rows
    run_case(separate(2, 2, 1, 77, 16, 0), causal, seed++, false);  // one query
    run_case(separate(1, 2, 243, 243, 16, 0), causal, seed++, false);
  }
}

TEST_CASE("attention backward agrees with central finite differences") {
  std::uint32_t seed = 40;
  for (bool causal : {false, true}) {
    run_case(fused(2, 2, 4, 3), causal, seed++, true);
    run_case(separate(2, 2, 3, 5, 3, 1), causal, seed++, true);
    run_case(separate(1, 1, 5, 2, 4, 0), causal, seed++, true);
  }
}

TEST_CASE("attention forward with k/v shared across the batch (batch stride 0)") {
  const i64 B = 4, H = 2, Tq = 6, Tk = 9, D = 8;
  auto q = ref::randn(B * Tq * H * D, 60), kv = ref::randn(2 * Tk * H * D, 61);
  std::vector<float> out(B * Tq * H * D);
  ops::attention_forward(out.data(), nullptr, q.data(), Tq * H * D, H * D, kv.data(), 0, H * D,
                         kv.data() + Tk * H * D, 0, H * D, {B, H, Tq, Tk, D}, 0.3f, false);
  // reference with kv repeated per batch item
  ref::V kk, vv;
  for (i64 b = 0; b < B; ++b) {
    kk.insert(kk.end(), kv.begin(), kv.begin() + Tk * H * D);
    vv.insert(vv.end(), kv.begin() + Tk * H * D, kv.end());
  }
  ref::V out_r, p_r;
  ref::attention(out_r, p_r, ref::to_d(q), kk, vv, {B, H, Tq, Tk, D, Tq * H * D, H * D, Tk * H * D, H * D, Tk * H * D, H * D}, 0.3, false);
  CHECK(ref::rel_l2(out, out_r) < 1e-5);
  // ... but its backward would race on dk/dv, so that is refused
  std::vector<float> dq(q.size()), dk(kv.size()), dv(kv.size()), probs(B * H * Tq * Tk);
  CHECK_THROWS_AS(ops::attention_backward(dq.data(), dk.data(), dv.data(), out.data(), probs.data(), q.data(),
                                          kv.data(), kv.data(), Tq * H * D, H * D, 0, H * D, 0, H * D,
                                          {B, H, Tq, Tk, D}, 0.3f),
                  Error);
}

TEST_CASE("attention result does not depend on the thread count, and rejects bad shapes") {
  const Layout L = fused(16, 8, 17, 64);
  auto x = ref::randn(L.size, 70);
  std::vector<float> o1(L.B * L.Tq * L.H * L.D), o2(o1.size());
  const int saved = num_threads();
  set_num_threads(1);
  ops::attention_forward(o1.data(), nullptr, x.data(), L.q_bs, L.q_ts, x.data() + L.k_off, L.k_bs, L.k_ts,
                         x.data() + L.v_off, L.v_bs, L.v_ts, L.shape(), 0.125f, false);
  set_num_threads(std::max(2, saved));
  ops::attention_forward(o2.data(), nullptr, x.data(), L.q_bs, L.q_ts, x.data() + L.k_off, L.k_bs, L.k_ts,
                         x.data() + L.v_off, L.v_bs, L.v_ts, L.shape(), 0.125f, false);
  set_num_threads(saved);
  CHECK(o1 == o2);
  CHECK_THROWS_AS(ops::attention_forward(o1.data(), nullptr, x.data(), L.q_bs, L.q_ts, x.data(), L.k_bs, L.k_ts,
                                         x.data(), L.v_bs, L.v_ts, {2, 8, 17, 0, 64}, 0.1f, false),
                  Error);
  CHECK_THROWS_AS(ops::attention_forward(o1.data(), nullptr, x.data(), L.q_bs, 100, x.data(), L.k_bs, L.k_ts,
                                         x.data(), L.v_bs, L.v_ts, L.shape(), 0.1f, false),
                  Error);  // token stride smaller than heads*head_dim
}
