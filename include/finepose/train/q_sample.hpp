#pragma once
// The forward diffusion used for training (upstream FinePOSE.prepare_diffusion_concat):
//   x_t = clamp(sqrt(ac[t]) * (x0 * scale) + sqrt(1 - ac[t]) * noise, +-1.1 scale) / scale
// computed in float64 (the schedule buffers are float64, so torch promotes) and
// rounded to float32 once.
#include <algorithm>
#include <cstdint>

#include "finepose/diffusion/schedule.hpp"

namespace finepose::train {

inline void q_sample_clamped(float* out, const float* x0, const float* noise, int64_t n, int64_t t,
                             const CosineSchedule& s, double scale) {
  FINEPOSE_CHECK(t >= 0 && t < s.timesteps(), "q_sample: timestep ", t, " outside [0, ", s.timesteps(), ")");
  const double a = s.sqrt_alphas_cumprod[size_t(t)], b = s.sqrt_one_minus_alphas_cumprod[size_t(t)];
  const double lim = 1.1 * scale;
  for (int64_t i = 0; i < n; ++i) {
    const double x = a * double(float(x0[i] * float(scale))) + b * double(noise[i]);
    out[i] = float(std::min(std::max(x, -lim), lim) / scale);
  }
}

}  // namespace finepose::train
