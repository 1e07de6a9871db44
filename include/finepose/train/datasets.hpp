#pragma once
// Readers for the shared real data (../shared/data, see its README), producing
// train::Dataset sequences (2D normalised as VideoPose3D's
// normalize_screen_coordinates, 3D in metres, root-relative with the root zero):
//   HumanEva-I: real cameras (pose2d pixels, pose3d_cam), split Train / Validate,
//               one sequence per (take chunk, camera).
//   CMU mocap, Bandai Namco: world 3D only; each clip is seen through a random
//               virtual camera (focal length, principal point, distance, height,
//               yaw) and optionally Gaussian 2D noise in pixels.
// Labels: no CLIP vocabulary ships with the repo, so actions are mapped onto the
// built-in Human3.6M labels: locomotion -> "Walking", everything else -> "Directions".
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "finepose/io/npz.hpp"
#include "finepose/train/data.hpp"
#include "finepose/train/mocap_pool.hpp"

namespace finepose::train {

inline std::string prompt_label_for(std::string action) {
  for (auto& c : action) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const char* w : {"walk", "jog", "run", "dash"})
    if (action.find(w) != std::string::npos) return "Walking";
  return "Directions";
}

inline void to_root_relative(float* x3d, int64_t N, int64_t J) {
  for (int64_t f = 0; f < N; ++f) {
    float* p = x3d + f * J * 3;
    for (int64_t j = J - 1; j >= 0; --j)
      for (int k = 0; k < 3; ++k) p[j * 3 + k] = j == 0 ? 0.f : p[j * 3 + k] - p[k];
  }
}

// HumanEva-I. split: "Train" or "Validate". `label_of` maps an action name to a prompt label.
inline Dataset load_humaneva(const std::string& path, const std::string& split,
                             std::string (*label_of)(std::string) = prompt_label_for) {
  const io::NpzMap z = io::load_npz(path);
  auto get = [&](const char* k) -> const io::NdArray& {
    auto it = z.find(k);
    if (it == z.end()) fail(path, ": no array '", k, "' (is this humaneva_i_h36m17.npz?)");
    return it->second;
  };
  const TensorF p2 = io::to_tensor<float>(get("pose2d"), "pose2d");        // [3, N, 17, 2]
  const TensorF p3 = io::to_tensor<float>(get("pose3d_cam"), "pose3d_cam"); // [3, N, 17, 3]
  const auto start = io::to_tensor<int64_t>(get("seq_start"), "seq_start").to_vector();
  const auto len = io::to_tensor<int64_t>(get("seq_len"), "seq_len").to_vector();
  const auto names = io::to_strings(get("seq_name"), "seq_name");
  const auto splits = io::to_strings(get("seq_split"), "seq_split");
  const auto actions = io::to_strings(get("seq_action"), "seq_action");
  const TensorF intr = io::to_tensor<float>(get("cam_intrinsics"), "cam_intrinsics");  // [3, 6]: fx fy cx cy w h
  FINEPOSE_CHECK(p2.dim() == 4 && p2.size(2) == 17 && p3.dim() == 4 && p3.size(1) == p2.size(1), path,
                 ": unexpected pose array shapes ", shape_str(p2.shape()), " / ", shape_str(p3.shape()));
  const int64_t C = p2.size(0), NT = p2.size(1), J = 17;
  Dataset d;
  for (std::size_t s = 0; s < names.size(); ++s) {
    if (splits[s] != split) continue;
    FINEPOSE_CHECK(start[s] >= 0 && len[s] > 0 && start[s] + len[s] <= NT, path, ": sequence ", names[s], " is out of range");
    for (int64_t c = 0; c < C; ++c) {
      Sequence q;
      q.name = names[s] + " C" + std::to_string(c + 1);
      q.label = d.label_index(label_of(actions[s]));
      const int64_t N = len[s];
      q.x2d = TensorF({N, J, 2});
      q.x3d = TensorF({N, J, 3});
      const float w = intr(c, 4), h = intr(c, 5);
      for (int64_t f = 0; f < N; ++f)
        for (int64_t j = 0; j < J; ++j) {
          q.x2d(f, j, 0) = p2(c, start[s] + f, j, 0) / w * 2.f - 1.f;
          q.x2d(f, j, 1) = p2(c, start[s] + f, j, 1) / w * 2.f - h / w;
          for (int k = 0; k < 3; ++k) q.x3d(f, j, k) = p3(c, start[s] + f, j, k) / 1000.f;
        }
      to_root_relative(q.x3d.data(), N, J);
      d.seqs.push_back(std::move(q));
    }
  }
  FINEPOSE_CHECK(!d.seqs.empty(), path, ": no sequences in split '", split, "'");
  return d;
}

struct VirtualCameraOptions {
  uint64_t seed = 1;
  double noise_px = 0;          // std of Gaussian 2D noise (pixels)
  int64_t max_frames = 0;       // per file, 0: all (clips taken evenly spaced)
  int64_t frame_stride = 1;     // keep every k-th frame
};

// World poses [N, 17, 3] (mm, Z up) of one clip -> a sequence through a random camera.
inline Sequence project_virtual(const float* world, int64_t N, uint64_t seed, uint64_t clip, double noise_px) {
  const int64_t J = 17;
  auto u = [&](uint64_t k) { return random_uniform(seed, (uint64_t(7) << 56) | clip, k); };
  // image size and intrinsics like real cameras (HumanEva: f/w ~ 1.1 at 640 px)
  static const double sizes[3][2] = {{640, 480}, {1280, 720}, {1000, 1000}};
  const auto& sz = sizes[random_u32(seed, (uint64_t(7) << 56) | clip, 99) % 3];
  const double w = sz[0], h = sz[1];
  const double fpx = w * (0.8 + 0.8 * u(0));
  const double cx = w / 2 + (u(1) - 0.5) * 0.06 * w, cy = h / 2 + (u(2) - 0.5) * 0.06 * h;
  // aim at the clip's mean root; camera 3.5-6.5 m away at 0.8-1.8 m height
  double mx = 0, my = 0, mz = 0;
  for (int64_t f = 0; f < N; ++f) {
    mx += world[f * J * 3 + 0];
    my += world[f * J * 3 + 1];
    mz += world[f * J * 3 + 2];
  }
  mx /= double(N) * 1000.0, my /= double(N) * 1000.0, mz /= double(N) * 1000.0;
  const double yaw = 2 * 3.14159265358979323846 * u(3), dist = 3.5 + 3.0 * u(4), height = 0.8 + 1.0 * u(5);
  const double Cx = mx + dist * std::cos(yaw), Cy = my + dist * std::sin(yaw), Cz = height;
  double fw[3] = {mx - Cx, my - Cy, mz - Cz};
  double n = std::sqrt(fw[0] * fw[0] + fw[1] * fw[1] + fw[2] * fw[2]);
  for (auto& v : fw) v /= n;
  double rt[3] = {fw[1] * 1 - fw[2] * 0, fw[2] * 0 - fw[0] * 1, 0};  // fw x (0, 0, 1)
  n = std::sqrt(rt[0] * rt[0] + rt[1] * rt[1] + rt[2] * rt[2]);
  for (auto& v : rt) v /= n;
  const double dn[3] = {fw[1] * rt[2] - fw[2] * rt[1], fw[2] * rt[0] - fw[0] * rt[2], fw[0] * rt[1] - fw[1] * rt[0]};
  const double* R[3] = {rt, dn, fw};
  NormalStream noise(seed, (uint64_t(8) << 56) | clip);
  Sequence q;
  q.x2d = TensorF({N, J, 2});
  q.x3d = TensorF({N, J, 3});
  for (int64_t f = 0; f < N; ++f)
    for (int64_t j = 0; j < J; ++j) {
      const float* p = world + (f * J + j) * 3;
      const double X[3] = {p[0] / 1000.0 - Cx, p[1] / 1000.0 - Cy, p[2] / 1000.0 - Cz};
      double c[3];
      for (int r = 0; r < 3; ++r) c[r] = R[r][0] * X[0] + R[r][1] * X[1] + R[r][2] * X[2];
      const double z = std::max(c[2], 0.1);
      double px = fpx * c[0] / z + cx, py = fpx * c[1] / z + cy;
      if (noise_px > 0) {
        auto b = noise.block(uint64_t(f * J + j));
        px += noise_px * b[0];
        py += noise_px * b[1];
      }
      q.x2d(f, j, 0) = float(px / w * 2 - 1);
      q.x2d(f, j, 1) = float(py / w * 2 - h / w);
      for (int k = 0; k < 3; ++k) q.x3d(f, j, k) = float(c[k]);
    }
  to_root_relative(q.x3d.data(), N, J);
  return q;
}

// CMU (pose3d float, mm) or Bandai Namco (pose3d_mm int16) file; clips labelled by
// seq_name / seq_content.
inline void append_mocap(Dataset& d, const std::string& path, const VirtualCameraOptions& opt, uint64_t file_tag) {
  const io::NpzMap z = io::load_npz(path);
  auto find = [&](const char* k) { return z.find(k); };
  auto pit = find("pose3d");
  if (pit == z.end()) pit = find("pose3d_mm");
  if (pit == z.end()) fail(path, ": no pose3d / pose3d_mm array");
  const TensorF P = io::to_tensor<float>(pit->second, pit->first);
  FINEPOSE_CHECK(P.dim() == 3 && P.size(1) == 17 && P.size(2) == 3, path, ": pose array ", shape_str(P.shape()),
                 " is not [N, 17, 3]");
  auto sit = find("seq_start"), lit = find("seq_len");
  FINEPOSE_CHECK(sit != z.end() && lit != z.end(), path, ": no seq_start / seq_len");
  const auto start = io::to_tensor<int64_t>(sit->second, "seq_start").to_vector();
  const auto len = io::to_tensor<int64_t>(lit->second, "seq_len").to_vector();
  std::vector<std::string> label(start.size(), "");
  auto cit = find("seq_content");
  if (cit == z.end()) cit = find("seq_name");
  if (cit != z.end()) label = io::to_strings(cit->second, cit->first);
  FINEPOSE_CHECK(label.size() == start.size() && len.size() == start.size(), path, ": per-sequence arrays differ in length");
  int64_t total = 0;
  for (auto l : len) total += l;
  const int64_t stride = std::max<int64_t>(1, opt.frame_stride);
  // evenly spaced clips until max_frames (after the stride) is reached
  const double keep = opt.max_frames > 0 ? std::min(1.0, double(opt.max_frames) * double(stride) / double(total)) : 1.0;
  double acc = 0;
  for (std::size_t s = 0; s < start.size(); ++s) {
    acc += keep;
    if (acc < 1.0) continue;
    acc -= 1.0;
    FINEPOSE_CHECK(start[s] >= 0 && len[s] >= 0 && start[s] + len[s] <= P.size(0), path, ": sequence ", s, " out of range");
    const int64_t N = (len[s] + stride - 1) / stride;
    if (N < 2) continue;
    std::vector<float> w(size_t(N * 17 * 3));
    for (int64_t f = 0; f < N; ++f)
      std::copy(P.data() + (start[s] + f * stride) * 51, P.data() + (start[s] + f * stride + 1) * 51, w.data() + f * 51);
    Sequence q = project_virtual(w.data(), N, opt.seed, (file_tag << 32) | s, opt.noise_px);
    q.name = path + "#" + std::to_string(s);
    q.label = d.label_index(prompt_label_for(label[s]));
    d.seqs.push_back(std::move(q));
  }
}

// The training set of `finepose train` (and of the baselines, so that every method
// sees the same frames): HumanEva-I Train with its real cameras, plus up to
// mocap_frames frames of each mocap file in DIR (CMU, Bandai Namco; absent files
// skipped) through virtual cameras drawn from seed, with noise_px pixels of 2D
// noise. Validate holds HumanEva-I Validate, its labels indexing train's list.
struct TrainingDataOptions {
  uint64_t seed = 1;
  int64_t mocap_frames = 20000;  // per mocap file; 0 = all, -1 = none
  double noise_px = 1.0;
  // "fixed": each mocap clip through one virtual camera for the whole run (the small
  // model's data). "wide": all mocap, filmed anew every epoch through cameras of the
  // range real videos have, with a detector's 2D errors (train/mocap_pool.hpp);
  // CMU and Bandai "elderly" held out for validation.
  std::string pipeline = "fixed";
  EpochOptions epoch;  // "wide" only
};

struct TrainingData {
  Dataset train, validate;  // validate: HumanEva-I Validate (real 2D): reported, never chosen by
  // "wide" only: the mocap clips, the held-out set (chooses sizes and checkpoints) and
  // HumanEva-I Train (real cameras), which every epoch's set starts with
  MocapPool pool;
  Dataset heldout, humaneva_train;
  EpochOptions epoch_options;
  uint64_t seed = 1;
  bool wide() const { return !pool.clips.empty(); }

  // The training set of `epoch` (0-based): "fixed": `train`; "wide": HumanEva-I
  // Train (humaneva_repeat times) plus every training clip filmed for this epoch,
  // labels dropped to the generic prompt with probability label_dropout. Labels
  // index train.labels.
  Dataset epoch_set(int64_t epoch) const {
    if (!wide()) return train;
    FINEPOSE_CHECK(epoch_options.humaneva_repeat >= 1 && epoch_options.humaneva_repeat <= 255,
                   "train: humaneva_repeat must be in 1..255, got ", epoch_options.humaneva_repeat);
    Dataset d;
    d.labels = train.labels;
    for (int64_t r = 0; r < epoch_options.humaneva_repeat; ++r)
      for (size_t i = 0; i < humaneva_train.seqs.size(); ++i) {
        Sequence q = humaneva_train.seqs[i];
        // copy r > 0 starts r * 20 frames later (modulo half the sequence), so that its chunks,
        // laid out from a sequence's first frame, cut it elsewhere than the other copies'
        const int64_t N = q.x2d.size(0), shift = N >= 40 ? (r * 20) % (N / 2) : 0;
        if (shift > 0) {
          q.x2d = q.x2d.slice(0, shift, N).contiguous();
          q.x3d = q.x3d.slice(0, shift, N).contiguous();
          q.name += " copy " + std::to_string(r);
        }
        // copy 0 draws its label dropout as before this option existed (runs resume unchanged)
        const uint64_t key = (uint64_t(24) << 56) | (uint64_t(epoch) << 32) | (uint64_t(r) << 24) | i;
        if (random_uniform(seed, key, 0) < epoch_options.label_dropout) q.label = d.label_index(kGenericLabel);
        d.seqs.push_back(std::move(q));
      }
    film_epoch(pool, epoch_options, false, seed, epoch, d);
    FINEPOSE_CHECK(d.labels == train.labels, "train: epoch ", epoch, " produced a label outside the prompt list");
    return d;
  }
};

inline TrainingData load_training_data(const std::string& dir, const TrainingDataOptions& opt = {}) {
  const std::string he = dir + "/humaneva_i_h36m17.npz";
  TrainingData td;
  td.seed = opt.seed;
  if (opt.pipeline == "wide") {
    td.humaneva_train = load_humaneva(he, "Train", label_for_motion);
    td.validate = load_humaneva(he, "Validate", label_for_motion);
    td.pool = load_mocap_pool(dir);
    FINEPOSE_CHECK(!td.pool.clips.empty(), dir, ": no mocap files (cmu_mocap_h36m17.npz, bandai_namco_h36m17.npz) for the wide pipeline");
    td.epoch_options = opt.epoch;
    // every label any epoch can produce, in a fixed order (the prompt list)
    for (const char* l : {"Walking", "Greeting", "Posing", "Directions", kGenericLabel}) td.train.label_index(l);
    for (const auto& l : td.humaneva_train.labels) td.train.label_index(l);
    for (auto& q : td.humaneva_train.seqs) q.label = td.train.label_index(td.humaneva_train.labels[size_t(q.label)]);
    td.humaneva_train.labels = td.train.labels;
    for (auto& q : td.validate.seqs) q.label = td.train.label_index(td.validate.labels[size_t(q.label)]);
    td.validate.labels = td.train.labels;
    td.heldout.labels = td.train.labels;
    film_epoch(td.pool, td.epoch_options, true, td.seed, 0, td.heldout);
    FINEPOSE_CHECK(td.heldout.labels == td.train.labels, "train: the held-out set produced a label outside the prompt list");
    return td;
  }
  FINEPOSE_CHECK(opt.pipeline == "fixed", "train: unknown data pipeline '", opt.pipeline, "' (fixed or wide)");
  td.train = load_humaneva(he, "Train");
  td.validate = load_humaneva(he, "Validate");
  // labels must index the same prompt list as training
  for (auto& s : td.validate.seqs) s.label = td.train.label_index(td.validate.labels[size_t(s.label)]);
  if (opt.mocap_frames >= 0) {
    VirtualCameraOptions vo;
    vo.seed = opt.seed;
    vo.noise_px = opt.noise_px;
    vo.max_frames = opt.mocap_frames;
    uint64_t tag = 1;
    for (const char* f : {"cmu_mocap_h36m17.npz", "bandai_namco_h36m17.npz"}) {
      const std::string p = dir + "/" + f;
      if (std::filesystem::exists(p)) append_mocap(td.train, p, vo, tag);
      ++tag;
    }
  }
  td.validate.labels = td.train.labels;
  return td;
}

}  // namespace finepose::train
