#pragma once
// Shape checks and double-precision copies shared by the pose metrics and
// aggregations. Pose arrays are (N, J, 3) (frames, joints, xyz) and
// hypothesis arrays (N, H, J, 3); metrics accumulate in double whatever the
// element type.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::pose {

namespace detail {

inline std::string shape_of(const Shape& s) { return shape_str(s); }

// x must be `rank`-d with the given trailing dims (-1 = any).
template <class T>
void check_shape(const Tensor<T>& x, const char* fn, const char* name, const Shape& want) {
  if (!x.defined()) fail(fn, ": ", name, " is undefined");
  bool ok = x.dim() == int(want.size());
  for (std::size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || want[i] == x.shape()[i];
  if (!ok) {
    std::string w = "(";
    for (std::size_t i = 0; i < want.size(); ++i) w += (i ? "," : "") + (want[i] < 0 ? std::string("*") : std::to_string(want[i]));
    fail(fn, ": ", name, " must have shape ", w + ")", ", got ", shape_str(x.shape()));
  }
}

template <class T>
std::vector<double> to_double(const Tensor<T>& x) {
  Tensor<T> c = x.contiguous();
  std::vector<double> v(std::size_t(c.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(c.data()[i]);
  return v;
}

template <class T>
std::vector<double> to_double_finite(const Tensor<T>& x, const char* fn, const char* name) {
  std::vector<double> v = to_double(x);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail(fn, ": ", name, " has a non-finite value at flat index ", i);
  return v;
}

// pred and target: same (N, J, 3) shape.
template <class T, class U>
void check_pose_pair(const Tensor<T>& pred, const Tensor<U>& target, const char* fn) {
  check_shape(target, fn, "target", {-1, -1, 3});
  check_shape(pred, fn, "prediction", {target.size(0), target.size(1), 3});
}

// hypotheses (N, H, J, 3) against target (N, J, 3).
template <class T, class U>
void check_hypotheses(const Tensor<T>& hyps, const Tensor<U>& target, const char* fn) {
  check_shape(target, fn, "target", {-1, -1, 3});
  check_shape(hyps, fn, "hypotheses", {target.size(0), -1, target.size(1), 3});
  if (hyps.size(1) < 1) fail(fn, ": hypotheses has no hypothesis (H = 0)");
}

inline double dist3(const double* a, const double* b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

}  // namespace detail

}  // namespace finepose::pose
