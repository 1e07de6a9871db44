#pragma once
// Little-endian integer load/store on raw bytes. The file formats here are all
// little-endian; memcpy keeps unaligned access defined.
#include <cstdint>
#include <cstring>
#include <vector>

namespace finepose {
namespace io {

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
