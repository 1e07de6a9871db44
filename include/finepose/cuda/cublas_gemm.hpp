#pragma once
// cuBLAS strided-batched GEMM with the row-major semantics of
// ops::gemm_batched: C[M,N] = alpha * op(A) op(B) + beta * C per batch item.
// A row-major product is the column-major product of the transposes, so the
// call swaps A and B (C^T = op(B)^T op(A)^T) instead of copying anything.
// fp32 math by default; TF32 tensor cores are opt-in (about 10 mantissa bits
// per product, fine for inference, not for gradient checks). A bf16 variant
// stores A/B/C in bf16 and accumulates in fp32.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "finepose/core/half.hpp"
#include "finepose/cuda/check.hpp"

namespace finepose::cuda {

enum class GemmMath { fp32, tf32 };

class CublasHandle {
 public:
  CublasHandle() { FINEPOSE_CUBLAS_CHECK(cublasCreate(&h_)); }
  explicit CublasHandle(cudaStream_t s) : CublasHandle() { set_stream(s); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  CublasHandle(CublasHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  CublasHandle& operator=(CublasHandle&& o) noexcept {
    if (this != &o) {
      if (h_) cublasDestroy(h_);
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~CublasHandle() {
    if (h_) cublasDestroy(h_);
  }
  void set_stream(cudaStream_t s) { FINEPOSE_CUBLAS_CHECK(cublasSetStream(h_, s)); }
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

namespace detail {
inline void check_gemm(const char* who, bool tA, bool tB, std::int64_t M, std::int64_t N, std::int64_t K,
                       std::int64_t lda, std::int64_t ldb, std::int64_t ldc, std::int64_t batch) {
  if (M < 0 || N < 0 || K < 0 || batch < 0) fail(who, ": negative size M=", M, " N=", N, " K=", K, " batch=", batch);
  const std::int64_t lim = 2147483647;
  if (M > lim || N > lim || K > lim || batch > lim || lda > lim || ldb > lim || ldc > lim)
    fail(who, ": a size or leading dimension exceeds cuBLAS's 32-bit limit");
  // row-major: a row of op-free A has K (or M when transposed) elements
  if (lda < std::max<std::int64_t>(1, tA ? M : K)) fail(who, ": lda=", lda, " is smaller than ", tA ? M : K);
  if (ldb < std::max<std::int64_t>(1, tB ? K : N)) fail(who, ": ldb=", ldb, " is smaller than ", tB ? K : N);
  if (ldc < std::max<std::int64_t>(1, N)) fail(who, ": ldc=", ldc, " is smaller than N=", N);
}

inline void gemm_ex(cublasHandle_t h, bool tA, bool tB, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
                    const void* A, cudaDataType ta, std::int64_t lda, std::int64_t sA, const void* B, cudaDataType tb,
                    std::int64_t ldb, std::int64_t sB, float beta, void* C, cudaDataType tc, std::int64_t ldc,
                    std::int64_t sC, std::int64_t batch, cublasComputeType_t compute) {
  if (M == 0 || N == 0 || batch == 0) return;
  FINEPOSE_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      h, tB ? CUBLAS_OP_T : CUBLAS_OP_N, tA ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M), int(K), &alpha, B, tb,
      int(ldb), sB, A, ta, int(lda), sA, &beta, C, tc, int(ldc), sC, int(batch), compute, CUBLAS_GEMM_DEFAULT));
}
}  // namespace detail

// fp32 storage; pointers are device pointers; the handle's stream is used.
inline void gemm_strided_batched(const CublasHandle& h, bool transA, bool transB, std::int64_t M, std::int64_t N,
                                 std::int64_t K, float alpha, const float* A, std::int64_t lda, std::int64_t strideA,
                                 const float* B, std::int64_t ldb, std::int64_t strideB, float beta, float* C,
                                 std::int64_t ldc, std::int64_t strideC, std::int64_t batch,
                                 GemmMath math = GemmMath::fp32) {
  detail::check_gemm("gemm_strided_batched", transA, transB, M, N, K, lda, ldb, ldc, batch);
  detail::gemm_ex(h.get(), transA, transB, M, N, K, alpha, A, CUDA_R_32F, lda, strideA, B, CUDA_R_32F, ldb, strideB,
                  beta, C, CUDA_R_32F, ldc, strideC, batch,
                  math == GemmMath::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F);
}

// bf16 storage, fp32 accumulation (tensor cores).
inline void gemm_strided_batched(const CublasHandle& h, bool transA, bool transB, std::int64_t M, std::int64_t N,
                                 std::int64_t K, float alpha, const bfloat16* A, std::int64_t lda, std::int64_t strideA,
                                 const bfloat16* B, std::int64_t ldb, std::int64_t strideB, float beta, bfloat16* C,
                                 std::int64_t ldc, std::int64_t strideC, std::int64_t batch) {
  detail::check_gemm("gemm_strided_batched(bf16)", transA, transB, M, N, K, lda, ldb, ldc, batch);
  detail::gemm_ex(h.get(), transA, transB, M, N, K, alpha, A, CUDA_R_16BF, lda, strideA, B, CUDA_R_16BF, ldb, strideB,
                  beta, C, CUDA_R_16BF, ldc, strideC, batch, CUBLAS_COMPUTE_32F);
}

// Single GEMM convenience (batch of one).
inline void gemm(const CublasHandle& h, bool transA, bool transB, std::int64_t M, std::int64_t N, std::int64_t K,
                 float alpha, const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C,
                 std::int64_t ldc, GemmMath math = GemmMath::fp32) {
  gemm_strided_batched(h, transA, transB, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1, math);
}

}  // namespace finepose::cuda
