// GPU microbenchmarks of the CUDA kernels at FinePOSE shapes (Google
// Benchmark, timed with CUDA events: manual time = device time per launch).
// Needs a device; without one it prints "skipped: no CUDA device" and exits 0.
// Shapes: batch 4, 243 frames, 17 joints, width 512, 8 heads of 64.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <vector>

#include "finepose/cuda/cublas_gemm.hpp"
#include "finepose/cuda/device_tensor.hpp"
#include "finepose/kernels/adaln_forward.cuh"
#include "finepose/kernels/attention_forward.cuh"
#include "finepose/kernels/ddim_step.cuh"
#include "finepose/kernels/epilogue_forward.cuh"
#include "finepose/kernels/layer_norm_forward.cuh"
#include "finepose/kernels/softmax_forward.cuh"
// the kernel harness's registered ops (tests/cuda/kernel_ops.hpp), each at its benchmark shapes
#define DOCTEST_CONFIG_DISABLE
#include "tests/cuda/ops_glue.hpp"
#include "tests/cuda/ops_pointwise.hpp"

namespace fc = finepose::cuda;
namespace fk = finepose::kernels;

namespace {

constexpr std::int64_t kB = 4, kF = 243, kJ = 17, kC = 512, kH = 8, kD = 64;

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

template <class T>
void BM_layer_norm(benchmark::State& state) {
  const std::int64_t rows = kB * kF * kJ;
  auto x = filled<T>({rows, kC}), y = filled<T>({rows, kC});
  auto g = filled<float>({kC}), b = filled<float>({kC});
  time_device(state, [&] { fk::layer_norm_forward<T>(y.data(), nullptr, nullptr, x.data(), g.data(), b.data(), rows, kC, 1e-5f); });
  state.SetBytesProcessed(state.iterations() * 2 * rows * kC * std::int64_t(sizeof(T)));
}

template <class T>
void BM_adaln_silu(benchmark::State& state) {
  const std::int64_t rows = kB * kF * kJ;
  auto x = filled<T>({rows, kC}), y = filled<T>({rows, kC});
  auto g = filled<float>({kC}), b = filled<float>({kC}), ss = filled<float>({kB, 2 * kC});
  time_device(state, [&] {
    fk::adaln_silu_forward<T>(y.data(), x.data(), g.data(), b.data(), ss.data(), kB, kF * kJ, kC, 1e-5f);
  });
  state.SetBytesProcessed(state.iterations() * 2 * rows * kC * std::int64_t(sizeof(T)));
}

// self attention over a fused qkv buffer [seqs * len, 3 * H * D]
template <class T>
void self_attention(benchmark::State& state, std::int64_t seqs, std::int64_t len, bool causal) {
  const std::int64_t row = kH * kD;
  auto qkv = filled<T>({seqs * len, 3 * row}), out = filled<T>({seqs * len, row});
  const T* q = qkv.data();
  time_device(state, [&] {
    fk::attention_forward<T>(out.data(), nullptr, q, len * 3 * row, 3 * row, q + row, len * 3 * row, 3 * row, q + 2 * row,
                             len * 3 * row, 3 * row, seqs, kH, len, len, kD, 0.125f, causal);
  });
  state.counters["FLOP/s"] = benchmark::Counter(double(state.iterations()) * 4.0 * seqs * kH * len * len * kD,
                                                benchmark::Counter::kIsRate);
}

template <class T>
void BM_attention_spatial(benchmark::State& state) { self_attention<T>(state, kB * kF, kJ, false); }
template <class T>
void BM_attention_temporal(benchmark::State& state) { self_attention<T>(state, kB * kJ, kF, false); }
template <class T>
void BM_attention_clip_causal(benchmark::State& state) { self_attention<T>(state, 64, 77, true); }

template <class T>
void BM_attention_cross77(benchmark::State& state) {
  const std::int64_t seqs = kB * kJ, tq = kF, tk = 77, row = kH * kD;
  auto q = filled<T>({seqs * tq, row}), kv = filled<T>({seqs * tk, 2 * row}), out = filled<T>({seqs * tq, row});
  time_device(state, [&] {
    fk::attention_forward<T>(out.data(), nullptr, q.data(), tq * row, row, kv.data(), tk * 2 * row, 2 * row,
                             kv.data() + row, tk * 2 * row, 2 * row, seqs, kH, tq, tk, kD, 0.125f, false);
  });
  state.counters["FLOP/s"] =
      benchmark::Counter(double(state.iterations()) * 4.0 * seqs * kH * tq * tk * kD, benchmark::Counter::kIsRate);
}

template <class T>
void BM_bias_gelu(benchmark::State& state) {
  const std::int64_t rows = kB * kF * kJ, cols = 4 * kC;
  auto x = filled<T>({rows, cols});
  auto b = filled<float>({cols});
  time_device(state, [&] { fk::bias_activation_forward<T>(x.data(), x.data(), b.data(), rows, cols, fk::Activation::gelu); });
  state.SetBytesProcessed(state.iterations() * 2 * rows * cols * std::int64_t(sizeof(T)));
}

void BM_softmax_temporal_rows(benchmark::State& state) {
  const std::int64_t rows = kB * kJ * kH * kF, cols = kF;
  auto x = filled<float>({rows, cols});
  time_device(state, [&] { fk::softmax_forward<float>(x.data(), x.data(), rows, cols); });
  state.SetBytesProcessed(state.iterations() * 2 * rows * cols * 4);
}

void BM_ddim_update(benchmark::State& state) {
  const std::int64_t n = kB * 20 * kF * kJ * 3;  // 20 hypotheses
  auto x = filled<float>({n}), x0 = filled<float>({n}), eps = filled<float>({n}), z = filled<float>({n});
  time_device(state, [&] { fk::ddim_update(x.data(), x0.data(), eps.data(), z.data(), n, 0.9f, 0.3f, 0.1f); });
  state.SetBytesProcessed(state.iterations() * 4 * n * 4);
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

BENCHMARK_TEMPLATE(BM_layer_norm, float)->UseManualTime();
BENCHMARK_TEMPLATE(BM_layer_norm, finepose::bfloat16)->UseManualTime();
BENCHMARK_TEMPLATE(BM_adaln_silu, float)->UseManualTime();
BENCHMARK_TEMPLATE(BM_attention_spatial, float)->UseManualTime();
BENCHMARK_TEMPLATE(BM_attention_spatial, finepose::bfloat16)->UseManualTime();
BENCHMARK_TEMPLATE(BM_attention_temporal, float)->UseManualTime();
BENCHMARK_TEMPLATE(BM_attention_temporal, finepose::bfloat16)->UseManualTime();
BENCHMARK_TEMPLATE(BM_attention_cross77, float)->UseManualTime();
BENCHMARK_TEMPLATE(BM_attention_clip_causal, float)->UseManualTime();
BENCHMARK_TEMPLATE(BM_bias_gelu, float)->UseManualTime();
BENCHMARK_TEMPLATE(BM_bias_gelu, finepose::bfloat16)->UseManualTime();
BENCHMARK(BM_softmax_temporal_rows)->UseManualTime();
BENCHMARK(BM_ddim_update)->UseManualTime();
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
