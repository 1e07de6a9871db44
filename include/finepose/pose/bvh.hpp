#pragma once
// BVH export of a lifted sequence (H36M-17 joint positions, mm) for animation
// tools (Blender, MotionBuilder, Unity importers).
//
// fit_bvh: one fixed skeleton for the whole sequence (each bone at its median
// length over the frames, rest pose a T-pose: legs and spine straight, arms
// out sideways), then per frame the joint rotations that point every bone
// where the positions say:
//   - the pelvis and the thorax, which have several children, get the rotation
//     that maps their rest frame (the spine / neck upward, the hip / shoulder
//     line sideways) onto the observed one: the first direction exactly, the
//     second projected orthogonal to it;
//   - every other joint, with one child, gets the smallest rotation from where
//     its parent's rotation already points the bone to where it is observed:
//     the twist comes from the parent and is stable, no flips between frames.
// fitted: the positions the BVH itself reproduces (forward kinematics of the
// rotations with the fixed bones); fit_error_mm: their mean distance to the
// input, which is the cost of fixed bone lengths and rigid hip/shoulder lines.
// write_bvh: HIERARCHY + MOTION text, channels Zrotation Xrotation Yrotation
// (degrees, applied as Rz * Rx * Ry) and the root's Xposition Yposition Zposition.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::pose {

namespace bvh_detail {
using V = std::array<double, 3>;
using M = std::array<double, 9>;  // row-major 3x3

inline V sub(V a, V b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
inline V add(V a, V b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
inline V scale(V a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
inline double dot(V a, V b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
inline V cross(V a, V b) { return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]}; }
inline double norm(V a) { return std::sqrt(dot(a, a)); }
inline V unit(V a, V fallback) {
  const double n = norm(a);
  return n > 1e-9 ? scale(a, 1 / n) : fallback;
}
inline M mul(const M& a, const M& b) {
  M c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[size_t(i * 3 + j)] += a[size_t(i * 3 + k)] * b[size_t(k * 3 + j)];
  return c;
}
inline M transpose(const M& a) { return {a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]}; }
inline V rotate(const M& a, V v) {
  return {a[0] * v[0] + a[1] * v[1] + a[2] * v[2], a[3] * v[0] + a[4] * v[1] + a[5] * v[2], a[6] * v[0] + a[7] * v[1] + a[8] * v[2]};
}
inline M identity() { return {1, 0, 0, 0, 1, 0, 0, 0, 1}; }
// columns e0, e1, e2
inline M from_columns(V a, V b, V c) { return {a[0], b[0], c[0], a[1], b[1], c[1], a[2], b[2], c[2]}; }
// The smallest rotation taking unit a onto unit b (Rodrigues).
inline M rotation_between(V a, V b) {
  const V v = cross(a, b);
  const double c = dot(a, b), s = norm(v);
  if (s < 1e-12) {
    if (c > 0) return identity();
    // opposite: half a turn about any axis orthogonal to a
    V ax = unit(cross(a, std::fabs(a[0]) < 0.9 ? V{1, 0, 0} : V{0, 1, 0}), V{0, 0, 1});
    return {2 * ax[0] * ax[0] - 1, 2 * ax[0] * ax[1],     2 * ax[0] * ax[2],     2 * ax[1] * ax[0], 2 * ax[1] * ax[1] - 1,
            2 * ax[1] * ax[2],     2 * ax[2] * ax[0],     2 * ax[2] * ax[1],     2 * ax[2] * ax[2] - 1};
  }
  const V k = scale(v, 1 / s);
  const double t = 1 - c;
  return {t * k[0] * k[0] + c,        t * k[0] * k[1] - s * k[2], t * k[0] * k[2] + s * k[1],
          t * k[0] * k[1] + s * k[2], t * k[1] * k[1] + c,        t * k[1] * k[2] - s * k[0],
          t * k[0] * k[2] - s * k[1], t * k[1] * k[2] + s * k[0], t * k[2] * k[2] + c};
}
// An orthonormal frame: first axis along p, second along q made orthogonal to p.
inline M frame(V p, V q) {
  const V e0 = unit(p, V{0, 1, 0});
  V e1 = sub(q, scale(e0, dot(q, e0)));
  e1 = unit(e1, unit(cross(e0, V{0, 0, 1}), V{1, 0, 0}));
  return from_columns(e0, e1, cross(e0, e1));
}
// R = Rz(z) Rx(x) Ry(y), angles in degrees
inline V euler_zxy(const M& r) {
  const double x = std::asin(std::clamp(r[7], -1.0, 1.0));
  const double z = std::atan2(-r[1], r[4]);
  const double y = std::atan2(-r[6], r[8]);
  const double d = 180 / M_PI;
  return {z * d, x * d, y * d};
}
}  // namespace bvh_detail

struct BvhOptions {
  double fps = 30;
  bool z_up = false;  // Y up (Blender's BVH default) or Z up
};

struct BvhMotion {
  std::vector<std::string> names;      // 17, H36M order
  std::vector<int> parents;            // -1 for the pelvis
  std::vector<bvh_detail::V> offsets;  // rest offsets from the parent (mm, in the output's axes)
  std::vector<bvh_detail::V> end_sites;  // per joint: the end site offset of a leaf (zero otherwise)
  int64_t frames = 0;
  std::vector<bvh_detail::V> root_position;  // per frame (mm)
  std::vector<std::vector<bvh_detail::V>> euler;  // per frame, per joint: Z, X, Y degrees (local)
  TensorF fitted;          // (F, 17, 3) the positions the BVH reproduces, in the input's axes (mm)
  double fit_error_mm = 0;  // mean |fitted - input| over frames and joints
  double fps = 30;
};

// poses: (F, 17, 3) mm H36M-17 in camera axes (x right, y down, z forward), root-relative
// or not; root (F, 3) mm camera space, or undefined (the pelvis then moves as the poses say).
inline BvhMotion fit_bvh(const TensorF& poses, const TensorF& root, const BvhOptions& o = {}) {
  using namespace bvh_detail;
  FINEPOSE_CHECK(poses.defined() && poses.dim() == 3 && poses.size(1) == 17 && poses.size(2) == 3,
                 "bvh: poses must be (F, 17, 3) H36M-17 joints, got ", poses.defined() ? shape_str(poses.shape()) : "nothing");
  const int64_t F = poses.size(0);
  FINEPOSE_CHECK(F >= 1, "bvh: no frames");
  FINEPOSE_CHECK(!root.defined() || (root.numel() == F * 3), "bvh: root_3d must be (F, 3) for ", F, " frames, got ",
                 root.defined() ? shape_str(root.shape()) : "");
  FINEPOSE_CHECK(std::isfinite(o.fps) && o.fps > 0 && o.fps <= 10000, "bvh: fps must be in (0, 10000], got ", o.fps);
  const TensorF P = poses.contiguous();
  for (int64_t i = 0; i < P.numel(); ++i)
    FINEPOSE_CHECK(std::isfinite(P.data()[i]) && std::fabs(P.data()[i]) < 1e7, "bvh: pose value ", P.data()[i], " at frame ",
                   i / 51, " is not a position in mm");
  BvhMotion m;
  m.fps = o.fps;
  m.frames = F;
  m.names = {"Hips", "RightUpLeg", "RightLeg", "RightFoot", "LeftUpLeg", "LeftLeg", "LeftFoot", "Spine", "Thorax",
             "Neck", "Head", "LeftShoulder", "LeftArm", "LeftForeArm", "RightShoulder", "RightArm", "RightForeArm"};
  // H36M's joints are the bones' ends: LeftShoulder is the shoulder joint (its bone from the thorax is the collar)
  m.parents = {-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15};
  // camera axes -> output axes (a proper rotation): Y up = (x, -y, -z); Z up = (x, z, -y)
  auto to_out = [&](V c) { return o.z_up ? V{c[0], c[2], -c[1]} : V{c[0], -c[1], -c[2]}; };
  auto from_out = [&](V w) { return o.z_up ? V{w[0], -w[2], w[1]} : V{w[0], -w[1], -w[2]}; };
  auto at = [&](int64_t f, int j) { return to_out(V{P(f, j, 0), P(f, j, 1), P(f, j, 2)}); };
  // rest directions in the output axes, the person facing +Z (Y up) / -Y (Z up): right is -X
  const V up = o.z_up ? V{0, 0, 1} : V{0, 1, 0};
  const V left{1, 0, 0};
  const V down = scale(up, -1);
  std::vector<V> rest_dir(17, up);
  rest_dir[1] = scale(left, -1), rest_dir[4] = left;       // hips
  rest_dir[2] = rest_dir[3] = rest_dir[5] = rest_dir[6] = down;  // legs
  rest_dir[11] = left, rest_dir[12] = left, rest_dir[13] = left;  // left collar, arm, forearm
  rest_dir[14] = scale(left, -1), rest_dir[15] = rest_dir[16] = scale(left, -1);
  // median bone lengths
  m.offsets.assign(17, V{0, 0, 0});
  std::vector<double> len(17, 0.0);
  for (int j = 1; j < 17; ++j) {
    std::vector<double> l(static_cast<size_t>(F));
    for (int64_t f = 0; f < F; ++f) l[size_t(f)] = norm(sub(at(f, j), at(f, m.parents[size_t(j)])));
    std::nth_element(l.begin(), l.begin() + F / 2, l.end());
    len[size_t(j)] = l[size_t(F / 2)];
    m.offsets[size_t(j)] = scale(rest_dir[size_t(j)], len[size_t(j)]);
  }
  m.end_sites.assign(17, V{0, 0, 0});
  for (int j : {3, 6}) m.end_sites[size_t(j)] = scale(o.z_up ? V{0, -1, 0} : V{0, 0, 1}, 100);  // toes forward
  m.end_sites[10] = scale(up, 100);
  m.end_sites[13] = scale(left, 80), m.end_sites[16] = scale(left, -80);  // hands
  // per frame: global rotations, then locals and FK
  m.fitted = TensorF({F, 17, 3});
  m.root_position.resize(size_t(F));
  m.euler.assign(size_t(F), std::vector<V>(17, V{0, 0, 0}));
  double err = 0;
  for (int64_t f = 0; f < F; ++f) {
    std::vector<M> G(17, identity());
    std::vector<V> pos(17);
    auto dir = [&](int a, int b) { return unit(sub(at(f, b), at(f, a)), rest_dir[size_t(b)]); };
    // pelvis: spine up exactly, hip line (right hip -> left hip) as close as it can be
    G[0] = mul(frame(dir(0, 7), sub(at(f, 4), at(f, 1))), transpose(frame(rest_dir[7], left)));
    const V root_pos = root.defined() ? to_out(V{root.data()[f * 3], root.data()[f * 3 + 1], root.data()[f * 3 + 2]}) : at(f, 0);
    pos[0] = root_pos;
    m.root_position[size_t(f)] = root_pos;
    for (int j = 1; j < 17; ++j) {
      const int p = m.parents[size_t(j)];
      pos[size_t(j)] = add(pos[size_t(p)], rotate(G[size_t(p)], m.offsets[size_t(j)]));
      // the rotation of joint j: it points j's child bone(s)
      int child = -1;
      for (int c = j + 1; c < 17; ++c)
        if (m.parents[size_t(c)] == j) {
          child = c;
          break;
        }
      if (child < 0) {
        G[size_t(j)] = G[size_t(p)];  // a leaf: its end site follows the parent's twist
        continue;
      }
      if (j == 8) {  // thorax: neck up exactly, shoulder line (right -> left) as close as it can be
        G[8] = mul(frame(dir(8, 9), sub(at(f, 11), at(f, 14))), transpose(frame(rest_dir[9], left)));
        continue;
      }
      const V now = rotate(G[size_t(p)], rest_dir[size_t(child)]);
      G[size_t(j)] = mul(rotation_between(now, dir(j, child)), G[size_t(p)]);
    }
    for (int j = 0; j < 17; ++j) {
      const int p = m.parents[size_t(j)];
      const M local = p < 0 ? G[0] : mul(transpose(G[size_t(p)]), G[size_t(j)]);
      m.euler[size_t(f)][size_t(j)] = euler_zxy(local);
      const V c = from_out(pos[size_t(j)]);
      for (int k = 0; k < 3; ++k) m.fitted(f, j, k) = float(c[size_t(k)]);
      // the error against the input, root-aligned when a root trajectory moved the pelvis
      const V in = add(sub(at(f, j), at(f, 0)), root_pos);
      err += norm(sub(pos[size_t(j)], in));
    }
  }
  m.fit_error_mm = err / double(F * 17);
  return m;
}

inline std::string write_bvh(const BvhMotion& m) {
  std::string s = "HIERARCHY\n";
  char b[256];
  auto num = [&](double v) {
    std::snprintf(b, sizeof b, "%.6f", v);
    return std::string(b);
  };
  std::vector<int> order;  // joints in the order they are written (depth first): the channel order
  std::function<void(int, int)> emit = [&](int j, int depth) {
    const std::string ind(size_t(depth) * 2, ' ');
    const auto& off = m.offsets[size_t(j)];
    s += ind + (j == 0 ? "ROOT " : "JOINT ") + m.names[size_t(j)] + "\n" + ind + "{\n";
    s += ind + "  OFFSET " + num(off[0]) + " " + num(off[1]) + " " + num(off[2]) + "\n";
    s += ind + (j == 0 ? "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
                       : "  CHANNELS 3 Zrotation Xrotation Yrotation\n");
    order.push_back(j);
    bool leaf = true;
    for (int c = 0; c < 17; ++c)
      if (m.parents[size_t(c)] == j) emit(c, depth + 1), leaf = false;
    if (leaf) {
      const auto& e = m.end_sites[size_t(j)];
      s += ind + "  End Site\n" + ind + "  {\n" + ind + "    OFFSET " + num(e[0]) + " " + num(e[1]) + " " + num(e[2]) + "\n" +
           ind + "  }\n";
    }
    s += ind + "}\n";
  };
  emit(0, 0);
  s += "MOTION\nFrames: " + std::to_string(m.frames) + "\n";
  std::snprintf(b, sizeof b, "Frame Time: %.8f\n", 1.0 / m.fps);
  s += b;
  for (int64_t f = 0; f < m.frames; ++f) {
    const auto& r = m.root_position[size_t(f)];
    std::string line = num(r[0]) + " " + num(r[1]) + " " + num(r[2]);
    for (int j : order) {
      const auto& e = m.euler[size_t(f)][size_t(j)];
      line += " " + num(e[0]) + " " + num(e[1]) + " " + num(e[2]);
    }
    s += line + "\n";
  }
  return s;
}

}  // namespace finepose::pose
