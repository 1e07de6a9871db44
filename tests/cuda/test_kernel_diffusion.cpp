// The sampler's pointwise kernels: DDIM predict/update (upstream's float32 /
// float64 mix, written out here as naive loops), flip augmentation, and the
// timestep embedding against ops::timestep_embedding.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "finepose/ops/embedding.hpp"
#include "finepose/kernels/ddim_step.cuh"
#include "finepose/kernels/pose_flip.cuh"
#include "finepose/kernels/timestep_embedding.cuh"
#include "tests/cuda/kernel_test_util.hpp"

namespace fk = finepose::kernels;

TEST_CASE("ddim_predict and ddim_update kernels follow the upstream formulas") {
  for (std::int64_t n : {1, 7, 1000, 4099}) {
    CAPTURE(n);
    auto pred = fpt::random_vector(std::size_t(n), 500 + std::uint32_t(n), -2.f, 2.f);
    auto xt = fpt::random_vector(std::size_t(n), 600 + std::uint32_t(n), -3.f, 3.f);
    auto noise = fpt::random_vector(std::size_t(n), 700 + std::uint32_t(n), -3.f, 3.f);
    const float scale = 1.3f, lo = -1.f, hi = 1.f;
    const double ac = 0.37, ac_next = 0.52;
    const double sr = std::sqrt(1.0 / ac), srm1 = std::sqrt(1.0 / ac - 1.0);
    const double sigma = std::sqrt((1 - ac / ac_next) * (1 - ac_next) / (1 - ac));
    const float fa = float(std::sqrt(ac_next)), fc = float(std::sqrt(1 - ac_next - sigma * sigma)), fs = float(sigma);
    std::vector<float> want_x0(static_cast<std::size_t>(n)), want_eps(static_cast<std::size_t>(n)), want_x(static_cast<std::size_t>(n)), want_det(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < std::size_t(n); ++i) {
      const float v = std::min(std::max(pred[i] * scale, lo), hi);
      want_x0[i] = v;
      want_eps[i] = float((sr * double(xt[i]) - double(v)) / srm1);
      want_x[i] = (want_x0[i] * fa + fc * want_eps[i]) + fs * noise[i];
      want_det[i] = want_x0[i] * fa + fc * want_eps[i];
    }
    fpt::Buffer<float> p(pred), x(xt), z(noise), x0(static_cast<std::size_t>(n)), eps(static_cast<std::size_t>(n)), out(static_cast<std::size_t>(n));
    fk::ddim_predict(x0.dev(), eps.dev(), p.dev(), x.dev(), n, scale, lo, hi, sr, srm1);
    fk::ddim_update(out.dev(), x0.dev(), eps.dev(), z.dev(), n, fa, fc, fs);
    // float32 results; allow for FMA contraction on the device (1-2 ulp)
    fpt::check_close(x0.download(), want_x0, 0.f, 0.f, "ddim x0");
    fpt::check_close(eps.download(), want_eps, 1e-6f, 1e-6f, "ddim eps");
    fpt::check_close(out.download(), want_x, 1e-6f, 1e-6f, "ddim update");
    fk::ddim_update(x0.dev(), x0.dev(), eps.dev(), nullptr, n, fa, fc, fs);  // in place, no noise
    fpt::check_close(x0.download(), want_det, 1e-6f, 1e-6f, "ddim update without noise");
  }
  CHECK_THROWS_AS(fk::ddim_predict(nullptr, nullptr, nullptr, nullptr, 3, 1.f, 1.f, -1.f, 1.0, 1.0), finepose::Error);
  CHECK_THROWS_AS(fk::ddim_update(nullptr, nullptr, nullptr, nullptr, -1, 1.f, 1.f, 1.f), finepose::Error);
}

TEST_CASE_TEMPLATE("flip_poses kernel mirrors x and swaps H36M left/right joints", T, float, finepose::bfloat16) {
  const std::int64_t rows = 301, J = 17, C = 3;
  auto vs = fpt::to_storage<T>(fpt::random_vector(std::size_t(rows * J * C), 800, -1.f, 1.f));
  auto v = fpt::to_float(vs);
  const int left[6] = {4, 5, 6, 11, 12, 13}, right[6] = {1, 2, 3, 14, 15, 16};
  std::vector<float> want(v);
  for (std::int64_t r = 0; r < rows; ++r) {
    float* p = want.data() + r * J * C;
    for (std::int64_t j = 0; j < J; ++j) p[j * C] = -p[j * C];
    for (int i = 0; i < 6; ++i)
      for (std::int64_t c = 0; c < C; ++c) std::swap(p[left[i] * C + c], p[right[i] * C + c]);
  }
  fpt::Buffer<T> x(vs);
  fk::flip_poses<T>(x.dev(), rows, J, C, fk::h36m_joint_pairs());
  fpt::check_close(fpt::to_float(x.download()), want, 0.f, 0.f, "flip");
  // flipping twice is the identity
  fk::flip_poses<T>(x.dev(), rows, J, C, fk::make_joint_pairs({4, 5, 6, 11, 12, 13}, {1, 2, 3, 14, 15, 16}));
  fpt::check_close(fpt::to_float(x.download()), v, 0.f, 0.f, "flip twice");
  CHECK_THROWS_AS(fk::flip_poses<T>(x.dev(), rows, 10, C, fk::h36m_joint_pairs()), finepose::Error);  // joint 16 >= 10
  CHECK_THROWS_AS(fk::make_joint_pairs({1, 2}, {3}), finepose::Error);
}

TEST_CASE("timestep_embedding kernel matches ops::timestep_embedding") {
  std::vector<std::int64_t> t = {0, 1, 7, 100, 499, 999, 1000, 37};
  for (std::int64_t dim : {4, 6, 128, 512}) {
    CAPTURE(dim);
    std::vector<float> want(t.size() * std::size_t(dim));
    finepose::ops::timestep_embedding(want.data(), t.data(), std::int64_t(t.size()), dim);
    fpt::Buffer<std::int64_t> bt(t);
    fpt::Buffer<float> out(want.size());
    fk::timestep_embedding(out.dev(), bt.dev(), std::int64_t(t.size()), dim);
    // the same float32 recipe; sin/cos of arguments up to 1000 differ by a few ulp of the argument between libms
    fpt::check_close(out.download(), want, 2e-4f, 0.f, "timestep embedding");
  }
  fpt::Buffer<std::int64_t> bt(t);
  fpt::Buffer<float> out(t.size() * 8);
  CHECK_THROWS_AS(fk::timestep_embedding(out.dev(), bt.dev(), 2, 7), finepose::Error);
  CHECK_THROWS_AS(fk::timestep_embedding(out.dev(), bt.dev(), 2, 2), finepose::Error);
}
