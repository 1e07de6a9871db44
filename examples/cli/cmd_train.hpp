#pragma once
// finepose train: trains FinePOSE on the shared real data (HumanEva-I Train with its
// real cameras, plus CMU / Bandai Namco mocap through random virtual cameras) and
// validates on HumanEva-I Validate each epoch. Writes DIR/checkpoint.safetensors
// (weights + AdamW state + epoch, for --resume), DIR/model.safetensors (weights +
// config, for finepose sample/eval) and DIR/log.tsv.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "args.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/text/known_prompts.hpp"
#include "finepose/train/datasets.hpp"
#include "finepose/train/init.hpp"
#include "finepose/train/trainer.hpp"
#include "progress.hpp"

namespace finepose::cli {

namespace train_detail {

// small: trains on 2 CPU cores in well under an hour. The text tower is a randomly
// initialised, frozen 1-layer CLIP of width 32 (no CLIP weights can be had here).
inline train::TrainConfig preset(const std::string& name) {
  train::TrainConfig tc;
  if (name == "base") {
    // the default model's size class (issue 15): deeper, wider and longer than small, trained on
    // the wide data pipeline (all mocap, new cameras every epoch); an "epoch" is 1000 batches (~11 min
    // on 2 idle cores), so a run cut off at a session's end loses little; the decay per batch is
    // that of 0.985 per 2000 batches
    tc = preset("small");
    FinePoseConfig& m = tc.model;
    m.depth = 4;
    m.frames = 81;
    m.dim = 128;
    m.heads = 8;
    m.mlp_hidden = 256;
    tc.batch_size = 4;
    tc.epochs = 400;
    tc.lr = 6e-4;
    tc.lr_decay = 0.9925;
    tc.drop_path = 0.1;
    tc.max_batches = 1000;
    return tc;
  }
  if (name == "paper") {
    tc.batch_size = 4;
    tc.epochs = 160;
    return tc;  // FinePoseConfig defaults are the paper's model; lr 6e-5, wd 0.1, decay 0.993
  }
  if (name != "small") fail("train: unknown preset '", name, "' (small, base or paper)");
  FinePoseConfig& m = tc.model;
  m.depth = 2;
  m.frames = 27;
  m.dim = 64;
  m.heads = 4;
  m.mlp_hidden = 128;
  m.text_width = 32;
  m.clip_layers = 1;
  m.clip_heads = 2;
  m.encoder_layers = 1;
  m.encoder_heads = 2;
  m.encoder_ff = 64;
  // small batches: on this budget the number of updates matters more than their
  // noise (batch 4 reached a lower validation error than 16 for the same frames seen,
  // as upstream's batch of 4 chunks); an "epoch" is 500 batches, about 0.6 passes.
  tc.batch_size = 4;
  tc.epochs = 40;
  tc.lr = 1e-3;
  tc.lr_decay = 0.97;
  tc.drop_path = 0.05;
  tc.max_batches = 500;
  return tc;
}

// The data pipeline of a preset: "wide" for base, "fixed" (the small model's) otherwise.
inline std::string preset_pipeline(const std::string& name) { return name == "base" ? "wide" : "fixed"; }

// Overrides from a JSON file: {"model": {...FinePoseConfig...}, "batch_size": 16, "lr": 1e-3, ...}
inline void apply_config_file(train::TrainConfig& tc, const std::string& path, train::TrainingDataOptions* data = nullptr) {
  const std::string text = io::read_text_file(path);
  const json::Value o = json::parse(text, path);
  FINEPOSE_CHECK(o.is_object(), path, ": expected a JSON object");
  for (const auto& k : o.keys()) {
    const json::Value& v = o.at(k);
    auto num = [&]() {
      FINEPOSE_CHECK(v.is_number(), path, ": '", k, "' must be a number");
      return v.as_double();
    };
    auto integer = [&]() {
      FINEPOSE_CHECK(v.is_int() && v.as_int64() >= 0, path, ": '", k, "' must be a non-negative integer");
      return v.as_int64();
    };
    auto boolean = [&]() {
      FINEPOSE_CHECK(v.is_bool(), path, ": '", k, "' must be true or false");
      return v.as_bool();
    };
    if (k == "model") tc.model = config_from_json(json::dump(v), tc.model);
    else if (k == "batch_size") tc.batch_size = integer();
    else if (k == "epochs") tc.epochs = integer();
    else if (k == "lr") tc.lr = num();
    else if (k == "weight_decay") tc.weight_decay = num();
    else if (k == "lr_decay") tc.lr_decay = num();
    else if (k == "drop_path") tc.drop_path = num();
    else if (k == "flip") tc.flip = boolean();
    else if (k == "ctx_grad") tc.ctx_grad = boolean();
    else if (k == "loss_scaled_backward") tc.loss_scaled_backward = boolean();
    else if (k == "seed") tc.seed = uint64_t(integer());
    else if (k == "max_batches") tc.max_batches = integer();
    else if (k == "val_hypotheses") tc.val_hypotheses = integer();
    else if (k == "val_steps") tc.val_steps = integer();
    else if (k == "pipeline" && data) data->pipeline = v.as_string();
    else if (k == "label_dropout" && data) data->epoch.label_dropout = num();
    else if (k == "noise_scale" && data) data->epoch.noise.scale = num();
    else fail(path, ": unknown key '", k, "'");
  }
  tc.model.validate();
}

inline std::vector<int32_t> builtin_tokens(const std::string& text, int64_t context) {
  const auto& known = known_prompt_tokens();
  auto it = known.find(text);
  if (it == known.end()) fail("train: no built-in tokens for the text '", text, "'");
  std::vector<int32_t> ids = it->second;
  ids.resize(size_t(context), 0);
  return ids;
}

}  // namespace train_detail

inline int cmd_train(int argc, char** argv) {
  Args a("train", "--preset small|base|paper [--config FILE] --data DIR --out DIR [--epochs N] [--seed S] [--resume]",
         {{"preset", "NAME", "small (CPU, minutes), base (depth 4, 81 frames, width 128; all mocap through new cameras every epoch) or paper (depth 8, 243 frames, width 512)"},
          {"config", "FILE", "JSON overrides: model (config fields), batch_size, epochs, lr, weight_decay, lr_decay, "
                             "drop_path, flip, ctx_grad, loss_scaled_backward, seed, max_batches, val_hypotheses, val_steps"},
          {"data", "DIR", "directory with humaneva_i_h36m17.npz (and cmu_mocap_h36m17.npz, bandai_namco_h36m17.npz)"},
          {"out", "DIR", "output directory (checkpoint.safetensors, model.safetensors, log.tsv)"},
          {"epochs", "N", "number of epochs (overrides the preset)"},
          {"seed", "S", "random seed (default 1)"},
          {"resume", "", "continue from DIR/checkpoint.safetensors"},
          {"force", "", "start over in a DIR that holds an earlier run (its checkpoint, model and log are replaced)"},
          {"mocap-frames", "N", "frames taken from each mocap file (default 20000; 0 = all, -1 = none)"},
          {"noise-px", "P", "std of 2D noise added to the virtual-camera projections (pixels, default 1)"},
          {"upstream", "", "reproduce upstream's training exactly: ctx vectors frozen, gradients scaled by the loss"},
          {"heldout-frames", "N", "wide pipeline: frames of the held-out set validated each epoch (default 20000; 0 = all)"},
          {"quiet", "", "no progress bar"}});
  if (!a.parse(argc, argv)) return 0;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // epoch lines show up in logs as they happen
  const std::string preset_name = a.get("preset", "small");
  train::TrainConfig tc = train_detail::preset(preset_name);
  train::TrainingDataOptions dopt;
  dopt.pipeline = train_detail::preset_pipeline(preset_name);
  if (a.has("config")) train_detail::apply_config_file(tc, a.get("config"), &dopt);
  if (a.has("epochs")) tc.epochs = a.get_int_in("epochs", 0, 1, 1000000);
  if (a.has("seed")) tc.seed = std::uint64_t(a.get_int_in("seed", 0, 0, INT64_MAX));
  FINEPOSE_CHECK(tc.epochs >= 1, "train: epochs must be >= 1, the configuration gives ", tc.epochs);
  FINEPOSE_CHECK(!(a.has("resume") && a.has("force")), "train: give --resume or --force, not both");
  if (a.has("upstream")) tc.ctx_grad = false, tc.loss_scaled_backward = true;
  const std::string data = a.require("data"), out = a.require("out");
  const int64_t mocap = a.get_int_in("mocap-frames", train::TrainingDataOptions{}.mocap_frames, -1, int64_t(1) << 40);
  const double noise_px = a.get_double_in("noise-px", train::TrainingDataOptions{}.noise_px, 0, 1000);
  // an earlier run's files are kept unless asked: a repeated command must not wipe a week of training
  if (!a.has("resume") && !a.has("force"))
    for (const char* f : {"/checkpoint.safetensors", "/model.safetensors", "/log.tsv"})
      if (std::filesystem::exists(out + f))
        fail("train: '", out + f, "' exists (an earlier run); give --resume to continue it or --force to start over");
  FINEPOSE_CHECK(tc.model.joints == 17 && tc.model.in_chans == 2, "train: the shared data has 17 joints in 2D");

  // data
  dopt.seed = tc.seed;
  dopt.mocap_frames = mocap;
  dopt.noise_px = noise_px;
  const int64_t heldout_frames = a.get_int_in("heldout-frames", 20000, 0, int64_t(1) << 40);
  train::TrainingData td = train::load_training_data(data, dopt);
  const train::Dataset& trainset = td.train;
  const train::Dataset& valset = td.validate;
  if (td.wide()) {
    // validation cost is bounded: evenly spaced held-out clips up to heldout_frames
    if (heldout_frames > 0 && td.heldout.frames() > heldout_frames) {
      train::Dataset h;
      h.labels = td.heldout.labels;
      const double keep = double(heldout_frames) / double(td.heldout.frames());
      double acc = 0;
      for (auto& q : td.heldout.seqs)
        if ((acc += keep) >= 1.0) acc -= 1.0, h.seqs.push_back(std::move(q));
      td.heldout = std::move(h);
    }
    const train::Dataset first = td.epoch_set(0);
    std::printf("train (wide pipeline): %zu mocap clips (%lld frames) + HumanEva-I Train, filmed anew each epoch (epoch 1: "
                "%zu sequences, %lld frames); held out: %zu sequences (%lld frames); HumanEva-I Validate (reported only): "
                "%zu sequences (%lld frames); labels:",
                td.pool.clips.size(), (long long)td.pool.frames(false), first.seqs.size(), (long long)first.frames(),
                td.heldout.seqs.size(), (long long)td.heldout.frames(), valset.seqs.size(), (long long)valset.frames());
  } else {
    std::printf("train: %zu sequences (%lld frames), validate: %zu sequences (%lld frames), labels:", trainset.seqs.size(),
                (long long)trainset.frames(), valset.seqs.size(), (long long)valset.frames());
  }
  for (auto& l : trainset.labels) std::printf(" %s", l.c_str());
  std::printf("\n");

  std::vector<PromptTokens> prompts;
  for (const auto& l : trainset.labels) {
    PromptTokens p;
    for (const auto& t : fixed_prompt_texts()) p.fixed.push_back(train_detail::builtin_tokens(t, tc.model.text_context));
    p.action = train_detail::builtin_tokens(l, tc.model.text_context);
    prompts.push_back(std::move(p));
  }
  // trained with label dropout: the model has an unconditional mode, and `infer --action auto` uses it
  if (td.wide() && dopt.epoch.label_dropout > 0) tc.model.default_action = train::kGenericLabel;
  MixSTE2 net(tc.model);
  train::init_model(net, tc.seed);
  train::Trainer trainer(tc, std::move(net), prompts);
  std::filesystem::create_directories(out);
  const std::string ck = out + "/checkpoint.safetensors";
  if (a.has("resume")) {
    trainer.load_checkpoint(ck);
    std::printf("resumed from %s at epoch %lld\n", ck.c_str(), (long long)trainer.epoch());
  }
  std::ofstream log(out + "/log.tsv", a.has("resume") ? std::ios::app : std::ios::trunc);
  if (!a.has("resume"))
    log << (td.wide() ? "epoch\tlr\ttrain_loss_m\tval_mpjpe_mm\theldout_mpjpe_mm\tseconds\n" : "epoch\tlr\ttrain_loss_m\tval_mpjpe_mm\tseconds\n");
  const bool quiet = a.has("quiet");
  // wide pipeline: the best epoch by the held-out set (never by HumanEva-I Validate) is kept as best.safetensors
  double best = INFINITY;
  const std::string best_json = out + "/best.json";
  if (td.wide() && a.has("resume") && std::filesystem::exists(best_json))
    best = json::parse(io::read_text_file(best_json), best_json).get_double("heldout_mpjpe_mm", INFINITY);
  while (trainer.epoch() < tc.epochs) {
    const double lr = trainer.lr();
    const train::Dataset epoch_set = td.epoch_set(trainer.epoch());
    Progress bar("epoch " + std::to_string(trainer.epoch() + 1) + "/" + std::to_string(tc.epochs),
                 trainer.batches_per_epoch(epoch_set), quiet);
    const double loss = trainer.train_epoch(epoch_set, [&](int64_t done, int64_t, double) { bar.update(done); });
    bar.finish();
    const double val = trainer.validate(valset);
    const double held = td.wide() ? trainer.validate(td.heldout) : NAN;
    if (td.wide())
      std::printf("epoch %lld  lr %.3g  train loss %.2f mm  held-out MPJPE %.2f mm  (HumanEva-I Validate %.2f mm)\n",
                  (long long)trainer.epoch(), lr, 1000 * loss, held, val);
    else
      std::printf("epoch %lld  lr %.3g  train loss %.2f mm  val MPJPE %.2f mm\n", (long long)trainer.epoch(), lr,
                  1000 * loss, val);
    // checkpoint first: a run killed in between resumes from it without a duplicate log line
    trainer.save_checkpoint(ck);
    trainer.export_model(out + "/model.safetensors");
    if (td.wide() && held < best) {
      best = held;
      trainer.export_model(out + "/best.safetensors");
      json::Value b = json::Value::object();
      b["epoch"] = trainer.epoch();
      b["heldout_mpjpe_mm"] = held;
      b["humaneva_validate_mpjpe_mm"] = val;
      io::write_file(best_json, json::dump(b, 2) + "\n");
    }
    if (td.wide())
      log << trainer.epoch() << "\t" << lr << "\t" << loss << "\t" << val << "\t" << held << "\t" << bar.elapsed() << "\n";
    else
      log << trainer.epoch() << "\t" << lr << "\t" << loss << "\t" << val << "\t" << bar.elapsed() << "\n";
    log.flush();
  }
  return 0;
}

}  // namespace finepose::cli
