#pragma once
// Virtual cameras for world-space mocap, drawn from the range real videos
// have (issue 15): camera height 0.3-2.5 m, pitch -30..+40 degrees (positive:
// looking down), horizontal distance 2-12 m, focal length 0.5-2.0 x image
// width, 16:9 and 4:3 landscape or 9:16 portrait frames, the person anywhere
// in the picture (its mean root lands uniformly inside the frame, so a moving
// person partly leaves it). Every draw is a pure function of (seed, stream):
// an epoch's cameras can be made again from its number alone.
//
// World: millimetres, Z up (the shared mocap files). Camera: x right, y down,
// z forward, metres (what the model predicts, as Human3.6M's pose3d_cam).
#include <cmath>
#include <cstdint>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/train/data.hpp"

namespace finepose::train {

struct CameraRanges {
  double height_min_m = 0.3, height_max_m = 2.5;
  double pitch_min_deg = -30, pitch_max_deg = 40;
  double distance_min_m = 2, distance_max_m = 12;
  double focal_min = 0.5, focal_max = 2.0;  // x image width
  // frame shapes drawn with equal probability: {width, height} in pixels
  std::vector<std::pair<double, double>> frames = {{1920, 1080}, {1440, 1080}, {1080, 1920}};
  // where the clip's mean root may land, as a fraction of the frame (0..1 = inside)
  double place_min = 0.1, place_max = 0.9;
};

struct VirtualCamera {
  double width = 0, height = 0;  // pixels
  double f = 0, cx = 0, cy = 0;  // pixels
  double R[3][3] = {};           // world -> camera rotation (rows: right, down, forward)
  double C[3] = {};              // centre, metres, world frame
  double pitch_deg = 0, height_m = 0, distance_m = 0;  // as drawn, for reports

  // world point (metres) -> camera coordinates (metres)
  void to_camera(const double X[3], double c[3]) const {
    const double d[3] = {X[0] - C[0], X[1] - C[1], X[2] - C[2]};
    for (int r = 0; r < 3; ++r) c[r] = R[r][0] * d[0] + R[r][1] * d[1] + R[r][2] * d[2];
  }
  // camera coordinates -> pixels (points behind the camera are pushed to 10 cm in front)
  void project(const double c[3], double& u, double& v) const {
    const double z = std::max(c[2], 0.1);
    u = f * c[0] / z + cx, v = f * c[1] / z + cy;
  }
};

// A camera for a clip whose mean root is at `target` (metres, world, Z up):
// yaw uniform around the person, height / pitch / distance / focal / frame
// uniform in their ranges, then the camera turns (yaw and pitch offsets within
// the field of view) so that the person lands at a uniform place in the frame.
// The pitch drawn is that of the optical axis.
inline VirtualCamera sample_camera(const CameraRanges& r, const double target[3], uint64_t seed, uint64_t stream) {
  FINEPOSE_CHECK(!r.frames.empty(), "virtual camera: no frame shapes");
  auto u = [&](uint64_t k) { return random_uniform(seed, stream, k); };
  auto lerp = [&](double a, double b, uint64_t k) { return a + (b - a) * u(k); };
  constexpr double kPi = 3.14159265358979323846, kDeg = kPi / 180;
  VirtualCamera cam;
  const auto& fr = r.frames[random_u32(seed, stream, 0) % r.frames.size()];
  cam.width = fr.first, cam.height = fr.second;
  cam.f = cam.width * lerp(r.focal_min, r.focal_max, 1);
  cam.cx = cam.width / 2, cam.cy = cam.height / 2;
  cam.height_m = lerp(r.height_min_m, r.height_max_m, 2);
  cam.distance_m = lerp(r.distance_min_m, r.distance_max_m, 3);
  const double yaw = 2 * kPi * u(4);
  cam.C[0] = target[0] + cam.distance_m * std::cos(yaw);
  cam.C[1] = target[1] + cam.distance_m * std::sin(yaw);
  cam.C[2] = cam.height_m;
  // the person's place in the frame -> angles of the optical axis relative to the line of sight
  const double px = lerp(r.place_min, r.place_max, 5) * cam.width, py = lerp(r.place_min, r.place_max, 6) * cam.height;
  const double yaw_off = std::atan((px - cam.cx) / cam.f);
  // line of sight to the target: heading (towards the person) and elevation (negative: looking down)
  const double heading = std::atan2(target[1] - cam.C[1], target[0] - cam.C[0]);
  const double sight_down = std::atan2(cam.C[2] - target[2], cam.distance_m);  // > 0: the person is below the camera
  // pitch of the axis: drawn in range; the person's vertical place follows from it. Where that place
  // falls outside the frame, the pitch is moved (within its range) to put the person at py instead.
  double pitch = lerp(r.pitch_min_deg, r.pitch_max_deg, 7) * kDeg;
  const double v_here = cam.cy + cam.f * std::tan(sight_down - pitch);
  if (v_here < 0.02 * cam.height || v_here > 0.98 * cam.height) {
    pitch = sight_down - std::atan((py - cam.cy) / cam.f);
    pitch = std::min(std::max(pitch, r.pitch_min_deg * kDeg), r.pitch_max_deg * kDeg);
  }
  cam.pitch_deg = pitch / kDeg;
  const double h = heading + yaw_off;  // axis turned left (counter-clockwise) of the line of sight: the person appears right of centre
  // forward axis: heading h, tilted down by pitch (Z up)
  const double fw[3] = {std::cos(pitch) * std::cos(h), std::cos(pitch) * std::sin(h), -std::sin(pitch)};
  // right = forward x up (no roll), down = forward x right
  double rt[3] = {fw[1], -fw[0], 0};
  const double n = std::sqrt(rt[0] * rt[0] + rt[1] * rt[1]);
  rt[0] /= n, rt[1] /= n;
  const double dn[3] = {fw[1] * rt[2] - fw[2] * rt[1], fw[2] * rt[0] - fw[0] * rt[2], fw[0] * rt[1] - fw[1] * rt[0]};
  for (int k = 0; k < 3; ++k) cam.R[0][k] = rt[k], cam.R[1][k] = dn[k], cam.R[2][k] = fw[k];
  return cam;
}

}  // namespace finepose::train
