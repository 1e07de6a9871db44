#pragma once
// FinePOSE's TemporalCrossAttention (FPC): pose tokens attend to the 77 prompt
// tokens of their own sample's text, then a StylizationBlock adds the result:
//   y = softmax(q(norm(x)) k(text_norm(xf))^T / sqrt(dh)) v(text_norm(xf));  x + proj_out(y, emb)
// Upstream tiles the text batch over (sample, hypothesis, joint) rows, so with
// mixed labels in one batch row r would attend text[r mod B]; here each sample
// attends to its own text (the intent). With one label per batch both agree.
#include <cmath>

#include "finepose/nn/layer_norm.hpp"
#include "finepose/nn/linear.hpp"
#include "finepose/nn/stylization.hpp"
#include "finepose/ops/activations.hpp"
#include "finepose/ops/attention.hpp"

namespace finepose::nn {

struct TemporalCrossAttention {
  LayerNorm norm, text_norm;
  Linear query, key, value;
  StylizationBlock proj_out;
  int64_t heads = 8;

  TemporalCrossAttention() = default;
  TemporalCrossAttention(int64_t latent, int64_t text_dim, int64_t heads_, int64_t emb_dim)
      : norm(latent, 1e-5f), text_norm(text_dim, 1e-5f), query(latent, latent), key(text_dim, latent),
        value(text_dim, latent), proj_out(latent, emb_dim), heads(heads_) {
    FINEPOSE_CHECK(latent % heads_ == 0, "cross-attention: dim ", latent, " not divisible by ", heads_, " heads");
  }

  int64_t latent() const { return query.out_features; }

  void visit(const std::string& prefix, const ParamVisitor& v) {
    norm.visit(join_name(prefix, "norm"), v);
    text_norm.visit(join_name(prefix, "text_norm"), v);
    query.visit(join_name(prefix, "query"), v);
    key.visit(join_name(prefix, "key"), v);
    value.visit(join_name(prefix, "value"), v);
    proj_out.visit(join_name(prefix, "proj_out"), v);
  }

  // Keys and values of a text: xf [B, L, text_dim] -> (k, v) each [B, L, D]. Depends on the
  // text only, so the sampler computes it once per label.
  std::pair<TensorF, TensorF> text_keys_values(const TensorF& xf) const {
    TensorF n = text_norm.forward(xf);
    return {key.forward(n), value.forward(n)};
  }

  // x: [B, R, D] pose tokens of B samples; k, v: [B, L, D]; emb: [B, emb_dim]
  TensorF forward(const TensorF& x, const TensorF& k, const TensorF& v, const TensorF& emb) const {
    const int64_t B = x.size(0), R = x.size(1), D = latent(), L = k.size(1), dh = D / heads;
    FINEPOSE_CHECK(x.dim() == 3 && x.size(2) == D && k.size(0) == B && v.size(0) == B,
                   "cross-attention: x ", shape_str(x.shape()), " vs text keys ", shape_str(k.shape()));
    TensorF q = query.forward(norm.forward(x));
    TensorF y({B, R, D});
    ops::AttnShape s{B, heads, R, L, dh};
    ops::attention_forward(y.data(), nullptr, q.data(), R * D, D, k.data(), L * D, D, v.data(), L * D, D, s,
                           float(1.0 / std::sqrt(double(dh))), false);
    TensorF out = proj_out.forward(y, emb);
    ops::add_inplace(out.data(), x.contiguous().data(), out.numel());
    return out;
  }
};

}  // namespace finepose::nn
