#pragma once
// Plausibility checks for 3D pose sequences without ground truth (H36M-17,
// camera-like right-handed axes: x right, y down, z forward, any unit):
//   bone_length_variation  per bone, std / mean of its length over the
//                          sequence; a body does not stretch, so a good
//                          sequence keeps this small for every bone.
//   chirality_fraction     the fraction of frames whose body is not mirrored:
//                          (left_hip - right_hip) x (thorax - pelvis) points
//                          forward, and the neck/nose sits forward of the
//                          thorax. A depth-flipped (mirror) pose fails this.
#include <cmath>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/pose/skeleton.hpp"

namespace finepose::wild {

template <class T>
std::vector<double> bone_length_variation(const Tensor<T>& poses) {
  FINEPOSE_CHECK(poses.dim() == 3 && poses.size(1) == 17 && poses.size(2) == 3, "bone_length_variation: poses must be (F, 17, 3), got ",
                 shape_str(poses.shape()));
  const Tensor<T> p = poses.contiguous();
  const int64_t F = p.size(0);
  FINEPOSE_CHECK(F > 0, "bone_length_variation: no frames");
  const auto bones = pose::h36m17().bones();
  std::vector<double> cv;
  std::vector<double> len(static_cast<size_t>(F));
  for (const auto& b : bones) {
    double m = 0;
    for (int64_t f = 0; f < F; ++f) {
      const T* a = p.data() + (f * 17 + b.first) * 3;
      const T* c = p.data() + (f * 17 + b.second) * 3;
      double d2 = 0;
      for (int k = 0; k < 3; ++k) d2 += (double(a[k]) - double(c[k])) * (double(a[k]) - double(c[k]));
      m += (len[size_t(f)] = std::sqrt(d2));
    }
    m /= double(F);
    double var = 0;
    for (double l : len) var += (l - m) * (l - m);
    cv.push_back(m > 0 ? std::sqrt(var / double(F)) / m : 0.0);
  }
  return cv;
}

template <class T>
double chirality_fraction(const Tensor<T>& poses) {
  FINEPOSE_CHECK(poses.dim() == 3 && poses.size(1) == 17 && poses.size(2) == 3, "chirality_fraction: poses must be (F, 17, 3), got ",
                 shape_str(poses.shape()));
  const Tensor<T> p = poses.contiguous();
  const int64_t F = p.size(0);
  FINEPOSE_CHECK(F > 0, "chirality_fraction: no frames");
  int64_t good = 0;
  for (int64_t f = 0; f < F; ++f) {
    auto J = [&](int j, int c) { return double(p.data()[(f * 17 + j) * 3 + c]); };
    double a[3], u[3], n[3];
    for (int c = 0; c < 3; ++c) a[c] = J(4, c) - J(1, c), u[c] = J(8, c) - J(0, c), n[c] = J(9, c) - J(8, c);
    const double fwd[3] = {a[1] * u[2] - a[2] * u[1], a[2] * u[0] - a[0] * u[2], a[0] * u[1] - a[1] * u[0]};
    good += fwd[0] * n[0] + fwd[1] * n[1] + fwd[2] * n[2] > 0;
  }
  return double(good) / double(F);
}

}  // namespace finepose::wild
