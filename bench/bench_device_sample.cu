// End-to-end device sampling benchmark: DeviceFinePose (cuda/model.hpp) runs
// K DDIM steps of H hypotheses (with the flip copy batched) and this reports
// the time per sampling call and the achieved TFLOP/s of the denoiser (FLOPs
// from model/flop_count.hpp: matrix products only) for fp32, TF32, bf16, each
// eager and as a CUDA graph. The timed call is the whole public sample():
// noise upload, K steps, result download; the text branch is cached on the CPU
// after the warm-up. Random weights at the given dimensions (default: the
// paper's 243 frames, depth 8, width 512); or --model FILE (--checkpoint: its old name).
//   bench_device_sample [--frames F] [--depth D] [--hypotheses H] [--steps K]
//                       [--batch B] [--no-flip] [--reps N] [--model FILE]
// Without a device it prints "skipped: no CUDA device" and exits 0.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "finepose/cuda/model.hpp"
#include "finepose/model/flop_count.hpp"
#include "finepose/model/model_file.hpp"

using namespace finepose;

namespace {

long arg_int(int argc, char** argv, const char* name, long def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], name)) return std::strtol(argv[i + 1], nullptr, 10);
  return def;
}
bool arg_flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], name)) return true;
  return false;
}
const char* arg_str(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], name)) return argv[i + 1];
  return nullptr;
}

// Small random weights (LayerNorm weights stay near 1) so activations stay finite.
void randomise(FinePoseModel& m) {
  std::mt19937 rng(1234);
  m.visit([&](const std::string& name, TensorF& p) {
    const bool norm_weight = name.find("norm") != std::string::npos && name.size() > 7 &&
                             name.compare(name.size() - 7, 7, ".weight") == 0;
    const float sd = name.find("embed") != std::string::npos ? 0.02f : 0.05f;
    std::normal_distribution<float> d(0.f, sd);
    for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] = (norm_weight ? 1.f : 0.f) + d(rng);
  });
}

template <class T>
void run(const char* name, const FinePoseModel& model, const TensorF& x2d, const SampleOptions& o, bool tf32,
         bool graph, int reps) {
  cuda::DeviceModelOptions mo;
  mo.tf32 = tf32;
  mo.use_graph = graph;
  cuda::DeviceFinePoseT<T> dev(model, mo);
  TensorF out = dev.sample(x2d, {"Walking"}, o);  // warm-up (and graph capture)
  const auto allocs = dev.allocator_stats().backend_allocs;
  FINEPOSE_CUDA_CHECK(cudaDeviceSynchronize());
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) out = dev.sample(x2d, {"Walking"}, o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
  const int64_t NB = o.flip ? 2 * x2d.size(0) : x2d.size(0);
  const double flops = double(o.steps) * denoiser_flops(model.config(), NB, o.hypotheses);
  double sum = 0;
  for (int64_t i = 0; i < out.numel(); ++i) sum += std::fabs(out.data()[i]);
  std::printf("%-12s %-6s %10.2f ms/sample %8.2f TFLOP/s  %8.2f ms/step  mean|x|=%.4f  cudaMalloc in timed calls: %llu\n",
              name, graph ? "graph" : "eager", s * 1e3, flops / s * 1e-12, s * 1e3 / double(o.steps),
              sum / double(out.numel()), (unsigned long long)(dev.allocator_stats().backend_allocs - allocs));
}

}  // namespace

int main(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("skipped: no CUDA device\n");
    return 0;
  }
  try {
    const char* ckpt = arg_str(argc, argv, "--model");
    if (!ckpt) ckpt = arg_str(argc, argv, "--checkpoint");  // the old name
    FinePoseConfig cfg;
    cfg.frames = arg_int(argc, argv, "--frames", 243);
    cfg.depth = arg_int(argc, argv, "--depth", 8);
    FinePoseModel model = ckpt ? load_model(ckpt) : FinePoseModel(cfg);
    if (!ckpt) randomise(model);
    const FinePoseConfig& c = model.config();
    SampleOptions o;
    o.hypotheses = arg_int(argc, argv, "--hypotheses", 5);
    o.steps = arg_int(argc, argv, "--steps", 5);
    o.flip = !arg_flag(argc, argv, "--no-flip");
    const int64_t B = arg_int(argc, argv, "--batch", 1);
    const int reps = int(arg_int(argc, argv, "--reps", 3));
    TensorF x2d({B, c.frames, c.joints, c.in_chans});
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-0.8f, 0.8f);
    for (int64_t i = 0; i < x2d.numel(); ++i) x2d.data()[i] = u(rng);
    (void)model.text_features("Walking");  // the CPU text branch, once, outside the timing
    cudaDeviceProp prop{};
    FINEPOSE_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s | depth %lld, %lld frames, width %lld | batch %lld, %lld hypotheses, %lld steps, flip %s | "
                "%.2f TFLOP per sample\n",
                prop.name, (long long)c.depth, (long long)c.frames, (long long)c.dim, (long long)B,
                (long long)o.hypotheses, (long long)o.steps, o.flip ? "on" : "off",
                double(o.steps) * denoiser_flops(c, o.flip ? 2 * B : B, o.hypotheses) * 1e-12);
    for (bool graph : {false, true}) {
      run<float>("fp32", model, x2d, o, false, graph, reps);
      run<float>("tf32", model, x2d, o, true, graph, reps);
      run<bfloat16>("bf16", model, x2d, o, false, graph, reps);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_device_sample: %s\n", e.what());
    return 1;
  }
  return 0;
}
