#pragma once
// MixSTE2, FinePOSE's denoiser: alternating spatial attention (over the J joints
// of a frame) and temporal attention (over the F frames of a joint), conditioned
// on the 2D input, the timestep + prompt embedding and the prompt tokens.
//
//   embed:  Linear([x2d, x3d]) + Spatial_pos_embed + (time_mlp(t) + xf_proj)
//   STE 0 -> Spatial_norm -> cross-attention to the prompt (FPC + PTS)
//   -> + Temporal_pos_embed -> TTE 0 -> Temporal_norm
//   for i in 1..depth-1: STE i -> Spatial_norm -> TTE i -> Temporal_norm
//   head: LayerNorm -> Linear(dim, 3)
#include <vector>

#include "finepose/model/config.hpp"
#include "finepose/model/text_branch.hpp"
#include "finepose/nn/block.hpp"
#include "finepose/nn/cross_attention.hpp"
#include "finepose/ops/embedding.hpp"
#include "finepose/ops/transpose.hpp"

namespace finepose {

struct MixSTE2 {
  FinePoseConfig cfg;
  nn::Linear patch_embed;  // Spatial_patch_to_embedding
  TensorF spatial_pos, temporal_pos;
  nn::Linear time_fc1, time_fc2;  // time_mlp.1, time_mlp.3 (GELU between)
  std::vector<nn::Block> ste, tte;
  nn::LayerNorm spatial_norm, temporal_norm;
  nn::LayerNorm head_norm;
  nn::Linear head_proj;
  nn::TemporalCrossAttention cross_attn;
  TextBranch text;

  MixSTE2() = default;
  explicit MixSTE2(const FinePoseConfig& c)
      : cfg(c),
        patch_embed(c.in_chans + 3, c.dim),
        spatial_pos(TensorF::zeros({1, c.joints, c.dim})),
        temporal_pos(TensorF::zeros({1, c.frames, c.dim})),
        time_fc1(c.dim, 2 * c.dim),
        time_fc2(2 * c.dim, c.dim),
        spatial_norm(c.dim, 1e-6f),
        temporal_norm(c.dim, 1e-6f),
        head_norm(c.dim, 1e-5f),
        head_proj(c.dim, 3),
        cross_attn(c.dim, c.text_width, c.heads, c.dim),
        text(c) {
    c.validate();
    for (int64_t i = 0; i < c.depth; ++i) {
      ste.emplace_back(c.dim, c.heads, c.mlp_hidden, 1e-6f);
      tte.emplace_back(c.dim, c.heads, c.mlp_hidden, 1e-6f);
    }
  }

  void visit(const std::string& p, const nn::ParamVisitor& v) {
    using nn::join_name;
    patch_embed.visit(join_name(p, "Spatial_patch_to_embedding"), v);
    v(join_name(p, "Spatial_pos_embed"), spatial_pos);
    v(join_name(p, "Temporal_pos_embed"), temporal_pos);
    time_fc1.visit(join_name(p, "time_mlp.1"), v);
    time_fc2.visit(join_name(p, "time_mlp.3"), v);
    for (std::size_t i = 0; i < ste.size(); ++i) ste[i].visit(join_name(p, "STEblocks." + std::to_string(i)), v);
    for (std::size_t i = 0; i < tte.size(); ++i) tte[i].visit(join_name(p, "TTEblocks." + std::to_string(i)), v);
    spatial_norm.visit(join_name(p, "Spatial_norm"), v);
    temporal_norm.visit(join_name(p, "Temporal_norm"), v);
    head_norm.visit(join_name(p, "head.0"), v);
    head_proj.visit(join_name(p, "head.1"), v);
    cross_attn.visit(join_name(p, "temporal_cross_attn"), v);
    text.visit(p, v);
  }

  TextFeatures encode_text(const PromptTokens& p) const { return text.encode(p, cross_attn); }

  // time_mlp(t) + xf_proj for each sample -> [B, dim]
  TensorF conditioning(const std::vector<int64_t>& t, const std::vector<const TextFeatures*>& texts) const {
    const int64_t B = int64_t(t.size()), D = cfg.dim;
    TensorF e({B, D});
    ops::timestep_embedding(e.data(), t.data(), B, D);
    TensorF h = time_fc1.forward(e);
    ops::gelu_forward(h.data(), h.data(), h.numel());
    TensorF c = time_fc2.forward(h);
    for (int64_t b = 0; b < B; ++b) ops::add_inplace(c.data() + b * D, texts[b]->xf_proj.data(), D);
    return c;
  }

  // x2d: [B, F, J, in_chans], x3d: [B, H, F, J, 3] (already clamped and divided by scale),
  // t: B timesteps, texts: B text features -> x0 prediction [B, H, F, J, 3]
  TensorF forward(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t,
                  const std::vector<const TextFeatures*>& texts) const {
    const int64_t B = x3d.size(0), H = x3d.size(1), F = cfg.frames, J = cfg.joints, D = cfg.dim, C2 = cfg.in_chans;
    FINEPOSE_CHECK(x3d.dim() == 5 && x3d.size(2) == F && x3d.size(3) == J && x3d.size(4) == 3,
                   "denoiser: x3d ", shape_str(x3d.shape()), " is not [B, H, ", F, ", ", J, ", 3]");
    FINEPOSE_CHECK(x2d.dim() == 4 && x2d.size(0) == B && x2d.size(1) == F && x2d.size(2) == J && x2d.size(3) == C2,
                   "denoiser: x2d ", shape_str(x2d.shape()), " is not [", B, ", ", F, ", ", J, ", ", C2, "]");
    FINEPOSE_CHECK(int64_t(t.size()) == B && int64_t(texts.size()) == B, "denoiser: need one timestep and text per sample");
    const TensorF c2 = x2d.contiguous(), c3 = x3d.contiguous();

    // --- input embedding: [B*H*F*J, in+3] -> [B*H*F, J, D]
    TensorF in({B * H * F * J, C2 + 3});
    parallel_for(B * H * F * J, [&](int64_t r) {
      const int64_t b = r / (H * F * J), fj = r % (F * J);
      float* o = in.data() + r * (C2 + 3);
      for (int64_t c = 0; c < C2; ++c) o[c] = c2.data()[(b * F * J + fj) * C2 + c];
      for (int64_t c = 0; c < 3; ++c) o[C2 + c] = c3.data()[r * 3 + c];
    }, 1024);
    TensorF x = patch_embed.forward(in).reshape({B * H * F, J, D});
    const TensorF cond = conditioning(t, texts);
    parallel_for(B * H * F, [&](int64_t s) {
      const int64_t b = s / (H * F);
      for (int64_t j = 0; j < J; ++j) {
        float* row = x.data() + (s * J + j) * D;
        const float* pe = spatial_pos.data() + j * D;
        const float* ce = cond.data() + b * D;  // upstream: x += pos; x += cond
        for (int64_t d = 0; d < D; ++d) row[d] = (row[d] + pe[d]) + ce[d];
      }
    }, 8);
    x = spatial_norm.forward(ste[0].forward(std::move(x)));

    // --- to the temporal view [B*H*J, F, D] and cross-attention to the prompt
    TensorF xt({B * H * J, F, D});
    ops::swap_middle_axes(xt.data(), x.data(), B * H, F, J, D);
    TensorF keys({B, cfg.text_context, D}), values({B, cfg.text_context, D});
    for (int64_t b = 0; b < B; ++b) {
      std::copy(texts[b]->keys.data(), texts[b]->keys.data() + cfg.text_context * D, keys.data() + b * cfg.text_context * D);
      std::copy(texts[b]->values.data(), texts[b]->values.data() + cfg.text_context * D, values.data() + b * cfg.text_context * D);
    }
    xt = cross_attn.forward(xt.reshape({B, H * J * F, D}), keys, values, cond).reshape({B * H * J, F, D});

    add_temporal_pos(xt);
    xt = temporal_norm.forward(tte[0].forward(std::move(xt)));

    TensorF xs({B * H * F, J, D});
    for (int64_t i = 1; i < cfg.depth; ++i) {
      ops::swap_middle_axes(xs.data(), xt.data(), B * H, J, F, D);
      xs = spatial_norm.forward(ste[i].forward(std::move(xs)));
      ops::swap_middle_axes(xt.data(), xs.data(), B * H, F, J, D);
      xt = temporal_norm.forward(tte[i].forward(std::move(xt)));
    }
    ops::swap_middle_axes(xs.data(), xt.data(), B * H, J, F, D);
    TensorF out = head_proj.forward(head_norm.forward(xs));
    return out.reshape({B, H, F, J, 3});
  }

 private:
  void add_temporal_pos(TensorF& xt) const {
    const int64_t F = cfg.frames, D = cfg.dim;
    parallel_for(xt.size(0), [&](int64_t s) {
      for (int64_t f = 0; f < F; ++f) ops::add_inplace(xt.data() + (s * F + f) * D, temporal_pos.data() + f * D, D);
    }, 8);
  }
};

}  // namespace finepose
