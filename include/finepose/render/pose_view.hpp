#pragma once
// Pictures of a lifted sequence: the 2D input (left panel, cropped to where
// the person goes) beside the 3D skeleton seen from a chosen viewpoint (right
// panel, with a floor grid; hypotheses drawn faintly behind the aggregated
// pose). Right limbs red, left limbs blue, as is usual.
//
// 3D poses are camera-frame, root-relative millimetres (x right, y down,
// z forward), Human3.6M-17. The view turns them about the vertical axis by
// `azimuth` degrees (0: seen from the camera that filmed them, 90: from the
// person's left of the picture) and tilts by `elevation` degrees (positive:
// looking down from above).
#include <cmath>
#include <vector>

#include "finepose/core/tensor.hpp"
#include "finepose/pose/skeleton.hpp"
#include "finepose/render/image.hpp"

namespace finepose::render {

struct View {
  double azimuth = 45, elevation = 15;  // degrees
};

struct SequenceDrawing {
  TensorF poses;       // (F, 17, 3) mm
  TensorF hypotheses;  // (F, H, 17, 3) mm, optional
  TensorF keypoints;   // (F, 17, 2) pixels, optional
  TensorF scores;      // (F, 17), optional: joints below 0.3 (filled in by interpolation) are drawn orange
  View view;
  int panel = 400;     // each panel is panel x panel pixels
  double extent_mm = 1100;  // half-width of the 3D panel in mm
};

namespace detail {
inline Color limb_color(int child) {
  static const int side[17] = {0, 1, 1, 1, -1, -1, -1, 0, 0, 0, 0, -1, -1, -1, 1, 1, 1};  // 1 right, -1 left
  return side[child] > 0 ? Color{215, 50, 45} : side[child] < 0 ? Color{40, 90, 215} : Color{70, 70, 70};
}
}  // namespace detail

class PoseRenderer {
 public:
  explicit PoseRenderer(SequenceDrawing d) : d_(std::move(d)) {
    FINEPOSE_CHECK(d_.poses.dim() == 3 && d_.poses.size(1) == 17 && d_.poses.size(2) == 3, "render: poses must be (F, 17, 3), got ",
                   shape_str(d_.poses.shape()));
    F_ = d_.poses.size(0);
    FINEPOSE_CHECK(F_ > 0, "render: no frames to draw");
    if (d_.hypotheses.defined())
      FINEPOSE_CHECK(d_.hypotheses.dim() == 4 && d_.hypotheses.size(0) == F_ && d_.hypotheses.size(2) == 17 && d_.hypotheses.size(3) == 3,
                     "render: hypotheses must be (", F_, ", H, 17, 3), got ", shape_str(d_.hypotheses.shape()));
    if (d_.keypoints.defined())
      FINEPOSE_CHECK(d_.keypoints.shape() == Shape({F_, 17, 2}), "render: keypoints must be (", F_, ", 17, 2), got ",
                     shape_str(d_.keypoints.shape()));
    if (d_.scores.defined())
      FINEPOSE_CHECK(d_.scores.shape() == Shape({F_, 17}), "render: scores must be (", F_, ", 17), got ", shape_str(d_.scores.shape()));
    FINEPOSE_CHECK(d_.panel >= 64 && d_.panel <= 4096, "render: panel size ", d_.panel, " out of range 64..4096");
    auto finite = [](const TensorF& t, const char* what) {
      if (!t.defined()) return;
      for (int64_t i = 0; i < t.numel(); ++i)
        FINEPOSE_CHECK(std::isfinite(t.data()[i]), "render: ", what, " contain a non-finite value at flat index ", i);
    };
    finite(d_.poses, "poses");
    finite(d_.hypotheses, "hypotheses");
    finite(d_.keypoints, "keypoints");
    finite(d_.scores, "scores");
    // floor: the lowest ankle over the sequence (y is down)
    floor_y_ = -1e30;
    for (int64_t f = 0; f < F_; ++f)
      for (int j : {3, 6}) floor_y_ = std::max(floor_y_, double(d_.poses.data()[(f * 17 + j) * 3 + 1]));
    floor_y_ = std::min(std::max(floor_y_, 400.0), 1300.0);  // implausible poses: keep the floor near where a body's would be
    // 2D crop: the keypoints' bounding box over the sequence, squared, with a margin
    if (d_.keypoints.defined()) {
      double x0 = 1e30, x1 = -1e30, y0 = 1e30, y1 = -1e30;
      for (int64_t i = 0; i < F_ * 17; ++i) {
        const double x = d_.keypoints.data()[2 * i], y = d_.keypoints.data()[2 * i + 1];
        if (!std::isfinite(x) || !std::isfinite(y)) continue;
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
      const double side = std::max({x1 - x0, y1 - y0, 1.0}) * 1.15;
      cx_ = (x0 + x1) / 2, cy_ = (y0 + y1) / 2, scale2d_ = d_.panel / side;
    }
  }

  int64_t frames() const { return F_; }
  int width() const { return d_.keypoints.defined() ? 2 * d_.panel : d_.panel; }
  int height() const { return d_.panel; }

  Image frame(int64_t f) const {
    FINEPOSE_CHECK(f >= 0 && f < F_, "render: frame ", f, " out of range 0..", F_ - 1);
    Image out(width(), height(), {255, 255, 255});
    if (d_.keypoints.defined()) {
      out.paste(panel_2d(f), 0, 0);
      out.paste(panel_3d(f), d_.panel, 0);
      draw_line(out, d_.panel, 0, d_.panel, d_.panel, 1, {180, 180, 180});
    } else {
      out.paste(panel_3d(f), 0, 0);
    }
    // progress tick along the bottom
    const double t = F_ > 1 ? double(f) / double(F_ - 1) : 1.0;
    draw_line(out, 0, out.height - 2, t * out.width, out.height - 2, 3, {120, 120, 120});
    return out;
  }

  // Screen position of a 3D point in the 3D panel.
  void project(const float* p, double& sx, double& sy) const {
    const double a = d_.view.azimuth * M_PI / 180, e = d_.view.elevation * M_PI / 180;
    const double x = p[0], y = p[1] - floor_mid(), z = p[2];
    const double xr = x * std::cos(a) - z * std::sin(a);
    const double zr = x * std::sin(a) + z * std::cos(a);
    const double yr = y * std::cos(e) - zr * std::sin(e);
    const double s = d_.panel / (2 * d_.extent_mm);
    sx = d_.panel / 2.0 + xr * s;
    sy = d_.panel / 2.0 + yr * s;
  }

 private:
  double floor_mid() const { return floor_y_ - 850; }  // centre the body vertically

  Image panel_2d(int64_t f) const {
    Image im(d_.panel, d_.panel, {250, 250, 247});
    const float* k = d_.keypoints.data() + f * 34;
    auto P = [&](int j, double& x, double& y) {
      x = d_.panel / 2.0 + (k[2 * j] - cx_) * scale2d_;
      y = d_.panel / 2.0 + (k[2 * j + 1] - cy_) * scale2d_;
    };
    const double lw = std::max(2.0, d_.panel / 130.0);
    for (const auto& b : pose::h36m17().bones()) {
      double x0, y0, x1, y1;
      P(b.first, x0, y0), P(b.second, x1, y1);
      draw_line(im, x0, y0, x1, y1, lw, detail::limb_color(b.first));
    }
    for (int j = 0; j < 17; ++j) {
      double x, y;
      P(j, x, y);
      const bool filled = d_.scores.defined() && d_.scores.data()[f * 17 + j] < 0.3f;
      draw_disc(im, x, y, lw * 0.9, filled ? Color{255, 170, 0} : Color{30, 30, 30});  // orange: filled in
    }
    return im;
  }

  Image panel_3d(int64_t f) const {
    Image im(d_.panel, d_.panel, {255, 255, 255});
    // floor grid, 250 mm squares around the root
    const double g = 1000;
    for (double u = -g; u <= g + 1e-9; u += 250) {
      const float a0[3] = {float(u), float(floor_y_), float(-g)}, a1[3] = {float(u), float(floor_y_), float(g)};
      const float b0[3] = {float(-g), float(floor_y_), float(u)}, b1[3] = {float(g), float(floor_y_), float(u)};
      double x0, y0, x1, y1;
      project(a0, x0, y0), project(a1, x1, y1);
      draw_line(im, x0, y0, x1, y1, 1, {200, 200, 200});
      project(b0, x0, y0), project(b1, x1, y1);
      draw_line(im, x0, y0, x1, y1, 1, {200, 200, 200});
    }
    const double lw = std::max(2.0, d_.panel / 110.0);
    auto skeleton = [&](const float* p, double width, double alpha) {
      for (const auto& b : pose::h36m17().bones()) {
        double x0, y0, x1, y1;
        project(p + b.first * 3, x0, y0), project(p + b.second * 3, x1, y1);
        draw_line(im, x0, y0, x1, y1, width, detail::limb_color(b.first), alpha);
      }
    };
    if (d_.hypotheses.defined()) {
      const int64_t H = d_.hypotheses.size(1);
      const double alpha = std::max(0.08, std::min(0.35, 1.5 / double(H)));
      for (int64_t h = 0; h < H; ++h) skeleton(d_.hypotheses.data() + (f * H + h) * 51, lw * 0.7, alpha);
    }
    const float* p = d_.poses.data() + f * 51;
    skeleton(p, lw, 1.0);
    for (int j = 0; j < 17; ++j) {
      double x, y;
      project(p + j * 3, x, y);
      draw_disc(im, x, y, lw * 0.8, {30, 30, 30});
    }
    return im;
  }

  SequenceDrawing d_;
  int64_t F_ = 0;
  double floor_y_ = 0, cx_ = 0, cy_ = 0, scale2d_ = 1;
};

}  // namespace finepose::render
