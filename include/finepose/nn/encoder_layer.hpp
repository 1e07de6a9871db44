#pragma once
// torch.nn.TransformerEncoderLayer with its defaults as FinePOSE uses them:
// post-norm (norm_first=False), activation "gelu" (exact), eps 1e-5:
//   x = norm1(x + self_attn(x));  x = norm2(x + linear2(gelu(linear1(x))))
#include "finepose/nn/layer_norm.hpp"
#include "finepose/nn/linear.hpp"
#include "finepose/nn/self_attention.hpp"
#include "finepose/ops/activations.hpp"

namespace finepose::nn {

struct TransformerEncoderLayer {
  SelfAttention self_attn;
  Linear linear1, linear2;
  LayerNorm norm1, norm2;

  TransformerEncoderLayer() = default;
  TransformerEncoderLayer(int64_t dim, int64_t heads, int64_t ff)
      : self_attn(dim, heads, SelfAttention::Naming::torch_mha), linear1(dim, ff), linear2(ff, dim),
        norm1(dim, 1e-5f), norm2(dim, 1e-5f) {}

  void visit(const std::string& prefix, const ParamVisitor& v) {
    self_attn.visit(join_name(prefix, "self_attn"), v);
    linear1.visit(join_name(prefix, "linear1"), v);
    linear2.visit(join_name(prefix, "linear2"), v);
    norm1.visit(join_name(prefix, "norm1"), v);
    norm2.visit(join_name(prefix, "norm2"), v);
  }

  // x: [B, L, C] (batch-first here; torch's seq-first layout changes nothing in the maths)
  TensorF forward(TensorF x) const {
    TensorF a = self_attn.forward(x);
    ops::add_inplace(a.data(), x.data(), a.numel());
    x = norm1.forward(a);
    TensorF h = linear1.forward(x);
    ops::gelu_forward(h.data(), h.data(), h.numel());
    TensorF f = linear2.forward(h);
    ops::add_inplace(f.data(), x.data(), f.numel());
    return norm2.forward(f);
  }
};

}  // namespace finepose::nn
