#pragma once
// Row-major single-precision GEMM on top of Eigen's kernels.
//
// Threading: we split C into fixed tiles (sizes depend only on M and N) and hand
// each tile to single-threaded Eigen from finepose::parallel_for. Eigen's own
// multithreading is switched off because its blocking changes with the thread
// count, which would make results depend on it; and inside an OpenMP region
// (our parallel_for, or a caller's) Eigen runs single-threaded anyway.
// GCC 12 flags Eigen's AVX-512 packet code (_mm512_undefined_ps) with a false
// -Wmaybe-uninitialized; silence it for Eigen and the kernels instantiated here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"

namespace finepose::ops {

namespace detail {

using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMap = Eigen::Map<const RowMatF, Eigen::Unaligned, Eigen::OuterStride<>>;
using RowMap = Eigen::Map<RowMatF, Eigen::Unaligned, Eigen::OuterStride<>>;

// Once per process: Eigen must not start its own threads (see file comment).
inline void eigen_single_threaded_once() {
  static const bool done = [] {
    Eigen::setNbThreads(1);
    return true;
  }();
  (void)done;
}

// C tile [m, n] = alpha * opA [m, k] * opB [k, n] + beta * C, single-threaded.
// a/b point at the tile's first row of op(A) / first column of op(B).
template <bool TA, bool TB>
void gemm_tile(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
               std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc) {
  RowMap C(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0 || alpha == 0.f) {
    if (beta == 0.f)
      C.setZero();
    else if (beta != 1.f)
      C *= beta;
    return;
  }
  auto run = [&](const auto& A, const auto& B) {
    if (beta == 0.f) {
      C.noalias() = alpha * A * B;
    } else {
      if (beta != 1.f) C *= beta;
      C.noalias() += alpha * A * B;
    }
  };
  auto mapB = [&](auto&& withB) {
    if constexpr (TB)
      withB(ConstRowMap(b, n, k, Eigen::OuterStride<>(ldb)).transpose());
    else
      withB(ConstRowMap(b, k, n, Eigen::OuterStride<>(ldb)));
  };
  if constexpr (TA) {
    const auto A = ConstRowMap(a, k, m, Eigen::OuterStride<>(lda)).transpose();
    mapB([&](const auto& B) { run(A, B); });
  } else {
    const ConstRowMap A(a, m, k, Eigen::OuterStride<>(lda));
    mapB([&](const auto& B) { run(A, B); });
  }
}

inline void check_gemm_args(const char* who, bool transA, bool transB, std::int64_t M,
                            std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                            const float* B, std::int64_t ldb, const float* C, std::int64_t ldc) {
  if (M < 0 || N < 0 || K < 0) fail(who, ": negative size M=", M, " N=", N, " K=", K);
  const std::int64_t a_cols = transA ? M : K, b_cols = transB ? K : N;
  if (lda < std::max<std::int64_t>(1, a_cols))
    fail(who, ": lda=", lda, " is smaller than the ", a_cols, " columns of A");
  if (ldb < std::max<std::int64_t>(1, b_cols))
    fail(who, ": ldb=", ldb, " is smaller than the ", b_cols, " columns of B");
  if (ldc < std::max<std::int64_t>(1, N))
    fail(who, ": ldc=", ldc, " is smaller than the ", N, " columns of C");
  if (M > 0 && N > 0 && !C) fail(who, ": C is null");
  if (M > 0 && N > 0 && K > 0 && (!A || !B)) fail(who, ": A or B is null");
}

// Fixed tiling of C: a function of (M, N) only, never of the thread count.
struct GemmTiling {
  std::int64_t mb, nb, tiles_m, tiles_n;
  GemmTiling(std::int64_t M, std::int64_t N) {
    mb = 256;
    nb = 256;
    tiles_m = (M + mb - 1) / mb;
    tiles_n = (N + nb - 1) / nb;
  }
  std::int64_t count() const { return tiles_m * tiles_n; }
};

template <bool TA, bool TB>
void gemm_tiled(std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
                std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C,
                std::int64_t ldc, const GemmTiling& t, std::int64_t tile) {
  const std::int64_t i0 = (tile / t.tiles_n) * t.mb, j0 = (tile % t.tiles_n) * t.nb;
  const std::int64_t m = std::min(t.mb, M - i0), n = std::min(t.nb, N - j0);
  const float* a = TA ? A + i0 : A + i0 * lda;
  const float* b = TB ? B + j0 * ldb : B + j0;
  gemm_tile<TA, TB>(m, n, K, alpha, a, lda, b, ldb, beta, C + i0 * ldc + j0, ldc);
}

template <class F>
void dispatch_trans(bool transA, bool transB, F&& f) {
  if (transA) {
    if (transB)
      f(std::true_type{}, std::true_type{});
    else
      f(std::true_type{}, std::false_type{});
  } else {
    if (transB)
      f(std::false_type{}, std::true_type{});
    else
      f(std::false_type{}, std::false_type{});
  }
}

}  // namespace detail

// C[M,N] = alpha * op(A) * op(B) + beta * C; op(A) is A[M,K] (transA=false) or
// A[K,M]^T. beta == 0 overwrites C (NaNs in C do not propagate), like BLAS.
inline void gemm(bool transA, bool transB, std::int64_t M, std::int64_t N, std::int64_t K,
                 float alpha, const float* A, std::int64_t lda, const float* B, std::int64_t ldb,
                 float beta, float* C, std::int64_t ldc) {
  detail::check_gemm_args("gemm", transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
  if (M == 0 || N == 0) return;
  detail::eigen_single_threaded_once();
  const detail::GemmTiling tiling(M, N);
  // Small products stay on the calling thread: a fork costs more than they do.
  const bool small = double(M) * double(N) * double(std::max<std::int64_t>(K, 1)) < double(1 << 18);
  const std::int64_t grain = small ? tiling.count() : 1;
  detail::dispatch_trans(transA, transB, [&](auto ta, auto tb) {
    parallel_for(
        tiling.count(),
        [&](std::int64_t tile) {
          detail::gemm_tiled<decltype(ta)::value, decltype(tb)::value>(M, N, K, alpha, A, lda, B, ldb,
                                                                      beta, C, ldc, tiling, tile);
        },
        grain);
  });
}

// A batch of independent gemms; consecutive A/B/C matrices are strideA/B/C
// elements apart. C matrices must not overlap.
inline void gemm_batched(bool transA, bool transB, std::int64_t M, std::int64_t N, std::int64_t K,
                         float alpha, const float* A, std::int64_t lda, std::int64_t strideA,
                         const float* B, std::int64_t ldb, std::int64_t strideB, float beta,
                         float* C, std::int64_t ldc, std::int64_t strideC, std::int64_t batch) {
  detail::check_gemm_args("gemm_batched", transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
  if (batch < 0) fail("gemm_batched: negative batch ", batch);
  if (M == 0 || N == 0 || batch == 0) return;
  if (batch > 1 && strideC < M * ldc && strideC > -M * ldc)
    fail("gemm_batched: strideC=", strideC, " makes the C matrices overlap (M=", M, ", ldc=", ldc, ")");
  detail::eigen_single_threaded_once();
  const detail::GemmTiling tiling(M, N);
  const std::int64_t per = tiling.count();
  const double tile_work = double(std::min(M, tiling.mb)) * double(std::min(N, tiling.nb)) *
                           double(std::max<std::int64_t>(K, 1));
  const std::int64_t grain = std::max<std::int64_t>(1, std::int64_t(double(1 << 16) / tile_work));
  detail::dispatch_trans(transA, transB, [&](auto ta, auto tb) {
    parallel_for(batch * per, [&](std::int64_t idx) {
      const std::int64_t b = idx / per;
      detail::gemm_tiled<decltype(ta)::value, decltype(tb)::value>(
          M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC, ldc,
          tiling, idx % per);
    }, grain);
  });
}

}  // namespace finepose::ops

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
