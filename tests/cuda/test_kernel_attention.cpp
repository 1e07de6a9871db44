// kernels::attention_forward against ops::attention_forward (its CPU twin):
// FinePOSE's spatial, temporal, cross and CLIP-causal shapes, fused-qkv and
// separate layouts, head dims that are not multiples of 32, sequence lengths
// that are not multiples of the 32-key tile, fp32 and 16-bit storage.
#include <doctest/doctest.h>

#include <cmath>

#include "finepose/ops/attention.hpp"
#include "finepose/kernels/attention_forward.cuh"
#include "tests/cuda/kernel_test_util.hpp"

namespace fk = finepose::kernels;

namespace {

struct Case {
  const char* name;
  std::int64_t batch, heads, q_len, kv_len, head_dim;
  bool fused;  // q, k, v interleaved in one [B*T, 3*H*dh] buffer (self attention)
  bool causal;
};

template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr float atol = 2e-5f, rtol = 1e-4f;
};
template <>
struct Tol<finepose::bfloat16> {
  static constexpr float atol = 1e-2f, rtol = 1e-2f;
};
template <>
struct Tol<finepose::half> {
  static constexpr float atol = 2e-3f, rtol = 2e-3f;
};

template <class T>
void run_case(const Case& c, std::uint32_t seed) {
  CAPTURE(c.name);
  CAPTURE(c.batch);
  CAPTURE(c.q_len);
  CAPTURE(c.kv_len);
  CAPTURE(c.head_dim);
  const std::int64_t H = c.heads, D = c.head_dim, row = H * D;
  const float scale = 1.f / std::sqrt(float(D));
  std::vector<float> qf, kf, vf;
  std::int64_t q_bs, q_ts, k_bs, k_ts, v_bs, v_ts, k_off = 0, v_off = 0;
  if (c.fused) {
    REQUIRE(c.q_len == c.kv_len);
    qf = fpt::random_vector(std::size_t(c.batch * c.q_len * 3 * row), seed, -2.f, 2.f);
    q_ts = k_ts = v_ts = 3 * row;
    q_bs = k_bs = v_bs = c.q_len * 3 * row;
    k_off = row;
    v_off = 2 * row;
  } else {
    // padded token strides and batch gaps: the kernel must honour strides
    q_ts = row + 3;
    k_ts = v_ts = row + 5;
    q_bs = c.q_len * q_ts + 7;
    k_bs = v_bs = c.kv_len * k_ts + 2;
    qf = fpt::random_vector(std::size_t(c.batch * q_bs), seed, -2.f, 2.f);
    kf = fpt::random_vector(std::size_t(c.batch * k_bs), seed + 1, -2.f, 2.f);
    vf = fpt::random_vector(std::size_t(c.batch * v_bs), seed + 2, -1.f, 1.f);
  }
  auto qs = fpt::to_storage<T>(qf), ks = fpt::to_storage<T>(kf), vs = fpt::to_storage<T>(vf);
  qf = fpt::to_float(qs);
  kf = fpt::to_float(ks);
  vf = fpt::to_float(vs);
  const float* kref = c.fused ? qf.data() + k_off : kf.data();
  const float* vref = c.fused ? qf.data() + v_off : vf.data();

  const std::size_t n_out = std::size_t(c.batch * c.q_len * row);
  std::vector<float> want(n_out), probs(std::size_t(c.batch * H * c.q_len * c.kv_len));
  finepose::ops::AttnShape shape{c.batch, H, c.q_len, c.kv_len, D};
  finepose::ops::attention_forward(want.data(), probs.data(), qf.data(), q_bs, q_ts, kref, k_bs, k_ts, vref, v_bs, v_ts,
                                   shape, scale, c.causal);
  // reference log-sum-exp of the scaled scores, recomputed in double
  std::vector<float> want_lse(std::size_t(c.batch * H * c.q_len));
  for (std::int64_t b = 0; b < c.batch; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < c.q_len; ++i) {
        double mx = -INFINITY;
        std::vector<double> s(std::size_t(c.kv_len), -INFINITY);
        for (std::int64_t j = 0; j < c.kv_len; ++j) {
          if (c.causal && j > i) break;
          double dot = 0;
          for (std::int64_t d = 0; d < D; ++d)
            dot += double(qf[std::size_t(b * q_bs + i * q_ts + h * D + d)]) * kref[b * k_bs + j * k_ts + h * D + d];
          s[std::size_t(j)] = dot * scale;
          mx = std::max(mx, s[std::size_t(j)]);
        }
        double sum = 0;
        for (double x : s) sum += std::exp(x - mx);
        want_lse[std::size_t((b * H + h) * c.q_len + i)] = float(mx + std::log(sum));
      }

  fpt::Buffer<T> q(qs), k(ks), v(vs), out(n_out);
  fpt::Buffer<float> lse(want_lse.size());
  const T* kp = c.fused ? q.dev() + k_off : k.dev();
  const T* vp = c.fused ? q.dev() + v_off : v.dev();
  fk::attention_forward<T>(out.dev(), lse.dev(), q.dev(), q_bs, q_ts, kp, k_bs, k_ts, vp, v_bs, v_ts, c.batch, H, c.q_len,
                           c.kv_len, D, scale, c.causal);
  fpt::check_close(fpt::to_float(out.download()), fpt::to_float(fpt::to_storage<T>(want)), Tol<T>::atol, Tol<T>::rtol,
                   std::string("attention out, ") + c.name);
  fpt::check_close(lse.download(), want_lse, 1e-4f, 1e-4f, std::string("attention lse, ") + c.name);
}

std::vector<Case> cases() {
  if (fpt::small_problems())
    return {{"spatial", 3, 2, 17, 17, 64, true, false},
            {"cross", 1, 1, 9, 77, 40, false, false},
            {"clip causal", 1, 2, 37, 37, 32, true, true},
            {"tiny", 2, 1, 1, 1, 8, false, false}};
  return {
      {"spatial", 37, 2, 17, 17, 64, true, false},
      {"temporal 243", 1, 2, 243, 243, 64, true, false},
      {"temporal odd", 2, 1, 70, 70, 32, true, false},
      {"cross to 77 prompt tokens", 2, 2, 45, 77, 64, false, false},
      {"clip causal 77", 2, 2, 77, 77, 64, true, true},
      {"causal odd", 1, 3, 41, 41, 40, true, true},
      {"head_dim 100", 2, 1, 19, 33, 100, false, false},
      {"head_dim 128", 1, 2, 20, 65, 128, false, false},
      {"one key", 3, 2, 5, 1, 16, false, false},
      {"one query", 3, 2, 1, 50, 24, false, false},
      {"kv tile boundary", 1, 1, 12, 64, 64, false, false},
  };
}

}  // namespace

TEST_CASE_TEMPLATE("attention_forward kernel matches ops::attention_forward", T, float, finepose::bfloat16,
                   finepose::half) {
  std::uint32_t seed = 100;
  auto all = cases();
  // 16-bit storage: a representative subset keeps the emulated run short
  if (!std::is_same<T, float>::value && all.size() > 5) all = {all[0], all[3], all[4], all[6], all[9]};
  for (const auto& c : all) run_case<T>(c, seed += 3);
}

TEST_CASE("attention_forward kernel: bad arguments throw") {
  std::vector<float> x(64, 0.f);
  fpt::Buffer<float> b(x);
  float* p = b.dev();
  // head_dim above the supported 128
  CHECK_THROWS_AS(fk::attention_forward<float>(p, nullptr, p, 0, 200, p, 0, 200, p, 0, 200, 1, 1, 1, 1, 200, 1.f, false),
                  finepose::Error);
  // token stride smaller than heads*head_dim
  CHECK_THROWS_AS(fk::attention_forward<float>(p, nullptr, p, 64, 4, p, 64, 8, p, 64, 8, 1, 1, 2, 2, 8, 1.f, false),
                  finepose::Error);
  CHECK_THROWS_AS(fk::attention_forward<float>(p, nullptr, p, 0, 8, p, 0, 8, p, 0, 8, 1, 0, 1, 1, 8, 1.f, false),
                  finepose::Error);
  CHECK_THROWS_AS(fk::attention_forward<float>(p, nullptr, nullptr, 0, 8, p, 0, 8, p, 0, 8, 1, 1, 1, 1, 8, 1.f, false),
                  finepose::Error);
  CHECK_NOTHROW(fk::attention_forward<float>(p, nullptr, p, 0, 8, p, 0, 8, p, 0, 8, 0, 1, 1, 1, 8, 1.f, false));
}
