// layer_norm, softmax and the activations against naive double references and
// central finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "finepose/core/error.hpp"
#include "finepose/ops/activations.hpp"
#include "finepose/ops/layer_norm.hpp"
#include "finepose/ops/softmax.hpp"
#include "reference_ops.hpp"

using namespace finepose;
using ref::i64;

TEST_CASE("layer_norm forward/backward match the double reference") {
  struct S { i64 rows, dim; };
  std::uint32_t seed = 1;
  for (S s : {S{1, 5}, S{37, 33}, S{4, 512}, S{300, 129}}) {
    INFO("rows=", s.rows, " dim=", s.dim);
    const float eps = 1e-5f;
    auto x = ref::randn(s.rows * s.dim, seed++, 2.f), g = ref::randn(s.dim, seed++),
         b = ref::randn(s.dim, seed++), dy = ref::randn(s.rows * s.dim, seed++);
    for (i64 i = 0; i < s.rows * s.dim; ++i) x[i] += 3.f;  // offset mean: tests centring
    std::vector<float> y(x.size()), mean(s.rows), rstd(s.rows);
    ops::layer_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), s.rows, s.dim, eps);
    const ref::V xd = ref::to_d(x), gd = ref::to_d(g), bd = ref::to_d(b), dyd = ref::to_d(dy);
    CHECK(ref::rel_l2(y, ref::layer_norm(xd, gd, bd, s.rows, s.dim, eps)) < 1e-5);

    ref::V dx_r, dg_r, db_r;
    ref::layer_norm_backward(dx_r, dg_r, db_r, dyd, xd, gd, s.rows, s.dim, eps);
    std::vector<float> dx(x.size()), dg(s.dim, 0.5f), db(s.dim, 0.5f);
    ops::layer_norm_backward(dx.data(), dg.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                             g.data(), s.rows, s.dim);
    for (auto& v : dg) v -= 0.5f;
    for (auto& v : db) v -= 0.5f;
    CHECK(ref::rel_l2(dx, dx_r) < 1e-5);
    CHECK(ref::rel_l2(dg, dg_r) < 1e-5);
    CHECK(ref::rel_l2(db, db_r) < 1e-5);
  }
}

TEST_CASE("layer_norm without affine parameters and error checks") {
  const i64 rows = 3, dim = 7;
  auto x = ref::randn(rows * dim, 9);
  std::vector<float> y(x.size());
  ops::layer_norm_forward(y.data(), nullptr, nullptr, x.data(), nullptr, nullptr, rows, dim, 1e-6f);
  const ref::V ones(dim, 1.0), zeros(dim, 0.0);
  CHECK(ref::rel_l2(y, ref::layer_norm(ref::to_d(x), ones, zeros, rows, dim, 1e-6)) < 1e-5);
  CHECK_THROWS_AS(ops::layer_norm_forward(y.data(), nullptr, nullptr, x.data(), nullptr, nullptr, rows, 0, 1e-5f), Error);
  CHECK_THROWS_AS(ops::layer_norm_backward(y.data(), nullptr, nullptr, x.data(), x.data(), nullptr, nullptr, nullptr, rows, dim), Error);
}

TEST_CASE("layer_norm backward agrees with central finite differences") {
  const i64 rows = 3, dim = 6;
  const double eps = 1e-5;
  auto x = ref::randn(rows * dim, 31), g = ref::randn(dim, 32), b = ref::randn(dim, 33), dy = ref::randn(rows * dim, 34);
  const ref::V xd = ref::to_d(x), gd = ref::to_d(g), bd = ref::to_d(b), w = ref::to_d(dy);
  const auto fx = ref::fd_grad([&](const ref::V& v) { return ref::dot(ref::layer_norm(v, gd, bd, rows, dim, eps), w); }, xd);
  const auto fg = ref::fd_grad([&](const ref::V& v) { return ref::dot(ref::layer_norm(xd, v, bd, rows, dim, eps), w); }, gd);
  const auto fb = ref::fd_grad([&](const ref::V& v) { return ref::dot(ref::layer_norm(xd, gd, v, rows, dim, eps), w); }, bd);
  ref::V dx_r, dg_r, db_r;
  ref::layer_norm_backward(dx_r, dg_r, db_r, w, xd, gd, rows, dim, eps);
  CHECK(ref::rel_l2(dx_r, fx) < 1e-7);
  CHECK(ref::rel_l2(dg_r, fg) < 1e-7);
  CHECK(ref::rel_l2(db_r, fb) < 1e-7);
  std::vector<float> y(x.size()), mean(rows), rstd(rows), dx(x.size()), dg(dim, 0.f), db(dim, 0.f);
  ops::layer_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), rows, dim, float(eps));
  ops::layer_norm_backward(dx.data(), dg.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(), g.data(), rows, dim);
  CHECK(ref::rel_l2(dx, fx) < 1e-5);
  CHECK(ref::rel_l2(dg, fg) < 1e-5);
  CHECK(ref::rel_l2(db, fb) < 1e-5);
}

TEST_CASE("softmax forward/backward match reference and finite differences") {
  struct S { i64 rows, cols; };
  std::uint32_t seed = 50;
  for (S s : {S{1, 1}, S{1, 17}, S{37, 243}, S{5, 77}}) {
    INFO("rows=", s.rows, " cols=", s.cols);
    auto x = ref::randn(s.rows * s.cols, seed++, 3.f), dy = ref::randn(s.rows * s.cols, seed++);
    std::vector<float> y(x.size()), dx(x.size());
    ops::softmax_forward(y.data(), x.data(), s.rows, s.cols);
    const ref::V yr = ref::softmax(ref::to_d(x), s.rows, s.cols);
    CHECK(ref::rel_l2(y, yr) < 1e-5);
    ops::softmax_backward(dx.data(), dy.data(), y.data(), s.rows, s.cols);
    CHECK(ref::rel_l2(dx, ref::softmax_backward(ref::to_d(dy), yr, s.rows, s.cols)) < 1e-5);
    std::vector<float> inplace = x;  // in == out
    ops::softmax_forward(inplace.data(), inplace.data(), s.rows, s.cols);
    CHECK(inplace == y);
  }
  const i64 rows = 2, cols = 7;
  auto x = ref::randn(rows * cols, 70), dy = ref::randn(rows * cols, 71);
  const ref::V w = ref::to_d(dy);
  const auto fx = ref::fd_grad([&](const ref::V& v) { return ref::dot(ref::softmax(v, rows, cols), w); }, ref::to_d(x));
  CHECK(ref::rel_l2(ref::softmax_backward(w, ref::softmax(ref::to_d(x), rows, cols), rows, cols), fx) < 1e-7);
  std::vector<float> y(x.size()), dx(x.size());
  ops::softmax_forward(y.data(), x.data(), rows, cols);
  ops::softmax_backward(dx.data(), dy.data(), y.data(), rows, cols);
  CHECK(ref::rel_l2(dx, fx) < 1e-5);
}

TEST_CASE("softmax handles large logits, -inf entries and fully masked rows") {
  std::vector<float> big{1000.f, 999.f, -1000.f}, p(3);
  ops::softmax_forward(p.data(), big.data(), 1, 3);
  CHECK(p[0] == doctest::Approx(1.0 / (1.0 + std::exp(-1.0))).epsilon(1e-6));
  CHECK(p[1] == doctest::Approx(std::exp(-1.0) / (1.0 + std::exp(-1.0))).epsilon(1e-6));
  CHECK(p[2] == 0.f);
  const float ninf = -std::numeric_limits<float>::infinity();
  std::vector<float> x{1.f, ninf, 2.f, ninf, ninf, ninf}, y(6);
  ops::softmax_forward(y.data(), x.data(), 2, 3);
  const double e = std::exp(1.0);
  CHECK(y[0] == doctest::Approx(1.0 / (1.0 + e)).epsilon(1e-6));
  CHECK(y[1] == 0.f);
  CHECK(y[2] == doctest::Approx(e / (1.0 + e)).epsilon(1e-6));
  CHECK(y[3] == 0.f);  // all -inf: zeros, not NaN
  CHECK(y[5] == 0.f);
}

namespace {
template <class Fwd, class Bwd>
void check_activation(const std::string& name, Fwd fwd, Bwd bwd, double (*f)(double), double (*df)(double)) {
  INFO(name);
  const i64 n = 40000 + 3;  // several chunks, odd tail
  auto x = ref::randn(n, 77, 3.f), dy = ref::randn(n, 78);
  x[0] = 0.f;
  x[1] = -30.f;
  x[2] = 30.f;
  std::vector<float> y(n), dx(n);
  fwd(y.data(), x.data(), n);
  bwd(dx.data(), dy.data(), x.data(), n);
  ref::V yr(n), dxr(n);
  for (i64 i = 0; i < n; ++i) {
    yr[i] = f(x[i]);
    dxr[i] = dy[i] * df(x[i]);
  }
  CHECK(ref::rel_l2(y, yr) < 1e-6);
  CHECK(ref::rel_l2(dx, dxr) < 1e-6);
  // also elementwise, so a bad region cannot hide in the L2 norm: float-level
  // relative accuracy, or 3e-6 absolute: the vectorised erf is ~1e-7 absolute in Phi
  // (4e-7 without FMA near its clamp), times |x|, where GELU is nearly 0
  i64 bad = 0;
  for (i64 i = 0; i < n; ++i) {
    bad += std::abs(y[i] - yr[i]) > 1e-5 * std::abs(yr[i]) + 3e-6;
    bad += std::abs(dx[i] - dxr[i]) > 1e-5 * std::abs(dxr[i]) + 3e-6;
  }
  CHECK(bad == 0);
  // derivative of the double reference vs central differences on a few points
  for (double p : {-4.0, -1.3, -0.2, 0.0, 0.7, 2.5, 6.0}) {
    const double h = 1e-6, fd = (f(p + h) - f(p - h)) / (2 * h);
    CHECK(df(p) == doctest::Approx(fd).epsilon(1e-7));
  }
  // float backward vs finite differences directly
  for (float p : {-3.5f, -0.6f, 0.3f, 1.9f}) {
    float one = 1.f, d = 0.f;
    bwd(&d, &one, &p, 1);
    const double h = 1e-6;
    CHECK(d == doctest::Approx((f(p + h) - f(p - h)) / (2 * h)).epsilon(1e-5));
  }
  std::vector<float> inplace = x;
  fwd(inplace.data(), inplace.data(), n);
  CHECK(inplace == y);
}
}  // namespace

TEST_CASE("gelu (exact erf), quick_gelu and silu forward/backward") {
  check_activation("gelu", ops::gelu_forward, ops::gelu_backward, ref::gelu, ref::dgelu);
  check_activation("quick_gelu", ops::quick_gelu_forward, ops::quick_gelu_backward, ref::quick_gelu, ref::dquick_gelu);
  check_activation("silu", ops::silu_forward, ops::silu_backward, ref::silu, ref::dsilu);
  // exact GELU differs from the tanh approximation by ~1e-4 at x = 1.5; make sure we are exact
  float x = 1.5f, y = 0.f;
  ops::gelu_forward(&y, &x, 1);
  CHECK(y == doctest::Approx(0.5 * 1.5 * (1 + std::erf(1.5 / std::sqrt(2.0)))).epsilon(1e-7));
}

TEST_CASE("add_inplace") {
  std::vector<float> y{1, 2, 3}, x{0.5f, -2, 10};
  ops::add_inplace(y.data(), x.data(), 3);
  CHECK(y == std::vector<float>{1.5f, 0, 13});
  CHECK_THROWS_AS(ops::add_inplace(y.data(), x.data(), -1), Error);
}
