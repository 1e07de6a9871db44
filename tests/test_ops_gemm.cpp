// gemm / gemm_batched / linear against naive double references and finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/gemm.hpp"
#include "finepose/ops/linear.hpp"
#include "reference_ops.hpp"

using namespace finepose;
using ref::i64;

namespace {
struct GemmCase {
  bool tA, tB;
  i64 M, N, K, pad;
  float alpha, beta;
};

void check_gemm(const GemmCase& c, std::uint32_t seed) {
  const i64 lda = (c.tA ? c.M : c.K) + c.pad, ldb = (c.tB ? c.K : c.N) + c.pad, ldc = c.N + c.pad;
  const i64 arows = c.tA ? c.K : c.M, brows = c.tB ? c.N : c.K;
  auto A = ref::randn(arows * lda, seed), B = ref::randn(brows * ldb, seed + 1),
       C = ref::randn(c.M * ldc, seed + 2);
  ref::V Cd = ref::to_d(C);
  if (c.beta == 0.f)  // beta 0 must overwrite, NaN included
    for (i64 i = 0; i < c.M; ++i)
      for (i64 j = 0; j < c.N; ++j) C[i * ldc + j] = std::numeric_limits<float>::quiet_NaN();
  ref::gemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, ref::to_d(A), lda, ref::to_d(B), ldb, c.beta, Cd, ldc);
  ops::gemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  // compare only the M x N window (padding columns keep their values in both)
  ref::V got, want;
  for (i64 i = 0; i < c.M; ++i)
    for (i64 j = 0; j < c.N; ++j) {
      got.push_back(C[i * ldc + j]);
      want.push_back(Cd[i * ldc + j]);
    }
  INFO("tA=", c.tA, " tB=", c.tB, " M=", c.M, " N=", c.N, " K=", c.K, " pad=", c.pad);
  CHECK(ref::rel_l2(got, want) < 1e-5);
  for (i64 i = 0; i < c.M; ++i)  // padding untouched
    for (i64 j = c.N; j < ldc; ++j) CHECK(C[i * ldc + j] == float(Cd[i * ldc + j]));
}
}  // namespace

TEST_CASE("gemm matches double reference for all transposes and odd sizes") {
  std::uint32_t seed = 1;
  for (bool tA : {false, true})
    for (bool tB : {false, true}) {
      check_gemm({tA, tB, 37, 45, 29, 0, 1.f, 0.f}, seed++);
      check_gemm({tA, tB, 1, 17, 64, 3, 0.5f, 1.f}, seed++);
      check_gemm({tA, tB, 19, 1, 7, 1, 1.f, -0.75f}, seed++);
      check_gemm({tA, tB, 300, 270, 513, 5, 1.25f, 0.f}, seed++);  // several tiles
      check_gemm({tA, tB, 5, 3, 1, 0, 1.f, 2.f}, seed++);
    }
}

TEST_CASE("gemm with K = 0 scales C by beta; alpha = 0 ignores A and B") {
  std::vector<float> C{1, 2, 3, 4};
  ops::gemm(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.5f, C.data(), 2);
  CHECK(C == std::vector<float>{0.5f, 1, 1.5f, 2});
  std::vector<float> A(4, std::numeric_limits<float>::quiet_NaN());
  ops::gemm(false, false, 2, 2, 2, 0.f, A.data(), 2, A.data(), 2, 0.f, C.data(), 2);
  CHECK(C == std::vector<float>{0, 0, 0, 0});
}

TEST_CASE("gemm result does not depend on the thread count") {
  const i64 M = 700, N = 530, K = 300;
  auto A = ref::randn(M * K, 11), B = ref::randn(K * N, 12);
  std::vector<float> C1(M * N), C2(M * N);
  const int saved = num_threads();
  set_num_threads(1);
  ops::gemm(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, C1.data(), N);
  set_num_threads(std::max(2, saved));
  ops::gemm(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, C2.data(), N);
  set_num_threads(saved);
  CHECK(C1 == C2);
}

TEST_CASE("gemm rejects bad arguments") {
  std::vector<float> A(16), B(16), C(16);
  CHECK_THROWS_AS(ops::gemm(false, false, 4, 4, 4, 1.f, A.data(), 3, B.data(), 4, 0.f, C.data(), 4), Error);
  CHECK_THROWS_AS(ops::gemm(false, true, 4, 4, 4, 1.f, A.data(), 4, B.data(), 3, 0.f, C.data(), 4), Error);
  CHECK_THROWS_AS(ops::gemm(false, false, 4, 4, 4, 1.f, A.data(), 4, B.data(), 4, 0.f, C.data(), 2), Error);
  CHECK_THROWS_AS(ops::gemm(false, false, -1, 4, 4, 1.f, A.data(), 4, B.data(), 4, 0.f, C.data(), 4), Error);
  CHECK_THROWS_AS(ops::gemm(false, false, 4, 4, 4, 1.f, nullptr, 4, B.data(), 4, 0.f, C.data(), 4), Error);
  CHECK_THROWS_AS(ops::gemm_batched(false, false, 4, 4, 4, 1.f, A.data(), 4, 0, B.data(), 4, 0, 0.f,
                                    C.data(), 4, 4, 2),
                  Error);  // overlapping C
}

TEST_CASE("gemm_batched matches per-matrix reference, including broadcast B") {
  for (bool tA : {false, true})
    for (bool tB : {false, true}) {
      const i64 M = 17, N = 13, K = 64, batch = 5;
      const i64 lda = tA ? M : K, ldb = tB ? K : N, ldc = N;
      const i64 sA = M * K + 3, sC = M * N + 1;
      for (i64 sB : {i64(0), K * N}) {  // sB = 0: the same B for every item
        auto A = ref::randn(batch * sA, 21), B = ref::randn(std::max<i64>(sB * batch, K * N), 22);
        std::vector<float> C(batch * sC, 1.f);
        ref::V Cd(C.begin(), C.end());
        ops::gemm_batched(tA, tB, M, N, K, 1.f, A.data(), lda, sA, B.data(), ldb, sB, 0.5f, C.data(), ldc, sC, batch);
        const ref::V Ad = ref::to_d(A), Bd = ref::to_d(B);
        for (i64 b = 0; b < batch; ++b) {
          ref::V a(Ad.begin() + b * sA, Ad.begin() + b * sA + M * K);
          ref::V bb(Bd.begin() + b * sB, Bd.begin() + b * sB + K * N);
          ref::V c(Cd.begin() + b * sC, Cd.begin() + b * sC + M * N);
          ref::gemm(tA, tB, M, N, K, 1.0, a, lda, bb, ldb, 0.5, c, ldc);
          std::vector<float> got(C.begin() + b * sC, C.begin() + b * sC + M * N);
          CHECK(ref::rel_l2(got, c) < 1e-5);
        }
      }
    }
}

TEST_CASE("linear forward and backward match the double reference") {
  struct S { i64 rows, in_f, out_f; bool bias; };
  std::uint32_t seed = 100;
  for (S s : {S{1, 7, 5, true}, S{37, 33, 19, true}, S{53, 70, 129, false}, S{300, 65, 260, true}}) {
    INFO("rows=", s.rows, " in=", s.in_f, " out=", s.out_f, " bias=", s.bias);
    auto in = ref::randn(s.rows * s.in_f, seed++), W = ref::randn(s.out_f * s.in_f, seed++, 0.2f),
         b = ref::randn(s.out_f, seed++), dout = ref::randn(s.rows * s.out_f, seed++);
    const ref::V bd = ref::to_d(b);
    std::vector<float> out(s.rows * s.out_f);
    ops::linear_forward(out.data(), in.data(), W.data(), s.bias ? b.data() : nullptr, s.rows, s.in_f, s.out_f);
    CHECK(ref::rel_l2(out, ref::linear(ref::to_d(in), ref::to_d(W), s.bias ? &bd : nullptr, s.rows, s.in_f, s.out_f)) < 1e-5);

    ref::V din_r, dW_r, db_r;
    ref::linear_backward(din_r, dW_r, db_r, ref::to_d(dout), ref::to_d(in), ref::to_d(W), s.rows, s.in_f, s.out_f);
    std::vector<float> din(s.rows * s.in_f, 7.f), dW(s.out_f * s.in_f, 1.f), db(s.out_f, -1.f);
    ops::linear_backward(din.data(), dW.data(), db.data(), dout.data(), in.data(), W.data(), s.rows, s.in_f, s.out_f);
    for (auto& x : dW) x -= 1.f;  // += semantics
    for (auto& x : db) x += 1.f;
    CHECK(ref::rel_l2(din, din_r) < 1e-5);
    CHECK(ref::rel_l2(dW, dW_r) < 1e-5);
    CHECK(ref::rel_l2(db, db_r) < 1e-5);
  }
}

TEST_CASE("linear backward agrees with central finite differences") {
  const i64 rows = 3, in_f = 5, out_f = 4;
  auto in = ref::randn(rows * in_f, 5), W = ref::randn(out_f * in_f, 6), b = ref::randn(out_f, 7),
       dout = ref::randn(rows * out_f, 8);
  const ref::V ind = ref::to_d(in), Wd = ref::to_d(W), bd = ref::to_d(b), w = ref::to_d(dout);
  const auto g_in = ref::fd_grad([&](const ref::V& x) { return ref::dot(ref::linear(x, Wd, &bd, rows, in_f, out_f), w); }, ind);
  const auto g_W = ref::fd_grad([&](const ref::V& x) { return ref::dot(ref::linear(ind, x, &bd, rows, in_f, out_f), w); }, Wd);
  const auto g_b = ref::fd_grad([&](const ref::V& x) { return ref::dot(ref::linear(ind, Wd, &x, rows, in_f, out_f), w); }, bd);
  std::vector<float> din(rows * in_f), dW(out_f * in_f, 0.f), db(out_f, 0.f);
  ops::linear_backward(din.data(), dW.data(), db.data(), dout.data(), in.data(), W.data(), rows, in_f, out_f);
  CHECK(ref::rel_l2(din, g_in) < 1e-5);
  CHECK(ref::rel_l2(dW, g_W) < 1e-5);
  CHECK(ref::rel_l2(db, g_b) < 1e-5);
  ref::V din_r, dW_r, db_r;  // and the reference backward itself
  ref::linear_backward(din_r, dW_r, db_r, w, ind, Wd, rows, in_f, out_f);
  CHECK(ref::rel_l2(din_r, g_in) < 1e-7);
  CHECK(ref::rel_l2(dW_r, g_W) < 1e-7);
}

TEST_CASE("gemm called from inside an OpenMP parallel region runs per thread, correctly") {
  // The model calls gemm from its own parallel_for bodies (e.g. per attention
  // head); Eigen must then stay single-threaded and every call must be right.
  const i64 M = 40, N = 33, K = 64, calls = 8;
  auto A = ref::randn(calls * M * K, 80), B = ref::randn(K * N, 81);
  std::vector<float> C(calls * M * N, 0.f);
  parallel_for(calls, [&](i64 c) {
    ops::gemm(false, false, M, N, K, 1.f, A.data() + c * M * K, K, B.data(), N, 0.f, C.data() + c * M * N, N);
  });
  for (i64 c = 0; c < calls; ++c) {
    ref::V a(A.begin() + c * M * K, A.begin() + (c + 1) * M * K), want(M * N, 0.0);
    ref::gemm(false, false, M, N, K, 1.0, a, K, ref::to_d(B), N, 0.0, want, N);
    std::vector<float> got(C.begin() + c * M * N, C.begin() + (c + 1) * M * N);
    CHECK(ref::rel_l2(got, want) < 1e-5);
  }
  CHECK(Eigen::nbThreads() == 1);  // gemm switched Eigen's own threading off
}
