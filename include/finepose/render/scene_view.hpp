#pragma once
// Several people in one picture (infer --persons all): the 2D input of
// everybody with each track's id, beside one 3D scene. With camera-space roots
// (root_3d) every person stands where the camera saw them; without, the
// people stand side by side in track order. One colour per track (the same
// in both panels and in every frame); a person's left limbs are drawn a
// shade lighter than the right ones.
#include <algorithm>
#include <cmath>
#include <vector>

#include "finepose/render/pose_view.hpp"

namespace finepose::render {

struct SceneDrawing {
  TensorF poses;      // (P, F, 17, 3) mm root-relative
  Tensor<uint8_t> present;  // (P, F)
  TensorF root;       // (P, F, 3) camera-space mm, optional
  TensorF keypoints;  // (P, F, 17, 2) pixels, optional
  std::vector<int64_t> track_ids;  // (P)
  View view;
  int panel = 400;
};

namespace detail {
// A colour per track id, far apart for neighbouring ids (golden-angle hues).
inline Color track_color(int64_t id, double lighten = 0) {
  const double h = std::fmod(double(id) * 137.508, 360.0) / 60.0;
  const double x = 1 - std::fabs(std::fmod(h, 2.0) - 1);
  double r = 0, g = 0, b = 0;
  switch (int(h)) {
    case 0: r = 1, g = x; break;
    case 1: r = x, g = 1; break;
    case 2: g = 1, b = x; break;
    case 3: g = x, b = 1; break;
    case 4: r = x, b = 1; break;
    default: r = 1, b = x; break;
  }
  auto c = [&](double v) { return uint8_t(std::lround(255 * ((0.15 + 0.7 * v) * (1 - lighten) + lighten))); };
  return {c(r), c(g), c(b)};
}

// Digits in a 3x5 bitmap font (for track ids).
inline void draw_number(Image& im, double x, double y, int64_t n, double cell, Color col) {
  static const char* glyph[10] = {"111101101101111", "010110010010111", "111001111100111", "111001111001111", "101101111001001",
                                  "111100111001111", "111100111101111", "111001001001001", "111101111101111", "111101111001111"};
  const std::string s = std::to_string(n);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') continue;
    const char* g = glyph[s[i] - '0'];
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 3; ++c)
        if (g[r * 3 + c] == '1') {
          const double px = x + (double(i) * 4 + c) * cell, py = y + r * cell;
          for (int yy = int(py); yy < int(py + cell); ++yy)
            for (int xx = int(px); xx < int(px + cell); ++xx) im.blend(xx, yy, col, 1.0);
        }
  }
}
}  // namespace detail

class SceneRenderer {
 public:
  explicit SceneRenderer(SceneDrawing d) : d_(std::move(d)) {
    FINEPOSE_CHECK(d_.poses.dim() == 4 && d_.poses.size(2) == 17 && d_.poses.size(3) == 3, "render: poses must be (P, F, 17, 3), got ",
                   shape_str(d_.poses.shape()));
    P_ = d_.poses.size(0), F_ = d_.poses.size(1);
    FINEPOSE_CHECK(P_ > 0 && F_ > 0, "render: no persons or no frames to draw");
    FINEPOSE_CHECK(d_.present.shape() == Shape({P_, F_}), "render: present must be (", P_, ", ", F_, "), got ",
                   shape_str(d_.present.shape()));
    FINEPOSE_CHECK(int64_t(d_.track_ids.size()) == P_, "render: ", d_.track_ids.size(), " track ids for ", P_, " persons");
    if (d_.root.defined())
      FINEPOSE_CHECK(d_.root.shape() == Shape({P_, F_, 3}), "render: root_3d must be (", P_, ", ", F_, ", 3), got ",
                     shape_str(d_.root.shape()));
    if (d_.keypoints.defined())
      FINEPOSE_CHECK(d_.keypoints.shape() == Shape({P_, F_, 17, 2}), "render: keypoints must be (", P_, ", ", F_, ", 17, 2), got ",
                     shape_str(d_.keypoints.shape()));
    FINEPOSE_CHECK(d_.panel >= 64 && d_.panel <= 4096, "render: panel size ", d_.panel, " out of range 64..4096");
    for (const TensorF* t : {&d_.poses, &d_.root, &d_.keypoints})
      if (t->defined())
        for (int64_t i = 0; i < t->numel(); ++i)
          FINEPOSE_CHECK(std::isfinite(t->data()[i]), "render: a non-finite value at flat index ", i);
    // where each person stands: camera space, or side by side
    offset_ = TensorF::zeros({P_, F_, 3});
    for (int64_t p = 0; p < P_; ++p)
      for (int64_t f = 0; f < F_; ++f)
        for (int c = 0; c < 3; ++c)
          offset_.data()[(p * F_ + f) * 3 + c] =
              d_.root.defined() ? d_.root.data()[(p * F_ + f) * 3 + c] : (c == 0 ? float((double(p) - (P_ - 1) / 2.0) * 1100) : 0.f);
    // the scene's centre and extent over the whole sequence (a steady camera), and the floor
    double lo[3] = {1e30, 1e30, 1e30}, hi[3] = {-1e30, -1e30, -1e30};
    floor_y_ = -1e30;
    for (int64_t p = 0; p < P_; ++p)
      for (int64_t f = 0; f < F_; ++f) {
        if (!d_.present.data()[p * F_ + f]) continue;
        const float* o = offset_.data() + (p * F_ + f) * 3;
        for (int c = 0; c < 3; ++c) lo[c] = std::min(lo[c], double(o[c])), hi[c] = std::max(hi[c], double(o[c]));
        for (int j : {3, 6}) floor_y_ = std::max(floor_y_, double(o[1] + d_.poses.data()[((p * F_ + f) * 17 + j) * 3 + 1]));
      }
    for (int c = 0; c < 3; ++c) centre_[c] = lo[c] <= hi[c] ? (lo[c] + hi[c]) / 2 : 0;
    extent_ = 1100;
    if (lo[0] <= hi[0]) extent_ += 0.5 * std::max(hi[0] - lo[0], hi[2] - lo[2]);
    if (floor_y_ < -1e29) floor_y_ = 900;
    if (d_.keypoints.defined()) {
      double x0 = 1e30, x1 = -1e30, y0 = 1e30, y1 = -1e30;
      for (int64_t p = 0; p < P_; ++p)
        for (int64_t f = 0; f < F_; ++f) {
          if (!d_.present.data()[p * F_ + f]) continue;
          for (int j = 0; j < 17; ++j) {
            const float* k = d_.keypoints.data() + ((p * F_ + f) * 17 + j) * 2;
            x0 = std::min(x0, double(k[0])), x1 = std::max(x1, double(k[0]));
            y0 = std::min(y0, double(k[1])), y1 = std::max(y1, double(k[1]));
          }
        }
      if (x0 > x1) x0 = x1 = y0 = y1 = 0;
      const double side = std::max({x1 - x0, y1 - y0, 1.0}) * 1.1;
      cx_ = (x0 + x1) / 2, cy_ = (y0 + y1) / 2, scale2d_ = d_.panel / side;
    }
  }

  int64_t frames() const { return F_; }
  int64_t persons() const { return P_; }
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
    const double t = F_ > 1 ? double(f) / double(F_ - 1) : 1.0;
    draw_line(out, 0, out.height - 2, t * out.width, out.height - 2, 3, {120, 120, 120});
    return out;
  }

 private:
  static bool left_limb(int child) {
    static const int side[17] = {0, 1, 1, 1, -1, -1, -1, 0, 0, 0, 0, -1, -1, -1, 1, 1, 1};
    return side[child] < 0;
  }

  void project(const double* p, double& sx, double& sy) const {
    const double a = d_.view.azimuth * M_PI / 180, e = d_.view.elevation * M_PI / 180;
    const double x = p[0] - centre_[0], y = p[1] - (floor_y_ - 850), z = p[2] - centre_[2];
    const double xr = x * std::cos(a) - z * std::sin(a);
    const double zr = x * std::sin(a) + z * std::cos(a);
    const double yr = y * std::cos(e) - zr * std::sin(e);
    const double s = d_.panel / (2 * extent_);
    sx = d_.panel / 2.0 + xr * s;
    sy = d_.panel / 2.0 + yr * s;
  }

  Image panel_2d(int64_t f) const {
    Image im(d_.panel, d_.panel, {250, 250, 247});
    const double lw = std::max(2.0, d_.panel / 150.0);
    for (int64_t p = 0; p < P_; ++p) {
      if (!d_.present.data()[p * F_ + f]) continue;
      const float* k = d_.keypoints.data() + (p * F_ + f) * 34;
      auto P = [&](int j, double& x, double& y) {
        x = d_.panel / 2.0 + (k[2 * j] - cx_) * scale2d_;
        y = d_.panel / 2.0 + (k[2 * j + 1] - cy_) * scale2d_;
      };
      const int64_t id = d_.track_ids[size_t(p)];
      for (const auto& b : pose::h36m17().bones()) {
        double x0, y0, x1, y1;
        P(b.first, x0, y0), P(b.second, x1, y1);
        draw_line(im, x0, y0, x1, y1, lw, detail::track_color(id, left_limb(b.first) ? 0.35 : 0));
      }
      double hx, hy;
      P(10, hx, hy);  // the id above the head
      detail::draw_number(im, hx - 4 * lw, hy - 9 * lw, id, lw * 1.2, detail::track_color(id));
    }
    return im;
  }

  Image panel_3d(int64_t f) const {
    Image im(d_.panel, d_.panel, {255, 255, 255});
    const double g = extent_, step = g > 3000 ? 1000 : 500;
    for (double u = -g; u <= g + 1e-9; u += step) {
      const double a0[3] = {centre_[0] + u, floor_y_, centre_[2] - g}, a1[3] = {centre_[0] + u, floor_y_, centre_[2] + g};
      const double b0[3] = {centre_[0] - g, floor_y_, centre_[2] + u}, b1[3] = {centre_[0] + g, floor_y_, centre_[2] + u};
      double x0, y0, x1, y1;
      project(a0, x0, y0), project(a1, x1, y1);
      draw_line(im, x0, y0, x1, y1, 1, {210, 210, 210});
      project(b0, x0, y0), project(b1, x1, y1);
      draw_line(im, x0, y0, x1, y1, 1, {210, 210, 210});
    }
    const double lw = std::max(1.5, d_.panel / 150.0);
    for (int64_t p = 0; p < P_; ++p) {
      if (!d_.present.data()[p * F_ + f]) continue;
      const float* q = d_.poses.data() + (p * F_ + f) * 51;
      const float* o = offset_.data() + (p * F_ + f) * 3;
      auto pt = [&](int j, double& x, double& y) {
        const double w[3] = {double(q[3 * j]) + o[0], double(q[3 * j + 1]) + o[1], double(q[3 * j + 2]) + o[2]};
        project(w, x, y);
      };
      const int64_t id = d_.track_ids[size_t(p)];
      for (const auto& b : pose::h36m17().bones()) {
        double x0, y0, x1, y1;
        pt(b.first, x0, y0), pt(b.second, x1, y1);
        draw_line(im, x0, y0, x1, y1, lw, detail::track_color(id, left_limb(b.first) ? 0.35 : 0));
      }
    }
    return im;
  }

  SceneDrawing d_;
  int64_t P_ = 0, F_ = 0;
  TensorF offset_;
  double centre_[3] = {0, 0, 0};
  double extent_ = 1100, floor_y_ = 900, cx_ = 0, cy_ = 0, scale2d_ = 1;
};

}  // namespace finepose::render
