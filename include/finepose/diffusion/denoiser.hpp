#pragma once
// What the DDIM sampler needs from a denoiser, and nothing more: the pose
// layout it samples in, and one call that predicts x0 for a batch of noisy
// poses. The CPU fast path, the CPU reference and the device model each sit
// behind it (model/denoisers.hpp, cuda/model.hpp), so the sampling loop is
// written once (diffusion/ddim.hpp). The text conditioning is bound inside the
// implementation: the sampler never sees it.
#include <cstdint>
#include <vector>

#include "finepose/core/tensor.hpp"

namespace finepose {

// The geometry of what is sampled: F frames of J joints, the 2D input's channel
// count, the coordinate scale the model works in (inputs are clamped to +-1.1
// scale and divided by it), the factor applied to each output (1000 for the
// 3DHP variant: metres to millimetres) and the left/right joint pairs mirrored
// by flip augmentation.
struct PoseLayout {
  int64_t frames = 0, joints = 0, in_chans = 0;
  double scale = 1.0, output_scale = 1.0;
  std::vector<int64_t> joints_left, joints_right;
};

class Denoiser {
 public:
  virtual ~Denoiser() = default;
  virtual const PoseLayout& layout() const = 0;
  // x2d [NB, F, J, in_chans], x3d [NB, H, F, J, 3] (already clamped and divided
  // by scale), t: NB timesteps -> out [NB, H, F, J, 3], x0 in the model's units
  // (out is reused when it has that shape). NB is a multiple of the batch the
  // implementation was conditioned for (B texts): item i is conditioned as
  // sample i % B, which is how the sampler runs the flip copy in the same call.
  virtual void predict(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t, TensorF& out) = 0;
};

}  // namespace finepose
