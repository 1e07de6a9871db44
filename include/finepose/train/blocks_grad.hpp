#pragma once
// Training forward/backward of the transformer blocks: MixSTE's pre-norm Block
// (with drop-path), torch's post-norm TransformerEncoderLayer (FinePOSE's text
// encoder) and CLIP's causal residual block (frozen: input gradient only).
#include "finepose/nn/block.hpp"
#include "finepose/nn/clip_text.hpp"
#include "finepose/nn/encoder_layer.hpp"
#include "finepose/train/layers_grad.hpp"

namespace finepose::train {

// Multiplies each of the x.size(0) batch items by its factor (drop-path: 0 or 1/keep).
inline void scale_rows(TensorF& x, const std::vector<float>& s) {
  if (s.empty()) return;
  const int64_t n = x.size(0), per = x.numel() / n;
  FINEPOSE_CHECK(int64_t(s.size()) == n, "drop-path: ", s.size(), " factors for ", n, " items");
  parallel_for(n, [&](int64_t i) {
    float* p = x.data() + i * per;
    for (int64_t k = 0; k < per; ++k) p[k] *= s[size_t(i)];
  }, 16);
}

// ---- MixSTE Block: x + dp1 * attn(norm1(x)), then + dp2 * mlp(norm2(.))
struct BlockCache {
  LayerNormCache n1, n2;
  SelfAttentionCache attn;
  MlpCache mlp;
  std::vector<float> keep1, keep2;  // drop-path factors per batch item (empty: none)
};

inline TensorF block_fwd(const nn::Block& m, const TensorF& x, BlockCache& c, std::vector<float> keep1 = {},
                         std::vector<float> keep2 = {}) {
  c.keep1 = std::move(keep1);
  c.keep2 = std::move(keep2);
  TensorF a = self_attention_fwd(m.attn, layer_norm_fwd(m.norm1, x, c.n1), false, c.attn);
  scale_rows(a, c.keep1);
  TensorF x2 = add(x, a);
  TensorF f = mlp_fwd(m.mlp, layer_norm_fwd(m.norm2, x2, c.n2), c.mlp);
  scale_rows(f, c.keep2);
  ops::add_inplace(f.data(), x2.data(), f.numel());
  return f;
}

inline TensorF block_bwd(const nn::Block& m, nn::Block* g, const BlockCache& c, const TensorF& dy) {
  TensorF df = dy.clone();
  scale_rows(df, c.keep2);
  TensorF dx2 = layer_norm_bwd(m.norm2, g ? &g->norm2 : nullptr, c.n2, mlp_bwd(m.mlp, g ? &g->mlp : nullptr, c.mlp, df));
  ops::add_inplace(dx2.data(), dy.data(), dx2.numel());
  TensorF da = dx2.clone();
  scale_rows(da, c.keep1);
  TensorF dx = layer_norm_bwd(m.norm1, g ? &g->norm1 : nullptr, c.n1,
                              self_attention_bwd(m.attn, g ? &g->attn : nullptr, c.attn, da));
  ops::add_inplace(dx.data(), dx2.data(), dx.numel());
  return dx;
}

// ---- torch TransformerEncoderLayer (post-norm, exact GELU)
struct EncoderLayerCache {
  SelfAttentionCache attn;
  LayerNormCache n1, n2;
  TensorF y1, pre, act;  // norm1 output, linear1 output, GELU output
};

inline TensorF encoder_layer_fwd(const nn::TransformerEncoderLayer& m, const TensorF& x, EncoderLayerCache& c) {
  TensorF s1 = add(self_attention_fwd(m.self_attn, x, false, c.attn), x);
  c.y1 = layer_norm_fwd(m.norm1, s1, c.n1);
  c.pre = m.linear1.forward(c.y1);
  c.act = TensorF(c.pre.shape());
  ops::gelu_forward(c.act.data(), c.pre.data(), c.pre.numel());
  TensorF s2 = add(m.linear2.forward(c.act), c.y1);
  return layer_norm_fwd(m.norm2, s2, c.n2);
}

inline TensorF encoder_layer_bwd(const nn::TransformerEncoderLayer& m, nn::TransformerEncoderLayer* g,
                                 const EncoderLayerCache& c, const TensorF& dy) {
  TensorF ds2 = layer_norm_bwd(m.norm2, g ? &g->norm2 : nullptr, c.n2, dy);
  TensorF da = linear_bwd(m.linear2, g ? &g->linear2 : nullptr, c.act, ds2);
  ops::gelu_backward(da.data(), da.data(), c.pre.data(), da.numel());
  TensorF dy1 = linear_bwd(m.linear1, g ? &g->linear1 : nullptr, c.y1, da);
  ops::add_inplace(dy1.data(), ds2.data(), dy1.numel());
  TensorF ds1 = layer_norm_bwd(m.norm1, g ? &g->norm1 : nullptr, c.n1, dy1);
  TensorF dx = self_attention_bwd(m.self_attn, g ? &g->self_attn : nullptr, c.attn, ds1);
  ops::add_inplace(dx.data(), ds1.data(), dx.numel());
  return dx;
}

// ---- CLIP residual block (causal attention, QuickGELU MLP); frozen
struct ClipBlockCache {
  LayerNormCache n1, n2;
  SelfAttentionCache attn;
  TensorF fc_in, pre, act;
};

inline TensorF clip_block_fwd(const nn::ClipResidualBlock& m, const TensorF& x, ClipBlockCache& c) {
  TensorF x2 = add(x, self_attention_fwd(m.attn, layer_norm_fwd(m.ln_1, x, c.n1), true, c.attn));
  c.fc_in = layer_norm_fwd(m.ln_2, x2, c.n2);
  c.pre = m.c_fc.forward(c.fc_in);
  c.act = TensorF(c.pre.shape());
  ops::quick_gelu_forward(c.act.data(), c.pre.data(), c.pre.numel());
  TensorF out = m.c_proj.forward(c.act);
  ops::add_inplace(out.data(), x2.data(), out.numel());
  return out;
}

inline TensorF clip_block_bwd(const nn::ClipResidualBlock& m, const ClipBlockCache& c, const TensorF& dy) {
  TensorF da = linear_bwd(m.c_proj, nullptr, c.act, dy);
  ops::quick_gelu_backward(da.data(), da.data(), c.pre.data(), da.numel());
  TensorF dx2 = layer_norm_bwd(m.ln_2, nullptr, c.n2, linear_bwd(m.c_fc, nullptr, c.fc_in, da));
  ops::add_inplace(dx2.data(), dy.data(), dx2.numel());
  TensorF dx = layer_norm_bwd(m.ln_1, nullptr, c.n1, self_attention_bwd(m.attn, nullptr, c.attn, dx2));
  ops::add_inplace(dx.data(), dx2.data(), dx.numel());
  return dx;
}

}  // namespace finepose::train
