#pragma once
// The training presets of `finepose train --preset` (small, base, paper), the
// data pipeline each uses, and the JSON overrides of `--config FILE`.
#include <cstdint>
#include <string>

#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/model/config_json.hpp"
#include "finepose/train/datasets.hpp"
#include "finepose/train/trainer.hpp"

namespace finepose::train {

// small: trains on 2 CPU cores in well under an hour. The text tower is a randomly
// initialised, frozen 1-layer CLIP of width 32 (no CLIP weights can be had here).
inline TrainConfig preset(const std::string& name) {
  TrainConfig tc;
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
inline void apply_config_file(TrainConfig& tc, const std::string& path, TrainingDataOptions* data = nullptr) {
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
    else if (k == "ema") tc.ema = num();
    else if (k == "pipeline" && data) data->pipeline = v.as_string();
    else if (k == "label_dropout" && data) data->epoch.label_dropout = num();
    else if (k == "noise_scale" && data) data->epoch.noise.scale = num();
    else if (k == "humaneva_repeat" && data) data->epoch.humaneva_repeat = integer();
    else fail(path, ": unknown key '", k, "'");
  }
  FINEPOSE_CHECK(tc.ema >= 0 && tc.ema < 1, path, ": 'ema' must be in [0, 1), got ", tc.ema);
  tc.model.validate();
}

}  // namespace finepose::train
