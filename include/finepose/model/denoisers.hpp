#pragma once
// MixSTE2 behind the sampler's Denoiser interface (diffusion/denoiser.hpp):
// the fast inference path (MixSTE2::forward, packed GEMMs and a reused
// workspace) or the module-by-module definition (MixSTE2::forward_reference),
// with the B samples' text features bound. The device model's adapter is
// cuda::DeviceDenoiser (cuda/model.hpp).
#include <vector>

#include "finepose/diffusion/ddim.hpp"
#include "finepose/model/mixste.hpp"

namespace finepose {

inline PoseLayout pose_layout(const FinePoseConfig& c) {
  PoseLayout l;
  l.frames = c.frames;
  l.joints = c.joints;
  l.in_chans = c.in_chans;
  l.scale = c.scale;
  l.output_scale = c.output_scale();
  l.joints_left = c.joints_left;
  l.joints_right = c.joints_right;
  return l;
}

// Which CPU forward a MixSTE2Denoiser runs.
enum class CpuForward { fast, reference };

class MixSTE2Denoiser : public Denoiser {
 public:
  MixSTE2Denoiser(const MixSTE2& net, std::vector<const TextFeatures*> texts, CpuForward path = CpuForward::fast)
      : net_(net), texts_(std::move(texts)), path_(path), layout_(pose_layout(net.cfg)) {
    FINEPOSE_CHECK(!texts_.empty(), "denoiser: no text features (one per sample is needed)");
  }
  const PoseLayout& layout() const override { return layout_; }

  void predict(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t, TensorF& out) override {
    const std::size_t B = texts_.size(), NB = std::size_t(x2d.size(0));
    FINEPOSE_CHECK(NB % B == 0, "denoiser: a batch of ", NB, " is not a multiple of the ", B, " conditioned samples");
    all_.resize(NB);
    for (std::size_t i = 0; i < NB; ++i) all_[i] = texts_[i % B];
    if (path_ == CpuForward::fast)
      net_.forward(x2d, x3d, t, all_, out);
    else
      out = net_.forward_reference(x2d, x3d, t, all_);
  }

 private:
  const MixSTE2& net_;
  std::vector<const TextFeatures*> texts_, all_;
  CpuForward path_;
  PoseLayout layout_;
};

// ddim_sample on a CPU MixSTE2 with one text per sample of x2d [B, F, J, in_chans].
inline TensorF ddim_sample(const MixSTE2& net, const CosineSchedule& sched, const TensorF& x2d,
                           const std::vector<const TextFeatures*>& texts, const SampleOptions& opt,
                           CpuForward path = CpuForward::fast) {
  FINEPOSE_CHECK(x2d.dim() >= 1 && int64_t(texts.size()) == x2d.size(0), "sample: ", texts.size(),
                 " texts for a batch of ", x2d.dim() >= 1 ? x2d.size(0) : 0);
  MixSTE2Denoiser d(net, texts, path);
  return ddim_sample(d, sched, x2d, opt);
}

}  // namespace finepose
