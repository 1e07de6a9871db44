#pragma once
// Turning H pose hypotheses (N, H, J, 3) into one pose per frame (N, J, 3).
//
// Usable at inference time (no ground truth):
//   pose_aggregate   P-Agg: mean over hypotheses.
//   joint_aggregate  J-Agg: per frame and joint, the hypothesis whose 2D
//                    reprojection lies closest to the 2D input keypoint.
// Oracles (they read the ground truth, so they only bound what selection
// could achieve; never use them for a real prediction):
//   oracle_joint_best  J-Best: per frame and joint, the hypothesis closest in 3D.
//   oracle_pose_best   P-Best: the hypothesis index with the lowest MPJPE.
//
// Each selection is split into a *_choice function (the chosen hypothesis
// indices) and a gather, so the metrics can apply the same choice to other
// per-hypothesis quantities (the official Protocol #2 numbers select among
// per-hypothesis Procrustes errors, see metrics.hpp).
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "finepose/core/parallel.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/pose/arrays.hpp"
#include "finepose/pose/camera.hpp"

namespace finepose::pose {

using Index = std::int64_t;
using IndexTensor = Tensor<Index>;

// ---- P-Agg -------------------------------------------------------------------
template <class T>
Tensor<T> pose_aggregate(const Tensor<T>& hyps) {
  detail::check_shape(hyps, "pose_aggregate", "hypotheses", {-1, -1, -1, 3});
  const Index N = hyps.size(0), H = hyps.size(1), J = hyps.size(2);
  if (H < 1) fail("pose_aggregate: hypotheses has no hypothesis (H = 0)");
  const detail::Flat<T> h(hyps);
  Tensor<T> out({N, J, 3});
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < J * 3; ++k) {
      double s = 0;
      for (Index i = 0; i < H; ++i) s += h[(n * H + i) * J * 3 + k];
      out.data()[n * J * 3 + k] = T(s / double(H));
    }
  return out;
}

// ---- gathers -------------------------------------------------------------------
// out[n, j] = hyps[n, choice[n, j], j]
template <class T>
Tensor<T> gather_joints(const Tensor<T>& hyps, const IndexTensor& choice) {
  detail::check_shape(hyps, "gather_joints", "hypotheses", {-1, -1, -1, 3});
  const Index N = hyps.size(0), H = hyps.size(1), J = hyps.size(2);
  detail::check_shape(choice, "gather_joints", "choice", {N, J});
  Tensor<T> h = hyps.contiguous();
  IndexTensor c = choice.contiguous();
  Tensor<T> out({N, J, 3});
  for (Index n = 0; n < N; ++n)
    for (Index j = 0; j < J; ++j) {
      const Index i = c.data()[n * J + j];
      if (i < 0 || i >= H) fail("gather_joints: choice ", i, " at frame ", n, " joint ", j, " outside 0..", H - 1);
      for (int d = 0; d < 3; ++d) out.data()[(n * J + j) * 3 + d] = h.data()[((n * H + i) * J + j) * 3 + d];
    }
  return out;
}

// out[n] = hyps[n, choice[n]]
template <class T>
Tensor<T> gather_poses(const Tensor<T>& hyps, const IndexTensor& choice) {
  detail::check_shape(hyps, "gather_poses", "hypotheses", {-1, -1, -1, 3});
  const Index N = hyps.size(0), H = hyps.size(1), J = hyps.size(2);
  detail::check_shape(choice, "gather_poses", "choice", {N});
  IndexTensor c = choice.contiguous();
  IndexTensor per_joint({N, J});
  for (Index n = 0; n < N; ++n)
    for (Index j = 0; j < J; ++j) per_joint.data()[n * J + j] = c.data()[n];
  (void)H;
  return gather_joints(hyps, per_joint);
}

// ---- J-Agg ---------------------------------------------------------------------
// The 2D-reprojection selection of FinePOSE's evaluation: each hypothesis is
// made absolute by adding the ground-truth root position (root trajectory, the
// only 3D ground truth a deployed system would also have from calibration /
// tracking), projected with the camera, and compared with the 2D input
// keypoints. The official code sets the root joint of every hypothesis to 0
// before adding the trajectory; root_joint does the same (-1: leave as is).
//
// hyps (N, H, J, 3): root-relative hypotheses, camera frame.
// keypoints_2d (N, J, 2): the 2D input, in the coordinates `camera` projects
//   to (pixels with pixel intrinsics, or normalised screen coordinates with
//   CameraIntrinsics::normalized(), as the Human3.6M evaluation does; the two
//   differ by one uniform scale + shift, so the choice is the same).
// root (N, 1, 3) or (N, 3): absolute root position, same units as hyps.
// Returns (N, J): chosen hypothesis per frame and joint; ties go to the
// lowest index.
template <class T, class U, class V>
IndexTensor joint_aggregate_choice(const Tensor<T>& hyps, const Tensor<U>& keypoints_2d, const Tensor<V>& root,
                                   const CameraIntrinsics& camera, Projection projection = Projection::Distorted,
                                   int root_joint = 0) {
  const char* fn = "joint_aggregate";
  detail::check_shape(hyps, fn, "hypotheses", {-1, -1, -1, 3});
  const Index N = hyps.size(0), H = hyps.size(1), J = hyps.size(2);
  if (H < 1) fail(fn, ": hypotheses has no hypothesis (H = 0)");
  detail::check_shape(keypoints_2d, fn, "keypoints_2d", {N, J, 2});
  if (root.dim() == 2) detail::check_shape(root, fn, "root", {N, 3});
  else detail::check_shape(root, fn, "root", {N, 1, 3});
  if (root_joint >= J) fail(fn, ": root_joint ", root_joint, " out of range for ", J, " joints");
  const detail::Flat<T> h(hyps);
  const detail::Flat<U> kp(keypoints_2d);
  const detail::Flat<V> r(root);
  detail::check_finite(h, fn, "hypotheses");
  detail::check_finite(kp, fn, "keypoints_2d");
  detail::check_finite(r, fn, "root");
  IndexTensor choice({N, J});
  parallel_for(N, [&](Index n) {
    for (Index j = 0; j < J; ++j) {
      double best = std::numeric_limits<double>::infinity();
      Index best_i = 0;
      for (Index i = 0; i < H; ++i) {
        const Index p = ((n * H + i) * J + j) * 3;
        double abs_p[3];
        for (int d = 0; d < 3; ++d) abs_p[d] = (j == root_joint ? 0.0 : h[p + d]) + r[n * 3 + d];
        double uv[2];
        project_point(camera, projection, abs_p, uv);
        const double du = uv[0] - kp[(n * J + j) * 2], dv = uv[1] - kp[(n * J + j) * 2 + 1];
        const double e = std::sqrt(du * du + dv * dv);
        if (e < best) best = e, best_i = i;  // strict: first minimum wins
      }
      choice.data()[n * J + j] = best_i;
    }
  }, 64);
  return choice;
}

// J-Agg pose (N, J, 3). The root joint (if root_joint >= 0) is 0 in the result,
// as in the official evaluation.
template <class T, class U, class V>
Tensor<T> joint_aggregate(const Tensor<T>& hyps, const Tensor<U>& keypoints_2d, const Tensor<V>& root,
                          const CameraIntrinsics& camera, Projection projection = Projection::Distorted,
                          int root_joint = 0) {
  Tensor<T> out = gather_joints(hyps, joint_aggregate_choice(hyps, keypoints_2d, root, camera, projection, root_joint));
  if (root_joint >= 0)
    for (Index n = 0, N = out.size(0), J = out.size(1); n < N; ++n)
      for (int d = 0; d < 3; ++d) out.data()[(n * J + root_joint) * 3 + d] = T(0);
  return out;
}

// ---- oracles (use ground truth) -------------------------------------------------
// J-Best choice (N, J): per frame and joint, the hypothesis nearest the target
// joint in 3D (first on ties).
template <class T, class U>
IndexTensor oracle_joint_best_choice(const Tensor<T>& hyps, const Tensor<U>& target) {
  detail::check_hypotheses(hyps, target, "oracle_joint_best");
  const Index N = hyps.size(0), H = hyps.size(1), J = hyps.size(2);
  const detail::Flat<T> h(hyps);
  const detail::Flat<U> t(target);
  IndexTensor choice({N, J});
  for (Index n = 0; n < N; ++n)
    for (Index j = 0; j < J; ++j) {
      double best = std::numeric_limits<double>::infinity();
      Index best_i = 0;
      for (Index i = 0; i < H; ++i) {
        const double e = detail::dist3(h, ((n * H + i) * J + j) * 3, t, (n * J + j) * 3);
        if (e < best) best = e, best_i = i;
      }
      choice.data()[n * J + j] = best_i;
    }
  return choice;
}

template <class T, class U>
Tensor<T> oracle_joint_best(const Tensor<T>& hyps, const Tensor<U>& target) {
  return gather_joints(hyps, oracle_joint_best_choice(hyps, target));
}

// P-Best choice (N,): one hypothesis index per group of `group_frames`
// consecutive frames, the one with the lowest mean joint error over the
// group. group_frames = 0 treats the whole input as one group, which is what
// the official evaluation does with each evaluation batch (it picks one index
// h for all clips and frames of the batch); group_frames = 1 picks per frame.
template <class T, class U>
IndexTensor oracle_pose_best_choice(const Tensor<T>& hyps, const Tensor<U>& target, Index group_frames = 0) {
  detail::check_hypotheses(hyps, target, "oracle_pose_best");
  if (group_frames < 0) fail("oracle_pose_best: group_frames must be >= 0, got ", group_frames);
  const Index N = hyps.size(0), H = hyps.size(1), J = hyps.size(2);
  const Index G = group_frames == 0 ? std::max<Index>(N, 1) : group_frames;
  const detail::Flat<T> h(hyps);
  const detail::Flat<U> t(target);
  IndexTensor choice({N});
  for (Index g0 = 0; g0 < N; g0 += G) {
    const Index g1 = std::min(N, g0 + G);
    double best = std::numeric_limits<double>::infinity();
    Index best_i = 0;
    for (Index i = 0; i < H; ++i) {
      double s = 0;
      for (Index n = g0; n < g1; ++n)
        for (Index j = 0; j < J; ++j)
          s += detail::dist3(h, ((n * H + i) * J + j) * 3, t, (n * J + j) * 3);
      if (s < best) best = s, best_i = i;
    }
    for (Index n = g0; n < g1; ++n) choice.data()[n] = best_i;
  }
  return choice;
}

template <class T, class U>
Tensor<T> oracle_pose_best(const Tensor<T>& hyps, const Tensor<U>& target, Index group_frames = 0) {
  return gather_poses(hyps, oracle_pose_best_choice(hyps, target, group_frames));
}

}  // namespace finepose::pose
