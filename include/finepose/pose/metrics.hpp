#pragma once
// Pose error metrics, as VideoPose3D / FinePOSE define them. Inputs are
// (N, J, 3) arrays of any element type; results are double, in the units of
// the input (the evaluation feeds millimetres).
//   mpjpe    Protocol #1: mean Euclidean joint distance.
//   p_mpjpe  Protocol #2: MPJPE after per-frame similarity (Procrustes)
//            alignment: rotation (no reflection), uniform scale, translation.
//   n_mpjpe  MPJPE after per-frame least-squares scale only.
//   mpjve    mean per-joint velocity error (first differences over frames).
// Multi-hypothesis reductions of FinePOSE's evaluation (hypotheses
// (N, H, J, 3)) work on per-hypothesis joint errors (N, H, J): see
// hypothesis_joint_errors and the *_error reductions below.
// GCC 12 reports false -Wmaybe-uninitialized inside Eigen's fixed-size
// JacobiSVD; silence it for Eigen and the Procrustes code (as ops/gemm.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Dense>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "finepose/core/parallel.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/pose/aggregation.hpp"
#include "finepose/pose/arrays.hpp"
#include "finepose/pose/error_table.hpp"
#include "finepose/pose/pck.hpp"

namespace finepose::pose {

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace detail {
inline double mean_of(const std::vector<double>& v, const char* fn) {
  if (v.empty()) fail(fn, ": no elements to average");
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

// Similarity transform of one frame's prediction onto its target (VideoPose3D
// p_mpjpe): centre both, scale to unit Frobenius norm, H = X0^T Y0 = U S V^T,
// R = V U^T with the last column of V (and last singular value) negated when
// det R < 0 so R is a proper rotation, scale a = trace(S) |X0| / |Y0|,
// aligned = a Y R + (muX - a muY R). Writes J*3 aligned coordinates.
inline void procrustes_frame(const double* pred, const double* target, std::int64_t J, double* aligned) {
  // Fixed-size 3x3 arithmetic only (J is small; this also keeps Eigen's
  // dynamic GEMM kernels out of the build).
  using V3 = Eigen::RowVector3d;
  auto Y = [&](std::int64_t j) { return V3(pred[3 * j], pred[3 * j + 1], pred[3 * j + 2]); };
  auto X = [&](std::int64_t j) { return V3(target[3 * j], target[3 * j + 1], target[3 * j + 2]); };
  V3 muX = V3::Zero(), muY = V3::Zero();
  for (std::int64_t j = 0; j < J; ++j) muX += X(j), muY += Y(j);
  muX /= double(J);
  muY /= double(J);
  double nx2 = 0, ny2 = 0;
  Eigen::Matrix3d Hm = Eigen::Matrix3d::Zero();  // X0^T Y0 (unnormalised)
  for (std::int64_t j = 0; j < J; ++j) {
    const V3 x0 = X(j) - muX, y0 = Y(j) - muY;
    nx2 += x0.squaredNorm();
    ny2 += y0.squaredNorm();
    Hm += x0.transpose() * y0;
  }
  const double normX = std::sqrt(nx2), normY = std::sqrt(ny2);
  auto put = [&](std::int64_t j, const V3& v) {
    for (int c = 0; c < 3; ++c) aligned[3 * j + c] = v(c);
  };
  if (!(normX > 0) || !(normY > 0)) {
    // A collapsed pose (all joints equal): the best similarity has scale 0,
    // which maps every joint onto the target centroid.
    for (std::int64_t j = 0; j < J; ++j) put(j, muX);
    return;
  }
  Hm /= normX * normY;
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(Hm, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Matrix3d U = svd.matrixU();
  Eigen::Matrix3d V = svd.matrixV();
  Eigen::Vector3d s = svd.singularValues();
  Eigen::Matrix3d R = V * U.transpose();
  if (R.determinant() < 0) {
    V.col(2) *= -1;
    s(2) *= -1;
    R = V * U.transpose();
  }
  const double a = s.sum() * normX / normY;
  const V3 t = muX - a * (muY * R);
  for (std::int64_t j = 0; j < J; ++j) put(j, V3(a * (Y(j) * R) + t));
}
}  // namespace detail
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// ---- per-joint errors ---------------------------------------------------------
// (N, J) Euclidean distances.
template <class T, class U>
TensorD joint_errors(const Tensor<T>& pred, const Tensor<U>& target) {
  detail::check_pose_pair(pred, target, "joint_errors");
  const std::int64_t N = target.size(0), J = target.size(1);
  const detail::Flat<T> p(pred);
  const detail::Flat<U> t(target);
  TensorD e({N, J});
  for (std::int64_t k = 0; k < N * J; ++k) e.data()[k] = detail::dist3(p, 3 * k, t, 3 * k);
  return e;
}

// Mean of an (N, J) error array over valid frames (valid may be null).
inline double mean_joint_error(const TensorD& errors, const std::vector<bool>* valid = nullptr) {
  detail::check_shape(errors, "mean_joint_error", "errors", {-1, -1});
  const std::int64_t N = errors.size(0), J = errors.size(1);
  if (valid && std::int64_t(valid->size()) != N)
    fail("mean_joint_error: valid mask has ", valid->size(), " entries for ", N, " frames");
  TensorD c = errors.contiguous();
  double s = 0;
  std::int64_t count = 0;
  for (std::int64_t n = 0; n < N; ++n) {
    if (valid && !(*valid)[std::size_t(n)]) continue;
    for (std::int64_t j = 0; j < J; ++j) s += c.data()[n * J + j];
    count += J;
  }
  if (count == 0) fail("mean_joint_error: no valid frame");
  return s / double(count);
}

template <class T, class U>
double mpjpe(const Tensor<T>& pred, const Tensor<U>& target) {
  return mean_joint_error(joint_errors(pred, target));
}

// ---- Protocol #2 -----------------------------------------------------------------
// Prediction aligned to the target frame by frame, (N, J, 3) double.
template <class T, class U>
TensorD procrustes_align(const Tensor<T>& pred, const Tensor<U>& target) {
  detail::check_pose_pair(pred, target, "procrustes_align");
  const std::int64_t N = target.size(0), J = target.size(1);
  if (J < 1) fail("procrustes_align: no joints");
  const detail::Flat<T> p(pred);
  const detail::Flat<U> t(target);
  TensorD out({N, J, 3});
  parallel_for(N, [&](std::int64_t n) {
    std::vector<double> pf(std::size_t(J * 3)), tf(std::size_t(J * 3));
    p.read(n * J * 3, J * 3, pf.data());
    t.read(n * J * 3, J * 3, tf.data());
    detail::procrustes_frame(pf.data(), tf.data(), J, out.data() + n * J * 3);
  }, 256);
  return out;
}

template <class T, class U>
TensorD procrustes_joint_errors(const Tensor<T>& pred, const Tensor<U>& target) {
  return joint_errors(procrustes_align(pred, target), target);
}

template <class T, class U>
double p_mpjpe(const Tensor<T>& pred, const Tensor<U>& target) {
  return mean_joint_error(procrustes_joint_errors(pred, target));
}

// ---- N-MPJPE ----------------------------------------------------------------------
// Per frame, pred is scaled by s = sum<target, pred> / sum<pred, pred> (the
// least-squares scale) before MPJPE. A frame whose prediction is all zeros
// keeps scale 0.
template <class T, class U>
TensorD scale_normalized_joint_errors(const Tensor<T>& pred, const Tensor<U>& target) {
  detail::check_pose_pair(pred, target, "n_mpjpe");
  const std::int64_t N = target.size(0), J = target.size(1);
  const detail::Flat<T> p(pred);
  const detail::Flat<U> t(target);
  TensorD e({N, J});
  for (std::int64_t n = 0; n < N; ++n) {
    double pp = 0, tp = 0;
    for (std::int64_t k = n * J * 3; k < (n + 1) * J * 3; ++k) pp += p[k] * p[k], tp += t[k] * p[k];
    const double s = pp > 0 ? tp / pp : 0.0;
    for (std::int64_t j = 0; j < J; ++j) {
      const std::int64_t k = (n * J + j) * 3;
      const double d[3] = {s * p[k] - t[k], s * p[k + 1] - t[k + 1], s * p[k + 2] - t[k + 2]};
      e.data()[n * J + j] = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    }
  }
  return e;
}

template <class T, class U>
double n_mpjpe(const Tensor<T>& pred, const Tensor<U>& target) {
  return mean_joint_error(scale_normalized_joint_errors(pred, target));
}

// ---- MPJVE ------------------------------------------------------------------------
// Frames must be consecutive in time. With a valid mask, only velocities
// between two valid neighbouring frames count.
template <class T, class U>
double mpjve(const Tensor<T>& pred, const Tensor<U>& target, const std::vector<bool>* valid = nullptr) {
  detail::check_pose_pair(pred, target, "mpjve");
  const std::int64_t N = target.size(0), J = target.size(1);
  if (N < 2) fail("mpjve: needs at least 2 frames, got ", N);
  if (valid && std::int64_t(valid->size()) != N) fail("mpjve: valid mask has ", valid->size(), " entries for ", N, " frames");
  const detail::Flat<T> p(pred);
  const detail::Flat<U> t(target);
  double s = 0;
  std::int64_t count = 0;
  for (std::int64_t n = 1; n < N; ++n) {
    if (valid && !((*valid)[std::size_t(n)] && (*valid)[std::size_t(n - 1)])) continue;
    for (std::int64_t j = 0; j < J; ++j) {
      double d[3];
      for (int c = 0; c < 3; ++c) {
        const std::int64_t a = (n * J + j) * 3 + c, b = ((n - 1) * J + j) * 3 + c;
        d[c] = (p[a] - p[b]) - (t[a] - t[b]);
      }
      s += std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    }
    count += J;
  }
  if (count == 0) fail("mpjve: no pair of consecutive valid frames");
  return s / double(count);
}

// ---- acceleration error -------------------------------------------------------------
// Mean over frames and joints of |a_pred - a_target|, a = x[n+1] - 2 x[n] + x[n-1]:
// mm / frame^2 for mm poses, as SmoothNet and the video-HMR papers report jitter.
// Frames must be consecutive in time; with a valid mask a frame counts only when
// it and both neighbours are valid.
template <class T, class U>
double acceleration_error(const Tensor<T>& pred, const Tensor<U>& target, const std::vector<bool>* valid = nullptr) {
  detail::check_pose_pair(pred, target, "acceleration_error");
  const std::int64_t N = target.size(0), J = target.size(1);
  if (N < 3) fail("acceleration_error: needs at least 3 frames, got ", N);
  if (valid && std::int64_t(valid->size()) != N)
    fail("acceleration_error: valid mask has ", valid->size(), " entries for ", N, " frames");
  const detail::Flat<T> p(pred);
  const detail::Flat<U> t(target);
  double s = 0;
  std::int64_t count = 0;
  for (std::int64_t n = 1; n + 1 < N; ++n) {
    if (valid && !((*valid)[std::size_t(n - 1)] && (*valid)[std::size_t(n)] && (*valid)[std::size_t(n + 1)])) continue;
    for (std::int64_t j = 0; j < J; ++j) {
      double d[3];
      for (int c = 0; c < 3; ++c) {
        const std::int64_t a = ((n - 1) * J + j) * 3 + c, b = (n * J + j) * 3 + c, e = ((n + 1) * J + j) * 3 + c;
        d[c] = (p[e] - 2 * p[b] + p[a]) - (t[e] - 2 * t[b] + t[a]);
      }
      s += std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    }
    count += J;
  }
  if (count == 0) fail("acceleration_error: no three consecutive valid frames");
  return s / double(count);
}

// ---- multi-hypothesis errors (official FinePOSE reductions) -------------------------
// (N, H, J) joint errors of every hypothesis; with procrustes = true each
// hypothesis is first aligned to the target on its own (as the official
// Protocol #2 numbers for J-Best, P-Best and J-Agg do).
template <class T, class U>
TensorD hypothesis_joint_errors(const Tensor<T>& hyps, const Tensor<U>& target, bool procrustes = false) {
  detail::check_hypotheses(hyps, target, "hypothesis_joint_errors");
  const std::int64_t N = hyps.size(0), H = hyps.size(1), J = hyps.size(2);
  const detail::Flat<T> h(hyps);
  const detail::Flat<U> t(target);
  TensorD e({N, H, J});
  parallel_for(N, [&](std::int64_t n) {
    std::vector<double> tf(std::size_t(J * 3)), hf(std::size_t(J * 3)), aligned(std::size_t(J * 3));
    t.read(n * J * 3, J * 3, tf.data());
    for (std::int64_t i = 0; i < H; ++i) {
      const std::int64_t nh = n * H + i;
      h.read(nh * J * 3, J * 3, hf.data());
      const double* hp = hf.data();
      if (procrustes) {
        detail::procrustes_frame(hf.data(), tf.data(), J, aligned.data());
        hp = aligned.data();
      }
      for (std::int64_t j = 0; j < J; ++j) e.data()[nh * J + j] = detail::dist3(hp + 3 * j, tf.data() + 3 * j);
    }
  }, 64);
  return e;
}

// J-Best: mean over frames and joints of the smallest error over hypotheses.
inline double joint_best_error(const TensorD& hyp_errors) {
  detail::check_shape(hyp_errors, "joint_best_error", "errors", {-1, -1, -1});
  const std::int64_t N = hyp_errors.size(0), H = hyp_errors.size(1), J = hyp_errors.size(2);
  if (N * J == 0 || H == 0) fail("joint_best_error: empty errors ", shape_str(hyp_errors.shape()));
  TensorD e = hyp_errors.contiguous();
  double s = 0;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t j = 0; j < J; ++j) {
      double m = std::numeric_limits<double>::infinity();
      for (std::int64_t i = 0; i < H; ++i) m = std::min(m, e.data()[(n * H + i) * J + j]);
      s += m;
    }
  return s / double(N * J);
}

// P-Best: per group of frames the hypothesis index with the lowest mean error
// (group_frames = 0: the whole input is one group, like one official
// evaluation batch); returns the frame-weighted mean over groups.
inline double pose_best_error(const TensorD& hyp_errors, std::int64_t group_frames = 0) {
  detail::check_shape(hyp_errors, "pose_best_error", "errors", {-1, -1, -1});
  const std::int64_t N = hyp_errors.size(0), H = hyp_errors.size(1), J = hyp_errors.size(2);
  if (N * J == 0 || H == 0) fail("pose_best_error: empty errors ", shape_str(hyp_errors.shape()));
  if (group_frames < 0) fail("pose_best_error: group_frames must be >= 0, got ", group_frames);
  const std::int64_t G = group_frames == 0 ? N : group_frames;
  TensorD e = hyp_errors.contiguous();
  double total = 0;
  for (std::int64_t g0 = 0; g0 < N; g0 += G) {
    const std::int64_t g1 = std::min(N, g0 + G);
    double best = std::numeric_limits<double>::infinity();
    for (std::int64_t i = 0; i < H; ++i) {
      double s = 0;
      for (std::int64_t n = g0; n < g1; ++n)
        for (std::int64_t j = 0; j < J; ++j) s += e.data()[(n * H + i) * J + j];
      best = std::min(best, s);
    }
    total += best;  // sum of the group's errors for its best hypothesis
  }
  return total / double(N * J);
}

// Mean of hyp_errors[n, choice[n, j], j]: errors of a per-joint selection
// (J-Agg choice from joint_aggregate_choice, or any other).
inline double selected_joint_error(const TensorD& hyp_errors, const IndexTensor& choice) {
  detail::check_shape(hyp_errors, "selected_joint_error", "errors", {-1, -1, -1});
  const std::int64_t N = hyp_errors.size(0), H = hyp_errors.size(1), J = hyp_errors.size(2);
  detail::check_shape(choice, "selected_joint_error", "choice", {N, J});
  if (N * J == 0) fail("selected_joint_error: empty errors");
  TensorD e = hyp_errors.contiguous();
  IndexTensor c = choice.contiguous();
  double s = 0;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t j = 0; j < J; ++j) {
      const std::int64_t i = c.data()[n * J + j];
      if (i < 0 || i >= H) fail("selected_joint_error: choice ", i, " at frame ", n, " joint ", j, " outside 0..", H - 1);
      s += e.data()[(n * H + i) * J + j];
    }
  return s / double(N * J);
}

}  // namespace finepose::pose
