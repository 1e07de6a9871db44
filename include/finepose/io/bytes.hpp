#pragma once
// Little-endian integer load/store on raw bytes. The file formats here are all
// little-endian; memcpy keeps unaligned access defined.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace finepose {
namespace io {

// One code point as UTF-8 (json strings, pickled and numpy unicode text).
inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3f));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
}


template <class T>
inline T load_le(const std::uint8_t* p) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = T(v | (T(p[i]) << (8 * i)));
  return v;
}

template <class T>
inline void append_le(std::vector<std::uint8_t>& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(std::uint8_t((std::uint64_t(v) >> (8 * i)) & 0xff));
}

template <class T>
inline void store_le(std::uint8_t* p, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = std::uint8_t((std::uint64_t(v) >> (8 * i)) & 0xff);
}

inline bool host_is_little_endian() {
  const std::uint16_t one = 1;
  std::uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

}  // namespace io
}  // namespace finepose
