#pragma once
// One test video as the evaluation consumes it, whatever the dataset, and the
// fixed-length chunks the official test code cuts it into.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/pose/camera.hpp"

namespace finepose::data {

struct EvalClip {
  std::string name;          // e.g. "S9/Walking 1/cam0", unique
  std::string subject;       // "S9", "S1", "TS3"
  std::string action;        // table row: "Walking" (from "Walking 1"), 3DHP activity name
  std::string model_action;  // text label given to the model (a Human3.6M action)
  int camera = 0;
  TensorF keypoints_2d;      // (F, 17, 2) normalised screen coordinates (model input)
  TensorF target;            // (F, 17, 3) mm, camera frame, root-relative (root joint = 0)
  TensorF root;              // (F, 1, 3) mm, camera-frame root position (J-Agg reprojection)
  pose::CameraIntrinsics intrinsics;  // in normalised screen units (projects camera mm to keypoints_2d)
  std::vector<bool> valid;   // per frame; empty = all valid (3DHP marks invalid frames)
  std::int64_t frames() const { return keypoints_2d.defined() ? keypoints_2d.size(0) : 0; }
};

// Human3.6M / VideoPose3D action keys carry a take number: "Walking 1" -> "Walking",
// "Directions" -> "Directions" (the official code splits on the first space).
inline std::string action_name_from_key(const std::string& key) {
  const auto sp = key.find(' ');
  return sp == std::string::npos ? key : key.substr(0, sp);
}

// Number of chunks eval_data_prepare makes of F frames: ceil(F / L).
inline std::int64_t eval_chunk_count(std::int64_t frames, std::int64_t length) {
  if (length < 1) fail("eval chunks: chunk length must be >= 1, got ", length);
  if (frames < 1) fail("eval chunks: a clip has no frames");
  return (frames + length - 1) / length;
}

// Start frame of each chunk, as main.py's eval_data_prepare: chunks i < C-1
// start at i*L; the last chunk is the clip's last L frames (so it overlaps the
// previous one) or, when the clip is shorter than L, the whole clip with its
// last frame replicated to length L.
inline std::vector<std::int64_t> eval_chunk_starts(std::int64_t frames, std::int64_t length) {
  const std::int64_t C = eval_chunk_count(frames, length);
  std::vector<std::int64_t> s;
  for (std::int64_t i = 0; i + 1 < C; ++i) s.push_back(i * length);
  s.push_back(std::max<std::int64_t>(0, frames - length));
  return s;
}

// x (F, ...) -> (C, L, ...) per eval_chunk_starts, replicate padding at the end.
template <class T>
Tensor<T> make_eval_chunks(const Tensor<T>& x, std::int64_t length) {
  if (!x.defined() || x.dim() < 1) fail("make_eval_chunks: input must have a frame dimension");
  const Tensor<T> c = x.contiguous();
  const std::int64_t F = x.size(0), row = F ? x.numel() / F : 0;
  const auto starts = eval_chunk_starts(F, length);
  Shape s = x.shape();
  s[0] = length;
  s.insert(s.begin(), std::int64_t(starts.size()));
  Tensor<T> out(s);
  for (std::size_t i = 0; i < starts.size(); ++i)
    for (std::int64_t f = 0; f < length; ++f) {
      const std::int64_t src = std::min(starts[i] + f, F - 1);
      std::memcpy(out.data() + (std::int64_t(i) * length + f) * row, c.data() + src * row, sizeof(T) * std::size_t(row));
    }
  return out;
}

// The same selection for a per-frame mask.
inline std::vector<bool> make_eval_chunks(const std::vector<bool>& valid, std::int64_t length) {
  const std::int64_t F = std::int64_t(valid.size());
  std::vector<bool> out;
  for (std::int64_t st : eval_chunk_starts(F, length))
    for (std::int64_t f = 0; f < length; ++f) out.push_back(valid[std::size_t(std::min(st + f, F - 1))]);
  return out;
}

}  // namespace finepose::data
