#pragma once
// MPJPE training loss (upstream common/loss.py mpjpe): the mean over all
// [B, F, J] positions of the Euclidean distance between prediction and target.
#include <cmath>
#include <vector>

#include "finepose/core/parallel.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::train {

// Returns the loss; dpred (same shape as pred) gets d loss / d pred times
// grad_scale. Upstream main.py calls loss.backward(loss), which seeds the
// backward with the loss itself: pass grad_scale = loss to reproduce that.
// A zero distance gets a zero gradient (torch's norm subgradient).
inline double mpjpe_loss(const TensorF& pred, const TensorF& target, TensorF* dpred = nullptr) {
  FINEPOSE_CHECK(pred.shape() == target.shape() && pred.dim() >= 1 && pred.size(-1) == 3, "mpjpe: prediction ",
                 shape_str(pred.shape()), " and target ", shape_str(target.shape()), " must match and end in 3");
  const int64_t n = pred.numel() / 3;
  FINEPOSE_CHECK(n > 0, "mpjpe: empty input");
  const float* p = pred.data();
  const float* t = target.data();
  std::vector<double> dist(static_cast<std::size_t>(n));
  parallel_for(n, [&](int64_t i) {
    double s = 0;
    for (int k = 0; k < 3; ++k) {
      const double d = double(p[i * 3 + k]) - double(t[i * 3 + k]);
      s += d * d;
    }
    dist[size_t(i)] = std::sqrt(s);
  }, 4096);
  double sum = 0;
  for (double d : dist) sum += d;  // fixed order: independent of the thread count
  const double loss = sum / double(n);
  if (dpred) {
    if (!dpred->defined() || dpred->shape() != pred.shape()) *dpred = TensorF(pred.shape());
    float* g = dpred->data();
    parallel_for(n, [&](int64_t i) {
      const double d = dist[size_t(i)];
      for (int k = 0; k < 3; ++k)
        g[i * 3 + k] = d > 0 ? float((double(p[i * 3 + k]) - double(t[i * 3 + k])) / d / double(n)) : 0.f;
    }, 4096);
  }
  return loss;
}

}  // namespace finepose::train
