#pragma once
// timm Mlp: fc1 -> GELU (exact erf) -> fc2. Dropout is identity at inference.
#include "finepose/nn/linear.hpp"
#include "finepose/ops/activations.hpp"

namespace finepose::nn {

struct Mlp {
  Linear fc1, fc2;

  Mlp() = default;
  Mlp(int64_t dim, int64_t hidden) : fc1(dim, hidden), fc2(hidden, dim) {}

  void visit(const std::string& prefix, const ParamVisitor& v) {
    fc1.visit(join_name(prefix, "fc1"), v);
    fc2.visit(join_name(prefix, "fc2"), v);
  }

  TensorF forward(const TensorF& x) const {
    TensorF h = fc1.forward(x);
    ops::gelu_forward(h.data(), h.data(), h.numel());
    return fc2.forward(h);
  }
};

}  // namespace finepose::nn
