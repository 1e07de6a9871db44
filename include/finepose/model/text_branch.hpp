#pragma once
// FinePOSE's text branch: FPP prompt assembly, the frozen CLIP text tower, the
// 4-layer text encoder, text_ln and text_proj. It depends on the text only, so
// its output (TextFeatures) is computed once per action label and reused for
// every step, hypothesis and clip.
#include <vector>

#include "finepose/model/config.hpp"
#include "finepose/nn/clip_text.hpp"
#include "finepose/nn/cross_attention.hpp"
#include "finepose/nn/encoder_layer.hpp"

namespace finepose {

// Token ids of the prompt texts, as clip.tokenize gives them (77 ids each).
struct PromptTokens {
  std::vector<int32_t> action;                  // h36m: the action label; empty for 3dhp
  std::vector<std::vector<int32_t>> fixed;      // "A person", "speed", "head", "body", "arm", "leg"
};

struct TextFeatures {
  TensorF xf_proj;  // [dim]: added to the timestep embedding
  TensorF xf_out;   // [context, text_width]: the prompt tokens for cross-attention
  TensorF keys, values;  // [context, dim]: cross-attention K/V of xf_out (cached)
};

struct TextBranch {
  FinePoseConfig cfg;
  nn::ClipTextTransformer clip;
  std::vector<TensorF> ctx;  // learnable context vectors, cfg.ctx_names() order
  std::vector<nn::TransformerEncoderLayer> encoder;
  nn::LayerNorm text_ln;
  nn::Linear text_proj;

  TextBranch() = default;
  explicit TextBranch(const FinePoseConfig& c)
      : cfg(c),
        clip(c.text_vocab, c.text_context, c.text_width, c.clip_layers, c.clip_heads),
        text_ln(c.text_width, 1e-5f),
        text_proj(c.text_width, c.dim) {
    for (auto len : c.ctx_lengths) ctx.push_back(TensorF::zeros({len, c.text_width}));
    for (int64_t i = 0; i < c.encoder_layers; ++i) encoder.emplace_back(c.text_width, c.encoder_heads, c.encoder_ff);
  }

  // Names relative to the MixSTE2 module (upstream keeps them all there).
  void visit(const std::string& prefix, const nn::ParamVisitor& v) {
    clip.visit(nn::join_name(prefix, "clip_text"), v);
    auto names = cfg.ctx_names();
    for (std::size_t i = 0; i < ctx.size(); ++i) v(nn::join_name(prefix, names[i]), ctx[i]);
    for (std::size_t i = 0; i < encoder.size(); ++i)
      encoder[i].visit(nn::join_name(prefix, "textTransEncoder.layers." + std::to_string(i)), v);
    text_ln.visit(nn::join_name(prefix, "text_ln"), v);
    text_proj.visit(nn::join_name(prefix, "text_proj.0"), v);
  }

  // The texts in prompt order: h36m puts the action second.
  std::vector<const std::vector<int32_t>*> texts_in_order(const PromptTokens& p) const {
    FINEPOSE_CHECK(p.fixed.size() == 6, "prompts: expected 6 fixed texts, got ", p.fixed.size());
    std::vector<const std::vector<int32_t>*> t;
    t.push_back(&p.fixed[0]);
    if (cfg.variant == PromptVariant::h36m) {
      FINEPOSE_CHECK(!p.action.empty(), "prompts: this model needs an action label");
      t.push_back(&p.action);
    }
    for (int i = 1; i < 6; ++i) t.push_back(&p.fixed[i]);
    return t;
  }

  // FPP: [ctx_0, first tokens of text_0, ctx_1, first tokens of text_1, ...] -> [context, width]
  TensorF assemble_prompt(const PromptTokens& p) const {
    const auto texts = texts_in_order(p);
    const int64_t W = cfg.text_width, keep = cfg.prompt_tokens;
    TensorF x({cfg.text_context, W});
    int64_t row = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      std::copy(ctx[i].data(), ctx[i].data() + ctx[i].numel(), x.data() + row * W);
      row += ctx[i].size(0);
      FINEPOSE_CHECK(int64_t(texts[i]->size()) >= keep, "prompts: text ", i, " has fewer than ", keep, " tokens");
      std::vector<int32_t> first(texts[i]->begin(), texts[i]->begin() + keep);
      TensorF e = clip.embed(first);
      std::copy(e.data(), e.data() + e.numel(), x.data() + row * W);
      row += keep;
    }
    return x;
  }

  // Position whose encoder output becomes xf_proj: upstream takes text.argmax(-1) of the
  // raw action tokens (the EOT position, 2..4 for H36M labels; in the assembled prompt this
  // is a learnable vector or "A person"), or 76 for 3DHP.
  int64_t proj_index(const PromptTokens& p) const {
    if (cfg.variant == PromptVariant::mpi3dhp) return cfg.text_context - 1;
    int64_t best = 0;
    for (std::size_t i = 1; i < p.action.size(); ++i)
      if (p.action[i] > p.action[best]) best = int64_t(i);  // first maximum, as torch.argmax
    FINEPOSE_CHECK(best < cfg.text_context, "prompts: argmax index ", best, " beyond the context");
    return best;
  }

  TextFeatures encode(const PromptTokens& p, const nn::TemporalCrossAttention& cross) const {
    TensorF x = assemble_prompt(p).reshape({1, cfg.text_context, cfg.text_width});
    x = clip.forward(std::move(x));
    for (const auto& layer : encoder) x = layer.forward(std::move(x));
    x = text_ln.forward(x);
    TextFeatures f;
    f.xf_out = x.reshape({cfg.text_context, cfg.text_width});
    f.xf_proj = text_proj.forward(f.xf_out.select(0, proj_index(p)).contiguous().reshape({1, cfg.text_width}))
                    .reshape({cfg.dim});
    auto kv = cross.text_keys_values(x);
    f.keys = kv.first.reshape({cfg.text_context, cfg.dim});
    f.values = kv.second.reshape({cfg.text_context, cfg.dim});
    return f;
  }
};

}  // namespace finepose
