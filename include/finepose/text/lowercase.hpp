#pragma once
// Python's str.lower(): the full Unicode lowercase mapping (U+0130 becomes
// "i" + U+0307) with the Final_Sigma rule (capital sigma becomes final sigma
// after a cased letter that is not followed by one, case-ignorables skipped).
#include <algorithm>
#include <string>

#include "finepose/text/char_class.hpp"

namespace finepose::text {

inline char32_t lower_simple(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  const auto& t = tables::kLower;
  const auto* end = t + sizeof(t) / sizeof(t[0]);
  const auto* it = std::upper_bound(t, end, c, [](char32_t v, const tables::LowerRun& r) { return v < r.first; });
  if (it == t) return c;
  const auto& r = *(it - 1);
  if (c > r.last || (c - r.first) % r.stride != 0) return c;
  return static_cast<char32_t>(static_cast<int64_t>(c) + r.delta);
}

inline std::u32string to_lower(const std::u32string& s) {
  const auto ignorable = [](char32_t c) { return in_ranges(tables::kCaseIgnorable, c); };
  const auto cased = [](char32_t c) { return in_ranges(tables::kCased, c); };
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == 0x130) {  // the one code point whose lowercase is two code points
      out += U'i';
      out += char32_t(0x307);
    } else if (c == 0x3A3) {
      size_t j = i;
      while (j > 0 && ignorable(s[j - 1])) --j;
      bool final_sigma = j > 0 && cased(s[j - 1]);
      if (final_sigma) {
        size_t k = i + 1;
        while (k < s.size() && ignorable(s[k])) ++k;
        final_sigma = k == s.size() || !cased(s[k]);
      }
      out += final_sigma ? char32_t(0x3C2) : char32_t(0x3C3);
    } else {
      out += lower_simple(c);
    }
  }
  return out;
}

}  // namespace finepose::text
