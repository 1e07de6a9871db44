#pragma once
// Helpers every suite may use, defined once: the relative error of two tensors
// (ref::rel_l2 over their elements, after a shape check) and the tiny model
// configuration of the training tests.
#include <cmath>
#include <cstdint>

#include "finepose/core/tensor.hpp"
#include "finepose/model/config.hpp"
#include "reference_ops.hpp"

namespace finepose::test {

// ||a - b|| / ||b|| in double (b is the reference; absolute when b is all zeros);
// infinite when the shapes differ or the difference is not finite.
inline double rel_l2(const TensorF& a, const TensorF& b) {
  if (a.shape() != b.shape()) return INFINITY;
  const TensorF ca = a.contiguous(), cb = b.contiguous();
  struct View {
    const float* p;
    std::size_t n;
    std::size_t size() const { return n; }
    float operator[](std::size_t i) const { return p[i]; }
  };
  const std::size_t n = std::size_t(cb.numel());
  const double e = ref::rel_l2(View{ca.data(), n}, View{cb.data(), n});
  return std::isfinite(e) ? e : INFINITY;
}

// The training tests' model: depth 2, width 16, 2 heads, a 1-layer text tower of width 16.
inline FinePoseConfig tiny_train_config(int64_t frames) {
  FinePoseConfig cfg;
  cfg.depth = 2;
  cfg.frames = frames;
  cfg.dim = 16;
  cfg.heads = 2;
  cfg.mlp_hidden = 32;
  cfg.text_vocab = 60;
  cfg.text_width = 16;
  cfg.clip_layers = 1;
  cfg.clip_heads = 2;
  cfg.encoder_layers = 1;
  cfg.encoder_heads = 2;
  cfg.encoder_ff = 24;
  cfg.validate();
  return cfg;
}

}  // namespace finepose::test
