#pragma once
// A procedural walking person, for demos and tests: a kinematic walk cycle
// (hip/knee swing, counter-swinging arms, pelvis bob and sway) on the
// Human3.6M-17 skeleton, walking a circle so that every facing direction
// occurs, filmed by a pinhole camera and written as a detector would write
// it (COCO-17 keypoints with scores, COCO results JSON). Nothing is read from
// data sets: the motion is made here.
#include <cmath>
#include <string>
#include <vector>

#include "finepose/core/philox.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/pose/camera.hpp"

namespace finepose::wild {

struct DemoWalkOptions {
  int64_t frames = 300;
  double fps = 50;             // Human3.6M's frame rate
  int width = 1000, height = 1000;
  double focal = 1145;         // pixels, Human3.6M-like
  double radius_mm = 1500;     // of the walked circle
  double camera_distance_mm = 5500, camera_height_mm = 1500;
  double dropout = 0.02;       // fraction of joints reported with a low score (occlusion)
  // Where on which circle (several walkers in one scene): the circle's centre
  // relative to (0, camera_distance_mm), the angle at frame 0 (radians, 0 =
  // right of the centre), and the sense (+1 or -1).
  double centre_x_mm = 0, centre_z_mm = 0, start_angle = 0, direction = 1;
  double stride_phase = 0;     // gait phase at frame 0 (radians)
  std::uint64_t seed = 1;
  // A captured motion instead of the procedural gait: (frames, 17, 3) in the
  // body frame of demo_walk_pose (mocap_body.hpp makes one from a mocap clip);
  // empty: the procedural walker. The body still travels the circle above.
  Tensor<double> body_mm;
};

struct DemoWalk {
  Tensor<double> camera_mm;   // (F, 17, 3) H36M-17 joints in camera coordinates (x right, y down, z forward)
  Tensor<double> coco_px;     // (F, 17, 3) COCO-17 x, y pixels and score
  pose::CameraIntrinsics intrinsics;  // pixel pinhole
  DemoWalkOptions opt;
};

// Bone lengths of the generated skeleton (mm), by H36M-17 child joint; used by tests.
inline double demo_bone_length(int child) {
  static const double len[17] = {0, 130, 450, 440, 130, 450, 440, 240, 240, 130, 140, 160, 280, 250, 160, 280, 250};
  return len[child];
}

namespace detail {
struct V3 {
  double x, y, z;
};
inline V3 operator+(V3 a, V3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline V3 operator*(double s, V3 a) { return {s * a.x, s * a.y, s * a.z}; }
// Direction in the body frame (right, up, forward) from a pitch angle in the
// sagittal plane (0 = straight down, positive = swinging forward).
inline V3 sagittal(double pitch) { return {0, -std::cos(pitch), std::sin(pitch)}; }
}  // namespace detail

// One pose in the body frame (x = person's left, y = up, z = forward), mm,
// pelvis at the origin. phase in radians.
inline std::vector<detail::V3> demo_walk_pose(double phase) {
  using detail::V3;
  std::vector<V3> p(17);
  const double deg = M_PI / 180;
  const double bob = 15 * std::cos(2 * phase);
  p[0] = {8 * std::sin(phase), bob, 0};  // pelvis: sway and bob
  auto leg = [&](int hip, int knee, int ankle, double side, double ph) {
    p[size_t(hip)] = p[0] + V3{side * demo_bone_length(hip), 0, 0};
    const double thigh = 25 * deg * std::sin(ph);                               // hip flexion
    const double flex = (8 + 45 * std::max(0.0, std::sin(ph + 1.3))) * deg;     // knee flexion during swing
    p[size_t(knee)] = p[size_t(hip)] + demo_bone_length(knee) * detail::sagittal(thigh);
    p[size_t(ankle)] = p[size_t(knee)] + demo_bone_length(ankle) * detail::sagittal(thigh - flex);
  };
  leg(4, 5, 6, +1, phase);          // left leg
  leg(1, 2, 3, -1, phase + M_PI);   // right leg
  p[7] = p[0] + demo_bone_length(7) * V3{0, std::cos(4 * deg), std::sin(4 * deg)};  // spine, slight lean forward
  p[8] = p[7] + demo_bone_length(8) * V3{0, std::cos(4 * deg), std::sin(4 * deg)};  // thorax
  auto arm = [&](int sh, int el, int wr, double side, double ph) {
    p[size_t(sh)] = p[8] + V3{side * demo_bone_length(sh), 0, 0};
    const double swing = 20 * deg * std::sin(ph);
    const double bend = (20 + 15 * std::max(0.0, std::sin(ph))) * deg;
    p[size_t(el)] = p[size_t(sh)] + demo_bone_length(el) * detail::sagittal(swing);
    p[size_t(wr)] = p[size_t(el)] + demo_bone_length(wr) * detail::sagittal(swing + bend);
  };
  arm(11, 12, 13, +1, phase + M_PI);  // left arm swings with the right leg
  arm(14, 15, 16, -1, phase);
  // neck/nose: up and forward of the thorax; head: above it, slightly back
  p[9] = p[8] + (demo_bone_length(9) / std::hypot(100.0, 83.0)) * V3{0, 100, 83};
  p[10] = p[9] + demo_bone_length(10) * (1.0 / std::hypot(140.0, 10.0)) * V3{0, 140, -10};
  return p;
}

inline DemoWalk make_demo_walk(const DemoWalkOptions& o = {}) {
  using detail::V3;
  FINEPOSE_CHECK(o.frames > 0 && o.frames < (int64_t(1) << 24), "demo walk: frames = ", o.frames, " out of range");
  FINEPOSE_CHECK(o.body_mm.dim() == 0 || (o.body_mm.dim() == 3 && o.body_mm.size(0) >= o.frames &&
                                             o.body_mm.size(1) == 17 && o.body_mm.size(2) == 3),
                 "demo walk: body motion ", shape_str(o.body_mm.shape()), " is not (", o.frames, "+, 17, 3)");
  DemoWalk w;
  w.opt = o;
  const int64_t F = o.frames;
  w.camera_mm = Tensor<double>({F, 17, 3});
  w.coco_px = Tensor<double>({F, 17, 3});
  w.intrinsics.fx = w.intrinsics.fy = o.focal;
  w.intrinsics.cx = o.width / 2.0, w.intrinsics.cy = o.height / 2.0;
  w.intrinsics.res_w = o.width, w.intrinsics.res_h = o.height;
  const double speed = 1200;     // mm/s
  const double stride_hz = 0.9;  // gait cycles per second
  // World frame = camera-like axes (x right, y down, z away from the camera),
  // right-handed; the floor is y = 0, the camera stands at height
  // camera_height_mm and looks at hip height over the circle's centre.
  const double hip_h = 950;
  const double theta = std::atan2(o.camera_height_mm - hip_h, o.camera_distance_mm);  // pitch down
  const V3 cam_pos{0, -o.camera_height_mm, 0};
  const V3 right_c{1, 0, 0}, down_c{0, std::cos(theta), -std::sin(theta)}, fwd_c{0, std::sin(theta), std::cos(theta)};
  auto dot = [](V3 a, V3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; };
  NormalStream rng(o.seed, 7);
  const TensorF noise = rng.normal({F, 17, 3});
  for (int64_t f = 0; f < F; ++f) {
    const double t = double(f) / o.fps;
    const double phase = 2 * M_PI * stride_hz * t + o.stride_phase;
    const double ang = o.start_angle + o.direction * speed * t / o.radius_mm;  // position on the circle
    std::vector<V3> body;
    if (o.body_mm.dim() == 0) {
      body = demo_walk_pose(phase);
    } else {
      const double* b = o.body_mm.data() + f * 51;
      for (int j = 0; j < 17; ++j) body.push_back({b[j * 3], b[j * 3 + 1], b[j * 3 + 2]});
    }
    const V3 centre{o.centre_x_mm + o.radius_mm * std::cos(ang), -hip_h,
                    o.camera_distance_mm + o.centre_z_mm + o.radius_mm * std::sin(ang)};
    // body frame (left, up, forward) is right-handed: left = up x forward
    const V3 fwd{-o.direction * std::sin(ang), 0, o.direction * std::cos(ang)}, up{0, -1, 0};
    const V3 left{-fwd.z, 0, fwd.x};
    for (int j = 0; j < 17; ++j) {
      const V3& b = body[size_t(j)];
      const V3 wp = centre + b.x * left + b.y * up + b.z * fwd;
      const V3 d = wp + (-1.0) * cam_pos;
      double* c = w.camera_mm.data() + (f * 17 + j) * 3;
      c[0] = dot(d, right_c), c[1] = dot(d, down_c), c[2] = dot(d, fwd_c);
    }
  }
  // COCO-17 from H36M-17: eyes beside the head point (so their mean is the head,
  // as MMPose's conversion assumes), ears further out and back, nose = neck/nose.
  for (int64_t f = 0; f < F; ++f) {
    const double* c = w.camera_mm.data() + f * 17 * 3;
    auto J = [&](int j) { return V3{c[j * 3], c[j * 3 + 1], c[j * 3 + 2]}; };
    // the person's left direction in camera space: left_hip - right_hip, normalised
    V3 l = {c[4 * 3] - c[1 * 3], c[4 * 3 + 1] - c[1 * 3 + 1], c[4 * 3 + 2] - c[1 * 3 + 2]};
    const double ln = std::sqrt(l.x * l.x + l.y * l.y + l.z * l.z);
    l = (1 / ln) * l;
    V3 coco[17] = {J(9),  J(10) + 32.0 * l, J(10) + (-32.0) * l, J(10) + 75.0 * l, J(10) + (-75.0) * l,
                   J(11), J(14), J(12), J(15), J(13), J(16), J(4), J(1), J(5), J(2), J(6), J(3)};
    for (int k = 0; k < 17; ++k) {
      double uv[2];
      const double p[3] = {coco[k].x, coco[k].y, coco[k].z};
      pose::project_point(w.intrinsics, pose::Projection::Linear, p, uv);
      double* o2 = w.coco_px.data() + (f * 17 + k) * 3;
      const float* nz = noise.data() + (f * 17 + k) * 3;
      // detector-like jitter (0.7 px) and scores; a few joints drop out
      o2[0] = uv[0] + 0.7 * nz[0];
      o2[1] = uv[1] + 0.7 * nz[1];
      const double u = 0.5 * (1 + std::erf(nz[2] / std::sqrt(2.0)));  // uniform from the third normal
      o2[2] = u < o.dropout ? 0.05 : 0.85 + 0.1 * u;
    }
  }
  return w;
}

// COCO results JSON (what AlphaPose / Detectron2 / mmdet-style tools write):
// one object per frame and person, image ids "000123.jpg", flat keypoints.
inline std::string demo_walk_coco_json(const DemoWalk& w, int64_t track_id = 1) {
  std::string out = "[\n";
  const int64_t F = w.coco_px.size(0);
  char buf[64];
  for (int64_t f = 0; f < F; ++f) {
    std::snprintf(buf, sizeof buf, "%06lld.jpg", (long long)f);
    out += "{\"image_id\": \"" + std::string(buf) + "\", \"category_id\": 1, \"track_id\": " + std::to_string(track_id) +
           ", \"score\": 0.93, \"keypoints\": [";
    for (int k = 0; k < 17; ++k) {
      const double* p = w.coco_px.data() + (f * 17 + k) * 3;
      std::snprintf(buf, sizeof buf, "%s%.2f, %.2f, %.3f", k ? ", " : "", p[0], p[1], p[2]);
      out += buf;
    }
    out += f + 1 < F ? "]},\n" : "]}\n";
  }
  return out + "]\n";
}

}  // namespace finepose::wild
