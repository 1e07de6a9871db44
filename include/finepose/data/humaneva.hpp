#pragma once
// HumanEva-I in the Human3.6M 17-joint layout (../shared/data/humaneva_i_h36m17.npz,
// see its README): per camera C1..C3 camera-frame 3D (mm) and ground-truth 2D
// (pixels, 640x480, with lens distortion), sequences cut into chunks where the
// mocap dropped out, and VideoPose3D's Train/Validate split.
//
// Evaluation follows VideoPose3D's HumanEva protocol: the Validate chunks of
// Walking, Jog and Box for S1..S3, all three cameras, 2D normalised with the
// image size, targets root-relative, scored with P-MPJPE per action and subject.
//
// HumanEva actions are not Human3.6M labels, but a Human3.6M FinePOSE model needs
// one for its text branch. humaneva_default_model_action() picks the closest
// label (Walking, Jog -> "Walking"; Box, Gestures -> "Directions"; ThrowCatch ->
// "Greeting"); `finepose eval --action` overrides it for every clip. A wrong
// or approximate label conditions the denoiser on the wrong text, which can
// only cost accuracy, so these numbers are a lower bound on what a model
// trained on HumanEva with its own labels would reach.
#include <algorithm>
#include <string>
#include <vector>

#include "finepose/data/eval_clip.hpp"
#include "finepose/data/h36m.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/pose/camera.hpp"

namespace finepose::data {

inline std::string humaneva_default_model_action(const std::string& action) {
  if (action == "Walking" || action == "Jog") return "Walking";
  if (action == "Box" || action == "Gestures") return "Directions";
  if (action == "ThrowCatch") return "Greeting";
  return "Walking";
}

struct HumanEvaSelection {
  std::string split = "Validate";
  std::vector<std::string> actions{"Walking", "Jog", "Box"};  // empty = all
  std::vector<int> subjects{1, 2, 3};
  std::vector<int> cameras{0, 1, 2};
};

struct HumanEvaCameras {
  std::vector<pose::CameraIntrinsics> intrinsics;  // pixels, per camera
};

namespace humaneva_detail {
inline const io::NdArray& need(const io::NpzMap& m, const std::string& path, const char* name) {
  auto it = m.find(name);
  if (it == m.end()) fail(path, ": no array '", name, "' (is this humaneva_i_h36m17.npz?)");
  return it->second;
}
}  // namespace humaneva_detail

// Pixel intrinsics of C1..C3 (fitted pinhole + k1 k2 p1 p2, see the data README).
inline std::vector<pose::CameraIntrinsics> humaneva_cameras(const io::NpzMap& m, const std::string& path) {
  using humaneva_detail::need;
  const auto k = io::to_vector<double>(need(m, path, "cam_intrinsics"), path + ": cam_intrinsics");
  const auto d = io::to_vector<double>(need(m, path, "cam_distortion_k1k2p1p2"), path + ": cam_distortion_k1k2p1p2");
  if (k.size() % 6 != 0 || d.size() != k.size() / 6 * 4)
    fail(path, ": cam_intrinsics (", k.size(), " values) / cam_distortion_k1k2p1p2 (", d.size(), ") are not (C,6) / (C,4)");
  std::vector<pose::CameraIntrinsics> out;
  for (std::size_t c = 0; c < k.size() / 6; ++c) {
    pose::CameraIntrinsics ci;
    ci.fx = k[6 * c];
    ci.fy = k[6 * c + 1];
    ci.cx = k[6 * c + 2];
    ci.cy = k[6 * c + 3];
    ci.res_w = int(k[6 * c + 4]);
    ci.res_h = int(k[6 * c + 5]);
    ci.k1 = d[4 * c];
    ci.k2 = d[4 * c + 1];
    ci.p1 = d[4 * c + 2];
    ci.p2 = d[4 * c + 3];
    out.push_back(ci);
  }
  return out;
}

inline std::vector<EvalClip> humaneva_eval_clips(const std::string& path, const HumanEvaSelection& sel = {}) {
  using humaneva_detail::need;
  const io::NpzMap m = io::load_npz(path);
  const TensorF p3 = io::to_tensor<float>(need(m, path, "pose3d_cam"), path + ": pose3d_cam");
  const TensorF p2 = io::to_tensor<float>(need(m, path, "pose2d"), path + ": pose2d");
  if (p3.dim() != 4 || p3.size(2) != 17 || p3.size(3) != 3)
    fail(path, ": pose3d_cam has shape ", shape_str(p3.shape()), ", expected (C, N, 17, 3)");
  if (p2.dim() != 4 || p2.size(0) != p3.size(0) || p2.size(1) != p3.size(1) || p2.size(2) != 17 || p2.size(3) != 2)
    fail(path, ": pose2d has shape ", shape_str(p2.shape()), ", expected (C, N, 17, 2) matching pose3d_cam");
  const std::int64_t C = p3.size(0), N = p3.size(1);
  const auto starts = io::to_vector<std::int64_t>(need(m, path, "seq_start"), path + ": seq_start");
  const auto lens = io::to_vector<std::int64_t>(need(m, path, "seq_len"), path + ": seq_len");
  const auto subjects = io::to_vector<int>(need(m, path, "seq_subject"), path + ": seq_subject");
  const auto names = io::to_strings(need(m, path, "seq_name"), path + ": seq_name");
  const auto splits = io::to_strings(need(m, path, "seq_split"), path + ": seq_split");
  const auto actions = io::to_strings(need(m, path, "seq_action"), path + ": seq_action");
  const std::size_t S = starts.size();
  if (lens.size() != S || subjects.size() != S || names.size() != S || splits.size() != S || actions.size() != S)
    fail(path, ": the seq_* arrays have different lengths");
  const auto cams = humaneva_cameras(m, path);
  if (std::int64_t(cams.size()) != C) fail(path, ": ", cams.size(), " camera intrinsics for ", C, " cameras");

  std::vector<EvalClip> clips;
  for (std::size_t s = 0; s < S; ++s) {
    if (starts[s] < 0 || lens[s] < 1 || starts[s] > N - lens[s])
      fail(path, ": sequence ", s, " (", names[s], ") frames ", starts[s], "+", lens[s], " outside 0..", N);
    if (splits[s] != sel.split) continue;
    const std::string action = action_name_from_key(actions[s]);
    if (!sel.actions.empty() && std::find(sel.actions.begin(), sel.actions.end(), action) == sel.actions.end()) continue;
    if (std::find(sel.subjects.begin(), sel.subjects.end(), subjects[s]) == sel.subjects.end()) continue;
    for (int c : sel.cameras) {
      if (c < 0 || c >= C) fail("HumanEva: camera index ", c, " outside 0..", C - 1);
      EvalClip clip;
      clip.name = names[s] + "/C" + std::to_string(c + 1);
      clip.subject = "S" + std::to_string(subjects[s]);
      clip.action = action;
      clip.model_action = humaneva_default_model_action(action);
      clip.camera = c;
      const pose::CameraIntrinsics& k = cams[std::size_t(c)];
      const TensorF px = p2.select(0, c).slice(0, starts[s], starts[s] + lens[s]).contiguous();
      clip.keypoints_2d = pose::normalize_screen_coordinates(px, k.res_w, k.res_h);
      split_root(p3.select(0, c).slice(0, starts[s], starts[s] + lens[s]).contiguous(), clip.target, clip.root);
      clip.intrinsics = k.normalized();
      clips.push_back(std::move(clip));
    }
  }
  if (clips.empty()) fail(path, ": no ", sel.split, " sequence matches the selected actions, subjects and cameras");
  return clips;
}

}  // namespace finepose::data
