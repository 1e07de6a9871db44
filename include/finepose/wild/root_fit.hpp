#pragma once
// The camera-space position of a root-relative 3D pose, from its 2D
// keypoints and pinhole intrinsics: the translation T minimising the
// (score-weighted) algebraic reprojection error
//   (X_j + T_x) - u'_j (Z_j + T_z) = 0,  (Y_j + T_y) - v'_j (Z_j + T_z) = 0,
// u' = (u - c_x) / f_x, v' = (v - c_y) / f_y, a 3x3 linear least-squares
// problem per frame. Used for J-Agg (which compares reprojections) and for
// camera-space trajectories.
#include <cmath>

#include "finepose/pose/camera.hpp"

namespace finepose::wild {

// When the user gives no intrinsics: a Human3.6M-like camera (focal length
// 1.145 x image width, as the Human3.6M cameras have, ~47 degrees horizontal
// field of view; principal point at the image centre). Only used to choose
// among hypotheses (J-Agg), never reported as a trajectory.
inline pose::CameraIntrinsics assumed_intrinsics(int width, int height) {
  pose::CameraIntrinsics k;
  k.fx = k.fy = 1.145 * width;
  k.cx = width / 2.0, k.cy = height / 2.0;
  k.res_w = width, k.res_h = height;
  return k;
}

// pose: J x 3 (root-relative, any length unit), kp: J x 2 pixels, w: J
// weights (nullptr = all 1). Writes T (same unit as pose); (0, 0,
// fallback_depth) when the system is degenerate or puts the person behind
// the camera.
inline void fit_root_translation(const double* pose, const double* kp, const double* w, int J,
                                 const pose::CameraIntrinsics& k, double fallback_depth, double T[3]) {
  double A[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}, b[3] = {0, 0, 0};
  for (int j = 0; j < J; ++j) {
    const double wj = w ? std::max(w[j], 0.0) + 1e-3 : 1.0;
    const double u = (kp[2 * j] - k.cx) / k.fx, v = (kp[2 * j + 1] - k.cy) / k.fy;
    const double X = pose[3 * j], Y = pose[3 * j + 1], Z = pose[3 * j + 2];
    const double r1[3] = {1, 0, -u}, r2[3] = {0, 1, -v};
    const double y1 = u * Z - X, y2 = v * Z - Y;
    for (int a = 0; a < 3; ++a) {
      for (int c = 0; c < 3; ++c) A[a][c] += wj * (r1[a] * r1[c] + r2[a] * r2[c]);
      b[a] += wj * (r1[a] * y1 + r2[a] * y2);
    }
  }
  // Cramer's rule on the symmetric 3x3 system
  auto det3 = [](const double M[3][3]) {
    return M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
           M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0]);
  };
  const double D = det3(A);
  bool ok = std::isfinite(D) && std::fabs(D) > 1e-12;
  if (ok) {
    for (int c = 0; c < 3; ++c) {
      double M[3][3];
      for (int r = 0; r < 3; ++r)
        for (int q = 0; q < 3; ++q) M[r][q] = q == c ? b[r] : A[r][q];
      T[c] = det3(M) / D;
    }
    ok = std::isfinite(T[0]) && std::isfinite(T[1]) && T[2] > 0;
  }
  if (!ok) {
    T[2] = fallback_depth;
    T[0] = T[1] = 0;
  }
}

}  // namespace finepose::wild
