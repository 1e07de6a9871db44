#pragma once
// DDIM sampling of FinePOSE (x0 objective, eta = 1), H hypotheses and K steps,
// with optional flip test-time augmentation, reproducing upstream's arithmetic:
// pred_noise is formed in float64 from the float64 schedule and cast to float32,
// the update x0*sqrt(a_next) + c*eps + sigma*z is float32 with the float64
// coefficients rounded to float32.
//
// This is the one definition of the sampler. It runs any Denoiser (the CPU fast
// path, the CPU reference, the device model: model/denoisers.hpp,
// cuda/model.hpp). The device's own captured K-step loop takes its per-step
// coefficients from ddim_steps() below and is tested against this loop.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "finepose/core/parallel.hpp"
#include "finepose/core/philox.hpp"
#include "finepose/diffusion/denoiser.hpp"
#include "finepose/diffusion/schedule.hpp"

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

// One DDIM step's coefficients, computed once for every implementation of the loop.
//   eps    = (sqrt_recip_alpha * x - x0) / sqrt_recipm1_alpha        (float64, cast to float32)
//   x_next = (x0 * x0_coef + eps_coef * eps) + noise_coef * z        (float32)
// On the last step time_next < 0 and there is no update.
struct DdimStep {
  int64_t time = 0, time_next = -1;
  double sqrt_recip_alpha = 0, sqrt_recipm1_alpha = 0;
  float x0_coef = 0, eps_coef = 0, noise_coef = 0;
  bool last() const { return time_next < 0; }
};

inline std::vector<DdimStep> ddim_steps(const CosineSchedule& sched, int64_t K, double eta = 1.0) {
  std::vector<DdimStep> steps;
  for (const auto& [time, time_next] : ddim_time_pairs(sched.timesteps(), K)) {
    DdimStep s;
    s.time = time;
    s.time_next = time_next;
    s.sqrt_recip_alpha = sched.sqrt_recip_alphas_cumprod[std::size_t(time)];
    s.sqrt_recipm1_alpha = sched.sqrt_recipm1_alphas_cumprod[std::size_t(time)];
    if (time_next >= 0) {
      const double alpha = sched.alphas_cumprod[std::size_t(time)], alpha_next = sched.alphas_cumprod[std::size_t(time_next)];
      const double sigma = eta * std::sqrt((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha));
      const double c = std::sqrt(1 - alpha_next - sigma * sigma);
      s.x0_coef = float(std::sqrt(alpha_next));
      s.eps_coef = float(c);
      s.noise_coef = float(sigma);
    }
    steps.push_back(s);
  }
  return steps;
}

// x2d: [B, F, J, in_chans], the denoiser conditioned for these B samples.
// Returns every step's x0 estimate: [B, K, H, F, J, 3] (times the layout's
// output scale, 1000 for 3DHP).
inline TensorF ddim_sample(Denoiser& net, const CosineSchedule& sched, const TensorF& x2d, const SampleOptions& opt) {
  const PoseLayout& cfg = net.layout();
  FINEPOSE_CHECK(x2d.dim() == 4 && x2d.size(1) == cfg.frames && x2d.size(2) == cfg.joints && x2d.size(3) == cfg.in_chans,
                 "sample: x2d ", shape_str(x2d.shape()), " is not [B, ", cfg.frames, ", ", cfg.joints, ", ", cfg.in_chans,
                 "]");
  const int64_t B = x2d.size(0), H = opt.hypotheses, K = opt.steps, F = cfg.frames, J = cfg.joints;
  FINEPOSE_CHECK(H >= 1 && H <= 10000, "sample: hypotheses = ", H, " is out of range");
  const Shape xshape{B, H, F, J, 3};
  const int64_t n = shape_numel(xshape);
  const std::vector<DdimStep> steps = ddim_steps(sched, K);

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

  // With flip, the mirrored copy runs in the same denoiser call as batch items B..2B-1.
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

  const float s = float(cfg.scale);
  const float lo = float(-1.1 * cfg.scale), hi = float(1.1 * cfg.scale);
  const float out_scale = float(cfg.output_scale);
  TensorF result({B, K, H, F, J, 3});
  // Everything the loop touches is allocated here, once: the steps reuse it (and the
  // denoiser its own workspace), so memory does not grow with K.
  TensorF xin({NB, H, F, J, 3}), pred({NB, H, F, J, 3});
  TensorF x0(xshape), eps(xshape), noise;
  if (!opt.noise_steps && K > 1) noise = TensorF(xshape);
  std::vector<int64_t> times(static_cast<std::size_t>(NB));

  for (int64_t k = 0; k < K; ++k) {
    const DdimStep& st = steps[std::size_t(k)];
    // model input: clamp(img)/scale (and its mirror)
    for (int64_t i = 0; i < n; ++i) xin.data()[i] = std::min(std::max(img.data()[i], lo), hi) / s;
    if (opt.flip) {
      std::copy(xin.data(), xin.data() + n, xin.data() + n);
      flip_poses(xin.data() + n, B * H * F, J, 3, cfg.joints_left, cfg.joints_right);
    }
    std::fill(times.begin(), times.end(), st.time);
    net.predict(x2d_all, xin, times, pred);
    FINEPOSE_CHECK(pred.numel() == (NB / B) * n, "sample: the denoiser returned ",
                   shape_str(pred.shape()), " for ", NB, " x ", shape_str(xshape));
    float* p = pred.data();
    if (opt.flip) {
      float* pf = p + n;
      flip_poses(pf, B * H * F, J, 3, cfg.joints_left, cfg.joints_right);
      for (int64_t i = 0; i < n; ++i) p[i] = (p[i] + pf[i]) / 2.f;
    }
    for (int64_t i = 0; i < n; ++i) {
      const float v = std::min(std::max(p[i] * s, lo), hi);
      x0.data()[i] = v;
      eps.data()[i] = float((st.sqrt_recip_alpha * double(img.data()[i]) - double(v)) / st.sqrt_recipm1_alpha);
    }
    for (int64_t b = 0; b < B; ++b) {
      const int64_t m = H * F * J * 3;
      float* dst = result.data() + (b * K + k) * m;
      const float* src = x0.data() + b * m;
      for (int64_t i = 0; i < m; ++i) dst[i] = out_scale == 1.f ? src[i] : src[i] * out_scale;
    }
    if (opt.on_step) opt.on_step(k, K);
    if (st.last()) break;

    const float* z;
    if (opt.noise_steps) {
      z = opt.noise_steps->data() + k * n;
    } else {
      NormalStream(opt.seed, std::uint64_t(k) + 1).fill(noise.data(), n);
      z = noise.data();
    }
    const float fa = st.x0_coef, fc = st.eps_coef, fs = st.noise_coef;
    for (int64_t i = 0; i < n; ++i) img.data()[i] = (x0.data()[i] * fa + fc * eps.data()[i]) + fs * z[i];
  }
  return result;
}

}  // namespace finepose
