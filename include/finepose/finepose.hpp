#pragma once
// finepose: 3D human pose from 2D keypoints with FinePOSE, no deep-learning
// framework. The one header an application needs:
//
//   #include <finepose/finepose.hpp>
//
//   finepose::Model model = finepose::load("model.safetensors");   // 1. load
//   finepose::Lifted r = model.lift(keypoints_px, frames, width, height);  // 2. lift
//   // r.poses: (F, 17, 3) float, millimetres, root (pelvis) at 0, Human3.6M-17 order
//   finepose::release(model);                                      // 3. free (or let it go out of scope)
//
// keypoints_px: F x 17 x 2 floats, pixel coordinates in Human3.6M-17 joint
// order (pose::h36m17().joint_names); scores (F x 17, optional) mark joints
// below LiftOptions::min_score as missing, which are filled by temporal
// interpolation. Detector files (COCO/MMPose/AlphaPose JSON, OpenPose JSON,
// CSV, npz) are read and converted to that order by finepose::read_keypoints.
// Several people: finepose::read_persons(path) then model.lift_persons(...).
// Any sequence length works (sliding windows with blending); for live input
// use Model::stream() (bounded latency). See wild/lifter.hpp for the
// options (action label, hypotheses, steps, flip, J-Agg / P-Agg, intrinsics).
#include <memory>
#include <string>
#include <vector>

#include "finepose/model/model_file.hpp"
#include "finepose/ops/precision.hpp"
#include "finepose/version.hpp"
#include "finepose/wild/keypoint_input.hpp"
#include "finepose/wild/lifter.hpp"
#include "finepose/wild/multi_person.hpp"
#include "finepose/wild/persons_stream.hpp"

namespace finepose {

using LiftOptions = wild::LiftOptions;
using Lifted = wild::Lifted;
using StreamingLifter = wild::StreamingLifter;
using wild::read_keypoints;
// Several people: read_persons (tracks from the file's ids, or tracked), Model::lift_persons.
using PersonsInput = wild::PersonsInput;
using PersonsOptions = wild::PersonsOptions;
using MultiLifted = wild::MultiLifted;
using wild::read_persons;
using PersonsStream = wild::PersonsStream;  // live: detections frame by frame, people appearing and disappearing

class Model {
 public:
  Model() = default;
  explicit Model(FinePoseModel m) : m_(std::make_unique<FinePoseModel>(std::move(m))) {}

  bool loaded() const { return bool(m_); }
  const FinePoseConfig& config() const { return get().config(); }
  // The underlying model (sampling every step, text features, parameters).
  FinePoseModel& impl() { return const_cast<FinePoseModel&>(get()); }

  // keypoints_px: frames x 17 x 2 (pixels, H36M-17 order); scores: frames x 17 or nullptr.
  Lifted lift(const float* keypoints_px, int64_t frames, int width, int height, const LiftOptions& opt = {},
              const float* scores = nullptr) const {
    FINEPOSE_CHECK(keypoints_px != nullptr || frames == 0, "lift: keypoints pointer is null");
    FINEPOSE_CHECK(frames > 0, "lift: empty sequence (no frames)");
    FINEPOSE_CHECK(frames < (int64_t(1) << 26), "lift: ", frames, " frames is too many");
    Tensor<double> kp({frames, 17, 3});
    for (int64_t i = 0; i < frames * 17; ++i) {
      kp.data()[3 * i] = keypoints_px[2 * i];
      kp.data()[3 * i + 1] = keypoints_px[2 * i + 1];
      kp.data()[3 * i + 2] = scores ? scores[i] : 1.0;
    }
    return wild::lift_sequence(get(), kp, width, height, opt);
  }
  Lifted lift(const std::vector<float>& keypoints_px, int width, int height, const LiftOptions& opt = {},
              const std::vector<float>& scores = {}) const {
    FINEPOSE_CHECK(keypoints_px.size() % 34 == 0, "lift: ", keypoints_px.size(), " keypoint values, not frames x 17 x 2");
    const int64_t F = int64_t(keypoints_px.size() / 34);
    FINEPOSE_CHECK(scores.empty() || int64_t(scores.size()) == F * 17, "lift: ", scores.size(), " scores for ", F,
                   " frames x 17 joints");
    return lift(keypoints_px.data(), F, width, height, opt, scores.empty() ? nullptr : scores.data());
  }
  // (F, 17, 3) x, y, score in H36M-17 order, as read_keypoints gives.
  Lifted lift(const Tensor<double>& keypoints, int width, int height, const LiftOptions& opt = {}) const {
    return wild::lift_sequence(get(), keypoints, width, height, opt);
  }

  // Every person of a detection set (read_persons): per-track results and
  // one frame axis (MultiLifted::poses (P, F, 17, 3), present, root with
  // intrinsics); all tracks share batched denoiser calls.
  MultiLifted lift_persons(const PersonsInput& persons, int width, int height, const LiftOptions& opt = {}) const {
    return wild::lift_persons(get(), persons, width, height, opt);
  }

  // Live multi-person lifting (persons_stream.hpp): push each frame's detections, get every person's frames.
  PersonsStream stream_persons(int width, int height, pose::KeypointLayout layout, const LiftOptions& opt = {}) const {
    return PersonsStream(get(), width, height, layout, opt);
  }

  // Frame-by-frame lifting with at most window() - 1 frames of latency.
  StreamingLifter stream(int width, int height, const LiftOptions& opt = {}) const {
    return StreamingLifter(get(), width, height, opt);
  }

  // The denoiser's matrix-product precision (ops/precision.hpp): fp32 (the default and
  // the parity reference), bf16 or int8; weights are repacked at the next call.
  void set_precision(Precision p) { impl().set_precision(p); }
  Precision precision() const { return get().precision(); }

  void release() { m_.reset(); }

 private:
  const FinePoseModel& get() const {
    if (!m_) fail("finepose::Model: no model loaded (use finepose::load)");
    return *m_;
  }
  std::unique_ptr<FinePoseModel> m_;
};

// Loads an official checkpoint (.bin/.pth) or a finepose .safetensors file.
// config_overrides_json: fields an official checkpoint cannot tell (heads, ...).
// precision: of the denoiser's matrix products (fp32 default, bf16, int8).
inline Model load(const std::string& path, const std::string& config_overrides_json = "",
                  Precision precision = Precision::fp32) {
  ModelFileOptions mo;
  mo.overrides_json = config_overrides_json;
  Model m(load_model(path, mo));
  m.set_precision(precision);
  return m;
}

// Frees the weights now; the model can be loaded again with load().
inline void release(Model& m) { m.release(); }

}  // namespace finepose
