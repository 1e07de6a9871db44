#pragma once
// finepose baseline: the two reference points for `finepose train`'s model, fitted
// on the same training set (train::load_training_data with the same defaults and
// seed: HumanEva-I Train + CMU / Bandai mocap through virtual cameras) and scored
// with exactly `finepose eval --dataset humaneva`'s protocol (same clips, chunks
// of the small preset's frame count, frame weighting, rows; eval/protocol.hpp):
//   mean: the training set's mean root-relative pose for every frame (ignores the 2D);
//   mlp:  Martinez et al. 2017's single-frame lifter (baselines/mlp_lifter.hpp).
// Writes DIR/baseline_<kind>.safetensors and DIR/eval_humaneva.{csv,json}. A
// deterministic baseline has one hypothesis, so the four settings coincide.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "args.hpp"
#include "finepose/baselines/mean_pose.hpp"
#include "finepose/baselines/mlp_lifter.hpp"
#include "finepose/eval/protocol.hpp"
#include "finepose/train/datasets.hpp"
#include "finepose/train/presets.hpp"
#include "progress.hpp"
#include "report_eval.hpp"

namespace finepose::cli {

namespace baseline_detail {

// MPJPE (mm) of a predictor over every frame of a dataset (quick per-epoch check).
template <class Predict>
double mpjpe_mm(const train::Dataset& d, const Predict& predict) {
  double sum = 0;
  int64_t n = 0;
  for (const auto& s : d.seqs) {
    const TensorF p = predict(s.x2d);
    const TensorF t = s.x3d.contiguous();
    const int64_t J = t.size(1);
    for (int64_t f = 0; f < t.size(0); ++f)
      for (int64_t j = 0; j < J; ++j) {
        double e = 0;
        for (int k = 0; k < 3; ++k) {
          const double d3 = double(p.data()[(f * J + j) * 3 + k]) - double(t.data()[(f * J + j) * 3 + k]);
          e += d3 * d3;
        }
        sum += std::sqrt(e);
        ++n;
      }
  }
  return n ? 1000.0 * sum / double(n) : NAN;
}

}  // namespace baseline_detail

inline int cmd_baseline(int argc, char** argv) {
  using namespace baseline_detail;
  Args a("baseline",
         "--kind mean|mlp --data DIR --out DIR [--epochs N] [--seed S] [--mocap-frames N] [--noise-px P] [--width W] "
         "[--quiet]",
         {{"kind", "NAME", "mean (mean training pose for every frame) or mlp (Martinez et al. 2017 single-frame lifter)"},
          {"data", "DIR", "directory with humaneva_i_h36m17.npz (and cmu_mocap_h36m17.npz, bandai_namco_h36m17.npz)"},
          {"out", "DIR", "output directory (baseline_<kind>.safetensors, eval_humaneva.csv, eval_humaneva.json)"},
          {"epochs", "N", "mlp: epochs over the training frames, each seen plain and mirrored (default 2)"},
          {"seed", "S", "random seed for the virtual cameras (as finepose train), init, shuffling, dropout (default 1)"},
          {"mocap-frames", "N", "frames taken from each mocap file (default 20000; 0 = all, -1 = none), as finepose train"},
          {"noise-px", "P", "std of 2D noise added to the virtual-camera projections (pixels, default 1), as finepose train"},
          {"width", "W", "mlp: hidden width (default 1024)"},
          {"blocks", "N", "mlp: residual blocks (default 2)"},
          {"dropout", "P", "mlp: dropout probability (default 0.5)"},
          {"batch", "N", "mlp: frames per training batch (default 128)"},
          {"lr", "X", "mlp: AdamW learning rate (default 1e-3)"},
          {"lr-decay", "X", "mlp: learning-rate factor per epoch (default 0.9)"},
          {"frames", "L", "evaluation chunk length (default: the small preset's model frames, 27, as its eval)"},
          {"threads", "N", "CPU threads (default: all)"},
          {"quiet", "", "no progress bar"}});
  for (auto& o : overwrite_options("the files in --out")) a.add(o);
  if (!a.parse(argc, argv)) return 0;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  a.apply_threads();
  const std::string kind = a.require("kind"), data = a.require("data"), out = a.require("out");
  if (kind != "mean" && kind != "mlp") fail("baseline: --kind must be mean or mlp, got '", kind, "'");
  const std::string weights = out + "/baseline_" + kind + ".safetensors";
  check_output_free(a, "baseline", weights);
  for (const std::string& p : eval_report_paths(out, "humaneva")) check_output_free(a, "baseline", p);
  const bool quiet = a.has("quiet");
  const auto t0 = std::chrono::steady_clock::now();

  train::TrainingDataOptions dopt;
  dopt.seed = uint64_t(a.get_int_in("seed", 1, 0, INT64_MAX));
  dopt.mocap_frames = a.get_int_in("mocap-frames", dopt.mocap_frames, -1, int64_t(1) << 40);
  dopt.noise_px = a.get_double_in("noise-px", dopt.noise_px, 0, 1000);
  const train::TrainingData td = train::load_training_data(data, dopt);
  std::printf("train: %zu sequences (%lld frames), validate: %zu sequences (%lld frames)\n", td.train.seqs.size(),
              (long long)td.train.frames(), td.validate.seqs.size(), (long long)td.validate.frames());

  const FinePoseConfig small = train::preset("small").model;
  const int64_t L = a.get_int_in("frames", small.frames, 1, 100000);
  std::filesystem::create_directories(out);

  baselines::MeanPose mean;
  baselines::MlpLifter mlp;
  if (kind == "mean") {
    mean = baselines::MeanPose::fit(td.train);
    mean.save(weights, existing_of(a));
    std::printf("mean pose of %lld training frames, validate MPJPE %.2f mm\n", (long long)td.train.frames(),
                mpjpe_mm(td.validate, [&](const TensorF& x) { return mean.predict(x); }));
  } else {
    baselines::MlpLifterConfig mc;
    mc.joints = small.joints;
    mc.width = a.get_int_in("width", mc.width, 1, 65536);
    mc.blocks = a.get_int_in("blocks", mc.blocks, 0, 1024);
    if (a.has("dropout")) mc.dropout = float(a.get_double_in("dropout", 0, 0, 1));
    mc.validate();
    baselines::MlpTrainOptions to;
    to.seed = dopt.seed;
    to.batch_size = a.get_int_in("batch", to.batch_size, 1, 1 << 24);
    if (a.has("lr")) to.lr = a.get_double_in("lr", 0, 0, 10);
    if (a.has("lr-decay")) to.lr_decay = a.get_double_in("lr-decay", 0, 0, 1);
    const int64_t epochs = a.get_int_in("epochs", 2, 0, 1000000);
    const baselines::LiftingFrames frames =
        baselines::lifting_frames(td.train, true, small.joints_left, small.joints_right);
    mlp = baselines::MlpLifter(mc);
    mlp.init_weights(dopt.seed);
    mlp.set_normalisation(frames);
    baselines::MlpTrainer trainer(mlp, to);
    std::printf("mlp: width %lld, %lld blocks, dropout %.2f, %lld frames per epoch (with mirrored copies), batch %lld\n",
                (long long)mc.width, (long long)mc.blocks, double(mc.dropout), (long long)frames.size(),
                (long long)to.batch_size);
    for (int64_t e = 0; e < epochs; ++e) {
      const double lr = trainer.lr();
      Progress bar("epoch " + std::to_string(e + 1) + "/" + std::to_string(epochs), trainer.batches_per_epoch(frames), quiet);
      const double loss = trainer.train_epoch(frames, [&](int64_t done, int64_t, double) { bar.update(done); });
      bar.finish();
      std::printf("epoch %lld  lr %.3g  train loss %.2f mm  val MPJPE %.2f mm  (%.1f s)\n", (long long)e + 1, lr,
                  1000 * loss, mpjpe_mm(td.validate, [&](const TensorF& x) { return mlp.predict(x); }), bar.elapsed());
    }
    mlp.save(weights, existing_of(a));
  }
  const double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: wrote %s (%.1f s)\n\n", kind.c_str(), weights.c_str(), fit_s);

  // ---- the `finepose eval --dataset humaneva` protocol
  const std::vector<data::EvalClip> clips = eval::load_test_clips("humaneva", data, "gt");
  eval::EvalRun run;
  run.dataset = "humaneva";
  run.checkpoint = weights;
  run.frames = L;
  run.to_mm = 1000.0;
  run.notes.push_back("a deterministic baseline (" + kind + ") has one hypothesis: the four settings coincide.");
  return run_and_report(clips, [&](const TensorF& xb, const data::EvalClip&) {
    const TensorF p = kind == "mean" ? mean.predict(xb) : mlp.predict(xb);  // [b, L, J, 3]
    return p.reshape({xb.size(0), 1, 1, xb.size(1), xb.size(2), 3});
  }, run, quiet, false, out, existing_of(a));
}

}  // namespace finepose::cli
