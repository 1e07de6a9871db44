#pragma once
// nn.LayerNorm over the last dimension. eps is part of the module (1e-6 in the
// MixSTE blocks, 1e-5 elsewhere), so it is set where the module is built.
#include "finepose/nn/param.hpp"
#include "finepose/ops/layer_norm.hpp"

namespace finepose::nn {

struct LayerNorm {
  TensorF weight, bias;
  float eps = 1e-5f;

  LayerNorm() = default;
  explicit LayerNorm(int64_t dim, float eps_ = 1e-5f)
      : weight(TensorF::full({dim}, 1.f)), bias(TensorF::zeros({dim})), eps(eps_) {}

  int64_t dim() const { return weight.numel(); }

  void visit(const std::string& prefix, const ParamVisitor& v) {
    v(join_name(prefix, "weight"), weight);
    v(join_name(prefix, "bias"), bias);
  }

  TensorF forward(const TensorF& x) const {
    FINEPOSE_CHECK(x.size(-1) == dim(), "LayerNorm: input ", shape_str(x.shape()), " does not end in ", dim());
    TensorF out(x.shape());
    const TensorF xc = x.contiguous();
    ops::layer_norm_forward(out.data(), nullptr, nullptr, xc.data(), weight.data(), bias.data(),
                            xc.numel() / dim(), dim(), eps);
    return out;
  }
};

}  // namespace finepose::nn
