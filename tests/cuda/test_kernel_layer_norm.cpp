// kernels::layer_norm_forward against ops::layer_norm_forward (its CPU twin)
// on odd shapes, with and without affine parameters and statistics, in place,
// for fp32 and 16-bit storage; kernels::layer_norm_backward against
// ops::layer_norm_backward.
#include <doctest/doctest.h>

#include "finepose/ops/layer_norm.hpp"
#include "finepose/kernels/layer_norm_backward.cuh"
#include "finepose/kernels/layer_norm_forward.cuh"
#include "tests/cuda/kernel_test_util.hpp"

namespace fk = finepose::kernels;

namespace {

template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr float atol = 3e-5f, rtol = 1e-5f;
};
template <>
struct Tol<finepose::bfloat16> {
  static constexpr float atol = 2e-2f, rtol = 1e-2f;
};
template <>
struct Tol<finepose::half> {
  static constexpr float atol = 3e-3f, rtol = 2e-3f;
};

template <class T>
void run_case(std::int64_t rows, std::int64_t dim, float eps, bool affine, bool stats, bool in_place, float offset,
              std::uint32_t seed) {
  CAPTURE(rows);
  CAPTURE(dim);
  CAPTURE(eps);
  CAPTURE(affine);
  CAPTURE(in_place);
  auto xf = fpt::random_vector(std::size_t(rows * dim), seed, offset - 2.f, offset + 2.f);
  auto xs = fpt::to_storage<T>(xf);
  xf = fpt::to_float(xs);  // the reference sees exactly the stored inputs
  auto gamma = fpt::random_vector(std::size_t(dim), seed + 1, 0.5f, 1.5f);
  auto beta = fpt::random_vector(std::size_t(dim), seed + 2, -0.5f, 0.5f);

  std::vector<float> want(xf.size()), want_mean(static_cast<std::size_t>(rows)), want_rstd(static_cast<std::size_t>(rows));
  finepose::ops::layer_norm_forward(want.data(), want_mean.data(), want_rstd.data(), xf.data(),
                                    affine ? gamma.data() : nullptr, affine ? beta.data() : nullptr, rows, dim, eps);

  fpt::Buffer<T> x(xs), y(xs.size());
  fpt::Buffer<float> g(gamma), b(beta), mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows));
  T* out = in_place ? x.dev() : y.dev();
  fk::layer_norm_forward<T>(out, stats ? mean.dev() : nullptr, stats ? rstd.dev() : nullptr, x.dev(),
                            affine ? g.dev() : nullptr, affine ? b.dev() : nullptr, rows, dim, eps);
  auto got = fpt::to_float(in_place ? x.download() : y.download());
  // compare against the reference rounded to the storage type
  fpt::check_close(got, fpt::to_float(fpt::to_storage<T>(want)), Tol<T>::atol, Tol<T>::rtol, "layer_norm out");
  if (stats) {
    fpt::check_close(mean.download(), want_mean, 1e-5f, 1e-5f, "layer_norm mean");
    fpt::check_close(rstd.download(), want_rstd, 1e-5f, 1e-4f, "layer_norm rstd");
  }
}

}  // namespace

TEST_CASE_TEMPLATE("layer_norm_forward kernel matches ops::layer_norm_forward", T, float, finepose::bfloat16,
                   finepose::half) {
  struct Shape {
    std::int64_t rows, dim;
  };
  std::vector<Shape> shapes = {{1, 1}, {3, 7}, {5, 31}, {17, 32}, {9, 33}, {33, 100}, {6, 512}};
  if (!fpt::small_problems()) {
    shapes.push_back({130, 512});
    shapes.push_back({7, 1000});
  }
  std::uint32_t seed = 10;
  for (const auto& s : shapes) {
    run_case<T>(s.rows, s.dim, 1e-5f, true, true, false, 0.f, seed++);
    run_case<T>(s.rows, s.dim, 1e-6f, false, false, true, 0.f, seed++);
  }
}

// A large common offset: one-pass statistics must not lose the variance.
// The float two-pass reference itself drifts here, so compare with double.
TEST_CASE("layer_norm_forward kernel: rows with a large mean stay accurate") {
  const std::int64_t rows = 11, dim = 256;
  auto x = fpt::random_vector(std::size_t(rows * dim), 77, 298.f, 302.f);
  std::vector<float> want(x.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (std::int64_t i = 0; i < dim; ++i) m += x[std::size_t(r * dim + i)];
    m /= double(dim);
    for (std::int64_t i = 0; i < dim; ++i) v += (x[std::size_t(r * dim + i)] - m) * (x[std::size_t(r * dim + i)] - m);
    const double rs = 1.0 / std::sqrt(v / double(dim) + 1e-5);
    for (std::int64_t i = 0; i < dim; ++i) want[std::size_t(r * dim + i)] = float((x[std::size_t(r * dim + i)] - m) * rs);
  }
  fpt::Buffer<float> bx(x), by(x.size());
  fk::layer_norm_forward<float>(by.dev(), nullptr, nullptr, bx.dev(), nullptr, nullptr, rows, dim, 1e-5f);
  // inputs near 300 carry ~3e-5 absolute rounding; normalised that is ~3e-5 / 1.15
  fpt::check_close(by.download(), want, 1e-4f, 1e-4f, "layer_norm offset rows");
}

TEST_CASE("layer_norm_forward kernel: bad arguments throw, empty input is a no-op") {
  std::vector<float> x(8, 1.f), y(8, 0.f);
  fpt::Buffer<float> bx(x), by(y);
  CHECK_THROWS_AS(fk::layer_norm_forward<float>(by.dev(), nullptr, nullptr, bx.dev(), nullptr, nullptr, 2, 0, 1e-5f),
                  finepose::Error);
  CHECK_THROWS_AS(fk::layer_norm_forward<float>(by.dev(), nullptr, nullptr, bx.dev(), nullptr, nullptr, -1, 4, 1e-5f),
                  finepose::Error);
  CHECK_THROWS_AS(fk::layer_norm_forward<float>(by.dev(), nullptr, nullptr, nullptr, nullptr, nullptr, 2, 4, 1e-5f),
                  finepose::Error);
  CHECK_NOTHROW(fk::layer_norm_forward<float>(by.dev(), nullptr, nullptr, bx.dev(), nullptr, nullptr, 0, 4, 1e-5f));
}

namespace {

// Worst relative L2 errors seen by the backward cases, reported once per test case.
struct BackwardErrors {
  double din = 0, dgamma = 0, dbeta = 0;
};

// Backward of a random row set against the CPU twin. Both use the CPU
// forward's mean/rstd, so only the backward is compared; dgamma/dbeta start
// non-zero to check that they accumulate. bf16 storage: the reference sees the
// stored dout/in and its din is rounded to bf16.
template <class T>
void run_backward_case(std::int64_t rows, std::int64_t dim, bool affine, bool want_din, bool want_params,
                       std::uint32_t seed, double din_tol, BackwardErrors& worst) {
  CAPTURE(rows);
  CAPTURE(dim);
  CAPTURE(affine);
  CAPTURE(want_din);
  CAPTURE(want_params);
  const std::size_t n = std::size_t(rows * dim), d = std::size_t(dim);
  auto xs = fpt::to_storage<T>(fpt::random_vector(n, seed, -2.f, 2.f));
  auto dys = fpt::to_storage<T>(fpt::random_vector(n, seed + 1, -1.f, 1.f));
  const auto xf = fpt::to_float(xs), dyf = fpt::to_float(dys);
  const auto gamma = fpt::random_vector(d, seed + 2, 0.5f, 1.5f);
  const auto dgamma0 = fpt::random_vector(d, seed + 3, -0.1f, 0.1f);
  const auto dbeta0 = fpt::random_vector(d, seed + 4, -0.1f, 0.1f);
  std::vector<float> y(n), mean(std::size_t(rows), 0.f), rstd(std::size_t(rows), 0.f);
  finepose::ops::layer_norm_forward(y.data(), mean.data(), rstd.data(), xf.data(), affine ? gamma.data() : nullptr,
                                    nullptr, rows, dim, 1e-5f);
  std::vector<float> want_dx(n), want_dg = dgamma0, want_db = dbeta0;
  finepose::ops::layer_norm_backward(want_dx.data(), want_dg.data(), want_db.data(), dyf.data(), xf.data(), mean.data(),
                                     rstd.data(), affine ? gamma.data() : nullptr, rows, dim);

  fpt::Buffer<T> x(xs), dy(dys), dx(n);
  fpt::Buffer<float> g(gamma), m(mean), rs(rstd), dg(dgamma0), db(dbeta0);
  fpt::Buffer<float> ws(std::size_t(std::max<std::int64_t>(1, fk::layer_norm_backward_workspace_floats(rows, dim))));
  fk::layer_norm_backward<T>(want_din ? dx.dev() : nullptr, want_params ? dg.dev() : nullptr,
                             want_params ? db.dev() : nullptr, dy.dev(), x.dev(), m.dev(), rs.dev(),
                             affine ? g.dev() : nullptr, rows, dim, want_params ? ws.dev() : nullptr);
  if (want_din) {
    const double e = fpt::rel_l2(fpt::to_float(dx.download()), fpt::to_float(fpt::to_storage<T>(want_dx)));
    CHECK_MESSAGE(e <= din_tol, "din rel L2 " << e);
    worst.din = std::max(worst.din, e);
  }
  // parameter gradients are fp32 whatever the storage
  const double eg = fpt::rel_l2(dg.download(), want_params ? want_dg : dgamma0);
  const double eb = fpt::rel_l2(db.download(), want_params ? want_db : dbeta0);
  CHECK_MESSAGE(eg <= 1e-5, "dgamma rel L2 " << eg);
  CHECK_MESSAGE(eb <= 1e-5, "dbeta rel L2 " << eb);
  worst.dgamma = std::max(worst.dgamma, eg);
  worst.dbeta = std::max(worst.dbeta, eb);
}

template <class T>
double backward_din_tol();
template <>
double backward_din_tol<float>() { return 1e-5; }
template <>
double backward_din_tol<finepose::bfloat16>() { return 1e-2; }  // din rounded to 8 mantissa bits
template <>
double backward_din_tol<finepose::half>() { return 2e-3; }

}  // namespace

TEST_CASE_TEMPLATE("layer_norm_backward kernel matches ops::layer_norm_backward", T, float, finepose::bfloat16,
                   finepose::half) {
  struct Shape {
    std::int64_t rows, dim;
  };
  // odd sizes, dims not multiples of 32, rows spanning several 64-row chunks
  // (under TSan every CUDA thread is an OS thread: a few shapes only)
  std::vector<Shape> shapes = {{3, 7}, {17, 33}, {130, 45}};
  if (!fpt::small_problems()) {
    shapes.push_back({1, 1});
    shapes.push_back({5, 31});
    shapes.push_back({65, 100});
    shapes.push_back({300, 257});
    shapes.push_back({2100, 96});
    shapes.push_back({7, 1000});
  }
  BackwardErrors worst;
  std::uint32_t seed = 500;
  for (const auto& s : shapes) {
    run_backward_case<T>(s.rows, s.dim, true, true, true, seed, backward_din_tol<T>(), worst);
    run_backward_case<T>(s.rows, s.dim, false, true, true, seed + 10, backward_din_tol<T>(), worst);
    seed += 20;
  }
  // only one of the two outputs
  run_backward_case<T>(9, 33, true, true, false, 900, backward_din_tol<T>(), worst);
  run_backward_case<T>(70, 33, true, false, true, 901, backward_din_tol<T>(), worst);
  MESSAGE("worst rel L2: din " << worst.din << ", dgamma " << worst.dgamma << ", dbeta " << worst.dbeta);
}

// dgamma/dbeta come from fixed-order sums: two runs agree bit for bit.
TEST_CASE("layer_norm_backward kernel: parameter gradients are deterministic") {
  const std::int64_t rows = fpt::small_problems() ? 200 : 1500, dim = 77;
  const auto x = fpt::random_vector(std::size_t(rows * dim), 31, -2.f, 2.f);
  const auto dy = fpt::random_vector(std::size_t(rows * dim), 32, -1.f, 1.f);
  std::vector<float> y(x.size()), mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows));
  finepose::ops::layer_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), nullptr, nullptr, rows, dim, 1e-5f);
  fpt::Buffer<float> bx(x), bdy(dy), bm(mean), brs(rstd);
  fpt::Buffer<float> ws(std::size_t(fk::layer_norm_backward_workspace_floats(rows, dim)));
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    fpt::Buffer<float> dg(static_cast<std::size_t>(dim)), db(static_cast<std::size_t>(dim));
    fk::layer_norm_backward<float>(nullptr, dg.dev(), db.dev(), bdy.dev(), bx.dev(), bm.dev(), brs.dev(), nullptr,
                                   rows, dim, ws.dev());
    auto both = dg.download();
    const auto& dbv = db.download();
    both.insert(both.end(), dbv.begin(), dbv.end());
    if (run == 0)
      first = both;
    else
      CHECK(std::equal(first.begin(), first.end(), both.begin()));
  }
}

TEST_CASE("layer_norm_backward kernel: bad arguments throw, empty input is a no-op") {
  std::vector<float> x(8, 1.f);
  fpt::Buffer<float> b(x);
  CHECK_THROWS_AS(fk::layer_norm_backward<float>(b.dev(), nullptr, nullptr, b.dev(), b.dev(), b.dev(), b.dev(),
                                                 nullptr, 2, 0, nullptr),
                  finepose::Error);
  CHECK_THROWS_AS(fk::layer_norm_backward<float>(b.dev(), nullptr, nullptr, b.dev(), b.dev(), nullptr, b.dev(),
                                                 nullptr, 2, 4, nullptr),
                  finepose::Error);
  // parameter gradients without a workspace
  CHECK_THROWS_AS(fk::layer_norm_backward<float>(nullptr, b.dev(), nullptr, b.dev(), b.dev(), b.dev(), b.dev(),
                                                 nullptr, 1, 4, nullptr),
                  finepose::Error);
  CHECK_NOTHROW(fk::layer_norm_backward<float>(b.dev(), b.dev(), b.dev(), nullptr, nullptr, nullptr, nullptr, nullptr,
                                               0, 4, nullptr));
}
