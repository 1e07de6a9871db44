#pragma once
// Unicode Normalization Form C (canonical decomposition, canonical ordering,
// canonical composition), as unicodedata.normalize("NFC", s). ftfy.fix_text ends
// every pass with it, so "e" + U+0301 tokenizes like the precomposed "é".
#include <algorithm>
#include <cstdint>
#include <string>

#include "finepose/text/unicode_tables.hpp"

namespace finepose::text {

namespace nfc_detail {
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

inline uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const auto& t = tables::kCombiningClass;
  const auto* end = t + sizeof(t) / sizeof(t[0]);
  const auto* it = std::upper_bound(t, end, c, [](char32_t v, const tables::CombiningClass& r) { return v < r.first; });
  return (it != t && c <= (it - 1)->last) ? (it - 1)->ccc : 0;
}

inline void decompose(char32_t c, std::u32string& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const char32_t s = c - kSBase;
    out += kLBase + s / kNCount;
    out += kVBase + (s % kNCount) / kTCount;
    if (s % kTCount) out += kTBase + s % kTCount;
    return;
  }
  if (c >= 0xC0) {
    const auto& t = tables::kDecomposition;
    const auto* end = t + sizeof(t) / sizeof(t[0]);
    const auto* it = std::lower_bound(t, end, c, [](const tables::Decomposition& d, char32_t v) { return d.cp < v; });
    if (it != end && it->cp == c) {
      decompose(it->first, out);
      if (it->second) decompose(it->second, out);
      return;
    }
  }
  out += c;
}

// 0 when the pair has no primary composite
inline char32_t compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto& t = tables::kComposition;
  const auto* end = t + sizeof(t) / sizeof(t[0]);
  const auto* it = std::lower_bound(t, end, std::make_pair(a, b), [](const tables::Composition& x, std::pair<char32_t, char32_t> v) {
    return x.first < v.first || (x.first == v.first && x.second < v.second);
  });
  return (it != end && it->first == a && it->second == b) ? it->composed : 0;
}
}  // namespace nfc_detail

inline std::u32string nfc(const std::u32string& s) {
  using namespace nfc_detail;
  // Below U+0300 nothing decomposes to something that would not recompose, and
  // every composition's second code point is >= U+0300.
  if (std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0x300; })) return s;
  std::u32string d;
  d.reserve(s.size() + 8);
  for (char32_t c : s) decompose(c, d);
  // canonical ordering: stable sort of each run of non-starters by class
  for (size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && combining_class(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  if (d.empty()) return d;
  // canonical composition
  size_t starter = 0, out = 1;
  int last_class = combining_class(d[0]) ? 256 : 0;  // text that starts with a non-starter never composes with it
  for (size_t i = 1; i < d.size(); ++i) {
    const char32_t c = d[i];
    const int cls = combining_class(c);
    const char32_t composite = last_class == 256 ? 0 : compose(d[starter], c);
    if (composite && (last_class < cls || last_class == 0)) {
      d[starter] = composite;
      continue;
    }
    if (cls == 0) starter = out;
    last_class = cls;
    d[out++] = c;
  }
  d.resize(out);
  return d;
}

}  // namespace finepose::text
