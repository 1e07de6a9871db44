#pragma once
// Training forward (keeps what backward needs) and backward for the basic nn::
// modules, side by side (llm.c style). Parameters are read from the nn:: module;
// their gradients are accumulated (+=) into a second module of the same type
// used as a gradient buffer (nullptr: frozen, no parameter gradient). Backward
// returns the gradient of the module's input as a fresh tensor.
#include <algorithm>
#include <cmath>
#include <vector>

#include "finepose/nn/layer_norm.hpp"
#include "finepose/nn/linear.hpp"
#include "finepose/nn/mlp.hpp"
#include "finepose/nn/self_attention.hpp"
#include "finepose/ops/activations.hpp"
#include "finepose/ops/attention.hpp"

namespace finepose::train {

// ---- Linear: the cache is the input itself.
inline TensorF linear_bwd(const nn::Linear& m, nn::Linear* g, const TensorF& x, const TensorF& dy, bool need_dx = true) {
  const int64_t rows = x.numel() / m.in_features;
  FINEPOSE_CHECK(dy.numel() == rows * m.out_features, "linear backward: dy ", shape_str(dy.shape()), " vs input ",
                 shape_str(x.shape()));
  TensorF dx;
  if (need_dx) {
    Shape s = x.shape();
    dx = TensorF(s);
  }
  ops::linear_backward(need_dx ? dx.data() : nullptr, g ? g->weight.data() : nullptr,
                       (g && g->bias.defined()) ? g->bias.data() : nullptr, dy.data(), x.data(), m.weight.data(), rows,
                       m.in_features, m.out_features);
  return dx;
}

// ---- LayerNorm
struct LayerNormCache {
  TensorF in, mean, rstd;
};

inline TensorF layer_norm_fwd(const nn::LayerNorm& m, const TensorF& x, LayerNormCache& c) {
  const int64_t rows = x.numel() / m.dim();
  c.in = x;
  c.mean = TensorF({rows});
  c.rstd = TensorF({rows});
  TensorF out(x.shape());
  ops::layer_norm_forward(out.data(), c.mean.data(), c.rstd.data(), x.data(), m.weight.data(), m.bias.data(), rows,
                          m.dim(), m.eps);
  return out;
}

inline TensorF layer_norm_bwd(const nn::LayerNorm& m, nn::LayerNorm* g, const LayerNormCache& c, const TensorF& dy) {
  const int64_t rows = c.in.numel() / m.dim();
  TensorF dx(c.in.shape());
  ops::layer_norm_backward(dx.data(), g ? g->weight.data() : nullptr, g ? g->bias.data() : nullptr, dy.data(),
                           c.in.data(), c.mean.data(), c.rstd.data(), m.weight.data(), rows, m.dim());
  return dx;
}

// ---- GELU MLP (timm Mlp: fc1 -> GELU -> fc2)
struct MlpCache {
  TensorF in, pre, act;  // fc1 input, fc1 output, GELU output
};

inline TensorF mlp_fwd(const nn::Mlp& m, const TensorF& x, MlpCache& c) {
  c.in = x;
  c.pre = m.fc1.forward(x);
  c.act = TensorF(c.pre.shape());
  ops::gelu_forward(c.act.data(), c.pre.data(), c.pre.numel());
  return m.fc2.forward(c.act);
}

inline TensorF mlp_bwd(const nn::Mlp& m, nn::Mlp* g, const MlpCache& c, const TensorF& dy) {
  TensorF da = linear_bwd(m.fc2, g ? &g->fc2 : nullptr, c.act, dy);
  ops::gelu_backward(da.data(), da.data(), c.pre.data(), da.numel());
  return linear_bwd(m.fc1, g ? &g->fc1 : nullptr, c.in, da);
}

// ---- Multi-head self-attention with a fused qkv projection
struct SelfAttentionCache {
  TensorF in, qkv, probs, o;
  bool causal = false;
};

inline TensorF self_attention_fwd(const nn::SelfAttention& m, const TensorF& x, bool causal, SelfAttentionCache& c) {
  FINEPOSE_CHECK(x.dim() == 3 && x.size(2) == m.dim(), "attention: input ", shape_str(x.shape()),
                 " is not [batch, tokens, ", m.dim(), "]");
  const int64_t B = x.size(0), N = x.size(1), C = m.dim(), H = m.heads, dh = C / H;
  c.in = x;
  c.causal = causal;
  c.qkv = m.qkv.forward(x);
  c.o = TensorF({B, N, C});
  c.probs = TensorF({B, H, N, N});
  const float* q = c.qkv.data();
  ops::attention_forward(c.o.data(), c.probs.data(), q, N * 3 * C, 3 * C, q + C, N * 3 * C, 3 * C, q + 2 * C,
                         N * 3 * C, 3 * C, ops::AttnShape{B, H, N, N, dh}, float(1.0 / std::sqrt(double(dh))), causal);
  return m.proj.forward(c.o);
}

inline TensorF self_attention_bwd(const nn::SelfAttention& m, nn::SelfAttention* g, const SelfAttentionCache& c,
                                  const TensorF& dy) {
  const int64_t B = c.in.size(0), N = c.in.size(1), C = m.dim(), H = m.heads, dh = C / H;
  TensorF d_o = linear_bwd(m.proj, g ? &g->proj : nullptr, c.o, dy);
  TensorF dqkv({B, N, 3 * C});
  float* d = dqkv.data();
  const float* q = c.qkv.data();
  ops::attention_backward(d, d + C, d + 2 * C, d_o.data(), c.probs.data(), q, N * 3 * C, 3 * C, q + C, N * 3 * C,
                          3 * C, q + 2 * C, N * 3 * C, 3 * C, ops::AttnShape{B, H, N, N, dh},
                          float(1.0 / std::sqrt(double(dh))));
  TensorF dx = linear_bwd(m.qkv, g ? &g->qkv : nullptr, c.in, dqkv);
  // The key bias adds q.b to every logit of a query: softmax ignores it, so its
  // gradient is exactly zero; the computed one is rounding noise that AdamW would
  // blow up to lr-sized steps (and that differs with the batch split over ranks).
  if (g && g->qkv.bias.defined()) std::fill(g->qkv.bias.data() + C, g->qkv.bias.data() + 2 * C, 0.f);
  return dx;
}

// ---- small helpers
inline TensorF add(const TensorF& a, const TensorF& b) {
  FINEPOSE_CHECK(a.numel() == b.numel(), "add: ", shape_str(a.shape()), " vs ", shape_str(b.shape()));
  TensorF out = a.clone();
  ops::add_inplace(out.data(), b.data(), out.numel());
  return out;
}

}  // namespace finepose::train
