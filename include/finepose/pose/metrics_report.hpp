#pragma once
// Everything the `metrics` command reports, from arrays in memory.
//
// Single hypothesis (pred (N, J, 3)):   {mpjpe, p_mpjpe, n_mpjpe, mpjve, pck, auc}
// Multiple hypotheses (pred (N, H, J, 3)): one such object under each of
//   j_agg  (only when keypoints_2d, intrinsics and root are given),
//   p_agg, j_best, p_best  (the last two are ground-truth oracles).
// Errors are in millimetres (inputs must be millimetres), pck/auc in percent.
//
// Semantics follow the official FinePOSE evaluation:
//   - the root joint of every prediction is set to 0 and the target is made
//     root-relative (zero_root; the official data are root-relative already);
//   - mpjpe of each aggregation = Protocol #1 of main.py (J-Best: per-joint
//     minimum; P-Best: one hypothesis per group of frames; J-Agg: per-joint 2D
//     reprojection choice; P-Agg: mean pose);
//   - p_mpjpe = Protocol #2 of main.py: for J-Best, P-Best and J-Agg every
//     hypothesis is Procrustes-aligned on its own before the selection (so it
//     is not P-MPJPE of the aggregated pose); for P-Agg the mean pose is aligned;
//   - n_mpjpe, mpjve, pck and auc are computed on the aggregated pose (this is
//     how the 3DHP PCK/AUC of each aggregation is obtained: the pose is saved
//     and scored by the MATLAB code);
//   - valid (optional) keeps only valid frames; MPJVE uses velocities between
//     two consecutive valid frames.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "finepose/pose/aggregation.hpp"
#include "finepose/pose/camera.hpp"
#include "finepose/pose/metrics.hpp"
#include "finepose/pose/pck.hpp"
#include "finepose/pose/skeleton.hpp"

namespace finepose::pose {

struct MetricsOptions {
  // "h36m-17" or "mpi-inf-3dhp-17": picks the root joint (0 / 14) and the PCK
  // joint groups (official groups for 3DHP, the same joints in H36M order).
  std::string skeleton = "h36m-17";
  bool zero_root = true;
  Projection projection = Projection::Distorted;  // with zero distortion = linear
  // P-Best chooses one hypothesis per group of this many consecutive frames;
  // the official Human3.6M run (-b 4, 243-frame clips) uses 4 x 243. 0 = all frames.
  std::int64_t pose_best_group_frames = 4 * 243;
};

struct MetricsInput {
  TensorD pred;          // (N, J, 3) or (N, H, J, 3), mm
  TensorD target;        // (N, J, 3), mm
  TensorD keypoints_2d;  // optional (N, J, 2), pixels (same units as intrinsics)
  std::optional<CameraIntrinsics> intrinsics;
  TensorD root;          // optional (N, 1, 3) or (N, 3): absolute root position, mm, camera frame
  std::vector<bool> valid;  // optional, N entries; empty = all frames
};

struct MetricValues {
  double mpjpe = NAN, p_mpjpe = NAN, n_mpjpe = NAN, mpjve = NAN, pck = NAN, auc = NAN;
};

struct MetricsReport {
  bool multi_hypothesis = false;
  std::int64_t frames = 0;      // valid frames scored
  std::int64_t hypotheses = 1;
  MetricValues single;          // when !multi_hypothesis
  std::vector<std::pair<std::string, MetricValues>> aggregations;  // j_agg, p_agg, j_best, p_best

  const MetricValues& at(const std::string& name) const {
    for (const auto& a : aggregations)
      if (a.first == name) return a.second;
    fail("metrics report: no aggregation '", name, "'");
  }

  std::string to_json() const {
    auto num = [](double v) {
      if (!std::isfinite(v)) return std::string("null");
      char b[64];
      std::snprintf(b, sizeof b, "%.6f", v);
      return std::string(b);
    };
    auto obj = [&](const MetricValues& m, const std::string& pad) {
      return "{\n" + pad + "  \"mpjpe\": " + num(m.mpjpe) + ",\n" + pad + "  \"p_mpjpe\": " + num(m.p_mpjpe) + ",\n" +
             pad + "  \"n_mpjpe\": " + num(m.n_mpjpe) + ",\n" + pad + "  \"mpjve\": " + num(m.mpjve) + ",\n" + pad +
             "  \"pck\": " + num(m.pck) + ",\n" + pad + "  \"auc\": " + num(m.auc) + "\n" + pad + "}";
    };
    if (!multi_hypothesis) return obj(single, "") + "\n";
    std::string s = "{\n";
    for (std::size_t i = 0; i < aggregations.size(); ++i)
      s += "  \"" + aggregations[i].first + "\": " + obj(aggregations[i].second, "  ") +
           (i + 1 < aggregations.size() ? ",\n" : "\n");
    return s + "}\n";
  }
};

// Frames n with valid[n] (all when valid is empty), along dimension 0.
inline TensorD select_frames(const TensorD& x, const std::vector<bool>& valid) {
  if (valid.empty()) return x;
  if (x.dim() < 1 || std::int64_t(valid.size()) != x.size(0))
    fail("select_frames: valid mask has ", valid.size(), " entries for shape ", shape_str(x.shape()));
  std::int64_t kept = 0;
  for (bool v : valid) kept += v;
  Shape s = x.shape();
  s[0] = kept;
  TensorD out(s);
  TensorD c = x.contiguous();
  const std::int64_t row = kept ? out.numel() / kept : 0;
  std::int64_t k = 0;
  for (std::size_t n = 0; n < valid.size(); ++n)
    if (valid[n]) std::copy(c.data() + std::int64_t(n) * row, c.data() + std::int64_t(n + 1) * row, out.data() + (k++) * row);
  return out;
}

namespace detail {
// Metrics computed on one pose (N, J, 3) per frame (all frames; valid applied inside).
inline MetricValues pose_metrics(const TensorD& pose_all, const TensorD& target_all, const std::vector<bool>& valid,
                                 const std::vector<JointGroup>& groups) {
  MetricValues m;
  const TensorD pose = select_frames(pose_all, valid), target = select_frames(target_all, valid);
  const TensorD e = joint_errors(pose, target);
  m.mpjpe = mean_joint_error(e);
  m.p_mpjpe = p_mpjpe(pose, target);
  m.n_mpjpe = n_mpjpe(pose, target);
  bool has_pair = false;
  for (std::int64_t n = 1; n < pose_all.size(0) && !has_pair; ++n)
    has_pair = valid.empty() || (valid[std::size_t(n)] && valid[std::size_t(n - 1)]);
  if (has_pair) m.mpjve = mpjve(pose_all, target_all, valid.empty() ? nullptr : &valid);
  PckAccumulator acc(groups);
  acc.add(e);
  const PckResult r = acc.result();
  m.pck = r.pck;
  m.auc = r.auc;
  return m;
}
}  // namespace detail

inline MetricsReport compute_metrics(const MetricsInput& in, const MetricsOptions& opt = {}) {
  const char* fn = "metrics";
  const SkeletonInfo& sk = skeleton_by_name(opt.skeleton);
  std::vector<JointGroup> groups;
  int root_joint;
  if (sk.name == "h36m-17") groups = pck_joint_groups_h36m(), root_joint = kH36mRootJoint;
  else if (sk.name == "mpi-inf-3dhp-17") groups = pck_joint_groups_3dhp(), root_joint = k3dhpRootJoint;
  else fail(fn, ": skeleton '", opt.skeleton, "' has no evaluation protocol (use h36m-17 or mpi-inf-3dhp-17)");

  detail::check_shape(in.target, fn, "target", {-1, sk.num_joints(), 3});
  const std::int64_t N = in.target.size(0), J = in.target.size(1);
  if (N < 1) fail(fn, ": no frames");
  const bool multi = in.pred.defined() && in.pred.dim() == 4;
  if (multi) detail::check_shape(in.pred, fn, "predictions", {N, -1, J, 3});
  else detail::check_shape(in.pred, fn, "predictions", {N, J, 3});
  if (!in.valid.empty() && std::int64_t(in.valid.size()) != N)
    fail(fn, ": valid mask has ", in.valid.size(), " entries for ", N, " frames");
  std::int64_t frames = 0;
  for (std::int64_t n = 0; n < N; ++n) frames += in.valid.empty() || in.valid[std::size_t(n)];
  if (frames == 0) fail(fn, ": no valid frame");
  detail::check_finite(detail::Flat<double>(in.pred), fn, "predictions");
  detail::check_finite(detail::Flat<double>(in.target), fn, "target");
  if (in.keypoints_2d.defined()) detail::check_finite(detail::Flat<double>(in.keypoints_2d), fn, "keypoints_2d");
  if (in.root.defined()) detail::check_finite(detail::Flat<double>(in.root), fn, "root");

  // Official convention: prediction root joint := 0, target root-relative.
  TensorD pred = in.pred.clone(), target = in.target.clone();
  if (opt.zero_root) {
    const std::int64_t H = multi ? pred.size(1) : 1;
    for (std::int64_t n = 0; n < N; ++n) {
      for (std::int64_t h = 0; h < H; ++h)
        for (int d = 0; d < 3; ++d) pred.data()[((n * H + h) * J + root_joint) * 3 + d] = 0;
      double r[3];
      for (int d = 0; d < 3; ++d) r[d] = target(n, root_joint, d);
      for (std::int64_t j = 0; j < J; ++j)
        for (int d = 0; d < 3; ++d) target(n, j, d) -= r[d];
    }
  }

  MetricsReport rep;
  rep.frames = frames;
  rep.multi_hypothesis = multi;
  if (!multi) {
    rep.single = detail::pose_metrics(pred, target, in.valid, groups);
    return rep;
  }
  rep.hypotheses = pred.size(1);

  const TensorD pred_v = select_frames(pred, in.valid), target_v = select_frames(target, in.valid);
  const TensorD e1 = hypothesis_joint_errors(pred_v, target_v, false);
  const TensorD e2 = hypothesis_joint_errors(pred_v, target_v, true);

  const bool can_j_agg = in.keypoints_2d.defined() && in.intrinsics.has_value() && in.root.defined();
  if (can_j_agg) {
    const IndexTensor choice =
        joint_aggregate_choice(pred, in.keypoints_2d, in.root, *in.intrinsics, opt.projection, root_joint);
    MetricValues m = detail::pose_metrics(gather_joints(pred, choice), target, in.valid, groups);
    IndexTensor cv = choice;
    if (!in.valid.empty()) {  // the choice restricted to valid frames
      cv = IndexTensor({frames, J});
      std::int64_t k = 0;
      for (std::int64_t n = 0; n < N; ++n)
        if (in.valid[std::size_t(n)]) {
          for (std::int64_t j = 0; j < J; ++j) cv.data()[k * J + j] = choice.data()[n * J + j];
          ++k;
        }
    }
    m.mpjpe = selected_joint_error(e1, cv);
    m.p_mpjpe = selected_joint_error(e2, cv);
    rep.aggregations.emplace_back("j_agg", m);
  } else if (in.keypoints_2d.defined() || in.intrinsics.has_value() || in.root.defined()) {
    fail(fn, ": J-Agg needs keypoints_2d, intrinsics and root together (got ",
         in.keypoints_2d.defined() ? "keypoints_2d " : "", in.intrinsics ? "intrinsics " : "",
         in.root.defined() ? "root" : "", ")");
  }

  {
    MetricValues m = detail::pose_metrics(pose_aggregate(pred), target, in.valid, groups);
    rep.aggregations.emplace_back("p_agg", m);  // mpjpe / p_mpjpe of the mean pose are the official ones
  }
  {
    MetricValues m = detail::pose_metrics(oracle_joint_best(pred, target), target, in.valid, groups);
    m.mpjpe = joint_best_error(e1);
    m.p_mpjpe = joint_best_error(e2);
    rep.aggregations.emplace_back("j_best", m);
  }
  {
    MetricValues m = detail::pose_metrics(oracle_pose_best(pred, target, opt.pose_best_group_frames), target,
                                          in.valid, groups);
    m.mpjpe = pose_best_error(e1, opt.pose_best_group_frames);
    m.p_mpjpe = pose_best_error(e2, opt.pose_best_group_frames);
    rep.aggregations.emplace_back("p_best", m);
  }
  return rep;
}

}  // namespace finepose::pose
