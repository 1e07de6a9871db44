#pragma once
// MixSTE's transformer block (timm style, pre-norm):
//   x = x + attn(norm1(x));  x = x + mlp(norm2(x))
// used both as the spatial block (tokens = 17 joints) and the temporal block
// (tokens = F frames); which one depends only on how the caller lays out x.
#include "finepose/nn/layer_norm.hpp"
#include "finepose/nn/mlp.hpp"
#include "finepose/nn/self_attention.hpp"
#include "finepose/ops/activations.hpp"

namespace finepose::nn {

struct Block {
  LayerNorm norm1, norm2;
  SelfAttention attn;
  Mlp mlp;

  Block() = default;
  Block(int64_t dim, int64_t heads, int64_t mlp_hidden, float eps)
      : norm1(dim, eps), norm2(dim, eps), attn(dim, heads, SelfAttention::Naming::timm), mlp(dim, mlp_hidden) {}

  void visit(const std::string& prefix, const ParamVisitor& v) {
    norm1.visit(join_name(prefix, "norm1"), v);
    attn.visit(join_name(prefix, "attn"), v);
    norm2.visit(join_name(prefix, "norm2"), v);
    mlp.visit(join_name(prefix, "mlp"), v);
  }

  // x: [B, N, C], updated in place and returned.
  TensorF forward(TensorF x) const {
    TensorF a = attn.forward(norm1.forward(x));
    ops::add_inplace(x.data(), a.data(), x.numel());
    TensorF m = mlp.forward(norm2.forward(x));
    ops::add_inplace(x.data(), m.data(), x.numel());
    return x;
  }
};

}  // namespace finepose::nn
