// Training throughput: one benchmark iteration = 5 training steps of the trainer
// (train::Trainer: forward with drop-path, MPJPE loss, backward, AdamW) on
// synthetic chunks at a preset's size; the counter chunks_per_s is what
// tools/compare_train_torch.py sets beside the PyTorch training step.
//   FINEPOSE_BENCH_PRESET=small|base|paper (default base), FINEPOSE_THREADS=N (default: all)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "finepose/core/philox.hpp"
#include "finepose/text/known_prompts.hpp"
#include "finepose/train/init.hpp"
#include "finepose/train/presets.hpp"
#include "finepose/train/trainer.hpp"

namespace {

using namespace finepose;

constexpr int64_t kStepsPerIteration = 5;

train::Dataset synthetic_dataset(const FinePoseConfig& c) {
  train::Dataset d;
  d.labels = {"Walking", "Directions"};
  for (int s = 0; s < 8; ++s) {
    train::Sequence q;
    q.name = "synthetic " + std::to_string(s);
    const int64_t n = 4 * c.frames;
    q.x2d = NormalStream(11, std::uint64_t(2 * s)).normal({n, c.joints, 2});
    q.x3d = NormalStream(11, std::uint64_t(2 * s + 1)).normal({n, c.joints, 3});
    for (int64_t i = 0; i < q.x3d.numel(); ++i) q.x3d.data()[i] *= 0.3f;
    q.label = s % 2;
    d.seqs.push_back(std::move(q));
  }
  return d;
}

void BM_train_steps(benchmark::State& state) {
  const char* p = std::getenv("FINEPOSE_BENCH_PRESET");
  const std::string preset = p ? p : "base";
  if (const char* t = std::getenv("FINEPOSE_THREADS")) set_num_threads(std::atoi(t));
  train::TrainConfig tc = train::preset(preset);
  tc.max_batches = kStepsPerIteration;
  std::vector<PromptTokens> prompts;
  const train::Dataset d = synthetic_dataset(tc.model);
  for (const auto& l : d.labels) {
    PromptTokens pt;
    for (const auto& t : fixed_prompt_texts()) pt.fixed.push_back(builtin_prompt_tokens(t, tc.model.text_context));
    pt.action = builtin_prompt_tokens(l, tc.model.text_context);
    prompts.push_back(std::move(pt));
  }
  MixSTE2 net(tc.model);
  train::init_model(net, tc.seed);
  train::Trainer trainer(tc, std::move(net), prompts);
  trainer.train_epoch(d);  // warm-up: first-touch of every buffer
  for (auto _ : state) benchmark::DoNotOptimize(trainer.train_epoch(d));
  const double chunks = double(state.iterations() * kStepsPerIteration * tc.batch_size);
  state.counters["chunks_per_s"] = benchmark::Counter(chunks, benchmark::Counter::kIsRate);
  state.counters["batch"] = double(tc.batch_size);
  state.counters["frames"] = double(tc.model.frames);
  state.counters["threads"] = double(num_threads());
  state.SetLabel(preset);
}
BENCHMARK(BM_train_steps)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

}  // namespace

BENCHMARK_MAIN();
