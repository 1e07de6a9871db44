// How lifting time grows with the number of people (issue 17): P walkers of
// 300 frames each (the procedural walk, each on its own circle), lifted with
// the shipped default model, H=1 K=1, J-Agg off. Two ways: every person's
// windows in shared batched denoiser calls (lift_persons, what `infer
// --persons all` does), and one lift_sequence per person (the unbatched
// baseline). Counters: people and windows per second.
//
//   build/bench/bench_multi_person --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "finepose/core/parallel.hpp"
#include "finepose/model/default_model.hpp"
#include "finepose/model/model_file.hpp"
#include "finepose/wild/demo_walk.hpp"
#include "finepose/wild/multi_person.hpp"

using namespace finepose;

namespace {

const FinePoseModel& model() {
  static const FinePoseModel m = load_model(find_default_model(FINEPOSE_SOURCE_MODELS_DIR));
  return m;
}

wild::PersonsInput people(int64_t P) {
  wild::PersonsInput in;
  for (int64_t p = 0; p < P; ++p) {
    wild::DemoWalkOptions o;
    o.frames = 300;
    o.width = 1920, o.height = 1080;
    o.radius_mm = 800 + 150 * double(p % 7);
    o.centre_x_mm = 900.0 * double(p % 5) - 1800, o.centre_z_mm = 700.0 * double(p / 5);
    o.start_angle = 0.7 * double(p);
    o.seed = std::uint64_t(p) + 1;
    wild::KeypointInput k;
    k.kp = pose::to_h36m17(wild::make_demo_walk(o).coco_px, pose::KeypointLayout::coco17);
    in.persons.push_back(std::move(k));
    in.track_ids.push_back(p);
  }
  return in;
}

wild::LiftOptions options() {
  wild::LiftOptions o;
  o.aggregation = wild::Aggregation::p_agg;
  return o;
}

void counters(benchmark::State& st, int64_t P) {
  wild::StreamingLifter probe(model(), 1920, 1080, options());
  const double windows = double(P * probe.windows_for(300));
  st.counters["people/s"] = benchmark::Counter(double(P), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["windows/s"] = benchmark::Counter(windows, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["threads"] = double(num_threads());
}

void BM_lift_persons_batched(benchmark::State& st) {
  const int64_t P = st.range(0);
  const wild::PersonsInput in = people(P);
  for (auto _ : st) benchmark::DoNotOptimize(wild::lift_persons(model(), in, 1920, 1080, options()).poses.data());
  counters(st, P);
}

void BM_lift_persons_one_by_one(benchmark::State& st) {
  const int64_t P = st.range(0);
  const wild::PersonsInput in = people(P);
  for (auto _ : st)
    for (const auto& p : in.persons) benchmark::DoNotOptimize(wild::lift_sequence(model(), p.kp, 1920, 1080, options()).poses.data());
  counters(st, P);
}

}  // namespace

BENCHMARK(BM_lift_persons_batched)->Arg(1)->Arg(2)->Arg(5)->Arg(10)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_lift_persons_one_by_one)->Arg(1)->Arg(2)->Arg(5)->Arg(10)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
