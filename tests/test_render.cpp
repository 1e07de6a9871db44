// Drawing, PNG and GIF encoding (decoded back here with an independent
// inflate / LZW decoder), and the pose renderer's viewpoint.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>

#include "finepose/render/gif.hpp"
#include "finepose/render/png.hpp"
#include "finepose/render/pose_view.hpp"
#include "finepose/wild/demo_walk.hpp"

using namespace finepose;
namespace fs = std::filesystem;

namespace {

uint32_t be32(const std::vector<uint8_t>& b, size_t i) {
  return uint32_t(b[i]) << 24 | uint32_t(b[i + 1]) << 16 | uint32_t(b[i + 2]) << 8 | b[i + 3];
}

// Textbook GIF LZW decoder (variable code size, clear/end codes).
std::vector<uint8_t> lzw_decode(const std::vector<uint8_t>& data, int min_size) {
  const int clear = 1 << min_size, end = clear + 1;
  std::vector<std::vector<uint8_t>> dict;
  auto reset = [&] {
    dict.assign(size_t(clear + 2), {});
    for (int i = 0; i < clear; ++i) dict[size_t(i)] = {uint8_t(i)};
  };
  reset();
  int size = min_size + 1;
  uint32_t acc = 0;
  int nbits = 0;
  size_t pos = 0;
  std::vector<uint8_t> out, prev;
  bool have_prev = false;
  while (true) {
    while (nbits < size) {
      REQUIRE(pos < data.size());
      acc |= uint32_t(data[pos++]) << nbits;
      nbits += 8;
    }
    const int code = int(acc & ((1u << size) - 1));
    acc >>= size, nbits -= size;
    if (code == clear) {
      reset();
      size = min_size + 1;
      have_prev = false;
      continue;
    }
    if (code == end) break;
    std::vector<uint8_t> entry;
    if (code < int(dict.size())) {
      entry = dict[size_t(code)];
      if (have_prev) {
        auto e = prev;
        e.push_back(entry[0]);
        dict.push_back(e);
      }
    } else {
      REQUIRE(have_prev);
      REQUIRE(code == int(dict.size()));
      entry = prev;
      entry.push_back(prev[0]);
      dict.push_back(entry);
    }
    out.insert(out.end(), entry.begin(), entry.end());
    prev = entry;
    have_prev = true;
    if (int(dict.size()) == (1 << size) && size < 12) ++size;
  }
  return out;
}

render::Image noisy_image(int w, int h) {
  render::Image im(w, h);
  uint32_t s = 12345;
  for (auto& v : im.rgb) {
    s = s * 1103515245u + 12345u;
    v = uint8_t((s >> 16) % 7 * 40);  // a few levels: long and short runs, many dictionary resets
  }
  return im;
}

}  // namespace

TEST_CASE("lines and discs cover the pixels they should") {
  render::Image im(50, 40, {255, 255, 255});
  render::draw_line(im, 5, 20, 45, 20, 3, {255, 0, 0});
  CHECK(im.at(25, 20).r == 255);
  CHECK(im.at(25, 20).g == 0);   // on the line
  CHECK(im.at(25, 10).g == 255);  // far from it
  CHECK(im.at(48, 20).g == 255);  // beyond the end cap
  render::draw_line(im, 25, 5, 25, 35, 2, {0, 0, 255}, 0.5);  // half transparent over white
  CHECK(im.at(25, 8).r == doctest::Approx(128).epsilon(0.02));
  render::draw_disc(im, 10, 10, 4, {0, 0, 0});
  CHECK(im.at(10, 10).r == 0);
  CHECK(im.at(16, 10).r == 255);
  render::draw_line(im, -100, -100, 1000, 1000, 2, {0, 0, 0});  // clipped, no crash
  render::draw_line(im, NAN, 0, 1, 1, 2, {0, 0, 0});
}

TEST_CASE("PNG: valid chunks, and the pixels inflate back") {
  const render::Image im = noisy_image(37, 21);
  const auto png = render::encode_png(im);
  REQUIRE(png.size() > 8 + 25 + 12 + 12);
  CHECK(std::equal(png.begin(), png.begin() + 8, std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}.begin()));
  size_t i = 8;
  std::vector<uint8_t> idat;
  std::vector<std::string> types;
  while (i < png.size()) {
    const uint32_t len = be32(png, i);
    const std::string type(png.begin() + long(i) + 4, png.begin() + long(i) + 8);
    types.push_back(type);
    const uint32_t crc = uint32_t(crc32(0, png.data() + i + 4, uInt(len + 4)));
    CHECK(crc == be32(png, i + 8 + len));
    if (type == "IHDR") {
      CHECK(be32(png, i + 8) == 37);
      CHECK(be32(png, i + 12) == 21);
    }
    if (type == "IDAT") idat.insert(idat.end(), png.begin() + long(i) + 8, png.begin() + long(i) + 8 + len);
    i += 12 + len;
  }
  CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  std::vector<uint8_t> raw(21 * (37 * 3 + 1));
  uLongf n = uLongf(raw.size());
  REQUIRE(uncompress(raw.data(), &n, idat.data(), uLong(idat.size())) == Z_OK);
  REQUIRE(n == raw.size());
  for (int y = 0; y < 21; ++y) {
    CHECK(raw[size_t(y) * (37 * 3 + 1)] == 0);
    CHECK(std::equal(im.rgb.begin() + y * 37 * 3, im.rgb.begin() + (y + 1) * 37 * 3, raw.begin() + y * (37 * 3 + 1) + 1));
  }
}

TEST_CASE("GIF: frames decode back to the palette indices of the image") {
  const fs::path p = fs::temp_directory_path() / ("finepose_render_" + std::to_string(::getpid()) + ".gif");
  // big enough that the 4096-entry dictionary fills and is cleared several times
  const render::Image a = noisy_image(300, 200), b(300, 200, {40, 90, 215});
  {
    render::GifWriter g(p.string(), 300, 200, 25);
    g.add(a);
    g.add(b);
    CHECK_THROWS_AS(g.add(render::Image(10, 10)), Error);
    g.close();
  }
  const auto f = io::read_file(p.string());
  fs::remove(p);
  REQUIRE(f.size() > 13 + 768);
  CHECK(std::string(f.begin(), f.begin() + 6) == "GIF89a");
  CHECK(f[6] + 256 * f[7] == 300);
  CHECK(f.back() == 0x3B);
  size_t i = 13 + 768;
  std::vector<std::vector<uint8_t>> frames;
  while (f[i] != 0x3B) {
    if (f[i] == 0x21) {  // extension: skip its sub-blocks
      i += 2;
      while (f[i]) i += f[i] + 1u;
      ++i;
      continue;
    }
    REQUIRE(f[i] == 0x2C);
    i += 10;
    const int min_size = f[i++];
    std::vector<uint8_t> data;
    while (f[i]) {
      data.insert(data.end(), f.begin() + long(i) + 1, f.begin() + long(i) + 1 + f[i]);
      i += f[i] + 1u;
    }
    ++i;
    frames.push_back(lzw_decode(data, min_size));
  }
  REQUIRE(frames.size() == 2);
  const auto pal = render::detail::gif_palette();
  for (int k = 0; k < 2; ++k) {
    const render::Image& im = k ? b : a;
    REQUIRE(frames[size_t(k)].size() == size_t(300 * 200));
    for (size_t q = 0; q < frames[size_t(k)].size(); q += 97) {
      const uint8_t want = render::detail::gif_palette_index({im.rgb[3 * q], im.rgb[3 * q + 1], im.rgb[3 * q + 2]});
      REQUIRE(frames[size_t(k)][q] == want);
    }
  }
  // the palette colour is close to the drawn one
  const uint8_t blue = render::detail::gif_palette_index({40, 90, 215});
  CHECK(std::abs(int(pal[blue * 3u + 2]) - 215) <= 26);
  CHECK(std::abs(int(pal[blue * 3u]) - 40) <= 26);
}

TEST_CASE("the 3D view: azimuth 0 looks from the filming camera, 90 from the side") {
  wild::DemoWalkOptions o;
  o.frames = 60;
  const auto w = wild::make_demo_walk(o);
  render::SequenceDrawing d;
  d.poses = TensorF({60, 17, 3});
  for (int64_t f = 0; f < 60; ++f)
    for (int j = 0; j < 17; ++j)
      for (int c = 0; c < 3; ++c) d.poses(f, j, c) = float(w.camera_mm(f, j, c) - w.camera_mm(f, 0, c));
  d.view = {0, 0};
  render::PoseRenderer front(d);
  d.view = {90, 0};
  render::PoseRenderer side(d);
  for (int64_t f = 0; f < 60; f += 11) {
    const float* p = d.poses.data() + f * 51;
    double x1, y1, x2, y2, sx1, sy1, sx2, sy2;
    // front: screen x follows camera x, screen y follows camera y (down)
    front.project(p + 3 * 3, x1, y1), front.project(p + 10 * 3, x2, y2);  // right ankle, head
    CHECK(y1 > y2);  // the ankle is drawn below the head
    for (int a : {1, 4, 11, 14}) {
      front.project(p + a * 3, x1, y1);
      front.project(p, x2, y2);
      CHECK((x1 - x2) * double(p[a * 3]) >= 0);  // same side as in the camera picture
    }
    // side: depth becomes screen x; heights are unchanged
    side.project(p + 3 * 3, sx1, sy1), front.project(p + 3 * 3, x1, y1);
    CHECK(sy1 == doctest::Approx(y1));
    side.project(p + 10 * 3, sx2, sy2), side.project(p + 3 * 3, sx1, sy1);
    const double dz = double(p[10 * 3 + 2]) - double(p[3 * 3 + 2]);
    CHECK((sx1 - sx2) * dz >= 0);
  }
  const render::Image im = front.frame(5);
  CHECK(im.width == 400);
  int dark = 0;
  for (size_t q = 0; q < im.rgb.size(); q += 3) dark += im.rgb[q] < 100 && im.rgb[q + 1] < 100;
  CHECK(dark > 100);  // a skeleton was drawn
  render::SequenceDrawing bad = d;
  bad.poses(3, 4, 1) = NAN;
  CHECK_THROWS_AS(render::PoseRenderer{bad}, Error);
  bad = d;
  bad.keypoints = TensorF({59, 17, 2});
  CHECK_THROWS_AS(render::PoseRenderer{bad}, Error);
}
