// adaln_silu, embedding lookup and the timestep embedding.
#include <doctest/doctest.h>

#include <cmath>

#include "finepose/core/error.hpp"
#include "finepose/ops/adaln.hpp"
#include "finepose/ops/embedding.hpp"
#include "reference_ops.hpp"

using namespace finepose;
using ref::i64;

TEST_CASE("adaln_silu forward/backward match the double reference") {
  struct S { i64 G, R, dim; };
  std::uint32_t seed = 1;
  for (S s : {S{1, 1, 5}, S{3, 17, 33}, S{2, 5, 512}, S{1, 243, 64}, S{7, 3, 129}}) {
    INFO("groups=", s.G, " rows_per_group=", s.R, " dim=", s.dim);
    const float eps = 1e-5f;
    const i64 rows = s.G * s.R;
    auto h = ref::randn(rows * s.dim, seed++, 2.f), g = ref::randn(s.dim, seed++), b = ref::randn(s.dim, seed++),
         ss = ref::randn(s.G * 2 * s.dim, seed++, 0.5f), dy = ref::randn(rows * s.dim, seed++);
    const ref::V hd = ref::to_d(h), gd = ref::to_d(g), bd = ref::to_d(b), ssd = ref::to_d(ss), dyd = ref::to_d(dy);
    std::vector<float> out(h.size());
    ops::adaln_silu_forward(out.data(), h.data(), g.data(), b.data(), ss.data(), s.G, s.R, s.dim, eps);
    CHECK(ref::rel_l2(out, ref::adaln_silu(hd, gd, bd, ssd, s.G, s.R, s.dim, eps)) < 1e-5);

    ref::V dh_r, dg_r, db_r, dss_r;
    ref::adaln_silu_backward(dh_r, dg_r, db_r, dss_r, dyd, hd, gd, bd, ssd, s.G, s.R, s.dim, eps);
    std::vector<float> dh(h.size()), dg(s.dim, 1.f), db(s.dim, 1.f), dss(ss.size(), 9.f);
    ops::adaln_silu_backward(dh.data(), dg.data(), db.data(), dss.data(), dy.data(), h.data(), g.data(), b.data(),
                             ss.data(), s.G, s.R, s.dim, eps);
    for (auto& v : dg) v -= 1.f;  // += semantics
    for (auto& v : db) v -= 1.f;
    CHECK(ref::rel_l2(dh, dh_r) < 1e-5);
    CHECK(ref::rel_l2(dg, dg_r) < 1e-5);
    CHECK(ref::rel_l2(db, db_r) < 1e-5);
    CHECK(ref::rel_l2(dss, dss_r) < 1e-5);  // overwritten, not accumulated
  }
}

TEST_CASE("adaln_silu backward agrees with central finite differences") {
  const i64 G = 2, R = 3, dim = 5;
  const double eps = 1e-5;
  auto h = ref::randn(G * R * dim, 81), g = ref::randn(dim, 82), b = ref::randn(dim, 83),
       ss = ref::randn(G * 2 * dim, 84, 0.5f), dy = ref::randn(G * R * dim, 85);
  const ref::V hd = ref::to_d(h), gd = ref::to_d(g), bd = ref::to_d(b), ssd = ref::to_d(ss), w = ref::to_d(dy);
  auto L = [&](const ref::V& hh, const ref::V& gg, const ref::V& bb, const ref::V& s2) {
    return ref::dot(ref::adaln_silu(hh, gg, bb, s2, G, R, dim, eps), w);
  };
  const auto fh = ref::fd_grad([&](const ref::V& v) { return L(v, gd, bd, ssd); }, hd);
  const auto fg = ref::fd_grad([&](const ref::V& v) { return L(hd, v, bd, ssd); }, gd);
  const auto fb = ref::fd_grad([&](const ref::V& v) { return L(hd, gd, v, ssd); }, bd);
  const auto fs = ref::fd_grad([&](const ref::V& v) { return L(hd, gd, bd, v); }, ssd);
  ref::V dh_r, dg_r, db_r, dss_r;
  ref::adaln_silu_backward(dh_r, dg_r, db_r, dss_r, w, hd, gd, bd, ssd, G, R, dim, eps);
  CHECK(ref::rel_l2(dh_r, fh) < 1e-7);
  CHECK(ref::rel_l2(dg_r, fg) < 1e-7);
  CHECK(ref::rel_l2(db_r, fb) < 1e-7);
  CHECK(ref::rel_l2(dss_r, fs) < 1e-7);
  std::vector<float> dh(h.size()), dg(dim, 0.f), db(dim, 0.f), dss(ss.size());
  ops::adaln_silu_backward(dh.data(), dg.data(), db.data(), dss.data(), dy.data(), h.data(), g.data(), b.data(),
                           ss.data(), G, R, dim, float(eps));
  CHECK(ref::rel_l2(dh, fh) < 1e-5);
  CHECK(ref::rel_l2(dg, fg) < 1e-5);
  CHECK(ref::rel_l2(db, fb) < 1e-5);
  CHECK(ref::rel_l2(dss, fs) < 1e-5);
}

TEST_CASE("adaln_silu rejects bad shapes") {
  std::vector<float> x(10);
  CHECK_THROWS_AS(ops::adaln_silu_forward(x.data(), x.data(), nullptr, nullptr, x.data(), 1, 2, 0, 1e-5f), Error);
  CHECK_THROWS_AS(ops::adaln_silu_forward(x.data(), x.data(), nullptr, nullptr, x.data(), -1, 2, 5, 1e-5f), Error);
  CHECK_THROWS_AS(ops::adaln_silu_forward(x.data(), x.data(), nullptr, nullptr, nullptr, 1, 2, 5, 1e-5f), Error);
}

TEST_CASE("embedding lookup, its gradient, and id validation") {
  const i64 vocab = 11, dim = 70, n = 300;  // dim spans two column chunks
  auto table = ref::randn(vocab * dim, 90), dout = ref::randn(n * dim, 91);
  std::vector<std::int32_t> ids(n);
  for (i64 i = 0; i < n; ++i) ids[i] = std::int32_t((i * 7 + 3) % vocab);  // repeats
  std::vector<float> out(n * dim);
  ops::embedding_forward(out.data(), ids.data(), table.data(), n, vocab, dim);
  for (i64 i = 0; i < n; ++i)
    for (i64 c = 0; c < dim; ++c) CHECK_EQ(out[i * dim + c], table[ids[i] * dim + c]);
  std::vector<float> dt(vocab * dim, 0.5f);
  ops::embedding_backward(dt.data(), dout.data(), ids.data(), n, dim);
  ref::V want(vocab * dim, 0.5);
  for (i64 i = 0; i < n; ++i)
    for (i64 c = 0; c < dim; ++c) want[ids[i] * dim + c] += dout[i * dim + c];
  CHECK(ref::rel_l2(dt, want) < 1e-6);

  std::vector<std::int32_t> bad{1, 11};
  CHECK_THROWS_AS(ops::embedding_forward(out.data(), bad.data(), table.data(), 2, vocab, dim), Error);
  bad[1] = -1;
  CHECK_THROWS_AS(ops::embedding_forward(out.data(), bad.data(), table.data(), 2, vocab, dim), Error);
  CHECK_THROWS_AS(ops::embedding_backward(dt.data(), dout.data(), bad.data(), 2, dim), Error);
}

// Expected values computed by torch 1.13 (float32), the FinePOSE/MixSTE recipe:
//   /usr/bin/python3 -c "import math,torch; t=torch.tensor([0,1,37,500,999]); dim=...;
//     half=dim//2; e=math.log(10000)/(half-1); e=torch.exp(torch.arange(half)*-e);
//     e=t[:,None]*e[None,:]; out=torch.cat((e.sin(),e.cos()),dim=-1); print(out[:, cols])"
// with dim 20 (all columns) and dim 512 (the columns listed in kCols512).
namespace {
const std::int64_t kT[5] = {0, 1, 37, 500, 999};
const float kTorch20[5][20] = {
    {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f},
    {0.841470957f, 0.35169521f, 0.128796205f, 0.0463992395f, 0.016680235f, 0.00599480746f, 0.00215443433f, 0.000774263986f, 0.000278256048f, 0.000100000085f, 0.540302336f, 0.93611455f, 0.991671085f, 0.998922944f, 0.999860883f, 0.999982059f, 0.999997675f, 0.999999702f, 1.f, 1.f},
    {-0.643538117f, 0.667420864f, -0.997799933f, 0.989274621f, 0.578751802f, 0.219994873f, 0.0796297416f, 0.0286438502f, 0.0102952924f, 0.00369999465f, 0.765414059f, 0.744680762f, 0.0662965626f, -0.146067604f, 0.815503716f, 0.97550106f, 0.996824503f, 0.999589682f, 0.999947011f, 0.999993145f},
    {-0.467771798f, -0.580960155f, 0.984753966f, -0.937995613f, 0.8839643f, 0.143671989f, 0.880643129f, 0.37753424f, 0.138679624f, 0.0499792099f, -0.883849263f, -0.813932002f, -0.173952907f, -0.346647203f, -0.467554361f, -0.989625335f, 0.473780215f, 0.925995648f, 0.990337312f, 0.998750269f},
    {-0.0264607519f, 0.771019578f, -0.218736157f, 0.684853077f, -0.817101061f, -0.290105075f, 0.835647821f, 0.698636353f, 0.274411649f, 0.0997340009f, 0.999649823f, 0.636811435f, -0.975784063f, -0.728681207f, -0.576494455f, 0.956994832f, -0.549265623f, 0.71547693f, 0.961612344f, 0.995014131f},
};
const int kCols512[16] = {0, 1, 2, 5, 17, 63, 100, 127, 200, 255, 256, 257, 300, 383, 450, 511};
const float kTorch512[5][16] = {
    {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f},
    {0.841470957f, 0.821778655f, 0.8018049f, 0.741144419f, 0.515138745f, 0.102565274f, 0.0269972719f, 0.0101820612f, 0.000729029765f, 9.99999902e-05f, 0.540302336f, 0.569806874f, 0.97924751f, 0.999948144f, 0.999999583f, 1.f},
    {-0.643538117f, -0.904379606f, 0.135648146f, -0.504938543f, 0.922193885f, -0.613123f, 0.84094131f, 0.367893636f, 0.0269708335f, 0.00369999115f, 0.765414059f, -0.426728904f, 0.298347682f, 0.929867864f, 0.999438882f, 0.999993145f},
    {-0.467771798f, -0.999600053f, 0.197700337f, 0.430551916f, 0.396571517f, 0.894582331f, 0.803948343f, -0.929135025f, 0.356496125f, 0.0499791615f, -0.883849263f, 0.0282802507f, 0.0609062612f, 0.369740605f, 0.89925915f, 0.998750269f},
    {-0.0264607519f, 0.788256526f, -0.507494986f, -0.988136292f, 0.27098918f, 0.856962204f, 0.96376735f, -0.679644048f, 0.665602505f, 0.0997339115f, 0.999649823f, -0.61534673f, -0.947344065f, -0.733542085f, 0.618046165f, 0.995014131f},
};
}  // namespace

TEST_CASE("timestep_embedding reproduces torch's float32 values") {
  std::vector<float> e20(5 * 20), e512(5 * 512);
  ops::timestep_embedding(e20.data(), kT, 5, 20);
  ops::timestep_embedding(e512.data(), kT, 5, 512);
  // torch's vectorised expf (SLEEF, 1-ulp bound) is not always correctly rounded,
  // so a frequency may differ from ours by one float ulp; the argument t*freq then
  // differs by about 6e-8*t*freq. Allow two ulps of the argument, and require most
  // values to agree to 2e-6 so a systematic error cannot hide in that allowance.
  const double c20 = std::log(10000.0) / 9.0, c512 = std::log(10000.0) / 255.0;
  int close = 0, total = 0;
  auto check = [&](float ours, float theirs, double arg) {
    const double d = std::abs(double(ours) - double(theirs));
    CHECK(d <= 2e-6 + 2.4e-7 * arg);
    close += d <= 2e-6;
    ++total;
  };
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 20; ++c) check(e20[r * 20 + c], kTorch20[r][c], double(kT[r]) * std::exp(-c20 * (c % 10)));
    for (int j = 0; j < 16; ++j)
      check(e512[r * 512 + kCols512[j]], kTorch512[r][j], double(kT[r]) * std::exp(-c512 * (kCols512[j] % 256)));
  }
  CHECK(close >= total - 3);

  // All 512 columns against double math, with the float32 argument error allowed.
  const double c = std::log(10000.0) / 255.0;
  for (int r = 0; r < 5; ++r)
    for (int i = 0; i < 256; ++i) {
      const double arg = double(kT[r]) * std::exp(-c * i);
      const double tol = 1e-6 + 3e-7 * arg;  // a few float32 ulps of the argument
      CHECK(std::abs(e512[r * 512 + i] - std::sin(arg)) < tol);
      CHECK(std::abs(e512[r * 512 + 256 + i] - std::cos(arg)) < tol);
    }
  CHECK_THROWS_AS(ops::timestep_embedding(e20.data(), kT, 5, 2), Error);
  CHECK_THROWS_AS(ops::timestep_embedding(e20.data(), kT, 5, 21), Error);
}

TEST_CASE("adaln_silu backward: optional outputs give the same values as the full call") {
  const i64 G = 2, R = 7, dim = 37;
  auto h = ref::randn(G * R * dim, 101), g = ref::randn(dim, 102), b = ref::randn(dim, 103),
       ss = ref::randn(G * 2 * dim, 104, 0.5f), dy = ref::randn(G * R * dim, 105);
  std::vector<float> dh(h.size()), dg(dim, 0.f), db(dim, 0.f), dss(ss.size());
  ops::adaln_silu_backward(dh.data(), dg.data(), db.data(), dss.data(), dy.data(), h.data(), g.data(), b.data(),
                           ss.data(), G, R, dim, 1e-5f);
  std::vector<float> dh2(h.size()), dg2(dim, 0.f), db2(dim, 0.f), dss2(ss.size());
  ops::adaln_silu_backward(dh2.data(), nullptr, nullptr, nullptr, dy.data(), h.data(), g.data(), b.data(),
                           ss.data(), G, R, dim, 1e-5f);
  ops::adaln_silu_backward(nullptr, dg2.data(), db2.data(), dss2.data(), dy.data(), h.data(), g.data(), b.data(),
                           ss.data(), G, R, dim, 1e-5f);
  CHECK(dh2 == dh);
  CHECK(dg2 == dg);
  CHECK(db2 == db);
  CHECK(dss2 == dss);
  // no affine LayerNorm: same as gamma = 1, beta = 0
  const std::vector<float> ones(dim, 1.f), zeros(dim, 0.f);
  std::vector<float> o1(h.size()), o2(h.size());
  ops::adaln_silu_forward(o1.data(), h.data(), nullptr, nullptr, ss.data(), G, R, dim, 1e-5f);
  ops::adaln_silu_forward(o2.data(), h.data(), ones.data(), zeros.data(), ss.data(), G, R, dim, 1e-5f);
  CHECK(o1 == o2);
}
