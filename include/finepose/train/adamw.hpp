#pragma once
// AdamW as torch.optim.AdamW (amsgrad off, maximize off):
//   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// in float32 with torch's order of operations, so one step matches PyTorch.
#include <cmath>
#include <string>
#include <vector>

#include "finepose/core/parallel.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::train {

struct AdamWConfig {
  double lr = 6e-5;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.1;
};

struct AdamWState {
  int64_t step = 0;
  std::vector<TensorF> m, v;  // one pair per parameter, in the parameters' order
};

// params[i] is updated from grads[i]; state sized on first use.
inline void adamw_step(const std::vector<TensorF*>& params, const std::vector<const TensorF*>& grads, AdamWState& st,
                       const AdamWConfig& cfg) {
  FINEPOSE_CHECK(params.size() == grads.size(), "adamw: ", params.size(), " parameters, ", grads.size(), " gradients");
  if (st.m.empty()) {
    for (auto* p : params) {
      st.m.push_back(TensorF::zeros(p->shape()));
      st.v.push_back(TensorF::zeros(p->shape()));
    }
  }
  FINEPOSE_CHECK(st.m.size() == params.size(), "adamw: optimizer state has ", st.m.size(), " tensors for ",
                 params.size(), " parameters");
  st.step += 1;
  const double bc1 = 1.0 - std::pow(cfg.beta1, double(st.step));
  const double bc2 = 1.0 - std::pow(cfg.beta2, double(st.step));
  const float step_size = float(cfg.lr / bc1);
  const float bc2_sqrt = float(std::sqrt(bc2));
  const float decay = float(1.0 - cfg.lr * cfg.weight_decay);
  const float b1 = float(cfg.beta1), b2 = float(cfg.beta2), eps = float(cfg.eps);
  for (std::size_t i = 0; i < params.size(); ++i) {
    TensorF& p = *params[i];
    const TensorF& g = *grads[i];
    FINEPOSE_CHECK(p.shape() == g.shape() && st.m[i].shape() == p.shape(), "adamw: shape mismatch at parameter ", i);
    float* pp = p.data();
    const float* gp = g.data();
    float* mp = st.m[i].data();
    float* vp = st.v[i].data();
    parallel_for(p.numel(), [&](int64_t k) {
      pp[k] *= decay;
      mp[k] = mp[k] * b1 + gp[k] * (1.f - b1);  // torch lerp_(g, 1 - b1)
      vp[k] = vp[k] * b2 + (1.f - b2) * gp[k] * gp[k];
      const float denom = std::sqrt(vp[k]) / bc2_sqrt + eps;
      pp[k] += -step_size * (mp[k] / denom);
    }, 4096);
  }
}

}  // namespace finepose::train
