#pragma once
// Pointwise activations shared by the epilogue and AdaLN kernels; the same
// formulas as finepose::ops (exact-erf GELU as torch nn.GELU(), CLIP's
// QuickGELU x*sigmoid(1.702x), SiLU x*sigmoid(x)).
#include "finepose/kernels/common.cuh"

namespace finepose::kernels {

enum class Activation : int { none = 0, gelu = 1, quick_gelu = 2, silu = 3 };

// Phi(x) as 0.5 erfc(-x/sqrt 2): no cancellation in the left tail (as ops::gelu_forward)
FP_HOST_DEVICE float gelu_erf(float x) { return 0.5f * x * erfcf(x * -0.70710678118654752f); }
FP_HOST_DEVICE float quick_gelu(float x) { return x / (1.f + expf(-1.702f * x)); }
FP_HOST_DEVICE float silu(float x) { return x / (1.f + expf(-x)); }

FP_HOST_DEVICE float activate(Activation a, float x) {
  switch (a) {
    case Activation::gelu: return gelu_erf(x);
    case Activation::quick_gelu: return quick_gelu(x);
    case Activation::silu: return silu(x);
    case Activation::none: break;
  }
  return x;
}

}  // namespace finepose::kernels
