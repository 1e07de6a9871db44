#pragma once
// The smoothing study behind `finepose smooth-study` and infer's default
// --smooth: whole sequences lifted as `finepose infer` lifts them (sliding
// windows, wild::lift_sequence), then every filter setting of a grid applied to
// the same output and scored against the truth: MPJPE, P-MPJPE and the
// acceleration error (mm/frame^2, SmoothNet's jitter measure).
//
// Two sets: the held-out split of the training data (CMU + Bandai "elderly"
// clips filmed through the held-out cameras with the detector's 2D errors,
// train/mocap_pool.hpp; at a fixed frame rate) chooses the setting; HumanEva-I
// Validate (real cameras, ground-truth 2D, 60 Hz) is the test figure, reported
// and never chosen by.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "finepose/model/finepose_model.hpp"
#include "finepose/pose/metrics.hpp"
#include "finepose/pose/smoothing.hpp"
#include "finepose/train/datasets.hpp"
#include "finepose/train/mocap_pool.hpp"
#include "finepose/wild/lifter.hpp"

namespace finepose::eval {

struct StudySequence {
  std::string name;
  Tensor<double> keypoints;  // (F, 17, 3) pixels of a 1000 x 1000 frame (see to_study), score 1
  TensorF target;            // (F, 17, 3) mm, root-relative
  double fps = 50;
};

// A training-format sequence (x2d normalised as the model sees it, x3d metres)
// as lifter input. The lifter normalises x by width and y by width and height:
// pixels of a 1000 x 1000 frame map back onto exactly the same model input,
// whatever the real frame was.
inline StudySequence to_study(const train::Sequence& q, double fps) {
  StudySequence s;
  s.name = q.name;
  s.fps = fps;
  const int64_t F = q.x2d.size(0);
  s.keypoints = Tensor<double>({F, 17, 3});
  s.target = TensorF({F, 17, 3});
  for (int64_t i = 0; i < F * 17; ++i) {
    s.keypoints.data()[i * 3] = (double(q.x2d.data()[i * 2]) + 1) * 500;
    s.keypoints.data()[i * 3 + 1] = (double(q.x2d.data()[i * 2 + 1]) + 1) * 500;
    s.keypoints.data()[i * 3 + 2] = 1;
    for (int c = 0; c < 3; ++c) s.target.data()[i * 3 + c] = 1000.f * q.x3d.data()[i * 3 + c];
  }
  return s;
}

// The held-out split (every held-out clip, or the first max_seqs) at `fps`.
inline std::vector<StudySequence> heldout_sequences(const std::string& data_dir, double fps, int64_t max_seqs = -1,
                                                    uint64_t seed = 1) {
  const train::MocapPool pool = train::load_mocap_pool(data_dir);
  FINEPOSE_CHECK(!pool.clips.empty(), data_dir, ": no mocap files (cmu_mocap_h36m17.npz, bandai_namco_h36m17.npz)");
  train::EpochOptions eo;
  eo.fps_min = eo.fps_max = fps;
  train::Dataset d;
  train::film_epoch(pool, eo, /*heldout=*/true, seed, 0, d);
  std::vector<StudySequence> out;
  for (const auto& q : d.seqs) {
    if (max_seqs >= 0 && int64_t(out.size()) >= max_seqs) break;
    if (q.x2d.size(0) >= 3) out.push_back(to_study(q, fps));
  }
  return out;
}

// HumanEva-I Validate, every clip and camera (60 Hz), or the first max_seqs.
inline std::vector<StudySequence> humaneva_validate_sequences(const std::string& data_dir, int64_t max_seqs = -1) {
  const train::Dataset d = train::load_humaneva(data_dir + "/humaneva_i_h36m17.npz", "Validate");
  std::vector<StudySequence> out;
  for (const auto& q : d.seqs) {
    if (max_seqs >= 0 && int64_t(out.size()) >= max_seqs) break;
    if (q.x2d.size(0) >= 3) out.push_back(to_study(q, 60));
  }
  return out;
}

// The grid: none, one-euro over min cutoff x beta, savgol over window x order.
// Windows and cutoffs are in frames and Hz at the sequence's own rate.
inline std::vector<pose::SmoothOptions> smoothing_grid() {
  std::vector<pose::SmoothOptions> g;
  g.push_back({});
  for (double mc : {0.5, 1.0, 2.0, 4.0})
    for (double beta : {0.0, 0.002, 0.01, 0.05}) {
      pose::SmoothOptions o;
      o.kind = pose::Smoother::one_euro, o.min_cutoff = mc, o.beta = beta;
      g.push_back(o);
    }
  for (int64_t w : {5, 9, 15, 21, 31})
    for (int64_t p : {2, 3}) {
      pose::SmoothOptions o;
      o.kind = pose::Smoother::savgol, o.window = w, o.order = p;
      g.push_back(o);
    }
  return g;
}

struct StudyRow {
  pose::SmoothOptions smooth;
  double mpjpe = 0, p_mpjpe = 0, accel = 0;  // frame-weighted over the set
};

// Lifts every sequence once (opt's sampling settings, no smoothing), then scores
// each grid setting on the same output. progress(done, total) per sequence.
inline std::vector<StudyRow> study_smoothing(const FinePoseModel& model, const std::vector<StudySequence>& seqs,
                                             const std::vector<pose::SmoothOptions>& grid, wild::LiftOptions opt,
                                             const std::function<void(int64_t, int64_t)>& progress = {}) {
  FINEPOSE_CHECK(!seqs.empty(), "smoothing study: no sequences");
  opt.smooth = {};
  opt.on_window = nullptr;
  std::vector<StudyRow> rows(grid.size());
  for (size_t g = 0; g < grid.size(); ++g) rows[g].smooth = grid[g];
  double frames = 0, accel_frames = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const StudySequence& s = seqs[i];
    const wild::Lifted l = wild::lift_sequence(model, s.keypoints, 1000, 1000, opt);
    const double F = double(s.target.size(0));
    for (size_t g = 0; g < grid.size(); ++g) {
      pose::SmoothOptions so = grid[g];
      so.fps = s.fps;
      TensorF p = l.poses.clone();
      pose::smooth_sequence(p, so);
      rows[g].mpjpe += F * pose::mpjpe(p, s.target);
      rows[g].p_mpjpe += F * pose::p_mpjpe(p, s.target);
      rows[g].accel += (F - 2) * pose::acceleration_error(p, s.target);
    }
    frames += F, accel_frames += F - 2;
    if (progress) progress(int64_t(i) + 1, int64_t(seqs.size()));
  }
  for (auto& r : rows) r.mpjpe /= frames, r.p_mpjpe /= frames, r.accel /= accel_frames;
  return rows;
}

// The choice: the lowest MPJPE among the settings that lower the acceleration
// error below no smoothing's; none when no setting does both.
inline size_t choose_smoothing(const std::vector<StudyRow>& rows) {
  FINEPOSE_CHECK(!rows.empty() && rows[0].smooth.kind == pose::Smoother::none, "smoothing study: row 0 must be 'none'");
  size_t best = 0;
  for (size_t g = 1; g < rows.size(); ++g)
    if (rows[g].accel < rows[0].accel && rows[g].mpjpe <= rows[0].mpjpe && (best == 0 || rows[g].mpjpe < rows[best].mpjpe))
      best = g;
  return best;
}

}  // namespace finepose::eval
