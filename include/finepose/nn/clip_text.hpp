#pragma once
// The text half of CLIP (ViT-B/32: width 512, 12 layers, 8 heads, 77 tokens).
// FinePOSE feeds it assembled prompt embeddings (not token ids), so this module
// exposes the pieces: token_embedding, positional_embedding, the causal
// residual blocks (QuickGELU MLP) and ln_final. Frozen: no training state.
#include <vector>

#include "finepose/nn/layer_norm.hpp"
#include "finepose/nn/linear.hpp"
#include "finepose/nn/self_attention.hpp"
#include "finepose/ops/activations.hpp"
#include "finepose/ops/embedding.hpp"

namespace finepose::nn {

struct ClipResidualBlock {
  LayerNorm ln_1, ln_2;
  SelfAttention attn;
  Linear c_fc, c_proj;

  ClipResidualBlock() = default;
  ClipResidualBlock(int64_t width, int64_t heads)
      : ln_1(width, 1e-5f), ln_2(width, 1e-5f), attn(width, heads, SelfAttention::Naming::torch_mha),
        c_fc(width, 4 * width), c_proj(4 * width, width) {}

  void visit(const std::string& prefix, const ParamVisitor& v) {
    attn.visit(join_name(prefix, "attn"), v);
    ln_1.visit(join_name(prefix, "ln_1"), v);
    c_fc.visit(join_name(prefix, "mlp.c_fc"), v);
    c_proj.visit(join_name(prefix, "mlp.c_proj"), v);
    ln_2.visit(join_name(prefix, "ln_2"), v);
  }

  TensorF forward(TensorF x) const {
    TensorF a = attn.forward(ln_1.forward(x), /*causal=*/true);
    ops::add_inplace(x.data(), a.data(), x.numel());
    TensorF h = c_fc.forward(ln_2.forward(x));
    ops::quick_gelu_forward(h.data(), h.data(), h.numel());
    TensorF m = c_proj.forward(h);
    ops::add_inplace(x.data(), m.data(), x.numel());
    return x;
  }
};

struct ClipTextTransformer {
  TensorF token_embedding;       // [vocab, width]
  TensorF positional_embedding;  // [context, width]
  std::vector<ClipResidualBlock> resblocks;
  LayerNorm ln_final;

  ClipTextTransformer() = default;
  ClipTextTransformer(int64_t vocab, int64_t context, int64_t width, int64_t layers, int64_t heads)
      : token_embedding(TensorF::zeros({vocab, width})),
        positional_embedding(TensorF::zeros({context, width})),
        ln_final(width, 1e-5f) {
    for (int64_t i = 0; i < layers; ++i) resblocks.emplace_back(width, heads);
  }

  int64_t width() const { return token_embedding.size(1); }
  int64_t vocab() const { return token_embedding.size(0); }
  int64_t context() const { return positional_embedding.size(0); }

  void visit(const std::string& prefix, const ParamVisitor& v) {
    v(join_name(prefix, "token_embedding.weight"), token_embedding);
    v(join_name(prefix, "positional_embedding"), positional_embedding);
    for (std::size_t i = 0; i < resblocks.size(); ++i)
      resblocks[i].visit(join_name(prefix, "transformer.resblocks." + std::to_string(i)), v);
    ln_final.visit(join_name(prefix, "ln_final"), v);
  }

  // Embedding rows for token ids -> [n, width]
  TensorF embed(const std::vector<int32_t>& ids) const {
    TensorF out({int64_t(ids.size()), width()});
    ops::embedding_forward(out.data(), ids.data(), token_embedding.data(), int64_t(ids.size()), vocab(), width());
    return out;
  }

  // x: [B, context, width] prompt embeddings (positional embedding not yet added)
  TensorF forward(TensorF x) const {
    FINEPOSE_CHECK(x.dim() == 3 && x.size(1) == context() && x.size(2) == width(), "CLIP text: input ",
                   shape_str(x.shape()), " is not [batch, ", context(), ", ", width(), "]");
    const int64_t L = context(), W = width();
    for (int64_t b = 0; b < x.size(0); ++b)
      ops::add_inplace(x.data() + b * L * W, positional_embedding.data(), L * W);
    for (const auto& blk : resblocks) x = blk.forward(std::move(x));
    return ln_final.forward(x);
  }
};

}  // namespace finepose::nn
