// Microbenchmarks of the CPU ops at the shapes FinePOSE uses (MixSTE-style
// denoiser, dim 512, 8 heads of 64, 17 joints x 243 frames). FLOP/s counters
// count 2 flops per multiply-add.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "finepose/core/parallel.hpp"
#include "finepose/ops/activations.hpp"
#include "finepose/ops/adaln.hpp"
#include "finepose/ops/attention.hpp"
#include "finepose/ops/gemm.hpp"
#include "finepose/ops/layer_norm.hpp"
#include "finepose/ops/linear.hpp"

using namespace finepose;

namespace {
std::vector<float> rnd(std::int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

void flops(benchmark::State& st, double per_iter) {
  st.counters["FLOP/s"] = benchmark::Counter(per_iter * double(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["threads"] = num_threads();
}

// Linear layer forward: [M, K] x [N, K]^T (torch weight layout).
void BM_linear_forward(benchmark::State& st) {
  const std::int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  auto in = rnd(M * K, 1), W = rnd(N * K, 2), b = rnd(N, 3);
  std::vector<float> out(M * N);
  for (auto _ : st) {
    ops::linear_forward(out.data(), in.data(), W.data(), b.data(), M, K, N);
    benchmark::DoNotOptimize(out.data());
  }
  flops(st, 2.0 * M * N * K);
}
BENCHMARK(BM_linear_forward)
    ->Args({4131, 1536, 512})  // fused qkv, 243 frames x 17 joints
    ->Args({4131, 512, 512})   // attention projection
    ->Args({4131, 1024, 512})  // MLP up (ratio 2)
    ->Args({4131, 512, 1024})  // MLP down
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// Linear layer backward (din and dW): two gemms of the forward's size.
void BM_linear_backward(benchmark::State& st) {
  const std::int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  auto in = rnd(M * K, 1), W = rnd(N * K, 2), dout = rnd(M * N, 4);
  std::vector<float> din(M * K), dW(N * K), db(N);
  for (auto _ : st) {
    ops::linear_backward(din.data(), dW.data(), db.data(), dout.data(), in.data(), W.data(), M, K, N);
    benchmark::DoNotOptimize(din.data());
  }
  flops(st, 4.0 * M * N * K);
}
BENCHMARK(BM_linear_backward)->Args({4131, 1536, 512})->Args({4131, 512, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_gemm_nn(benchmark::State& st) {
  const std::int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  auto A = rnd(M * K, 1), B = rnd(K * N, 2);
  std::vector<float> C(M * N);
  for (auto _ : st) {
    ops::gemm(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  flops(st, 2.0 * M * N * K);
}
BENCHMARK(BM_gemm_nn)->Args({4131, 1536, 512})->Args({512, 1024, 512})->Args({1024, 512, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_layer_norm_forward(benchmark::State& st) {
  const std::int64_t rows = st.range(0), dim = st.range(1);
  auto x = rnd(rows * dim, 1), g = rnd(dim, 2), b = rnd(dim, 3);
  std::vector<float> y(rows * dim), mean(rows), rstd(rows);
  for (auto _ : st) {
    ops::layer_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), rows, dim, 1e-5f);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * rows * dim * 8);
}
BENCHMARK(BM_layer_norm_forward)->Args({4131, 512})->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_layer_norm_backward(benchmark::State& st) {
  const std::int64_t rows = st.range(0), dim = st.range(1);
  auto x = rnd(rows * dim, 1), g = rnd(dim, 2), b = rnd(dim, 3), dy = rnd(rows * dim, 4);
  std::vector<float> y(rows * dim), mean(rows), rstd(rows), dx(rows * dim), dg(dim), db(dim);
  ops::layer_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), rows, dim, 1e-5f);
  for (auto _ : st) {
    ops::layer_norm_backward(dx.data(), dg.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(), g.data(), rows, dim);
    benchmark::DoNotOptimize(dx.data());
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * rows * dim * 12);
}
BENCHMARK(BM_layer_norm_backward)->Args({4131, 512})->Unit(benchmark::kMicrosecond)->UseRealTime();

// Self-attention over a fused qkv buffer [B*T, 3*H*D]: args batch, heads, tokens, head_dim.
struct AttnBuffers {
  std::int64_t B, H, T, D, row;
  std::vector<float> qkv, out, probs, dout, dqkv;
  AttnBuffers(std::int64_t b, std::int64_t h, std::int64_t t, std::int64_t d)
      : B(b), H(h), T(t), D(d), row(3 * h * d), qkv(rnd(b * t * 3 * h * d, 1)), out(b * t * h * d),
        probs(b * h * t * t), dout(rnd(b * t * h * d, 2)), dqkv(b * t * 3 * h * d) {}
  void forward(bool with_probs) {
    ops::attention_forward(out.data(), with_probs ? probs.data() : nullptr, qkv.data(), T * row, row,
                           qkv.data() + H * D, T * row, row, qkv.data() + 2 * H * D, T * row, row,
                           {B, H, T, T, D}, 0.125f, false);
  }
  void backward() {
    ops::attention_backward(dqkv.data(), dqkv.data() + H * D, dqkv.data() + 2 * H * D, dout.data(), probs.data(),
                            qkv.data(), qkv.data() + H * D, qkv.data() + 2 * H * D, T * row, row, T * row, row,
                            T * row, row, {B, H, T, T, D}, 0.125f);
  }
  double flops() const { return 4.0 * B * H * T * T * D; }
};

void BM_attention_forward(benchmark::State& st) {
  AttnBuffers a(st.range(0), st.range(1), st.range(2), st.range(3));
  for (auto _ : st) {
    a.forward(false);
    benchmark::DoNotOptimize(a.out.data());
  }
  flops(st, a.flops());
}
BENCHMARK(BM_attention_forward)
    ->Args({243 * 8, 8, 17, 64})  // spatial: 8 samples x 243 frames, 17 joints
    ->Args({17 * 8, 8, 243, 64})  // temporal: 8 samples x 17 joints, 243 frames
    ->Args({243, 8, 17, 64})
    ->Args({17, 8, 243, 64})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_attention_backward(benchmark::State& st) {
  AttnBuffers a(st.range(0), st.range(1), st.range(2), st.range(3));
  a.forward(true);
  for (auto _ : st) {
    a.backward();
    benchmark::DoNotOptimize(a.dqkv.data());
  }
  flops(st, 2.0 * a.flops());
}
BENCHMARK(BM_attention_backward)->Args({243, 8, 17, 64})->Args({17, 8, 243, 64})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// MLP activation on the hidden layer [4131, 1024].
void BM_gelu_forward(benchmark::State& st) {
  const std::int64_t n = st.range(0);
  auto x = rnd(n, 1);
  std::vector<float> y(n);
  for (auto _ : st) {
    ops::gelu_forward(y.data(), x.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(std::int64_t(st.iterations()) * n);
}
BENCHMARK(BM_gelu_forward)->Arg(4131 * 1024)->Unit(benchmark::kMicrosecond)->UseRealTime();

// StylizationBlock core: groups = samples, rows = frames x joints.
void BM_adaln_silu_forward(benchmark::State& st) {
  const std::int64_t G = st.range(0), R = st.range(1), dim = st.range(2);
  auto h = rnd(G * R * dim, 1), g = rnd(dim, 2), b = rnd(dim, 3), ss = rnd(G * 2 * dim, 4);
  std::vector<float> out(G * R * dim);
  for (auto _ : st) {
    ops::adaln_silu_forward(out.data(), h.data(), g.data(), b.data(), ss.data(), G, R, dim, 1e-5f);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * G * R * dim * 8);
}
BENCHMARK(BM_adaln_silu_forward)->Args({1, 4131, 512})->Args({8, 4131, 512})->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_adaln_silu_backward(benchmark::State& st) {
  const std::int64_t G = st.range(0), R = st.range(1), dim = st.range(2);
  auto h = rnd(G * R * dim, 1), g = rnd(dim, 2), b = rnd(dim, 3), ss = rnd(G * 2 * dim, 4), dy = rnd(G * R * dim, 5);
  std::vector<float> dh(G * R * dim), dg(dim), db(dim), dss(G * 2 * dim);
  for (auto _ : st) {
    ops::adaln_silu_backward(dh.data(), dg.data(), db.data(), dss.data(), dy.data(), h.data(), g.data(), b.data(),
                             ss.data(), G, R, dim, 1e-5f);
    benchmark::DoNotOptimize(dh.data());
  }
  st.SetBytesProcessed(std::int64_t(st.iterations()) * G * R * dim * 12);
}
BENCHMARK(BM_adaln_silu_backward)->Args({1, 4131, 512})->Unit(benchmark::kMicrosecond)->UseRealTime();
}  // namespace

BENCHMARK_MAIN();
