#pragma once
// DDIM sampling of FinePOSE (x0 objective, eta = 1), H hypotheses and K steps,
// with optional flip test-time augmentation, reproducing upstream's arithmetic:
// pred_noise is formed in float64 from the float64 schedule and cast to float32,
// the update x0*sqrt(a_next) + c*eps + sigma*z is float32 with the float64
// coefficients rounded to float32.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "finepose/core/philox.hpp"
#include "finepose/diffusion/schedule.hpp"
#include "finepose/model/mixste.hpp"

namespace finepose {

struct SampleOptions {
  int64_t hypotheses = 1;
  int64_t steps = 1;
  bool flip = false;
  std::uint64_t seed = 0;
  // Replayed noise instead of RNG draws: [B, H, F, J, 3] and [K-1, B, H, F, J, 3].
  const TensorF* noise_init = nullptr;
  const TensorF* noise_steps = nullptr;
  // Called after each step with (step index, K).
  std::function<void(int64_t, int64_t)> on_step;
};

// Mirror a pose tensor [..., J, C] left/right: x -> -x and swap the paired joints.
inline void flip_poses(float* x, int64_t rows, int64_t J, int64_t C, const std::vector<int64_t>& left,
                       const std::vector<int64_t>& right) {
  parallel_for(rows, [&](int64_t r) {
    float* p = x + r * J * C;
    for (int64_t j = 0; j < J; ++j) p[j * C] = -p[j * C];
    for (std::size_t i = 0; i < left.size(); ++i)
      for (int64_t c = 0; c < C; ++c) std::swap(p[left[i] * C + c], p[right[i] * C + c]);
  }, 64);
}

// x2d: [B, F, J, in_chans]; texts: one per sample. Returns every step's x0 estimate:
// [B, K, H, F, J, 3] (times the variant's output scale, 1000 for 3DHP).
inline TensorF ddim_sample(const MixSTE2& net, const CosineSchedule& sched, const TensorF& x2d,
                           const std::vector<const TextFeatures*>& texts, const SampleOptions& opt) {
  const auto& cfg = net.cfg;
  const int64_t B = x2d.size(0), H = opt.hypotheses, K = opt.steps, F = cfg.frames, J = cfg.joints;
  FINEPOSE_CHECK(H >= 1 && H <= 10000, "sample: hypotheses = ", H, " is out of range");
  FINEPOSE_CHECK(int64_t(texts.size()) == B, "sample: ", texts.size(), " texts for a batch of ", B);
  const Shape xshape{B, H, F, J, 3};
  const int64_t n = shape_numel(xshape);
  const auto pairs = ddim_time_pairs(sched.timesteps(), K);

  TensorF img;
  if (opt.noise_init) {
    FINEPOSE_CHECK(opt.noise_init->shape() == xshape, "sample: noise_init has shape ", shape_str(opt.noise_init->shape()),
                   ", expected ", shape_str(xshape));
    img = opt.noise_init->clone();
  } else {
    img = NormalStream(opt.seed, 0).normal(xshape);
  }
  if (opt.noise_steps && K > 1) {
    const Shape ns{K - 1, B, H, F, J, 3};
    FINEPOSE_CHECK(opt.noise_steps->shape() == ns, "sample: noise_steps has shape ", shape_str(opt.noise_steps->shape()),
                   ", expected ", shape_str(ns));
  }

  // With flip, the mirrored copy runs in the same forward call as batch items B..2B-1.
  const int64_t NB = opt.flip ? 2 * B : B;
  TensorF x2d_all({NB, F, J, cfg.in_chans});
  {
    const TensorF c = x2d.contiguous();
    std::copy(c.data(), c.data() + c.numel(), x2d_all.data());
    if (opt.flip) {
      std::copy(c.data(), c.data() + c.numel(), x2d_all.data() + c.numel());
      flip_poses(x2d_all.data() + c.numel(), B * F, J, cfg.in_chans, cfg.joints_left, cfg.joints_right);
    }
  }
  std::vector<const TextFeatures*> texts_all = texts;
  if (opt.flip) texts_all.insert(texts_all.end(), texts.begin(), texts.end());

  const float s = float(cfg.scale);
  const float lo = float(-1.1 * cfg.scale), hi = float(1.1 * cfg.scale);
  const float out_scale = float(cfg.output_scale());
  TensorF result({B, K, H, F, J, 3});
  // Everything the loop touches is allocated here, once: the steps reuse it (and the
  // denoiser its own workspace), so memory does not grow with K.
  TensorF xin({NB, H, F, J, 3}), pred({NB, H, F, J, 3});
  TensorF x0(xshape), eps(xshape), noise;
  if (!opt.noise_steps && K > 1) noise = TensorF(xshape);
  std::vector<int64_t> times(static_cast<std::size_t>(NB));

  for (int64_t k = 0; k < K; ++k) {
    const int64_t time = pairs[k].first, time_next = pairs[k].second;
    // model input: clamp(img)/scale (and its mirror)
    for (int64_t i = 0; i < n; ++i) xin.data()[i] = std::min(std::max(img.data()[i], lo), hi) / s;
    if (opt.flip) {
      std::copy(xin.data(), xin.data() + n, xin.data() + n);
      flip_poses(xin.data() + n, B * H * F, J, 3, cfg.joints_left, cfg.joints_right);
    }
    std::fill(times.begin(), times.end(), time);
    net.forward(x2d_all, xin, times, texts_all, pred);
    float* p = pred.data();
    if (opt.flip) {
      float* pf = p + n;
      flip_poses(pf, B * H * F, J, 3, cfg.joints_left, cfg.joints_right);
      for (int64_t i = 0; i < n; ++i) p[i] = (p[i] + pf[i]) / 2.f;
    }
    const double sr = sched.sqrt_recip_alphas_cumprod[time], srm1 = sched.sqrt_recipm1_alphas_cumprod[time];
    for (int64_t i = 0; i < n; ++i) {
      const float v = std::min(std::max(p[i] * s, lo), hi);
      x0.data()[i] = v;
      eps.data()[i] = float((sr * double(img.data()[i]) - double(v)) / srm1);
    }
    for (int64_t b = 0; b < B; ++b) {
      const int64_t m = H * F * J * 3;
      float* dst = result.data() + (b * K + k) * m;
      const float* src = x0.data() + b * m;
      for (int64_t i = 0; i < m; ++i) dst[i] = out_scale == 1.f ? src[i] : src[i] * out_scale;
    }
    if (opt.on_step) opt.on_step(k, K);
    if (time_next < 0) break;

    const double alpha = sched.alphas_cumprod[time], alpha_next = sched.alphas_cumprod[time_next];
    const double eta = 1.0;
    const double sigma = eta * std::sqrt((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha));
    const double c = std::sqrt(1 - alpha_next - sigma * sigma);
    const float fa = float(std::sqrt(alpha_next)), fc = float(c), fs = float(sigma);
    const float* z;
    if (opt.noise_steps) {
      z = opt.noise_steps->data() + k * n;
    } else {
      NormalStream(opt.seed, std::uint64_t(k) + 1).fill(noise.data(), n);
      z = noise.data();
    }
    for (int64_t i = 0; i < n; ++i) img.data()[i] = (x0.data()[i] * fa + fc * eps.data()[i]) + fs * z[i];
  }
  return result;
}

}  // namespace finepose
