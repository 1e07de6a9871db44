// Host side of the CUDA path on a real device: error checks, DeviceTensor
// round trips, the caching allocator in steady state, cuBLAS strided-batched
// GEMM (fp32, TF32 opt-in, bf16) against ops::gemm_batched, and a kernel
// chain on a stream. Skipped (77) without a device.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "finepose/cuda/cublas_gemm.hpp"
#include "finepose/cuda/device_tensor.hpp"
#include "finepose/cuda/stream.hpp"
#include "finepose/ops/gemm.hpp"
#include "finepose/kernels/layer_norm_forward.cuh"
#include "tests/cuda/kernel_test_util.hpp"

namespace fc = finepose::cuda;

TEST_CASE("CUDA error checks throw finepose::Error naming the call") {
  void* p = nullptr;
  CHECK_THROWS_WITH_AS(FINEPOSE_CUDA_CHECK(cudaMalloc(&p, std::size_t(1) << 62)), doctest::Contains("cudaMalloc"),
                       finepose::Error);
  (void)cudaGetLastError();
  // a launch with an impossible configuration is reported at once
  float x = 0.f;
  CHECK_THROWS_AS(finepose::kernels::launch_kernel("layer_norm_forward",
                                                   &finepose::kernels::layer_norm_rows_kernel<float, float>, dim3(1),
                                                   dim3(4096), 0, nullptr, &x, nullptr, nullptr, &x, nullptr, nullptr,
                                                   std::int64_t(1), 1, 1e-5f),
                  finepose::Error);
}

TEST_CASE("DeviceTensor round trip and allocator steady state") {
  fc::Stream stream;
  auto host = finepose::Tensor<float>::from({2, 3}, {1, 2, 3, 4, 5, 6});
  auto d = fc::DeviceTensor<float>::from_host(host, stream);
  auto back = d.to_host();
  CHECK(back.shape() == host.shape());
  for (int i = 0; i < 6; ++i) CHECK(back.data()[i] == host.data()[i]);
  CHECK_THROWS_AS(d.reshape({4, 2}), finepose::Error);
  d.reshape({3, 2});
  CHECK(d.size(0) == 3);
  const auto before = fc::device_allocator().stats().backend_allocs;
  for (int i = 0; i < 20; ++i) {
    fc::DeviceTensor<float> t({1000, 64}, stream);
    t.zero();
  }
  CHECK(fc::device_allocator().stats().backend_allocs <= before + 1);
}

TEST_CASE("cuBLAS strided-batched GEMM matches ops::gemm_batched") {
  fc::Stream stream;
  fc::CublasHandle h(stream);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const std::int64_t M = 37, N = 29, K = 53, batch = 3;
      const std::int64_t lda = (ta ? M : K) + 2, ldb = (tb ? K : N) + 1, ldc = N + 3;
      const std::int64_t sA = (ta ? K : M) * lda, sB = (tb ? N : K) * ldb, sC = M * ldc;
      auto A = fpt::random_vector(std::size_t(sA * batch), 1), B = fpt::random_vector(std::size_t(sB * batch), 2);
      auto C = fpt::random_vector(std::size_t(sC * batch), 3);
      auto want = C;
      finepose::ops::gemm_batched(ta, tb, M, N, K, 0.7f, A.data(), lda, sA, B.data(), ldb, sB, 0.3f, want.data(), ldc,
                                  sC, batch);
      fpt::Buffer<float> dA(A), dB(B), dC(C);
      fc::gemm_strided_batched(h, ta, tb, M, N, K, 0.7f, dA.dev(), lda, sA, dB.dev(), ldb, sB, 0.3f, dC.dev(), ldc, sC,
                               batch);
      stream.synchronize();
      fpt::check_close(dC.download(), want, 1e-4f, 1e-4f, "sgemm");
      fpt::Buffer<float> dC2(C);
      fc::gemm_strided_batched(h, ta, tb, M, N, K, 0.7f, dA.dev(), lda, sA, dB.dev(), ldb, sB, 0.3f, dC2.dev(), ldc, sC,
                               batch, fc::GemmMath::tf32);
      stream.synchronize();
      fpt::check_close(dC2.download(), want, 3e-2f, 1e-2f, "tf32 gemm");
    }
  fpt::Buffer<float> z(std::vector<float>(16, 0.f));
  CHECK_THROWS_AS(fc::gemm(h, false, false, 4, 4, 4, 1.f, z.dev(), 3, z.dev(), 4, 0.f, z.dev(), 4), finepose::Error);
}
