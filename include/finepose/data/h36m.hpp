#pragma once
// Human3.6M test clips as FinePOSE's main.py prepares them from VideoPose3D's
// files: 32 -> 17 joints (the 15 static ones removed), world -> camera with
// the subject's camera extrinsics, root-relative targets (root kept aside for
// the J-Agg reprojection), 2D keypoints trimmed to the mocap length and
// normalised to screen coordinates with each camera's image size.
#include <algorithm>
#include <string>
#include <vector>

#include "finepose/data/eval_clip.hpp"
#include "finepose/data/videopose3d.hpp"
#include "finepose/pose/camera.hpp"
#include "finepose/pose/skeleton.hpp"

namespace finepose::data {

inline const std::vector<std::string>& h36m_test_subjects() {
  static const std::vector<std::string> s{"S9", "S11"};
  return s;
}
inline const std::vector<std::string>& h36m_train_subjects() {
  static const std::vector<std::string> s{"S1", "S5", "S6", "S7", "S8"};
  return s;
}

// (F, 32, 3) -> (F, 17, 3), keeping h36m32_kept_joints() in order. 17-joint input passes through.
inline TensorF h36m_remove_static_joints(const TensorF& x) {
  if (x.dim() != 3 || x.size(2) != 3) fail("h36m_remove_static_joints: expected (F, 32, 3), got ", shape_str(x.shape()));
  if (x.size(1) == 17) return x;
  if (x.size(1) != 32) fail("h36m_remove_static_joints: expected 32 joints, got ", x.size(1));
  const auto keep = pose::h36m32_kept_joints();
  const TensorF c = x.contiguous();
  TensorF out({x.size(0), 17, 3});
  for (std::int64_t f = 0; f < x.size(0); ++f)
    for (int j = 0; j < 17; ++j)
      for (int d = 0; d < 3; ++d) out.data()[(f * 17 + j) * 3 + d] = c.data()[(f * 32 + keep[std::size_t(j)]) * 3 + d];
  return out;
}

// Camera-frame pose (F, J, 3) -> root-relative target (root joint 0 set to 0) and root (F, 1, 3).
inline void split_root(const TensorF& cam, TensorF& target, TensorF& root, int root_joint = 0) {
  const std::int64_t F = cam.size(0), J = cam.size(1);
  target = cam.clone();
  root = TensorF({F, 1, 3});
  for (std::int64_t f = 0; f < F; ++f) {
    float r[3];
    for (int d = 0; d < 3; ++d) r[d] = root.data()[f * 3 + d] = target.data()[(f * J + root_joint) * 3 + d];
    for (std::int64_t j = 0; j < J; ++j)
      for (int d = 0; d < 3; ++d) target.data()[(f * J + j) * 3 + d] -= r[d];
  }
}

struct H36mSelection {
  std::vector<std::string> subjects = h36m_test_subjects();
  std::vector<std::string> actions;  // action names ("Walking"); empty = all
  std::vector<int> cameras{0, 1, 2, 3};
};

// positions_3d in mm (load_positions_3d) and positions_2d in pixels -> test clips.
inline std::vector<EvalClip> h36m_eval_clips(const SubjectActionMap<TensorF>& positions_3d, const Keypoints2d& kp,
                                             const H36mSelection& sel = {}) {
  std::vector<EvalClip> clips;
  for (const auto& subject : sel.subjects) {
    auto s3 = positions_3d.find(subject);
    if (s3 == positions_3d.end()) fail("Human3.6M: subject ", subject, " is not in the 3D data");
    auto s2 = kp.positions.find(subject);
    if (s2 == kp.positions.end()) fail("Human3.6M: subject ", subject, " is not in the 2D keypoints");
    for (const auto& [key, world32] : s3->second) {
      const std::string action = action_name_from_key(key);
      if (!sel.actions.empty() && std::find(sel.actions.begin(), sel.actions.end(), action) == sel.actions.end()) continue;
      auto a2 = s2->second.find(key);
      if (a2 == s2->second.end()) fail("Human3.6M: ", subject, " '", key, "' has 3D but no 2D keypoints");
      const TensorF world = h36m_remove_static_joints(world32);
      const std::int64_t F = world.size(0);
      for (int c : sel.cameras) {
        if (c < 0 || std::size_t(c) >= a2->second.size())
          fail("Human3.6M: ", subject, " '", key, "' has no 2D keypoints for camera ", c);
        const TensorF& px = a2->second[std::size_t(c)];
        if (px.size(0) < F)
          fail("Human3.6M: ", subject, " '", key, "' camera ", c, ": ", px.size(0), " 2D frames < ", F, " mocap frames");
        if (px.size(1) != 17) fail("Human3.6M: 2D keypoints have ", px.size(1), " joints, expected 17");
        const pose::Camera cam = pose::h36m_camera(subject, c);
        EvalClip clip;
        clip.name = subject + "/" + key + "/cam" + std::to_string(c);
        clip.subject = subject;
        clip.action = action;
        clip.model_action = action;
        clip.camera = c;
        // The CPN detections can be longer than the mocap: trim as the official code does.
        const TensorF trimmed = px.size(0) == F ? px : px.slice(0, 0, F).contiguous();
        clip.keypoints_2d = pose::normalize_screen_coordinates(trimmed, cam.intrinsics.res_w, cam.intrinsics.res_h);
        split_root(pose::world_to_camera(world, cam.extrinsics), clip.target, clip.root);
        clip.intrinsics = cam.intrinsics.normalized();
        clips.push_back(std::move(clip));
      }
    }
  }
  return clips;
}

}  // namespace finepose::data
