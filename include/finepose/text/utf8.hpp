#pragma once
// UTF-8 <-> code points. Strict decoding refuses malformed input (overlong forms,
// surrogates, values past U+10FFFF, truncated sequences) and names the byte
// offset; lossy decoding replaces each maximal ill-formed subpart with U+FFFD,
// which is what Python's bytes.decode("utf-8", errors="replace") does.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "finepose/core/error.hpp"

namespace finepose::text {

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

inline std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

namespace detail {
// Reads one well-formed sequence at s[i]. Returns its length (1..4) and sets cp,
// or returns 0 and sets `bad` to the length of the maximal ill-formed subpart (>= 1).
inline size_t read_utf8(std::string_view s, size_t i, char32_t& cp, size_t& bad) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    bad = 1;
    return 0;
  }
  char32_t c = b0 & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) {
      bad = k;
      return 0;
    }
    const unsigned char b = byte(i + k);
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) {
      bad = k;
      return 0;
    }
    c = (c << 6) | (b & 0x3F);
  }
  cp = c;
  return len;
}
}  // namespace detail

// Strict: throws finepose::Error naming `what` and the byte offset of the first bad sequence.
inline std::u32string decode_utf8(std::string_view s, std::string_view what = "text") {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    size_t bad = 0;
    const size_t n = detail::read_utf8(s, i, cp, bad);
    if (n == 0) {
      fail(what, ": invalid UTF-8 at byte ", i, " (byte 0x", std::hex,
           static_cast<unsigned>(static_cast<unsigned char>(s[i])), std::dec, ")");
    }
    out += cp;
    i += n;
  }
  return out;
}

// Lossy: every maximal ill-formed subpart becomes U+FFFD (Python's errors="replace").
inline std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    size_t bad = 0;
    const size_t n = detail::read_utf8(s, i, cp, bad);
    if (n == 0) {
      append_utf8(out, 0xFFFD);
      i += bad;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace finepose::text
