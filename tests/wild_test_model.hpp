#pragma once
// A tiny FinePOSE model with random weights, made in C++ (no Python): enough
// to exercise windowing, units, aggregation and the CLI plumbing. Its poses
// mean nothing; checks of pose plausibility need a trained model.
#include <string>

#include "finepose/core/philox.hpp"
#include "finepose/model/model_file.hpp"

namespace finepose::test {

inline FinePoseConfig tiny_config(int64_t frames = 9, PromptVariant v = PromptVariant::h36m) {
  FinePoseConfig c;
  c.variant = v;
  c.depth = 2, c.frames = frames, c.dim = 48, c.heads = 4, c.mlp_hidden = 96;
  c.text_width = 16, c.clip_layers = 1, c.clip_heads = 2, c.encoder_layers = 1, c.encoder_heads = 2, c.encoder_ff = 32;
  c.validate();
  return c;
}

inline FinePoseModel tiny_model(int64_t frames = 9, PromptVariant v = PromptVariant::h36m, std::uint64_t seed = 5) {
  FinePoseModel m(tiny_config(frames, v));
  std::uint64_t stream = 0;
  m.visit([&](const std::string& name, TensorF& t) {
    const bool norm_weight = (name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos) && name.size() > 7 &&
                             name.compare(name.size() - 7, 7, ".weight") == 0;
    const TensorF r = NormalStream(seed, stream++).normal(t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = norm_weight ? 1.f + 0.05f * r.data()[i] : 0.08f * r.data()[i];
  });
  return m;
}

}  // namespace finepose::test
