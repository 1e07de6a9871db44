#pragma once
// PNG writing (8-bit RGB, no interlace) with zlib, which the library already
// links: signature, IHDR, one IDAT of filter-0 scanlines, IEND.
#include <zlib.h>

#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/render/image.hpp"

namespace finepose::render {

namespace detail {
inline void put_be32(std::vector<std::uint8_t>& o, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) o.push_back(std::uint8_t(v >> s));
}
inline void png_chunk(std::vector<std::uint8_t>& o, const char type[4], const std::vector<std::uint8_t>& data) {
  put_be32(o, std::uint32_t(data.size()));
  const size_t start = o.size();
  o.insert(o.end(), type, type + 4);
  o.insert(o.end(), data.begin(), data.end());
  put_be32(o, std::uint32_t(crc32(0L, o.data() + start, uInt(o.size() - start))));
}
}  // namespace detail

inline std::vector<std::uint8_t> encode_png(const Image& im) {
  FINEPOSE_CHECK(im.width > 0 && im.height > 0 && im.rgb.size() == size_t(im.width) * size_t(im.height) * 3,
                 "encode_png: image is empty or inconsistent");
  std::vector<std::uint8_t> raw;
  raw.reserve(size_t(im.height) * (size_t(im.width) * 3 + 1));
  for (int y = 0; y < im.height; ++y) {
    raw.push_back(0);  // filter: none
    const auto* row = &im.rgb[size_t(y) * size_t(im.width) * 3];
    raw.insert(raw.end(), row, row + size_t(im.width) * 3);
  }
  uLongf zlen = compressBound(uLong(raw.size()));
  std::vector<std::uint8_t> z(zlen);
  if (compress2(z.data(), &zlen, raw.data(), uLong(raw.size()), 6) != Z_OK) fail("encode_png: zlib compression failed");
  z.resize(zlen);
  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> ihdr;
  detail::put_be32(ihdr, std::uint32_t(im.width));
  detail::put_be32(ihdr, std::uint32_t(im.height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  detail::png_chunk(out, "IHDR", ihdr);
  detail::png_chunk(out, "IDAT", z);
  detail::png_chunk(out, "IEND", {});
  return out;
}

inline void write_png(const std::string& path, const Image& im, io::Existing existing = io::Existing::replace) {
  io::write_file(path, encode_png(im), existing);
}

}  // namespace finepose::render
