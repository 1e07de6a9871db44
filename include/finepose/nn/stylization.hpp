#pragma once
// FinePOSE's StylizationBlock (PTS): AdaLN conditioning of pose features on the
// timestep + prompt embedding:
//   scale, shift = Linear(SiLU(emb));  h = SiLU(LN(h) * (1 + scale) + shift);  out = Linear(h)
// Upstream projects the embedding of every frame and keeps frame 0; all frames
// carry the same embedding, so one projection per group is the same value.
#include "finepose/nn/layer_norm.hpp"
#include "finepose/nn/linear.hpp"
#include "finepose/ops/activations.hpp"
#include "finepose/ops/adaln.hpp"

namespace finepose::nn {

struct StylizationBlock {
  Linear emb_proj;  // emb_layers.1
  LayerNorm norm;
  Linear out_proj;  // out_layers.2

  StylizationBlock() = default;
  StylizationBlock(int64_t latent, int64_t emb_dim) : emb_proj(emb_dim, 2 * latent), norm(latent, 1e-5f), out_proj(latent, latent) {}

  int64_t latent() const { return out_proj.out_features; }

  void visit(const std::string& prefix, const ParamVisitor& v) {
    emb_proj.visit(join_name(prefix, "emb_layers.1"), v);
    norm.visit(join_name(prefix, "norm"), v);
    out_proj.visit(join_name(prefix, "out_layers.2"), v);
  }

  // h: [G, R, D] (R rows share group g's embedding), emb: [G, emb_dim] -> [G, R, D]
  TensorF forward(const TensorF& h, const TensorF& emb) const {
    FINEPOSE_CHECK(h.dim() == 3 && emb.dim() == 2 && h.size(0) == emb.size(0) && h.size(2) == latent(),
                   "StylizationBlock: h ", shape_str(h.shape()), " / emb ", shape_str(emb.shape()), " mismatch");
    TensorF e = emb.clone();
    ops::silu_forward(e.data(), e.data(), e.numel());
    TensorF ss = emb_proj.forward(e);  // [G, 2D]: scale | shift
    TensorF y(h.shape());
    const TensorF hc = h.contiguous();
    ops::adaln_silu_forward(y.data(), hc.data(), norm.weight.data(), norm.bias.data(), ss.data(), h.size(0), h.size(1),
                            latent(), norm.eps);
    return out_proj.forward(y);
  }
};

}  // namespace finepose::nn
