#pragma once
// Code point classes over the generated range tables (Unicode version of the
// Python that generated them, see tables::kUnicodeVersion). Code points assigned
// in later Unicode versions count as unassigned (no letter, no number).
#include <algorithm>
#include <cstddef>

#include "finepose/text/unicode_tables.hpp"

namespace finepose::text {

template <size_t N>
inline bool in_ranges(const tables::CodeRange (&r)[N], char32_t c) {
  const auto* it = std::upper_bound(r, r + N, c, [](char32_t v, const tables::CodeRange& x) { return v < x.first; });
  return it != r && c <= (it - 1)->last;
}

// \p{L}
inline bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  return in_ranges(tables::kLetter, c);
}
// \p{N}
inline bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return in_ranges(tables::kNumber, c);
}
// Nd (Python re's \d on str)
inline bool is_decimal_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return in_ranges(tables::kDecimalDigit, c);
}
// \s of the `regex` module (Unicode White_Space)
inline bool is_white_space(char32_t c) { return in_ranges(tables::kWhiteSpace, c); }
// str.isspace(), what str.strip() removes (White_Space plus U+001C..U+001F)
inline bool is_python_space(char32_t c) { return in_ranges(tables::kPythonSpace, c); }

}  // namespace finepose::text
