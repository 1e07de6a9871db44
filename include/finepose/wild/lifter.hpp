#pragma once
// 2D keypoints (pixels, Human3.6M-17 order) of any length -> root-relative 3D
// poses in millimetres, with a FinePOSE model.
//
//   StreamingLifter  push frames one at a time, get final frames back with a
//                    bounded latency (at most T - 1 frames, T = model frames),
//                    flush() at the end.
//   lift_sequence    a whole sequence at once (gap filling, then the
//                    streaming lifter over all frames; same numbers).
//
// Inputs are normalised with VideoPose3D's normalize_screen_coordinates
// (pixels / w * 2 - [1, h / w]), as the models were trained. Outputs:
// H36M-17 order, root (pelvis) at 0, millimetres. A Human3.6M model predicts
// metres (upstream trains on metres), so its output is multiplied by 1000; an
// MPI-INF-3DHP model already predicts millimetres in its own 17-joint order,
// which is mapped to and from H36M-17 (approximately: 3DHP head_top / neck /
// head stand for H36M head / thorax / neck_nose).
//
// Text: a Human3.6M model is trained with one of the 15 Human3.6M action
// labels in its prompt. Without a label (action empty or "auto") the lifter
// uses the model's default_action (config; a model trained with label dropout
// has one: its generic prompt), else kDefaultAction ("Waiting", a generic
// mostly-standing activity), and
// says so; the label is conditioning only, a wrong one costs accuracy (the
// FinePOSE paper's prompt ablation: a few mm MPJPE), not a failure. An
// MPI-INF-3DHP model has no action prompt.
//
// Aggregation of H hypotheses: P-Agg (mean), or J-Agg (per joint, the
// hypothesis whose reprojection is closest to the 2D input). J-Agg needs a
// camera and the root position: with intrinsics it uses them; without, it
// assumes assumed_intrinsics(w, h) (focal length 1.145 w, centred) and says
// so. The root position is fitted from the P-Agg pose (root_fit.hpp).
// Camera-space trajectories are reported only when intrinsics are given.
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "finepose/model/finepose_model.hpp"
#include "finepose/pose/aggregation.hpp"
#include "finepose/pose/camera.hpp"
#include "finepose/pose/skeleton.hpp"
#include "finepose/pose/smoothing.hpp"
#include "finepose/wild/gap_fill.hpp"
#include "finepose/wild/root_fit.hpp"
#include "finepose/wild/windowing.hpp"

namespace finepose::wild {

inline const char* kDefaultAction = "Waiting";

enum class Aggregation { p_agg, j_agg };

inline Aggregation aggregation_from_name(const std::string& n) {
  if (n == "p-agg" || n == "p_agg") return Aggregation::p_agg;
  if (n == "j-agg" || n == "j_agg") return Aggregation::j_agg;
  fail("unknown aggregation '", n, "' (j-agg or p-agg)");
}

struct LiftOptions {
  std::string action;  // Human3.6M action label; "" or "auto": kDefaultAction
  int64_t hypotheses = 1;
  int64_t steps = 1;
  bool flip = false;
  std::uint64_t seed = 0;
  Aggregation aggregation = Aggregation::p_agg;
  std::optional<pose::CameraIntrinsics> intrinsics;  // pixel intrinsics of the video's camera
  int64_t overlap = -1;        // window overlap in frames; -1: default_overlap(T)
  bool keep_hypotheses = false;
  double min_score = 0.3;      // joints below this score are missing (filled)
  std::function<void(int64_t done, int64_t total)> on_window;  // progress
  // Temporal smoothing of the whole sequence's output (poses, hypotheses and
  // trajectory; pose/smoothing.hpp); none by default in the library.
  pose::SmoothOptions smooth;
};

// One output frame.
struct LiftedFrame {
  int64_t index = 0;
  std::vector<float> pose;        // 17 * 3, mm, root-relative
  std::vector<float> hypotheses;  // H * 17 * 3 (keep_hypotheses)
  bool has_trajectory = false;
  float trajectory[3] = {0, 0, 0};  // camera-space root, mm (intrinsics given)
};

struct Lifted {
  TensorF poses;        // (F, 17, 3) mm, root-relative, H36M-17 order
  TensorF hypotheses;   // (F, H, 17, 3) with keep_hypotheses
  TensorF trajectory;   // (F, 3) camera-space root in mm, only with intrinsics
  std::string action;   // label used ("" for a model without action prompt)
  Tensor<double> keypoints;  // (F, 17, 3) the 2D that was lifted: pixels + score after gap filling
  GapReport gaps;
  std::vector<std::string> notes;  // what was assumed, in words
};

namespace detail {
// 3DHP-17 joint k is H36M-17 joint kH36mFor3dhp[k].
inline const int kH36mFor3dhp[17] = {10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6, 0, 7, 9};
}  // namespace detail

class StreamingLifter {
 public:
  static constexpr int J = 17;

  // The model must outlive the lifter. hold_low_confidence: a joint below
  // min_score takes its last confident position (causal gap filling; turn
  // off when the input is already filled).
  StreamingLifter(const FinePoseModel& model, int width, int height, LiftOptions opt, bool hold_low_confidence = true)
      : model_(model), w_(width), h_(height), opt_(std::move(opt)), hold_(hold_low_confidence) {
    const auto& cfg = model.config();
    FINEPOSE_CHECK(width > 0 && height > 0, "lift: image size ", width, "x", height, " must be positive (--width/--height)");
    FINEPOSE_CHECK(cfg.joints == J && cfg.in_chans == 2, "lift: the model takes ", cfg.joints, " joints x ", cfg.in_chans,
                   " coordinates; in-the-wild lifting needs a 17-joint 2D model");
    FINEPOSE_CHECK(opt_.hypotheses >= 1 && opt_.hypotheses <= 1000, "lift: hypotheses = ", opt_.hypotheses, " out of range 1..1000");
    FINEPOSE_CHECK(opt_.steps >= 1 && opt_.steps <= cfg.timesteps, "lift: steps = ", opt_.steps, " out of range 1..", cfg.timesteps);
    T_ = cfg.frames;
    overlap_ = opt_.overlap < 0 ? default_overlap(T_) : opt_.overlap;
    FINEPOSE_CHECK(overlap_ < T_, "lift: overlap ", overlap_, " must be smaller than the model's ", T_, " frames");
    threedhp_ = cfg.variant == PromptVariant::mpi3dhp;
    unit_to_mm_ = threedhp_ ? 1.0 : 1000.0;  // ddim output: metres (H36M) or mm (3DHP, already x1000)
    if (threedhp_) {
      if (!opt_.action.empty() && opt_.action != "auto")
        notes_.push_back("this MPI-INF-3DHP model has no action prompt; --action " + opt_.action + " is ignored");
      action_.clear();
    } else if ((opt_.action.empty() || opt_.action == "auto") && !cfg.default_action.empty()) {
      // a model trained with label dropout has an unconditional prompt, and says which
      action_ = cfg.default_action;
      notes_.push_back("no action label given: using the model's generic prompt \"" + action_ + "\"");
    } else if (opt_.action.empty() || opt_.action == "auto") {
      action_ = kDefaultAction;
      notes_.push_back(std::string("no action label given: using \"") + kDefaultAction +
                       "\" (the model was trained with the 15 Human3.6M action labels; a wrong label costs accuracy, see --help)");
    } else {
      action_ = opt_.action;
      model.text_features(action_);  // fails now, with the label in the message, if it cannot be tokenised
    }
    if (opt_.aggregation == Aggregation::j_agg && !opt_.intrinsics)
      notes_.push_back("J-Agg without intrinsics: assuming a Human3.6M-like camera (focal length 1.145 x image width, "
                       "principal point at the image centre) to compare reprojections");
    if (opt_.aggregation == Aggregation::j_agg && opt_.hypotheses == 1)
      notes_.push_back("J-Agg with one hypothesis is that hypothesis");
  }

  int64_t window() const { return T_; }
  int64_t overlap() const { return overlap_; }
  // A pushed frame is returned at the latest this many pushes later (or by flush()).
  int64_t latency_frames() const { return T_ - 1; }
  const std::string& action() const { return action_; }
  const std::vector<std::string>& notes() const { return notes_; }
  int64_t windows_run() const { return windows_run_; }

  // xy: 17 x 2 pixels in H36M-17 order; scores: 17 values or nullptr (all confident).
  std::vector<LiftedFrame> push(const float* xy, const float* scores = nullptr) {
    double xys[3 * J];
    for (int j = 0; j < J; ++j) xys[3 * j] = xy[2 * j], xys[3 * j + 1] = xy[2 * j + 1], xys[3 * j + 2] = scores ? scores[j] : 1.0;
    return push_xys(xys);
  }

  // One frame as read_keypoints / lift_sequence hold it: 17 x (x, y, score),
  // pixels in double precision. This is the path from the file to the
  // forward: the keypoints stay double until the window is normalised into
  // the model's float input (run_window), the one precision change.
  std::vector<LiftedFrame> push_xys(const double* xys) {
    FINEPOSE_CHECK(!flushed_, "lift: push() after flush(); start a new StreamingLifter for a new sequence");
    Frame fr;
    for (int j = 0; j < J; ++j) {
      double x = xys[3 * j], y = xys[3 * j + 1], s = xys[3 * j + 2];
      if (!std::isfinite(x) || !std::isfinite(y) || !std::isfinite(s))
        fail("lift: frame ", pushed_, " joint ", j, " is not finite (NaN/Inf); mark a missing joint with score 0");
      if (hold_) {
        if (s >= opt_.min_score) last_good_[j][0] = x, last_good_[j][1] = y, have_good_[j] = true;
        else if (have_good_[j]) x = last_good_[j][0], y = last_good_[j][1];
      }
      // normalised by the width as the model was trained; a confident joint far outside
      // the picture is a broken file or a wrong --width (a missing one just is not there)
      const double lim = FinePoseModel::kMaxInputCoordinate * w_ / 2;
      if (std::fabs(x - w_ / 2.0) > lim || std::fabs(y - h_ / 2.0) > lim) {
        if (s < opt_.min_score) {
          x = w_ / 2.0, y = h_ / 2.0;
        } else {
          fail("lift: frame ", pushed_, " joint ", j, " at (", x, ", ", y, ") px lies more than ",
               FinePoseModel::kMaxInputCoordinate / 2, " image widths outside the ", w_, "x", h_,
               " picture (wrong --width/--height, or not pixels?)");
        }
      }
      fr.px[2 * j] = x, fr.px[2 * j + 1] = y, fr.score[j] = s;
    }
    fr.acc.assign(size_t(opt_.hypotheses * J * 3), 0.0);
    frames_.push_back(std::move(fr));
    ++pushed_;
    std::vector<LiftedFrame> out;
    if (next_start_ + T_ <= pushed_) {
      run_window(next_start_, 0, 0, 0);
      covered_ = next_start_ + T_;
      next_start_ += T_ - overlap_;
      if (!deferred_) emit_before(next_start_, out);
    }
    return out;
  }

  // Ends the sequence: covers what no window covered yet and returns every
  // frame not yet returned.
  std::vector<LiftedFrame> flush() {
    std::vector<LiftedFrame> out;
    FINEPOSE_CHECK(pushed_ > 0 || emitted_ > 0, "lift: empty sequence (no frames)");
    if (covered_ < pushed_) {
      const int64_t start = std::max<int64_t>(0, pushed_ - T_);
      const int64_t n = pushed_ - start;
      const int64_t before = (T_ - n) / 2;
      run_window(start, before, T_ - n - before, next_start_);
      covered_ = pushed_;
    }
    if (!deferred_) emit_before(pushed_, out);
    next_start_ = pushed_;
    flushed_ = true;
    return out;
  }

  // Deferred windows, for running several sequences' windows in one batched
  // denoiser call (lift_sequences): after defer_windows(), push() and flush()
  // only record each window's model input (WindowRequest) and return nothing;
  // the caller samples every request (sample_windows), hands each its result
  // with complete_window(), and takes all frames with take_frames(). The
  // numbers are those of the immediate mode: the same inputs, the same
  // per-window seeds.
  struct WindowRequest {
    TensorF x2d;           // [1, T, J, 2] the normalised model input
    std::uint64_t seed = 0;
    int64_t start = 0, pad_before = 0, frames = 0, min_frame = 0;
    bool done = false;
  };
  void defer_windows() {
    FINEPOSE_CHECK(pushed_ == 0, "lift: defer_windows() before the first push");
    deferred_ = true;
  }
  std::vector<WindowRequest>& pending_windows() { return pending_; }
  // last: the request's final-step x0, [H, T, J, 3] in the model's units.
  void complete_window(size_t i, const float* last) {
    FINEPOSE_CHECK(deferred_ && i < pending_.size() && !pending_[i].done, "lift: complete_window(", i, ") out of turn");
    accumulate(pending_[i], last);
    pending_[i].done = true;
    pending_[i].x2d = TensorF();
  }
  std::vector<LiftedFrame> take_frames() {
    FINEPOSE_CHECK(deferred_ && flushed_, "lift: take_frames() is for deferred windows, after flush()");
    for (size_t i = 0; i < pending_.size(); ++i)
      FINEPOSE_CHECK(pending_[i].done, "lift: take_frames() with window ", i, " not sampled");
    std::vector<LiftedFrame> out;
    emit_before(pushed_, out);
    return out;
  }
  const LiftOptions& options() const { return opt_; }

  // The total number of windows a sequence of `frames` frames will take.
  int64_t windows_for(int64_t frames) const { return int64_t(plan_windows(frames, T_, overlap_).starts.size()); }
  // Tells progress callbacks how many windows to expect (when the length is known).
  void set_expected_frames(int64_t frames) { total_windows_ = windows_for(frames); }

 private:
  struct Frame {
    double px[2 * J];
    double score[J];
    std::vector<double> acc;  // H x J x 3 weighted sum (mm)
    double wsum = 0;
  };

  // Frames [base_, pushed_) are held: those not yet emitted, and at least the
  // last T, which a final end-aligned window reads.
  Frame& frame(int64_t f) { return frames_[size_t(f - base_)]; }

  // Runs the model on frames [start, start + T - pad_before - pad_after),
  // replicating the first/last frame into the padding, and accumulates into
  // frames >= min_frame.
  void run_window(int64_t start, int64_t pad_before, int64_t pad_after, int64_t min_frame) {
    WindowRequest r = make_request(start, pad_before, pad_after, min_frame);
    if (deferred_) {
      pending_.push_back(std::move(r));
      return;
    }
    SampleOptions so;
    so.hypotheses = opt_.hypotheses, so.steps = opt_.steps, so.flip = opt_.flip;
    so.seed = r.seed;
    const TensorF out = model_.sample(r.x2d, {action_}, so);  // [1, K, H, T, J, 3]
    accumulate(r, out.data() + (out.size(1) - 1) * opt_.hypotheses * T_ * J * 3);
  }

  WindowRequest make_request(int64_t start, int64_t pad_before, int64_t pad_after, int64_t min_frame) {
    const int64_t n = T_ - pad_before - pad_after;
    WindowRequest r;
    r.start = start, r.pad_before = pad_before, r.frames = n, r.min_frame = min_frame;
    r.seed = opt_.seed + std::uint64_t(windows_made_++) * 0x9E3779B97F4A7C15ull;
    TensorF x2d({1, T_, J, 2});
    for (int64_t t = 0; t < T_; ++t) {
      const int64_t f = start + std::min(std::max<int64_t>(t - pad_before, 0), n - 1);
      const Frame& fr = frame(f);
      for (int k = 0; k < J; ++k) {
        const int src = threedhp_ ? detail::kH36mFor3dhp[k] : k;  // model joint k <- H36M joint src
        x2d.data()[(t * J + k) * 2] = float(fr.px[2 * src] / w_ * 2 - 1);
        x2d.data()[(t * J + k) * 2 + 1] = float(fr.px[2 * src + 1] / w_ * 2 - double(h_) / w_);
      }
    }
    r.x2d = std::move(x2d);
    return r;
  }

  // Adds a window's final x0 ([H, T, J, 3], model units) into its frames, root-relative, in mm.
  void accumulate(const WindowRequest& r, const float* last) {
    const int64_t start = r.start, pad_before = r.pad_before, n = r.frames, min_frame = r.min_frame, H = opt_.hypotheses;
    const int root = threedhp_ ? pose::k3dhpRootJoint : pose::kH36mRootJoint;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t f = start + i;
      if (f < min_frame) continue;
      const int64_t t = pad_before + i;
      const double wgt = window_weight(t, T_, overlap_);
      Frame& fr = frame(f);
      fr.wsum += wgt;
      for (int64_t hh = 0; hh < H; ++hh) {
        const float* p = last + (hh * T_ + t) * J * 3;
        for (int k = 0; k < J; ++k) {
          const int dst = threedhp_ ? detail::kH36mFor3dhp[k] : k;
          for (int c = 0; c < 3; ++c)
            fr.acc[size_t((hh * J + dst) * 3 + c)] += wgt * double(p[k * 3 + c] - p[root * 3 + c]) * unit_to_mm_;
        }
      }
    }
    ++windows_run_;
    if (opt_.on_window) opt_.on_window(windows_run_, total_windows_);
  }

  void emit_before(int64_t end, std::vector<LiftedFrame>& out) {
    for (; emitted_ < end; ++emitted_) {
      Frame& fr = frame(emitted_);
      out.push_back(finish(fr, emitted_));
      std::vector<double>().swap(fr.acc);  // done with it; only the 2D input is still needed
    }
    while (int64_t(frames_.size()) > T_ && base_ < emitted_) frames_.pop_front(), ++base_;
  }

  LiftedFrame finish(const Frame& fr, int64_t index) const {
    const int64_t H = opt_.hypotheses;
    FINEPOSE_CHECK(fr.wsum > 0, "lift: internal error: frame ", index, " was covered by no window");
    LiftedFrame lf;
    lf.index = index;
    TensorF hyps({1, H, J, 3});
    for (int64_t i = 0; i < H * J * 3; ++i) hyps.data()[i] = float(fr.acc[size_t(i)] / fr.wsum);
    TensorF pose = pose::pose_aggregate(hyps.reshape({1, H, J, 3}));
    const pose::CameraIntrinsics cam = opt_.intrinsics ? *opt_.intrinsics : assumed_intrinsics(w_, h_);
    auto fit_root = [&](const TensorF& p, double T[3]) {
      double pd[J * 3];
      for (int i = 0; i < J * 3; ++i) pd[i] = p.data()[i];
      fit_root_translation(pd, fr.px, fr.score, J, cam, 5000.0, T);
    };
    if (opt_.aggregation == Aggregation::j_agg && H > 1) {
      double T[3];
      fit_root(pose, T);
      TensorF kp({1, J, 2}), root({1, 3});
      for (int i = 0; i < 2 * J; ++i) kp.data()[i] = float(fr.px[i]);
      for (int c = 0; c < 3; ++c) root.data()[c] = float(T[c]);
      pose = pose::joint_aggregate(hyps, kp, root, cam, pose::Projection::Linear, 0);
    }
    lf.pose.assign(pose.data(), pose.data() + J * 3);
    if (opt_.keep_hypotheses) lf.hypotheses.assign(hyps.data(), hyps.data() + H * J * 3);
    if (opt_.intrinsics) {
      double T[3];
      fit_root(pose, T);
      lf.has_trajectory = true;
      for (int c = 0; c < 3; ++c) lf.trajectory[c] = float(T[c]);
    }
    return lf;
  }

  const FinePoseModel& model_;
  int w_, h_;
  LiftOptions opt_;
  bool hold_;
  int64_t T_ = 0, overlap_ = 0;
  bool threedhp_ = false;
  double unit_to_mm_ = 1000.0;
  std::string action_;
  std::vector<std::string> notes_;
  std::deque<Frame> frames_;
  int64_t pushed_ = 0, emitted_ = 0, base_ = 0, next_start_ = 0, covered_ = 0, windows_run_ = 0;
  int64_t total_windows_ = 0;  // for progress reports (0: unknown)
  int64_t windows_made_ = 0;   // window inputs made: the window's index in its seed
  bool flushed_ = false;
  bool deferred_ = false;
  std::vector<WindowRequest> pending_;
  double last_good_[J][2] = {};
  bool have_good_[J] = {};
};

namespace detail {
// The input side of lift_sequence / lift_sequences: shape and finiteness
// checked, low-confidence joints filled (reported in r.gaps); returns the filled copy.
inline Tensor<double> checked_filled_keypoints(const Tensor<double>& kp, const LiftOptions& opt, Lifted& r) {
  FINEPOSE_CHECK(kp.dim() == 3 && kp.size(1) == 17 && kp.size(2) == 3, "lift: keypoints must be (F, 17, 3) x, y, score, got ",
                 shape_str(kp.shape()));
  FINEPOSE_CHECK(kp.size(0) > 0, "lift: empty sequence (no frames)");
  Tensor<double> filled = kp.contiguous().clone();
  for (int64_t i = 0; i < filled.numel(); ++i)
    if (!std::isfinite(filled.data()[i]))
      fail("lift: keypoints frame ", i / 51, " joint ", (i / 3) % 17, " is not finite (NaN/Inf); mark a missing joint with score 0");
  r.gaps = fill_gaps(filled, opt.min_score, pose::h36m17().joint_names);
  return filled;
}

// The output side: the lifter's frames (one per input frame) into r's tensors, with its notes.
inline void collect_lifted(const std::vector<LiftedFrame>& frames, const StreamingLifter& s, const LiftOptions& opt,
                           Tensor<double> filled, Lifted& r) {
  const int64_t F = filled.size(0);
  FINEPOSE_CHECK(int64_t(frames.size()) == F, "lift: internal error: ", frames.size(), " frames out for ", F, " in");
  r.keypoints = std::move(filled);
  const int64_t H = opt.hypotheses;
  r.poses = TensorF({F, 17, 3});
  if (opt.keep_hypotheses) r.hypotheses = TensorF({F, H, 17, 3});
  if (opt.intrinsics) r.trajectory = TensorF({F, 3});
  for (int64_t f = 0; f < F; ++f) {
    const auto& lf = frames[size_t(f)];
    std::copy(lf.pose.begin(), lf.pose.end(), r.poses.data() + f * 51);
    if (opt.keep_hypotheses) std::copy(lf.hypotheses.begin(), lf.hypotheses.end(), r.hypotheses.data() + f * H * 51);
    if (opt.intrinsics) std::copy(lf.trajectory, lf.trajectory + 3, r.trajectory.data() + f * 3);
  }
  r.action = s.action();
  r.notes = s.notes();
  if (r.gaps.filled)
    r.notes.push_back("filled " + std::to_string(r.gaps.filled) + " low-confidence joint positions (score < " +
                      std::to_string(opt.min_score).substr(0, 4) + ") by temporal interpolation; longest gap " +
                      std::to_string(r.gaps.longest_gap) + " frames");
  if (opt.smooth.kind != pose::Smoother::none) {
    pose::smooth_sequence(r.poses, opt.smooth);
    if (opt.keep_hypotheses) pose::smooth_sequence(r.hypotheses, opt.smooth);
    if (opt.intrinsics) pose::smooth_sequence(r.trajectory, opt.smooth);
    r.notes.push_back("smoothed over time: " + pose::smooth_description(opt.smooth));
  }
}
}  // namespace detail

// kp: (F, 17, 3) x, y (pixels), score in H36M-17 order. Low-confidence joints
// are filled by temporal interpolation first (reported in Lifted::gaps).
inline Lifted lift_sequence(const FinePoseModel& model, const Tensor<double>& kp, int width, int height,
                            const LiftOptions& opt = {}) {
  Lifted r;
  Tensor<double> filled = detail::checked_filled_keypoints(kp, opt, r);
  const int64_t F = filled.size(0);
  StreamingLifter s(model, width, height, opt, /*hold_low_confidence=*/false);
  s.set_expected_frames(F);
  std::vector<LiftedFrame> frames;
  frames.reserve(size_t(F));
  for (int64_t f = 0; f < F; ++f)
    for (auto& lf : s.push_xys(filled.data() + f * 17 * 3)) frames.push_back(std::move(lf));
  for (auto& lf : s.flush()) frames.push_back(std::move(lf));
  detail::collect_lifted(frames, s, opt, std::move(filled), r);
  return r;
}

// Samples deferred windows of several lifters (one model, the same LiftOptions
// sampling settings) in batched denoiser calls: each window keeps its own
// noise (drawn from its seed exactly as an unbatched call draws it), so the
// result is the unbatched one. max_tokens bounds one call's batch
// (windows x hypotheses x flip x frames x joints), and with it the memory.
inline void sample_windows(const FinePoseModel& model, const std::vector<StreamingLifter*>& lifters,
                           int64_t max_tokens = int64_t(1) << 17,
                           const std::function<void(int64_t, int64_t)>& on_window = nullptr) {
  if (lifters.empty()) return;
  const LiftOptions& o = lifters[0]->options();
  const int64_t H = o.hypotheses, T = lifters[0]->window(), J = StreamingLifter::J;
  std::vector<std::pair<StreamingLifter*, size_t>> todo;
  for (StreamingLifter* l : lifters) {
    FINEPOSE_CHECK(l->options().hypotheses == H && l->options().steps == o.steps && l->options().flip == o.flip,
                   "sample_windows: the lifters differ in hypotheses, steps or flip");
    for (size_t i = 0; i < l->pending_windows().size(); ++i)
      if (!l->pending_windows()[i].done) todo.push_back({l, i});
  }
  const int64_t per_window = H * (o.flip ? 2 : 1) * T * J;
  const int64_t batch = std::max<int64_t>(1, std::min<int64_t>(64, max_tokens / per_window));
  const int64_t n1 = H * T * J * 3, total = int64_t(todo.size());
  for (int64_t b0 = 0; b0 < total; b0 += batch) {
    const int64_t B = std::min(batch, total - b0), K = o.steps;
    TensorF x2d({B, T, J, 2}), init({B, H, T, J, 3}), steps;
    if (K > 1) steps = TensorF({K - 1, B, H, T, J, 3});
    std::vector<std::string> actions;
    for (int64_t b = 0; b < B; ++b) {
      auto& [l, i] = todo[size_t(b0 + b)];
      const auto& r = l->pending_windows()[i];
      std::copy(r.x2d.data(), r.x2d.data() + T * J * 2, x2d.data() + b * T * J * 2);
      NormalStream(r.seed, 0).fill(init.data() + b * n1, n1);  // as ddim_sample draws it for a batch of one
      for (int64_t k = 0; k + 1 < K; ++k) NormalStream(r.seed, std::uint64_t(k) + 1).fill(steps.data() + (k * B + b) * n1, n1);
      actions.push_back(l->action());
    }
    SampleOptions so;
    so.hypotheses = H, so.steps = K, so.flip = o.flip;
    so.noise_init = &init;
    if (K > 1) so.noise_steps = &steps;
    const TensorF out = model.sample(x2d, actions, so);  // [B, K, H, T, J, 3]
    const int64_t Ko = out.size(1);
    for (int64_t b = 0; b < B; ++b) {
      auto& [l, i] = todo[size_t(b0 + b)];
      l->complete_window(i, out.data() + (b * Ko + Ko - 1) * n1);
    }
    if (on_window) on_window(b0 + B, total);
  }
}

// kps: sequences of (F_i, 17, 3) x, y (pixels), score in H36M-17 order (one
// per person). Low-confidence joints are filled by temporal interpolation
// first (reported in Lifted::gaps). Every person's windows run in shared,
// batched denoiser calls; each result equals lifting that sequence alone
// (lift_sequence) to float rounding.
inline std::vector<Lifted> lift_sequences(const FinePoseModel& model, const std::vector<const Tensor<double>*>& kps,
                                          int width, int height, const LiftOptions& opt = {}) {
  // One person: the streaming lifter's own windows, unbatched, so that the numbers are
  // lift_sequence's to the bit. Batched calls differ from them by float rounding only
  // (the GEMMs sum in another order at another batch size: ~1e-5 mm).
  if (kps.size() == 1) return {lift_sequence(model, *kps[0], width, height, opt)};
  std::vector<Lifted> res(kps.size());
  std::vector<std::unique_ptr<StreamingLifter>> lifters;
  LiftOptions lo = opt;
  lo.on_window = nullptr;  // progress is reported over all windows below
  std::vector<Tensor<double>> filled(kps.size());
  for (size_t p = 0; p < kps.size(); ++p) {
    filled[p] = detail::checked_filled_keypoints(*kps[p], opt, res[p]);
    lifters.push_back(std::make_unique<StreamingLifter>(model, width, height, lo, /*hold_low_confidence=*/false));
    StreamingLifter& s = *lifters.back();
    s.defer_windows();
    for (int64_t f = 0, F = filled[p].size(0); f < F; ++f) s.push_xys(filled[p].data() + f * 17 * 3);
    s.flush();
  }
  std::vector<StreamingLifter*> all;
  for (auto& l : lifters) all.push_back(l.get());
  sample_windows(model, all, int64_t(1) << 17, opt.on_window);
  for (size_t p = 0; p < kps.size(); ++p)
    detail::collect_lifted(lifters[p]->take_frames(), *lifters[p], opt, std::move(filled[p]), res[p]);
  return res;
}

}  // namespace finepose::wild
