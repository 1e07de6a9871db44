#pragma once
// CLIP's pre-tokenizer, the regex
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// with re.IGNORECASE, as a hand-written scanner over code points: at each
// position the first alternative that matches wins, whitespace between matches
// is skipped. The text is already lower-cased, so case-insensitivity only adds
// U+017F (long s), which the `regex` module folds to 's'.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "finepose/text/char_class.hpp"

namespace finepose::text {

namespace pretok_detail {
inline bool ci_equal(char32_t c, char ascii_lower) {
  return c == static_cast<char32_t>(ascii_lower) || (ascii_lower == 's' && c == 0x17F);
}
// neither a letter, a number nor part of a [^\s\p{L}\p{N}] run under IGNORECASE
inline bool is_unmatched(char32_t c) { return c == 0x345; }
inline bool matches_at(const std::u32string& s, size_t i, std::string_view lit) {
  if (s.size() - i < lit.size()) return false;
  for (size_t k = 0; k < lit.size(); ++k)
    if (!ci_equal(s[i + k], lit[k])) return false;
  return true;
}
}  // namespace pretok_detail

// [begin, end) code point spans of the matches, in order
inline std::vector<std::pair<size_t, size_t>> clip_pretokenize(const std::u32string& s) {
  using pretok_detail::is_unmatched;
  using pretok_detail::matches_at;
  static constexpr std::string_view kSpecial[] = {"<|startoftext|>", "<|endoftext|>"};
  static constexpr std::string_view kContractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
  std::vector<std::pair<size_t, size_t>> spans;
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = s[i];
    size_t end = i;
    if (c == U'<') {
      for (auto lit : kSpecial)
        if (matches_at(s, i, lit)) {
          end = i + lit.size();
          break;
        }
    } else if (c == U'\'') {
      for (auto lit : kContractions)
        if (matches_at(s, i, lit)) {
          end = i + lit.size();
          break;
        }
    }
    if (end == i) {
      if (is_letter(c)) {
        end = i + 1;
        while (end < s.size() && is_letter(s[end])) ++end;
      } else if (is_number(c)) {
        end = i + 1;
      } else if (!is_white_space(c) && !is_unmatched(c)) {
        end = i + 1;
        while (end < s.size() && !is_white_space(s[end]) && !is_letter(s[end]) && !is_number(s[end]) &&
               !is_unmatched(s[end]))
          ++end;
      } else {
        ++i;  // no alternative matches here
        continue;
      }
    }
    spans.emplace_back(i, end);
    i = end;
  }
  return spans;
}

}  // namespace finepose::text
