// GPU microbenchmarks of the CUDA kernels at FinePOSE shapes (Google
// Benchmark, timed with CUDA events: manual time = device time per launch).
// Needs a device; without one it prints "skipped: no CUDA device" and exits 0.
// Shapes: each registered op at its registration's benchmark shapes; the cuBLAS linear at batch 4, 243 frames, 17 joints, width 512.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <vector>

#include "finepose/cuda/cublas_gemm.hpp"
#include "finepose/cuda/device_tensor.hpp"
// every kernel is registered once with the kernel harness (tests/cuda/kernel_ops.hpp)
// and timed here at its registration's benchmark shapes; cuBLAS beside them
#define DOCTEST_CONFIG_DISABLE
#include "tests/cuda/ops_attention.hpp"
#include "tests/cuda/ops_backward.hpp"
#include "tests/cuda/ops_glue.hpp"
#include "tests/cuda/ops_pointwise.hpp"

namespace fc = finepose::cuda;
namespace fk = finepose::kernels;

namespace {

constexpr std::int64_t kB = 4, kF = 243, kJ = 17, kC = 512;

// Time `launch` with CUDA events; one iteration = one launch.
template <class F>
void time_device(benchmark::State& state, F&& launch) {
  cudaEvent_t a, b;
  FINEPOSE_CUDA_CHECK(cudaEventCreate(&a));
  FINEPOSE_CUDA_CHECK(cudaEventCreate(&b));
  launch();  // warm-up
  FINEPOSE_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto _ : state) {
    FINEPOSE_CUDA_CHECK(cudaEventRecord(a));
    launch();
    FINEPOSE_CUDA_CHECK(cudaEventRecord(b));
    FINEPOSE_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0.f;
    FINEPOSE_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    state.SetIterationTime(double(ms) * 1e-3);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
}

template <class T>
fc::DeviceTensor<T> filled(finepose::Shape s) {
  fc::DeviceTensor<T> t(std::move(s));
  t.zero();
  return t;
}

void BM_sgemm_linear(benchmark::State& state) {
  const bool tf32 = state.range(0) != 0;
  const std::int64_t M = kB * kF * kJ, N = 4 * kC, K = kC;
  auto a = filled<float>({M, K}), w = filled<float>({N, K}), c = filled<float>({M, N});
  fc::CublasHandle h;
  time_device(state, [&] {
    fc::gemm(h, false, true, M, N, K, 1.f, a.data(), K, w.data(), K, 0.f, c.data(), N,
             tf32 ? fc::GemmMath::tf32 : fc::GemmMath::fp32);
  });
  state.counters["FLOP/s"] = benchmark::Counter(double(state.iterations()) * 2.0 * M * N * K, benchmark::Counter::kIsRate);
  state.SetLabel(tf32 ? "tf32" : "fp32");
}

}  // namespace

BENCHMARK(BM_sgemm_linear)->Arg(0)->Arg(1)->UseManualTime();

// One benchmark per registered op x storage x benchmark shape: "harness/<op>/<storage>/<shape>".
void register_harness_benchmarks() {
  for (const fpt::KernelOp& op : fpt::kernel_ops())
    for (fpt::Storage st : op.storages)
      for (const fpt::OpShape& sh : op.bench) {
        const std::string name = "harness/" + op.name + "/" + fpt::storage_name(st) + "/" + sh.label();
        benchmark::RegisterBenchmark(name.c_str(), [op, st, sh](benchmark::State& state) {
          fpt::Prepared p = op.prepare(sh, st, 1);
          time_device(state, p.launch);
          state.SetBytesProcessed(std::int64_t(double(state.iterations()) * p.bytes));
          if (p.flops > 0)
            state.counters["FLOP/s"] = benchmark::Counter(double(state.iterations()) * p.flops, benchmark::Counter::kIsRate);
        })->UseManualTime();
      }
}

int main(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("skipped: no CUDA device\n");
    return 0;
  }
  register_harness_benchmarks();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
