// Epilogues (bias + GELU/QuickGELU/SiLU), residual add and row softmax
// against their CPU twins in finepose::ops.
#include <doctest/doctest.h>

#include <array>
#include <limits>
#include <type_traits>

#include "finepose/ops/activations.hpp"
#include "finepose/ops/softmax.hpp"
#include "finepose/kernels/epilogue_forward.cuh"
#include "finepose/kernels/softmax_forward.cuh"
#include "tests/cuda/kernel_test_util.hpp"

namespace fk = finepose::kernels;

namespace {
template <class T>
float tol();
template <>
float tol<float>() { return 2e-6f; }
template <>
float tol<finepose::bfloat16>() { return 1e-2f; }
template <>
float tol<finepose::half>() { return 2e-3f; }

// the CPU path: bias added in float, then the ops activation
std::vector<float> reference_bias_act(const std::vector<float>& in, const std::vector<float>* bias, std::int64_t cols,
                                      fk::Activation act) {
  std::vector<float> x(in);
  if (bias)
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += (*bias)[i % std::size_t(cols)];
  const auto n = std::int64_t(x.size());
  switch (act) {
    case fk::Activation::gelu: finepose::ops::gelu_forward(x.data(), x.data(), n); break;
    case fk::Activation::quick_gelu: finepose::ops::quick_gelu_forward(x.data(), x.data(), n); break;
    case fk::Activation::silu: finepose::ops::silu_forward(x.data(), x.data(), n); break;
    case fk::Activation::none: break;
  }
  return x;
}
}  // namespace

TEST_CASE_TEMPLATE("bias_activation_forward and residual_add kernels match the ops", T, float, finepose::bfloat16,
                   finepose::half) {
  std::vector<std::array<std::int64_t, 2>> shapes = {{1, 1}, {3, 5}, {17, 130}, {33, 77}};
  // OS-thread emulation (TSan) pays per launch: fewer shapes, 16-bit types once
  if (fpt::small_problems()) shapes = {{3, 5}, {17, 130}};
  if (fpt::small_problems() && !std::is_same<T, float>::value) shapes = {{17, 130}};
  std::uint32_t seed = 300;
  for (const auto& s : shapes) {
    const std::int64_t rows = s[0], cols = s[1];
    const std::size_t n = std::size_t(rows * cols);
    auto in_s = fpt::to_storage<T>(fpt::random_vector(n, seed++, -6.f, 6.f));
    auto in_f = fpt::to_float(in_s);
    auto bias = fpt::random_vector(std::size_t(cols), seed++, -1.f, 1.f);
    for (int a = 0; a < 4; ++a) {
      const auto act = fk::Activation(a);
      CAPTURE(a);
      CAPTURE(rows);
      CAPTURE(cols);
      const bool with_bias = (a + rows) % 2 == 0 || a == 0;
      auto want = reference_bias_act(in_f, with_bias ? &bias : nullptr, cols, act);
      fpt::Buffer<T> x(in_s), y(n);
      fpt::Buffer<float> b(bias);
      fk::bias_activation_forward<T>(y.dev(), x.dev(), with_bias ? b.dev() : nullptr, rows, cols, act);
      fpt::check_close(fpt::to_float(y.download()), fpt::to_float(fpt::to_storage<T>(want)), tol<T>(), tol<T>(),
                       "bias_activation");
      // in place
      fk::bias_activation_forward<T>(x.dev(), x.dev(), with_bias ? b.dev() : nullptr, rows, cols, act);
      fpt::check_close(fpt::to_float(x.download()), fpt::to_float(fpt::to_storage<T>(want)), tol<T>(), tol<T>(),
                       "bias_activation in place");
    }
    auto other_s = fpt::to_storage<T>(fpt::random_vector(n, seed++, -2.f, 2.f));
    auto want = in_f;
    finepose::ops::add_inplace(want.data(), fpt::to_float(other_s).data(), std::int64_t(n));
    fpt::Buffer<T> y(in_s), x(other_s);
    fk::residual_add<T>(y.dev(), x.dev(), std::int64_t(n));
    fpt::check_close(fpt::to_float(y.download()), fpt::to_float(fpt::to_storage<T>(want)), tol<T>(), tol<T>(),
                     "residual_add");
  }
}

TEST_CASE("pointwise kernels cover more elements than one grid (grid-stride loop)") {
  if (fpt::small_problems()) return;
  const std::int64_t rows = 4100, cols = 4100;  // > 65536 blocks of 256 threads
  std::vector<float> x(std::size_t(rows * cols), 1.f), one(x.size(), 2.f);
  fpt::Buffer<float> bx(x), bo(one);
  fk::residual_add<float>(bx.dev(), bo.dev(), rows * cols);
  const auto& got = bx.download();
  std::size_t bad = 0;
  for (float v : got) bad += v != 3.f;
  CHECK(bad == 0);
}

TEST_CASE_TEMPLATE("softmax_forward kernel matches ops::softmax_forward", T, float, finepose::bfloat16, finepose::half) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::int64_t shapes[][2] = {{1, 1}, {5, 17}, {9, 77}, {4, 243}, {3, 1000}};
  std::uint32_t seed = 400;
  for (const auto& s : shapes) {
    const std::int64_t rows = s[0], cols = s[1];
    CAPTURE(rows);
    CAPTURE(cols);
    auto v = fpt::random_vector(std::size_t(rows * cols), seed++, -8.f, 8.f);
    // masked entries, and (if there are two rows) one row fully masked
    for (std::size_t i = 0; i < v.size(); i += 5) v[i] = ninf;
    if (rows > 1)
      for (std::int64_t c = 0; c < cols; ++c) v[std::size_t(cols + c)] = ninf;
    auto vs = fpt::to_storage<T>(v);
    auto vf = fpt::to_float(vs);
    std::vector<float> want(vf.size());
    finepose::ops::softmax_forward(want.data(), vf.data(), rows, cols);
    fpt::Buffer<T> in(vs), out(vs.size());
    fk::softmax_forward<T>(out.dev(), in.dev(), rows, cols);
    fpt::check_close(fpt::to_float(out.download()), fpt::to_float(fpt::to_storage<T>(want)), tol<T>() + 1e-6f, 1e-5f,
                     "softmax");
    fk::softmax_forward<T>(in.dev(), in.dev(), rows, cols);  // in place
    fpt::check_close(fpt::to_float(in.download()), fpt::to_float(fpt::to_storage<T>(want)), tol<T>() + 1e-6f, 1e-5f,
                     "softmax in place");
  }
}

TEST_CASE("pointwise kernels: bad arguments throw") {
  std::vector<float> x(4, 0.f);
  fpt::Buffer<float> b(x);
  CHECK_THROWS_AS(fk::bias_activation_forward<float>(b.dev(), b.dev(), nullptr, 1, 0, fk::Activation::gelu),
                  finepose::Error);
  CHECK_THROWS_AS(fk::bias_activation_forward<float>(b.dev(), b.dev(), nullptr, 1, 4, fk::Activation(9)),
                  finepose::Error);
  CHECK_THROWS_AS(fk::residual_add<float>(b.dev(), nullptr, 4), finepose::Error);
  CHECK_THROWS_AS(fk::softmax_forward<float>(b.dev(), b.dev(), 2, 0), finepose::Error);
}
