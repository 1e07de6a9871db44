#pragma once
// Training forward/backward of FinePOSE's StylizationBlock (PTS, AdaLN + SiLU)
// and TemporalCrossAttention (FPC). Unlike the inference module, which takes
// cached text keys/values, the training forward starts from the per-sample text
// features xf so that gradients reach the text branch.
#include "finepose/nn/cross_attention.hpp"
#include "finepose/nn/stylization.hpp"
#include "finepose/train/layers_grad.hpp"

namespace finepose::train {

// ---- StylizationBlock: out_proj(SiLU(LN(h) (1 + scale) + shift)), (scale, shift) = emb_proj(SiLU(emb))
struct StylizationCache {
  TensorF h, emb, emb_act, ss, y;
};

inline TensorF stylization_fwd(const nn::StylizationBlock& m, const TensorF& h, const TensorF& emb,
                               StylizationCache& c) {
  FINEPOSE_CHECK(h.dim() == 3 && emb.dim() == 2 && h.size(0) == emb.size(0) && h.size(2) == m.latent(),
                 "StylizationBlock: h ", shape_str(h.shape()), " / emb ", shape_str(emb.shape()), " mismatch");
  c.h = h;
  c.emb = emb;
  c.emb_act = TensorF(emb.shape());
  ops::silu_forward(c.emb_act.data(), emb.data(), emb.numel());
  c.ss = m.emb_proj.forward(c.emb_act);
  c.y = TensorF(h.shape());
  ops::adaln_silu_forward(c.y.data(), h.data(), m.norm.weight.data(), m.norm.bias.data(), c.ss.data(), h.size(0),
                          h.size(1), m.latent(), m.norm.eps);
  return m.out_proj.forward(c.y);
}

// Returns dh; demb is overwritten.
inline TensorF stylization_bwd(const nn::StylizationBlock& m, nn::StylizationBlock* g, const StylizationCache& c,
                               const TensorF& dout, TensorF& demb) {
  TensorF dy = linear_bwd(m.out_proj, g ? &g->out_proj : nullptr, c.y, dout);
  TensorF dh(c.h.shape()), dss(c.ss.shape());
  ops::adaln_silu_backward(dh.data(), g ? g->norm.weight.data() : nullptr, g ? g->norm.bias.data() : nullptr,
                           dss.data(), dy.data(), c.h.data(), m.norm.weight.data(), m.norm.bias.data(), c.ss.data(),
                           c.h.size(0), c.h.size(1), m.latent(), m.norm.eps);
  demb = linear_bwd(m.emb_proj, g ? &g->emb_proj : nullptr, c.emb_act, dss);
  ops::silu_backward(demb.data(), demb.data(), c.emb.data(), demb.numel());
  return dh;
}

// ---- TemporalCrossAttention: x + proj_out(softmax(q k^T / sqrt(dh)) v, emb)
//   x [B, R, D] pose tokens; xf [B, L, text_width] the text features of each sample; emb [B, D]
struct CrossAttentionCache {
  TensorF x;
  LayerNormCache n, tn;
  TensorF nx, q, tnx, k, v, probs, y;
  StylizationCache sty;
};

inline TensorF cross_attention_fwd(const nn::TemporalCrossAttention& m, const TensorF& x, const TensorF& xf,
                                   const TensorF& emb, CrossAttentionCache& c) {
  const int64_t B = x.size(0), R = x.size(1), D = m.latent(), L = xf.size(1), H = m.heads, dh = D / H;
  FINEPOSE_CHECK(x.dim() == 3 && x.size(2) == D && xf.dim() == 3 && xf.size(0) == B, "cross-attention: x ",
                 shape_str(x.shape()), " vs text ", shape_str(xf.shape()));
  c.x = x;
  c.nx = layer_norm_fwd(m.norm, x, c.n);
  c.q = m.query.forward(c.nx);
  c.tnx = layer_norm_fwd(m.text_norm, xf, c.tn);
  c.k = m.key.forward(c.tnx);
  c.v = m.value.forward(c.tnx);
  c.y = TensorF({B, R, D});
  c.probs = TensorF({B, H, R, L});
  ops::attention_forward(c.y.data(), c.probs.data(), c.q.data(), R * D, D, c.k.data(), L * D, D, c.v.data(), L * D, D,
                         ops::AttnShape{B, H, R, L, dh}, float(1.0 / std::sqrt(double(dh))), false);
  TensorF out = stylization_fwd(m.proj_out, c.y, emb, c.sty);
  ops::add_inplace(out.data(), x.data(), out.numel());
  return out;
}

// Returns dx; dxf and demb are overwritten.
inline TensorF cross_attention_bwd(const nn::TemporalCrossAttention& m, nn::TemporalCrossAttention* g,
                                   const CrossAttentionCache& c, const TensorF& dout, TensorF& dxf, TensorF& demb) {
  const int64_t B = c.x.size(0), R = c.x.size(1), D = m.latent(), L = c.k.size(1), H = m.heads, dh = D / H;
  TensorF dyv = stylization_bwd(m.proj_out, g ? &g->proj_out : nullptr, c.sty, dout, demb);
  TensorF dq(c.q.shape()), dk(c.k.shape()), dv(c.v.shape());
  ops::attention_backward(dq.data(), dk.data(), dv.data(), dyv.data(), c.probs.data(), c.q.data(), R * D, D,
                          c.k.data(), L * D, D, c.v.data(), L * D, D, ops::AttnShape{B, H, R, L, dh},
                          float(1.0 / std::sqrt(double(dh))));
  TensorF dx = layer_norm_bwd(m.norm, g ? &g->norm : nullptr, c.n, linear_bwd(m.query, g ? &g->query : nullptr, c.nx, dq));
  ops::add_inplace(dx.data(), dout.data(), dx.numel());
  TensorF dt = linear_bwd(m.key, g ? &g->key : nullptr, c.tnx, dk);
  // zero in exact arithmetic (softmax ignores a shift of a query's logits): see self_attention_bwd
  if (g && g->key.bias.defined()) g->key.bias.fill(0.f);
  TensorF dt2 = linear_bwd(m.value, g ? &g->value : nullptr, c.tnx, dv);
  ops::add_inplace(dt.data(), dt2.data(), dt.numel());
  dxf = layer_norm_bwd(m.text_norm, g ? &g->text_norm : nullptr, c.tn, dt);
  return dx;
}

}  // namespace finepose::train
