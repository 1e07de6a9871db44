// kernels::adaln_silu_forward / adaln_silu_backward against
// ops::adaln_silu_forward / adaln_silu_backward (CPU twins).
#include <doctest/doctest.h>

#include "finepose/ops/adaln.hpp"
#include "finepose/kernels/adaln_backward.cuh"
#include "finepose/kernels/adaln_forward.cuh"
#include "tests/cuda/kernel_test_util.hpp"

namespace fk = finepose::kernels;

namespace {
template <class T>
float tol();
template <>
float tol<float>() { return 3e-5f; }
template <>
float tol<finepose::bfloat16>() { return 2e-2f; }
template <>
float tol<finepose::half>() { return 3e-3f; }
}  // namespace

TEST_CASE_TEMPLATE("adaln_silu_forward kernel matches ops::adaln_silu_forward", T, float, finepose::bfloat16,
                   finepose::half) {
  struct Shape {
    std::int64_t groups, rows_per_group, dim;
    bool affine;
  };
  std::vector<Shape> shapes = {{1, 1, 1, true}, {2, 3, 7, false}, {3, 17, 64, true}, {2, 5, 33, true}};
  if (!fpt::small_problems()) shapes.push_back({4, 27, 512, true});
  std::uint32_t seed = 200;
  for (const auto& s : shapes) {
    CAPTURE(s.groups);
    CAPTURE(s.rows_per_group);
    CAPTURE(s.dim);
    const std::size_t n = std::size_t(s.groups * s.rows_per_group * s.dim);
    auto hs = fpt::to_storage<T>(fpt::random_vector(n, seed++, -3.f, 3.f));
    auto hf = fpt::to_float(hs);
    auto gamma = fpt::random_vector(std::size_t(s.dim), seed++, 0.5f, 1.5f);
    auto beta = fpt::random_vector(std::size_t(s.dim), seed++, -0.5f, 0.5f);
    auto ss = fpt::random_vector(std::size_t(s.groups * 2 * s.dim), seed++, -1.f, 1.f);
    const float eps = s.affine ? 1e-5f : 1e-6f;
    std::vector<float> want(n);
    finepose::ops::adaln_silu_forward(want.data(), hf.data(), s.affine ? gamma.data() : nullptr,
                                      s.affine ? beta.data() : nullptr, ss.data(), s.groups, s.rows_per_group, s.dim, eps);
    fpt::Buffer<T> h(hs), out(n);
    fpt::Buffer<float> g(gamma), b(beta), sc(ss);
    fk::adaln_silu_forward<T>(out.dev(), h.dev(), s.affine ? g.dev() : nullptr, s.affine ? b.dev() : nullptr, sc.dev(),
                              s.groups, s.rows_per_group, s.dim, eps);
    fpt::check_close(fpt::to_float(out.download()), fpt::to_float(fpt::to_storage<T>(want)), tol<T>(), tol<T>(),
                     "adaln_silu out");
  }
}

TEST_CASE("adaln_silu_forward kernel: bad arguments throw") {
  std::vector<float> x(16, 1.f);
  fpt::Buffer<float> b(x);
  CHECK_THROWS_AS(fk::adaln_silu_forward<float>(b.dev(), b.dev(), nullptr, nullptr, b.dev(), 1, 2, 0, 1e-5f),
                  finepose::Error);
  CHECK_THROWS_AS(fk::adaln_silu_forward<float>(b.dev(), b.dev(), nullptr, nullptr, nullptr, 1, 2, 4, 1e-5f),
                  finepose::Error);
  CHECK_NOTHROW(fk::adaln_silu_forward<float>(b.dev(), b.dev(), nullptr, nullptr, nullptr, 0, 2, 4, 1e-5f));
}

namespace {

struct AdalnBackwardErrors {
  double dh = 0, dgamma = 0, dbeta = 0, dss = 0;
};

template <class T>
double adaln_dh_tol();
template <>
double adaln_dh_tol<float>() { return 1e-5; }
template <>
double adaln_dh_tol<finepose::bfloat16>() { return 1e-2; }  // dh rounded to bf16
template <>
double adaln_dh_tol<finepose::half>() { return 2e-3; }

// One backward against the CPU twin; dgamma/dbeta start non-zero (they
// accumulate), dscale_shift starts as garbage (it is overwritten).
template <class T>
void run_adaln_backward_case(std::int64_t groups, std::int64_t rows_per_group, std::int64_t dim, bool affine,
                             bool ask_dh, bool ask_params, std::uint32_t seed, AdalnBackwardErrors& worst) {
  CAPTURE(groups);
  CAPTURE(rows_per_group);
  CAPTURE(dim);
  CAPTURE(affine);
  CAPTURE(ask_dh);
  CAPTURE(ask_params);
  const std::size_t n = std::size_t(groups * rows_per_group * dim), d = std::size_t(dim);
  const std::size_t nss = std::size_t(groups * 2 * dim);
  auto hs = fpt::to_storage<T>(fpt::random_vector(n, seed, -3.f, 3.f));
  auto dys = fpt::to_storage<T>(fpt::random_vector(n, seed + 1, -1.f, 1.f));
  const auto hf = fpt::to_float(hs), dyf = fpt::to_float(dys);
  const auto gamma = fpt::random_vector(d, seed + 2, 0.5f, 1.5f), beta = fpt::random_vector(d, seed + 3, -0.5f, 0.5f);
  const auto ss = fpt::random_vector(nss, seed + 4, -1.f, 1.f);
  const auto dg0 = fpt::random_vector(d, seed + 5, -0.1f, 0.1f), db0 = fpt::random_vector(d, seed + 6, -0.1f, 0.1f);
  const float eps = affine ? 1e-5f : 1e-6f;
  const float* gp = affine ? gamma.data() : nullptr;
  const float* bp = affine ? beta.data() : nullptr;
  std::vector<float> want_dh(n), want_dg = dg0, want_db = db0, want_dss(nss);
  finepose::ops::adaln_silu_backward(want_dh.data(), want_dg.data(), want_db.data(), want_dss.data(), dyf.data(),
                                     hf.data(), gp, bp, ss.data(), groups, rows_per_group, dim, eps);

  fpt::Buffer<T> h(hs), dy(dys), dh(n);
  fpt::Buffer<float> g(gamma), b(beta), sc(ss), dg(dg0), db(db0), dss(std::vector<float>(nss, 123.f));
  const auto ws_n = fk::adaln_silu_backward_workspace_floats(groups, rows_per_group, dim);
  fpt::Buffer<float> ws(std::size_t(std::max<std::int64_t>(1, ws_n)));
  fk::adaln_silu_backward<T>(ask_dh ? dh.dev() : nullptr, ask_params ? dg.dev() : nullptr,
                             ask_params ? db.dev() : nullptr, ask_params ? dss.dev() : nullptr, dy.dev(), h.dev(),
                             affine ? g.dev() : nullptr, affine ? b.dev() : nullptr, sc.dev(), groups, rows_per_group,
                             dim, eps, ask_params ? ws.dev() : nullptr);
  if (ask_dh) {
    const double e = fpt::rel_l2(fpt::to_float(dh.download()), fpt::to_float(fpt::to_storage<T>(want_dh)));
    CHECK_MESSAGE(e <= adaln_dh_tol<T>(), "dh rel L2 " << e);
    worst.dh = std::max(worst.dh, e);
  }
  const double eg = fpt::rel_l2(dg.download(), ask_params ? want_dg : dg0);
  const double eb = fpt::rel_l2(db.download(), ask_params ? want_db : db0);
  const double es = fpt::rel_l2(dss.download(), ask_params ? want_dss : std::vector<float>(nss, 123.f));
  CHECK_MESSAGE(eg <= 1e-5, "dgamma rel L2 " << eg);
  CHECK_MESSAGE(eb <= 1e-5, "dbeta rel L2 " << eb);
  CHECK_MESSAGE(es <= 1e-5, "dscale_shift rel L2 " << es);
  worst.dgamma = std::max(worst.dgamma, eg);
  worst.dbeta = std::max(worst.dbeta, eb);
  worst.dss = std::max(worst.dss, es);
}

}  // namespace

TEST_CASE_TEMPLATE("adaln_silu_backward kernel matches ops::adaln_silu_backward", T, float, finepose::bfloat16,
                   finepose::half) {
  struct Shape {
    std::int64_t groups, rows_per_group, dim;
    bool affine;
  };
  // odd sizes, dims not multiples of 32, groups spanning several 64-row chunks
  // (under TSan every CUDA thread is an OS thread: a few shapes only)
  std::vector<Shape> shapes = {{2, 3, 7, false}, {2, 5, 33, true}, {2, 70, 45, true}};
  if (!fpt::small_problems()) {
    shapes.push_back({1, 1, 1, true});
    shapes.push_back({3, 17, 64, true});
    shapes.push_back({3, 129, 31, false});
    shapes.push_back({4, 243, 512, true});
    shapes.push_back({1, 2100, 96, true});
    shapes.push_back({5, 9, 1000, false});
  }
  AdalnBackwardErrors worst;
  std::uint32_t seed = 700;
  for (const auto& s : shapes) {
    run_adaln_backward_case<T>(s.groups, s.rows_per_group, s.dim, s.affine, true, true, seed, worst);
    seed += 10;
  }
  run_adaln_backward_case<T>(2, 9, 33, true, true, false, 950, worst);   // dh only, no workspace
  run_adaln_backward_case<T>(2, 70, 33, true, false, true, 951, worst);  // parameters only
  MESSAGE("worst rel L2: dh " << worst.dh << ", dgamma " << worst.dgamma << ", dbeta " << worst.dbeta
                              << ", dscale_shift " << worst.dss);
}

TEST_CASE("adaln_silu_backward kernel: empty groups zero dscale_shift; bad arguments throw") {
  fpt::Buffer<float> dss(std::vector<float>(2 * 2 * 5, 7.f)), x(std::vector<float>(16, 1.f));
  fk::adaln_silu_backward<float>(nullptr, nullptr, nullptr, dss.dev(), nullptr, nullptr, nullptr, nullptr, nullptr, 2,
                                 0, 5, 1e-5f, nullptr);
  const auto& z = dss.download();
  CHECK(std::all_of(z.begin(), z.end(), [](float v) { return v == 0.f; }));
  CHECK_THROWS_AS(fk::adaln_silu_backward<float>(x.dev(), nullptr, nullptr, nullptr, x.dev(), x.dev(), nullptr,
                                                 nullptr, x.dev(), 1, 2, 0, 1e-5f, nullptr),
                  finepose::Error);
  CHECK_THROWS_AS(fk::adaln_silu_backward<float>(x.dev(), nullptr, nullptr, nullptr, x.dev(), x.dev(), nullptr,
                                                 nullptr, nullptr, 1, 2, 4, 1e-5f, nullptr),
                  finepose::Error);
  // parameter gradients without a workspace
  CHECK_THROWS_AS(fk::adaln_silu_backward<float>(nullptr, x.dev(), nullptr, nullptr, x.dev(), x.dev(), nullptr,
                                                 nullptr, x.dev(), 1, 2, 4, 1e-5f, nullptr),
                  finepose::Error);
}
