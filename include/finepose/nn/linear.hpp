#pragma once
// nn.Linear: weight [out, in] (torch layout), optional bias [out].
#include "finepose/nn/param.hpp"
#include "finepose/ops/linear.hpp"

namespace finepose::nn {

struct Linear {
  TensorF weight, bias;
  int64_t in_features = 0, out_features = 0;

  Linear() = default;
  Linear(int64_t in, int64_t out, bool has_bias = true)
      : weight(TensorF::zeros({out, in})), in_features(in), out_features(out) {
    if (has_bias) bias = TensorF::zeros({out});
  }

  void visit(const std::string& prefix, const ParamVisitor& v) {
    v(join_name(prefix, "weight"), weight);
    if (bias.defined()) v(join_name(prefix, "bias"), bias);
  }

  // x: [..., in] contiguous -> [..., out]
  TensorF forward(const TensorF& x) const {
    FINEPOSE_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear: input ", shape_str(x.shape()),
                   " does not end in ", in_features);
    Shape s = x.shape();
    s.back() = out_features;
    TensorF out(s);
    const TensorF xc = x.contiguous();
    ops::linear_forward(out.data(), xc.data(), weight.data(), bias.defined() ? bias.data() : nullptr,
                        xc.numel() / in_features, in_features, out_features);
    return out;
  }
};

}  // namespace finepose::nn
