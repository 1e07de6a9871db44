#pragma once
// A real person's motion for the test scenes: a mocap clip (world space, Z up,
// H36M-17, mm, as ../shared/data holds them) turned into the body frame the
// procedural walker uses (demo_walk.hpp: x = the person's left, y = up, z =
// forward, origin at the pelvis), resampled to the scene's frame rate.
//
// The clip's own travel is taken out (the pelvis stays at the origin in x and
// z) and its heading is taken out up to a slow turn (the hips' direction,
// smoothed over half a second), so a scene can move the body along its own
// path facing where it goes: the limbs, the trunk and the pelvis height are the
// capture's. The feet may slide over the ground; for lifting that does not
// matter, as the 2D input is the exact projection of the 3D truth either way.
// A clip shorter than the scene is played forward and backward (no jump).
#include <algorithm>
#include <cmath>
#include <vector>

#include "finepose/core/tensor.hpp"

namespace finepose::wild {

// world: (N, 17, 3) mm, Z up, at fps_in. Returns (frames, 17, 3) double, body
// frame, at fps_out, from the clip's frame `start` on. hip_height_mm is where
// the walker scene puts the pelvis origin above the floor (demo_walk.hpp), so
// the y returned is height above the floor minus that.
inline Tensor<double> mocap_body_motion(const float* world, int64_t n, double fps_in, double fps_out, int64_t frames,
                                        int64_t start = 0, double hip_height_mm = 950) {
  FINEPOSE_CHECK(n >= 2, "mocap body: a clip of ", n, " frames (at least 2)");
  FINEPOSE_CHECK(fps_in > 0 && fps_out > 0 && frames > 0, "mocap body: fps and frames must be positive");
  FINEPOSE_CHECK(start >= 0 && start < n, "mocap body: start ", start, " outside the clip of ", n, " frames");
  // floor: the lowest ankle of the clip, ankles ~80 mm above the ground
  double floor = 1e300;
  for (int64_t i = 0; i < n; ++i)
    for (int j : {3, 6}) floor = std::min(floor, double(world[(i * 17 + j) * 3 + 2]));
  floor -= 80;
  // heading: the direction of the person's left (right hip -> left hip), unwrapped, smoothed
  std::vector<double> yaw(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* p = world + i * 51;
    yaw[size_t(i)] = std::atan2(double(p[4 * 3 + 1] - p[1 * 3 + 1]), double(p[4 * 3] - p[1 * 3]));
    if (i > 0) {
      const double d = yaw[size_t(i)] - yaw[size_t(i - 1)];
      yaw[size_t(i)] -= 2 * M_PI * std::round(d / (2 * M_PI));
    }
  }
  const int64_t half = std::max<int64_t>(1, int64_t(std::lround(0.25 * fps_in)));
  std::vector<double> smooth(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    int64_t c = 0;
    for (int64_t k = std::max<int64_t>(0, i - half); k <= std::min(n - 1, i + half); ++k) s += yaw[size_t(k)], ++c;
    smooth[size_t(i)] = s / double(c);
  }
  // one source frame in the body frame
  auto body_at = [&](int64_t i, double* out) {
    const float* p = world + i * 51;
    const double c = std::cos(smooth[size_t(i)]), s = std::sin(smooth[size_t(i)]);
    for (int j = 0; j < 17; ++j) {
      const double dx = double(p[j * 3]) - double(p[0]), dy = double(p[j * 3 + 1]) - double(p[1]);
      const double left = c * dx + s * dy, across = -s * dx + c * dy;  // rotated so that left is +x
      // forward = left x up: with left = +x and up = +z, forward is -y
      out[j * 3] = left;
      out[j * 3 + 1] = double(p[j * 3 + 2]) - floor - hip_height_mm;
      out[j * 3 + 2] = -across;
    }
  };
  Tensor<double> out({frames, 17, 3});
  std::vector<double> a(51), b(51);
  const double period = 2.0 * double(n - 1);  // forward and back
  for (int64_t f = 0; f < frames; ++f) {
    double t = std::fmod(double(start) + double(f) * fps_in / fps_out, period);
    if (t > double(n - 1)) t = period - t;
    const int64_t i0 = std::min<int64_t>(int64_t(t), n - 2);
    const double w = t - double(i0);
    body_at(i0, a.data());
    body_at(i0 + 1, b.data());
    for (int k = 0; k < 51; ++k) out.data()[f * 51 + k] = (1 - w) * a[size_t(k)] + w * b[size_t(k)];
  }
  return out;
}

}  // namespace finepose::wild
