#pragma once
// An RGB raster with the few drawing operations the renderer needs:
// anti-aliased thick lines, discs, alpha blending. Coordinates are pixels
// (x right, y down), floating point.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose::render {

struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
};

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // row-major, 3 bytes per pixel

  Image() = default;
  Image(int w, int h, Color c = {255, 255, 255}) : width(w), height(h) {
    FINEPOSE_CHECK(w > 0 && h > 0 && w <= 16384 && h <= 16384, "image size ", w, "x", h, " out of range");
    rgb.resize(size_t(w) * size_t(h) * 3);
    fill(c);
  }
  void fill(Color c) {
    for (size_t i = 0; i < rgb.size(); i += 3) rgb[i] = c.r, rgb[i + 1] = c.g, rgb[i + 2] = c.b;
  }
  Color at(int x, int y) const {
    const std::uint8_t* p = &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3];
    return {p[0], p[1], p[2]};
  }
  // Blends c over pixel (x, y) with coverage a in [0, 1]; outside pixels are ignored.
  void blend(int x, int y, Color c, double a) {
    if (x < 0 || y < 0 || x >= width || y >= height || a <= 0) return;
    a = std::min(a, 1.0);
    std::uint8_t* p = &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3];
    p[0] = std::uint8_t(std::lround(p[0] + (c.r - p[0]) * a));
    p[1] = std::uint8_t(std::lround(p[1] + (c.g - p[1]) * a));
    p[2] = std::uint8_t(std::lround(p[2] + (c.b - p[2]) * a));
  }
  // Copies `src` with its top-left corner at (x0, y0).
  void paste(const Image& src, int x0, int y0) {
    for (int y = 0; y < src.height; ++y)
      for (int x = 0; x < src.width; ++x) {
        const int tx = x0 + x, ty = y0 + y;
        if (tx < 0 || ty < 0 || tx >= width || ty >= height) continue;
        const Color c = src.at(x, y);
        std::uint8_t* p = &rgb[(size_t(ty) * size_t(width) + size_t(tx)) * 3];
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
      }
  }
};

// A line of the given width with soft (one pixel) edges and round caps;
// alpha scales its opacity (faint hypotheses).
inline void draw_line(Image& im, double x0, double y0, double x1, double y1, double width, Color c, double alpha = 1.0) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  const double r = width / 2;
  // the covered box, clipped to the image in floating point first: a point a
  // trillion pixels away must not overflow an int
  const double xa = std::max(std::floor(std::min(x0, x1) - r - 1), 0.0), xb = std::min(std::ceil(std::max(x0, x1) + r + 1), im.width - 1.0);
  const double ya = std::max(std::floor(std::min(y0, y1) - r - 1), 0.0), yb = std::min(std::ceil(std::max(y0, y1) + r + 1), im.height - 1.0);
  if (!(xa <= xb && ya <= yb)) return;
  const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  if (!std::isfinite(len2)) return;  // endpoints ~1e154 apart: nothing sensible to draw
  for (int y = int(ya); y <= int(yb); ++y)
    for (int x = int(xa); x <= int(xb); ++x) {
      const double px = x + 0.5 - x0, py = y + 0.5 - y0;
      const double t = len2 > 0 ? std::clamp((px * dx + py * dy) / len2, 0.0, 1.0) : 0.0;
      const double ex = px - t * dx, ey = py - t * dy;
      const double d = std::sqrt(ex * ex + ey * ey);
      const double cov = std::clamp(r + 0.5 - d, 0.0, 1.0);
      im.blend(x, y, c, cov * alpha);
    }
}

inline void draw_disc(Image& im, double cx, double cy, double radius, Color c, double alpha = 1.0) {
  draw_line(im, cx, cy, cx, cy, 2 * radius, c, alpha);
}

}  // namespace finepose::render
