// kernels::layer_norm_forward against ops::layer_norm_forward (its CPU twin)
// on odd shapes, with and without affine parameters and statistics, in place,
// for fp32 and 16-bit storage.
#include <doctest/doctest.h>

#include "finepose/ops/layer_norm.hpp"
#include "kernels/layer_norm_forward.cuh"
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
