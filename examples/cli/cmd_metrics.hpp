#pragma once
// finepose metrics: scores any method's 3D predictions against ground truth
// (MPJPE, P-MPJPE, N-MPJPE, MPJVE, PCK@150 mm, AUC; per aggregation setting
// when there are several hypotheses). See pose/metrics_report.hpp.
#include <cmath>
#include <cstdio>
#include <string>

#include "args.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/pose/metrics_report.hpp"

namespace finepose::cli {

namespace metrics_detail {
inline const io::NdArray* find(const io::NpzMap& m, const char* name) {
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}
inline std::string keys_of(const io::NpzMap& m) {
  std::string s;
  for (const auto& kv : m) s += (s.empty() ? "" : ", ") + kv.first;
  return s.empty() ? "none" : s;
}
}  // namespace metrics_detail

inline void print_metric_values(const char* label, const pose::MetricValues& m) {
  std::printf("%-8s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", label, m.mpjpe, m.p_mpjpe, m.n_mpjpe, m.mpjve, m.pck, m.auc);
}

inline int cmd_metrics(int argc, char** argv) {
  Args a("metrics", "--pred pred.npz --target target.npz [--valid mask.npz] [--json]",
         {{"pred", "FILE", "npz: poses_3d (N,17,3) or (N,H,17,3) mm root-relative; for J-Agg also keypoints_2d (N,17,2) px, "
                           "intrinsics (fx,fy,cx,cy) px, root (N,1,3) mm camera frame"},
          {"target", "FILE", "npz: poses_3d (N,17,3) mm"},
          {"valid", "FILE", "npz with one array 'valid' (N,) of 0/1: frames to score (default all)"},
          {"skeleton", "NAME", "h36m-17 (default) or mpi-inf-3dhp-17: root joint and PCK joint groups"},
          {"pbest-frames", "N", "P-Best picks one hypothesis per N consecutive frames (default 972 = 4 x 243, main.py -b 4; 0 = all)"},
          {"json", "", "print one JSON object"}});
  if (!a.parse(argc, argv)) return 0;
  const std::string pred_path = a.require("pred"), target_path = a.require("target");
  const io::NpzMap pred = io::load_npz(pred_path), target = io::load_npz(target_path);
  using metrics_detail::find;
  const io::NdArray* p = find(pred, "poses_3d");
  if (!p) fail("metrics: '", pred_path, "' has no array 'poses_3d' (present: ", metrics_detail::keys_of(pred), ")");
  const io::NdArray* t = find(target, "poses_3d");
  if (!t) fail("metrics: '", target_path, "' has no array 'poses_3d' (present: ", metrics_detail::keys_of(target), ")");

  pose::MetricsInput in;
  in.pred = io::to_tensor<double>(*p, pred_path + ": poses_3d");
  in.target = io::to_tensor<double>(*t, target_path + ": poses_3d");
  if (const io::NdArray* k = find(pred, "keypoints_2d")) in.keypoints_2d = io::to_tensor<double>(*k, pred_path + ": keypoints_2d");
  if (const io::NdArray* r = find(pred, "root")) in.root = io::to_tensor<double>(*r, pred_path + ": root");
  if (const io::NdArray* k = find(pred, "intrinsics")) {
    const auto v = io::to_vector<double>(*k, pred_path + ": intrinsics");
    if (v.size() != 4) fail("metrics: '", pred_path, "': intrinsics must hold 4 values (fx, fy, cx, cy), got ", v.size());
    pose::CameraIntrinsics ci;
    ci.fx = v[0], ci.fy = v[1], ci.cx = v[2], ci.cy = v[3];
    for (double x : v)
      if (!std::isfinite(x) || std::fabs(x) > 1e9) fail("metrics: '", pred_path, "': intrinsics value ", x, " is not a pixel quantity");
    if (!(ci.fx >= 1e-3 && ci.fy >= 1e-3)) fail("metrics: '", pred_path, "': intrinsics focal lengths must be positive pixels");
    in.intrinsics = ci;
  }
  if (a.has("valid")) {
    const std::string vp = a.get("valid");
    const io::NpzMap vm = io::load_npz(vp);
    const io::NdArray* v = find(vm, "valid");
    if (!v && vm.size() == 1) v = &vm.begin()->second;
    if (!v) fail("metrics: '", vp, "' has no array 'valid' (present: ", metrics_detail::keys_of(vm), ")");
    for (double x : io::to_vector<double>(*v, vp + ": valid")) {
      if (x != 0 && x != 1) fail("metrics: '", vp, "': valid must hold 0/1, found ", x);
      in.valid.push_back(x != 0);
    }
  }
  pose::MetricsOptions opt;
  opt.skeleton = a.get("skeleton", "h36m-17");
  opt.pose_best_group_frames = a.get_int("pbest-frames", opt.pose_best_group_frames);
  if (opt.pose_best_group_frames < 0) fail("metrics: --pbest-frames must be >= 0");
  // Linear pinhole for pixel intrinsics without distortion (identical to the distorted model with zeros).
  const pose::MetricsReport rep = pose::compute_metrics(in, opt);
  // a score is a number: NaN/Inf (not even JSON) is an error, never a result
  auto finite = [](const pose::MetricValues& m) {
    for (double x : {m.mpjpe, m.p_mpjpe, m.n_mpjpe, m.pck, m.auc})
      if (!std::isfinite(x)) fail("metrics: a score came out non-finite (", x, "); the inputs are degenerate");
    if (std::isinf(m.mpjve)) fail("metrics: MPJVE came out infinite; the inputs are degenerate");  // NaN: no consecutive frames (null)
  };
  if (!rep.multi_hypothesis) finite(rep.single);
  for (const auto& ag : rep.aggregations) finite(ag.second);

  if (a.has("json")) {
    std::fputs(rep.to_json().c_str(), stdout);
    return 0;
  }
  std::printf("%lld frames%s, %lld hypothes%s\n", (long long)rep.frames, in.valid.empty() ? "" : " (valid)",
              (long long)rep.hypotheses, rep.hypotheses == 1 ? "is" : "es");
  std::printf("%-8s %9s %9s %9s %9s %9s %9s\n", "", "MPJPE", "P-MPJPE", "N-MPJPE", "MPJVE", "PCK150", "AUC");
  if (!rep.multi_hypothesis) {
    print_metric_values("", rep.single);
  } else {
    for (const auto& [name, m] : rep.aggregations) {
      const std::string label = name == "j_agg" ? "J-Agg" : name == "p_agg" ? "P-Agg" : name == "j_best" ? "J-Best*" : "P-Best*";
      print_metric_values(label.c_str(), m);
    }
    std::printf("* oracle: chooses hypotheses using the ground truth (not a deployable number)\n");
    bool has_jagg = false;
    for (const auto& ag : rep.aggregations) has_jagg |= ag.first == "j_agg";
    if (!has_jagg) std::printf("(J-Agg needs keypoints_2d, intrinsics and root in the prediction file)\n");
  }
  std::printf("errors in mm, PCK/AUC in %% (14 joints, thresholds 0..150 mm)\n");
  return 0;
}

}  // namespace finepose::cli
