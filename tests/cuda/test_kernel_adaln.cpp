// kernels::adaln_silu_forward against ops::adaln_silu_forward (CPU twin).
#include <doctest/doctest.h>

#include "finepose/ops/adaln.hpp"
#include "kernels/adaln_forward.cuh"
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
