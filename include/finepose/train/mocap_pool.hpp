#pragma once
// World-space mocap (all of CMU and Bandai Namco in ../shared/data) kept as 3D
// clips and seen anew every epoch: each clip is resampled to a random frame
// rate, its bones scaled, filmed by a random virtual camera
// (train/virtual_camera.hpp) and given a detector's 2D errors, then turned into
// the (2D normalised, 3D camera metres root-relative) sequences the trainer
// eats. Everything drawn is a pure function of (seed, epoch, clip), so a run
// resumed at an epoch sees exactly what an uninterrupted run saw.
//
// The distributions (issue 15; documented in the model card):
//   frame rate   uniform 25..60 fps, linear interpolation from the file's rate
//                (CMU 50, Bandai Namco 30)
//   body         overall size x U(0.9, 1.1); legs, arms, torso and head each a
//                further x U(0.92, 1.08) (bone vectors scaled from the root out)
//   camera       CameraRanges: height 0.3-2.5 m, pitch -30..40 deg, distance
//                2-12 m, focal 0.5-2.0 x width, 16:9 / 4:3 / 9:16 frames, the
//                person's mean root uniformly in the middle 80% of the frame
//   2D errors    per joint Gaussian with std k_j x the person's height in
//                pixels (k_j from 0.6% for the head to 1.6% for the wrists and
//                ankles, like COCO's per-keypoint spreads); outliers with
//                probability 0.4% per joint and frame, displaced uniformly by up to
//                30% of the person's height; dropped joints (bursts of 1-8 frames
//                starting with probability 1% per joint and frame, and 70% of
//                joints outside the picture), filled by temporal interpolation
//                exactly as `finepose infer` fills low-confidence joints
//   mirroring    the trainer's flip augmentation (a mirrored copy of each chunk)
//   labels       the clip's motion name mapped to a Human3.6M label
//                (label_for_motion), replaced by the generic "A person" with
//                probability label_dropout per clip and epoch
//
// Held out (never trained on; the validation set that chooses sizes and
// checkpoints): every CMU clip and every Bandai Namco clip of style "elderly",
// seen through cameras unlike the training ones (square 1:1 and 5:4 frames, never
// drawn in training, and their own seed), with the same 2D error model.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "finepose/io/npz.hpp"
#include "finepose/train/data.hpp"
#include "finepose/train/virtual_camera.hpp"
#include "finepose/wild/gap_fill.hpp"

namespace finepose::train {

struct MocapClip {
  std::string name, motion, style;
  TensorF world;      // [N, 17, 3] mm, Z up
  double fps = 30;
  bool heldout = false;
};

struct MocapPool {
  std::vector<MocapClip> clips;
  int64_t frames(bool heldout) const {
    int64_t n = 0;
    for (const auto& c : clips)
      if (c.heldout == heldout) n += c.world.size(0);
    return n;
  }
};

// Motion names of the mocap files -> the closest of the 15 Human3.6M labels the
// text prompt knows. Locomotion -> Walking; waving, bowing, goodbyes ->
// Greeting; raising a hand, pointing the way, calling -> Directions; fighting
// and dancing -> Posing (a body held in a shape); anything else -> Directions.
inline std::string label_for_motion(std::string m) {
  for (auto& c : m) c = char(std::tolower(static_cast<unsigned char>(c)));
  auto has = [&](const char* w) { return m.find(w) != std::string::npos; };
  if (has("walk") || has("run") || has("jog") || has("dash")) return "Walking";
  if (has("wave") || has("bow") || has("bye") || has("greet")) return "Greeting";
  if (has("punch") || has("kick") || has("slash") || has("dance") || has("box")) return "Posing";
  return "Directions";
}

// The generic prompt of label dropout (and of `infer --action auto` for models trained with it).
inline const char* kGenericLabel = "A person";

inline MocapPool load_mocap_pool(const std::string& dir) {
  MocapPool pool;
  for (const char* f : {"cmu_mocap_h36m17.npz", "bandai_namco_h36m17.npz"}) {
    const std::string path = dir + "/" + f;
    if (!std::filesystem::exists(path)) continue;
    const bool cmu = std::string(f).rfind("cmu", 0) == 0;
    const io::NpzMap z = io::load_npz(path);
    auto get = [&](const char* k) -> const io::NdArray* {
      auto it = z.find(k);
      return it == z.end() ? nullptr : &it->second;
    };
    const io::NdArray* pa = get("pose3d") ? get("pose3d") : get("pose3d_mm");
    FINEPOSE_CHECK(pa && get("seq_start") && get("seq_len"), path, ": no pose3d / seq_start / seq_len");
    const TensorF P = io::to_tensor<float>(*pa, path);
    FINEPOSE_CHECK(P.dim() == 3 && P.size(1) == 17 && P.size(2) == 3, path, ": pose array ", shape_str(P.shape()), " is not [N, 17, 3]");
    const auto start = io::to_tensor<int64_t>(*get("seq_start"), "seq_start").to_vector();
    const auto len = io::to_tensor<int64_t>(*get("seq_len"), "seq_len").to_vector();
    std::vector<std::string> names(start.size()), motion(start.size()), style(start.size());
    if (get("seq_name")) names = io::to_strings(*get("seq_name"), "seq_name");
    if (get("seq_content")) motion = io::to_strings(*get("seq_content"), "seq_content");
    if (get("seq_style")) style = io::to_strings(*get("seq_style"), "seq_style");
    double fps = cmu ? 50 : 30;
    if (get("fps")) {
      const auto v = io::to_vector<double>(*get("fps"), "fps");
      if (v.size() == 1 && v[0] > 0) fps = v[0];
    }
    FINEPOSE_CHECK(len.size() == start.size() && names.size() == start.size(), path, ": per-sequence arrays differ in length");
    for (size_t s = 0; s < start.size(); ++s) {
      FINEPOSE_CHECK(start[s] >= 0 && len[s] >= 0 && start[s] + len[s] <= P.size(0), path, ": sequence ", s, " out of range");
      if (len[s] < 2) continue;
      MocapClip c;
      c.name = std::string(cmu ? "cmu/" : "bandai/") + names[s];
      c.motion = motion[s], c.style = style[s], c.fps = fps;
      c.heldout = cmu || style[s] == "elderly";
      c.world = TensorF({len[s], 17, 3});
      std::copy(P.data() + start[s] * 51, P.data() + (start[s] + len[s]) * 51, c.world.data());
      pool.clips.push_back(std::move(c));
    }
  }
  return pool;
}

// The people of the multi-person test scene (wild/multi_person_scene.hpp with
// mocap bodies): four captured motions from the held-out split, so that no base
// model has trained on them: a long CMU take (CMU has no motion names) and
// Bandai's "elderly" walk, run and wave with both hands; the first of each in
// file order. Fewer when the pool lacks some.
inline std::vector<const MocapClip*> scene_clips(const MocapPool& pool) {
  std::vector<std::string> wanted = {"", "walk", "run", "wave-both-hands"};
  std::vector<const MocapClip*> out;
  for (const auto& c : pool.clips) {
    auto it = std::find(wanted.begin(), wanted.end(), c.motion);
    if (!c.heldout || it == wanted.end() || (c.motion.empty() && double(c.world.size(0)) < 6 * c.fps)) continue;
    wanted.erase(it);
    out.push_back(&c);
  }
  return out;
}

struct DetectorNoise {
  bool enabled = true;
  double scale = 1.0;  // multiplies every per-joint std
  double outlier_prob = 0.004, outlier_size = 0.3;
  double drop_start_prob = 0.01;
  int drop_max_len = 8;
  double drop_outside_prob = 0.7;
};

struct EpochOptions {
  CameraRanges cameras;
  double fps_min = 25, fps_max = 60;
  double size_spread = 0.1, limb_spread = 0.08;
  DetectorNoise noise;
  double label_dropout = 0.2;
  // HumanEva-I Train (the only real-camera 2D) goes into each epoch this many times:
  // 1 gives it its share by frames (2.7% of an epoch); more weighs real cameras and
  // real people's motion up against the virtual ones (train --humaneva-repeat).
  int64_t humaneva_repeat = 1;
};

// The cameras of the held-out set: shapes training never draws.
inline CameraRanges heldout_cameras() {
  CameraRanges r;
  r.frames = {{1080, 1080}, {1280, 1024}};
  return r;
}

namespace mocap_detail {
// H36M-17 parents and limb groups (0 legs, 1 torso, 2 head, 3 arms) of each child joint.
constexpr int kParent[17] = {-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15};
constexpr int kGroup[17] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 1, 3, 3, 1, 3, 3};
// per-joint 2D std as a fraction of the person's height in pixels (COCO-like spreads)
constexpr double kJointStd[17] = {0.012, 0.012, 0.011, 0.016, 0.012, 0.011, 0.016, 0.010, 0.008,
                                  0.006, 0.007, 0.009, 0.012, 0.016, 0.009, 0.012, 0.016};
enum : uint64_t { kStreamClip = 21, kStreamCamera = 22, kStreamNoise = 23 };
inline uint64_t clip_stream(uint64_t purpose, int64_t epoch, size_t clip) {
  return (purpose << 56) | (uint64_t(epoch & 0xffffff) << 32) | uint64_t(clip);
}
}  // namespace mocap_detail

// One clip through one draw of everything: -> a Sequence (label set by the caller).
inline Sequence film_clip(const MocapClip& c, const EpochOptions& o, const CameraRanges& cams, uint64_t seed, int64_t epoch,
                          size_t index) {
  using namespace mocap_detail;
  const uint64_t cs = clip_stream(kStreamClip, epoch, index);
  auto u = [&](uint64_t k) { return random_uniform(seed, cs, k); };
  const int64_t N0 = c.world.size(0), J = 17;
  // frame rate
  const double fps = o.fps_min + (o.fps_max - o.fps_min) * u(0);
  const double dur = double(N0 - 1) / c.fps;
  const int64_t N = std::max<int64_t>(2, int64_t(std::floor(dur * fps)) + 1);
  // body proportions
  double gscale[4];
  const double size = 1 + o.size_spread * (2 * u(1) - 1);
  for (int g = 0; g < 4; ++g) gscale[g] = size * (1 + o.limb_spread * (2 * u(2 + uint64_t(g)) - 1));
  std::vector<double> W(size_t(N * J * 3));  // metres, world
  for (int64_t f = 0; f < N; ++f) {
    const double t = std::min(double(f) / fps * c.fps, double(N0 - 1));
    const int64_t a = std::min<int64_t>(int64_t(t), N0 - 2);
    const double w = t - double(a);
    double src[17][3];
    for (int64_t j = 0; j < J; ++j)
      for (int k = 0; k < 3; ++k)
        src[j][k] = ((1 - w) * c.world.data()[(a * J + j) * 3 + k] + w * c.world.data()[((a + 1) * J + j) * 3 + k]) / 1000.0;
    double* out = W.data() + f * J * 3;
    for (int k = 0; k < 3; ++k) out[k] = src[0][k];
    for (int64_t j = 1; j < J; ++j) {  // parents come before children in H36M order
      const int p = kParent[j];
      for (int k = 0; k < 3; ++k) out[j * 3 + k] = out[p * 3 + k] + gscale[kGroup[j]] * (src[j][k] - src[p][k]);
    }
  }
  // camera aimed around the mean root
  double target[3] = {0, 0, 0};
  for (int64_t f = 0; f < N; ++f)
    for (int k = 0; k < 3; ++k) target[k] += W[size_t(f * J * 3 + k)] / double(N);
  const VirtualCamera cam = sample_camera(cams, target, seed, clip_stream(kStreamCamera, epoch, index));
  Sequence q;
  q.x2d = TensorF({N, J, 2});
  q.x3d = TensorF({N, J, 3});
  Tensor<double> px({N, J, 3});  // x, y pixels, score
  const uint64_t ns = clip_stream(kStreamNoise, epoch, index);
  NormalStream g(seed, ns);
  for (int64_t f = 0; f < N; ++f) {
    double vmin = 1e300, vmax = -1e300;
    for (int64_t j = 0; j < J; ++j) {
      double cc[3];
      cam.to_camera(W.data() + (f * J + j) * 3, cc);
      for (int k = 0; k < 3; ++k) q.x3d(f, j, k) = float(cc[k]);
      double x, y;
      cam.project(cc, x, y);
      px(f, j, 0) = x, px(f, j, 1) = y, px(f, j, 2) = 1;
      vmin = std::min(vmin, y), vmax = std::max(vmax, y);
    }
    if (!o.noise.enabled) continue;
    const double height_px = std::max(vmax - vmin, 10.0);
    for (int64_t j = 0; j < J; ++j) {
      const uint64_t k = uint64_t(f * J + j);
      auto b = g.block(k);
      const double sd = o.noise.scale * kJointStd[j] * height_px;
      px(f, j, 0) += sd * b[0], px(f, j, 1) += sd * b[1];
      const double r0 = random_uniform(seed, ns, 4 * k + 1), r1 = random_uniform(seed, ns, 4 * k + 2);
      if (r0 < o.noise.outlier_prob) {
        px(f, j, 0) += o.noise.outlier_size * height_px * (2 * r1 - 1);
        px(f, j, 1) += o.noise.outlier_size * height_px * (2 * random_uniform(seed, ns, 4 * k + 3) - 1);
      }
      const bool outside = px(f, j, 0) < 0 || px(f, j, 0) >= cam.width || px(f, j, 1) < 0 || px(f, j, 1) >= cam.height;
      if (outside && random_uniform(seed, ns, 4 * k) < o.noise.drop_outside_prob) px(f, j, 2) = 0;
    }
  }
  if (o.noise.enabled) {
    // bursts of dropped joints
    const uint64_t ds = ns ^ (uint64_t(1) << 55);
    for (int64_t j = 0; j < J; ++j)
      for (int64_t f = 0; f < N; ++f)
        if (random_uniform(seed, ds, uint64_t(f * J + j)) < o.noise.drop_start_prob) {
          const int64_t L = 1 + int64_t(random_u32(seed, ds ^ 1, uint64_t(f * J + j)) % uint64_t(o.noise.drop_max_len));
          for (int64_t t = f; t < std::min(N, f + L); ++t) px(t, j, 2) = 0;
        }
    // filled as finepose infer fills them; a joint never seen keeps its noisy track
    Tensor<double> filled = px.clone();
    try {
      wild::fill_gaps(filled, 0.5);
      px = filled;
    } catch (const Error&) {
      // a joint dropped in every frame: nothing to fill from, it keeps its noisy positions
    }
  }
  for (int64_t f = 0; f < N; ++f)
    for (int64_t j = 0; j < J; ++j) {
      q.x2d(f, j, 0) = float(px(f, j, 0) / cam.width * 2 - 1);
      q.x2d(f, j, 1) = float(px(f, j, 1) / cam.width * 2 - cam.height / cam.width);
    }
  // root-relative, root zero
  for (int64_t f = 0; f < N; ++f)
    for (int64_t j = J - 1; j >= 0; --j)
      for (int k = 0; k < 3; ++k) q.x3d(f, j, k) = j == 0 ? 0.f : q.x3d(f, j, k) - q.x3d(f, 0, k);
  q.name = c.name;
  return q;
}

// The training (heldout = false) or held-out sequences of one epoch. Labels are
// indexed into `labels` (Dataset::label_index of the caller's list, so the
// prompt list stays fixed across epochs). The held-out set does not depend on
// the epoch (its own seed stream, no label dropout).
inline void film_epoch(const MocapPool& pool, const EpochOptions& o, bool heldout, uint64_t seed, int64_t epoch, Dataset& out) {
  const CameraRanges cams = heldout ? heldout_cameras() : o.cameras;
  const uint64_t s = heldout ? seed ^ 0x5eed0fc0ffee1234ull : seed;
  const int64_t e = heldout ? 0 : epoch;
  for (size_t i = 0; i < pool.clips.size(); ++i) {
    const MocapClip& c = pool.clips[i];
    if (c.heldout != heldout) continue;
    Sequence q = film_clip(c, o, cams, s, e, i);
    const bool generic = !heldout && random_uniform(s, mocap_detail::clip_stream(mocap_detail::kStreamClip, e, i), 99) < o.label_dropout;
    q.label = out.label_index(generic ? kGenericLabel : label_for_motion(c.motion.empty() ? c.name : c.motion));
    out.seqs.push_back(std::move(q));
  }
}

}  // namespace finepose::train
