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

// Read-only row-major view of any tensor, elements read as double; copies
// only when the tensor is not contiguous (large hypothesis arrays are never
// converted as a whole).
template <class T>
struct Flat {
  Tensor<T> held;
  const T* p;
  explicit Flat(const Tensor<T>& x) : held(x.contiguous()), p(held.data()) {}
  double operator[](std::int64_t i) const { return double(p[i]); }
  // Copies n values starting at i into out.
  void read(std::int64_t i, std::int64_t n, double* out) const {
    for (std::int64_t k = 0; k < n; ++k) out[k] = double(p[i + k]);
  }
};

// Largest |coordinate| the metrics accept (mm or px): squared distances and
// Procrustes sums of such values stay far from overflow, so a result is finite.
constexpr double kMaxCoordinate = 1e15;

template <class T>
void check_finite(const Flat<T>& f, const char* fn, const char* name) {
  for (std::int64_t i = 0, n = f.held.numel(); i < n; ++i) {
    if (!std::isfinite(f[i])) fail(fn, ": ", name, " has a non-finite value at flat index ", i);
    if (std::fabs(f[i]) > kMaxCoordinate)
      fail(fn, ": ", name, " has ", f[i], " at flat index ", i, ", beyond +-", kMaxCoordinate, " (not a coordinate)");
  }
}

template <class A, class B>
double dist3(const A& a, std::int64_t ia, const B& b, std::int64_t ib) {
  const double dx = a[ia] - b[ib], dy = a[ia + 1] - b[ib + 1], dz = a[ia + 2] - b[ib + 2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

inline double dist3(const double* a, const double* b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

}  // namespace detail

}  // namespace finepose::pose
