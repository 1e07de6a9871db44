#pragma once
// Mean-pose baseline: the mean root-relative 3D pose (camera frame, metres) over
// every frame of a training set, predicted for every input frame. It ignores the
// 2D input entirely (only the frame count is used), so it is the floor any 2D->3D
// lifter must beat: whatever a lifter gains over it comes from reading the 2D.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/io/ndarray.hpp"
#include "finepose/io/safetensors.hpp"
#include "finepose/train/data.hpp"

namespace finepose::baselines {

struct MeanPose {
  TensorF pose;  // [J, 3], metres, root-relative

  // Mean over every frame of every sequence (summed in double, in order).
  static MeanPose fit(const train::Dataset& d) {
    FINEPOSE_CHECK(!d.seqs.empty(), "mean pose: the training set has no sequences");
    const int64_t J = d.seqs[0].x3d.dim() == 3 ? d.seqs[0].x3d.size(1) : 0;
    FINEPOSE_CHECK(J > 0, "mean pose: sequence ", d.seqs[0].name, " has 3D of shape ", shape_str(d.seqs[0].x3d.shape()),
                   ", expected [N, J, 3]");
    std::vector<double> sum(size_t(J * 3), 0.0);
    int64_t n = 0;
    for (const auto& s : d.seqs) {
      FINEPOSE_CHECK(s.x3d.dim() == 3 && s.x3d.size(1) == J && s.x3d.size(2) == 3, "mean pose: sequence ", s.name,
                     " has 3D of shape ", shape_str(s.x3d.shape()), ", expected [N, ", J, ", 3]");
      const TensorF x = s.x3d.contiguous();
      for (int64_t f = 0; f < x.size(0); ++f)
        for (int64_t e = 0; e < J * 3; ++e) sum[size_t(e)] += double(x.data()[f * J * 3 + e]);
      n += x.size(0);
    }
    FINEPOSE_CHECK(n > 0, "mean pose: the training set has no frames");
    MeanPose m;
    m.pose = TensorF({J, 3});
    for (int64_t e = 0; e < J * 3; ++e) m.pose.data()[e] = float(sum[size_t(e)] / double(n));
    return m;
  }

  // x2d [..., J, 2] -> [..., J, 3]: the mean pose for every frame.
  TensorF predict(const TensorF& x2d) const {
    FINEPOSE_CHECK(pose.defined() && pose.dim() == 2, "mean pose: not fitted");
    const int64_t J = pose.size(0);
    FINEPOSE_CHECK(x2d.dim() >= 2 && x2d.size(-2) == J && x2d.size(-1) == 2, "mean pose: input ",
                   shape_str(x2d.shape()), " is not [..., ", J, ", 2]");
    Shape s = x2d.shape();
    s.back() = 3;
    TensorF out(s);
    const int64_t frames = out.numel() / (J * 3);
    for (int64_t f = 0; f < frames; ++f) std::copy(pose.data(), pose.data() + J * 3, out.data() + f * J * 3);
    return out;
  }

  void save(const std::string& path, io::Existing existing = io::Existing::replace) const {
    std::map<std::string, io::NdArray> t{{"mean_pose", io::from_tensor(pose)}};
    io::save_safetensors(path, t, {{"format", "finepose-baseline"}, {"kind", "mean"}}, existing);
  }
  static MeanPose load(const std::string& path) {
    const io::SafeTensors st = io::load_safetensors(path);
    auto it = st.metadata.find("kind");
    FINEPOSE_CHECK(it != st.metadata.end() && it->second == "mean", path, ": not a mean-pose baseline file");
    MeanPose m;
    m.pose = io::to_tensor<float>(st.at("mean_pose"), path + ": mean_pose");
    FINEPOSE_CHECK(m.pose.dim() == 2 && m.pose.size(1) == 3 && m.pose.size(0) > 0, path, ": mean_pose has shape ",
                   shape_str(m.pose.shape()), ", expected [J, 3]");
    return m;
  }
};

}  // namespace finepose::baselines
