#pragma once
// Multi-head self-attention with one fused q|k|v projection, in the two naming
// schemes FinePOSE's checkpoint uses:
//   timm Attention (MixSTE blocks):     qkv.weight/qkv.bias, proj.*
//   torch nn.MultiheadAttention (CLIP,  in_proj_weight/in_proj_bias, out_proj.*
//   text encoder)
// The maths is the same: softmax(q k^T / sqrt(dh)) v, heads concatenated, projected.
#include <cmath>

#include "finepose/nn/linear.hpp"
#include "finepose/ops/attention.hpp"

namespace finepose::nn {

struct SelfAttention {
  enum class Naming { timm, torch_mha };

  Linear qkv, proj;
  int64_t heads = 8;
  Naming naming = Naming::timm;

  SelfAttention() = default;
  SelfAttention(int64_t dim, int64_t heads_, Naming n) : qkv(dim, 3 * dim), proj(dim, dim), heads(heads_), naming(n) {
    FINEPOSE_CHECK(heads_ > 0 && dim % heads_ == 0, "attention: dim ", dim, " not divisible by ", heads_, " heads");
  }

  int64_t dim() const { return proj.out_features; }

  void visit(const std::string& prefix, const ParamVisitor& v) {
    if (naming == Naming::timm) {
      qkv.visit(join_name(prefix, "qkv"), v);
      proj.visit(join_name(prefix, "proj"), v);
    } else {
      v(join_name(prefix, "in_proj_weight"), qkv.weight);
      v(join_name(prefix, "in_proj_bias"), qkv.bias);
      proj.visit(join_name(prefix, "out_proj"), v);
    }
  }

  // x: [B, N, C] -> [B, N, C]; causal masks key j > query i (CLIP).
  TensorF forward(const TensorF& x, bool causal = false) const {
    FINEPOSE_CHECK(x.dim() == 3 && x.size(2) == dim(), "attention: input ", shape_str(x.shape()),
                   " is not [batch, tokens, ", dim(), "]");
    const int64_t B = x.size(0), N = x.size(1), C = dim(), dh = C / heads;
    TensorF q3 = qkv.forward(x);  // [B, N, 3C]
    TensorF o({B, N, C});
    ops::AttnShape s{B, heads, N, N, dh};
    const float* base = q3.data();
    ops::attention_forward(o.data(), nullptr, base, N * 3 * C, 3 * C, base + C, N * 3 * C, 3 * C, base + 2 * C,
                           N * 3 * C, 3 * C, s, float(1.0 / std::sqrt(double(dh))), causal);
    return proj.forward(o);
  }
};

}  // namespace finepose::nn
