#pragma once
// Everything needed to build a FinePOSE model, stored with the weights (the
// safetensors metadata) so a file describes itself. Official checkpoints carry
// no config: it is inferred from their tensor shapes (model/load.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose {

enum class PromptVariant {
  h36m,  // "A person", <action>, speed, head, body, arm, leg; xf_proj at the action's EOT
  mpi3dhp  // no action prompt; xf_proj at position 76; outputs in mm (x1000)
};

struct FinePoseConfig {
  static constexpr int kVersion = 1;  // bump when a field changes meaning

  PromptVariant variant = PromptVariant::h36m;
  // pose branch (MixSTE2)
  int64_t depth = 8;
  int64_t frames = 243;
  int64_t joints = 17;
  int64_t in_chans = 2;
  int64_t dim = 512;  // upstream "cs"; the latent width
  int64_t heads = 8;
  int64_t mlp_hidden = 1024;  // dim * mlp_ratio(2)
  // text branch: CLIP text tower (frozen) + FinePOSE's text encoder
  int64_t text_vocab = 49408;
  int64_t text_context = 77;
  int64_t text_width = 512;
  int64_t clip_layers = 12;
  int64_t clip_heads = 8;
  int64_t encoder_layers = 4;
  int64_t encoder_heads = 8;
  int64_t encoder_ff = 2048;
  // FPP prompt layout: learnable context lengths, in prompt order, and how many
  // leading tokens of each text are kept (upstream remain_len = 4)
  std::vector<int64_t> ctx_lengths = {3, 8, 6, 6, 6, 10, 10};
  int64_t prompt_tokens = 4;
  // the action text `infer --action auto` uses: "" = none declared (the lifter's
  // "Waiting"); models trained with label dropout declare their generic prompt
  std::string default_action;
  // diffusion
  int64_t timesteps = 1000;
  double scale = 1.0;
  // joint symmetry for flip augmentation (Human3.6M order)
  std::vector<int64_t> joints_left = {4, 5, 6, 11, 12, 13};
  std::vector<int64_t> joints_right = {1, 2, 3, 14, 15, 16};

  // Names of the learnable context vectors, in prompt order.
  std::vector<std::string> ctx_names() const {
    if (variant == PromptVariant::h36m)
      return {"ctx_subject", "ctx_verb", "ctx_speed", "ctx_head", "ctx_body", "ctx_arm", "ctx_leg"};
    return {"ctx_subject", "ctx_speed", "ctx_head", "ctx_body", "ctx_arm", "ctx_leg"};
  }
  double output_scale() const { return variant == PromptVariant::mpi3dhp ? 1000.0 : 1.0; }

  void validate() const {
    auto pos = [](int64_t v, const char* n) { FINEPOSE_CHECK(v > 0 && v < (int64_t(1) << 24), "config: ", n, " = ", v, " is out of range"); };
    pos(depth, "depth"); pos(frames, "frames"); pos(joints, "joints"); pos(in_chans, "in_chans"); pos(dim, "dim");
    pos(heads, "heads"); pos(mlp_hidden, "mlp_hidden"); pos(text_vocab, "text_vocab"); pos(text_context, "text_context");
    pos(text_width, "text_width"); pos(clip_layers, "clip_layers"); pos(clip_heads, "clip_heads");
    pos(encoder_layers, "encoder_layers"); pos(encoder_heads, "encoder_heads"); pos(encoder_ff, "encoder_ff");
    pos(prompt_tokens, "prompt_tokens"); pos(timesteps, "timesteps");
    FINEPOSE_CHECK(dim % heads == 0, "config: dim ", dim, " not divisible by heads ", heads);
    FINEPOSE_CHECK(text_width % clip_heads == 0, "config: text_width not divisible by clip_heads");
    FINEPOSE_CHECK(text_width % encoder_heads == 0, "config: text_width not divisible by encoder_heads");
    FINEPOSE_CHECK(dim % 2 == 0 && dim >= 4, "config: dim must be even and >= 4 (sinusoidal embedding)");
    FINEPOSE_CHECK(ctx_lengths.size() == ctx_names().size(), "config: ", ctx_lengths.size(),
                   " context lengths for ", ctx_names().size(), " prompts");
    int64_t total = 0;
    for (auto c : ctx_lengths) {
      FINEPOSE_CHECK(c >= 0 && c < (int64_t(1) << 24), "config: context length ", c, " is out of range");
      total += c + prompt_tokens;
    }
    FINEPOSE_CHECK(total == text_context, "config: prompt layout has ", total, " tokens, the text context is ",
                   text_context);
    FINEPOSE_CHECK(scale > 0, "config: scale must be positive");
    FINEPOSE_CHECK(joints_left.size() == joints_right.size(), "config: joints_left/right differ in length");
    for (auto j : joints_left) FINEPOSE_CHECK(j >= 0 && j < joints, "config: joints_left has ", j);
    for (auto j : joints_right) FINEPOSE_CHECK(j >= 0 && j < joints, "config: joints_right has ", j);
  }
};

}  // namespace finepose
