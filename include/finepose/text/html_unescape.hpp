#pragma once
// Character references, decoded two ways:
//  html_unescape:  Python's html.unescape (HTML5 rules: named references with and
//                  without ';', longest legacy prefix, numeric references with the
//                  HTML5 replacement tables).
//  ftfy_unescape:  ftfy.fixes.unescape_html, the stricter pass ftfy.fix_text makes:
//                  only "&name;" / "&#...;" forms of 1..24 ASCII alphanumerics, plus
//                  upper-cased names of lower-case entities ("&EACUTE;" -> "É").
#include <algorithm>
#include <cstring>
#include <string>

#include "finepose/text/html_entities.hpp"

namespace finepose::text {

namespace html_detail {
template <size_t N>
inline const tables::NamedEntity* find_entity(const tables::NamedEntity (&t)[N], const std::string& name) {
  const auto* it = std::lower_bound(t, t + N, name.c_str(),
                                    [](const tables::NamedEntity& e, const char* v) { return std::strcmp(e.name, v) < 0; });
  return (it != t + N && name == it->name) ? it : nullptr;
}

inline void append_entity(std::u32string& out, const tables::NamedEntity& e) {
  for (char32_t c : e.cp)
    if (c) out += c;
}

// ASCII-only code points to std::string; false when a code point is not ASCII
inline bool ascii_name(const std::u32string& s, size_t begin, size_t end, std::string& out) {
  out.clear();
  for (size_t i = begin; i < end; ++i) {
    if (s[i] >= 0x80) return false;
    out += static_cast<char>(s[i]);
  }
  return true;
}

inline bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
inline bool is_ascii_hex(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
inline bool is_ascii_alnum(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

// value of a numeric reference per html._replace_charref; `big` when past U+10FFFF
inline void append_numeric(std::u32string& out, uint32_t num, bool big) {
  if (!big) {
    for (const auto& f : tables::kInvalidCharRefs)
      if (f.num == num) {
        out += f.cp;
        return;
      }
  }
  if (big || num > 0x10FFFF || (num >= 0xD800 && num <= 0xDFFF)) {
    out += char32_t(0xFFFD);
    return;
  }
  const auto& inv = tables::kInvalidCodepoints;
  if (std::binary_search(inv, inv + sizeof(inv) / sizeof(inv[0]), char32_t(num))) return;
  out += char32_t(num);
}
}  // namespace html_detail

inline std::u32string html_unescape(const std::u32string& s) {
  using namespace html_detail;
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  std::string name;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'&') {
      out += s[i++];
      continue;
    }
    const size_t p = i + 1;
    // '#' digits ';'?  |  '#' [xX] hexdigits ';'?
    if (p < s.size() && s[p] == U'#') {
      const bool hex = p + 1 < s.size() && (s[p + 1] == U'x' || s[p + 1] == U'X');
      size_t q = p + 1;
      if (p + 1 < s.size() && is_ascii_digit(s[p + 1])) {
        uint32_t num = 0;
        bool big = false;
        while (q < s.size() && is_ascii_digit(s[q])) {
          num = num * 10 + static_cast<uint32_t>(s[q] - U'0');
          if (num > 0x10FFFF) big = true, num = 0x110000;
          ++q;
        }
        if (q < s.size() && s[q] == U';') ++q;
        append_numeric(out, num, big);
        i = q;
        continue;
      }
      if (hex && p + 2 < s.size() && is_ascii_hex(s[p + 2])) {
        q = p + 2;
        uint32_t num = 0;
        bool big = false;
        while (q < s.size() && is_ascii_hex(s[q])) {
          const char32_t c = s[q];
          num = num * 16 + static_cast<uint32_t>(is_ascii_digit(c) ? c - U'0' : (c | 0x20) - U'a' + 10);
          if (num > 0x10FFFF) big = true, num = 0x110000;
          ++q;
        }
        if (q < s.size() && s[q] == U';') ++q;
        append_numeric(out, num, big);
        i = q;
        continue;
      }
      out += s[i++];  // '&' that starts no reference
      continue;
    }
    // named: 1..32 code points outside "\t\n\f <&#;", then an optional ';'
    size_t q = p;
    while (q < s.size() && q - p < 32) {
      const char32_t c = s[q];
      if (c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' || c == U'#' || c == U';') break;
      ++q;
    }
    if (q == p) {
      out += s[i++];
      continue;
    }
    if (q < s.size() && s[q] == U';') ++q;
    // whole name first, then the longest prefix of at least two code points
    bool done = false;
    for (size_t x = q; x >= p + 2 && !done; --x) {
      if (!ascii_name(s, p, x, name)) continue;
      if (const auto* e = find_entity(tables::kHtml5Entities, name)) {
        append_entity(out, *e);
        out.append(s, x, q - x);
        done = true;
      }
    }
    if (!done) out.append(s, i, q - i);
    i = q;
  }
  return out;
}

inline std::u32string ftfy_unescape(const std::u32string& s) {
  using namespace html_detail;
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  std::string name;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'&') {
      out += s[i++];
      continue;
    }
    // "&" "#"? [0-9A-Za-z]{1,24} ";"
    size_t q = i + 1;
    if (q < s.size() && s[q] == U'#') ++q;
    const size_t name_begin = q;
    while (q < s.size() && q - name_begin < 24 && is_ascii_alnum(s[q])) ++q;
    if (q == name_begin || q >= s.size() || s[q] != U';') {
      out += s[i++];
      continue;
    }
    ++q;  // the ';'
    const std::u32string match = s.substr(i, q - i);
    if (name_begin == i + 1) {  // named
      ascii_name(s, name_begin, q, name);  // includes the ';'
      if (const auto* e = find_entity(tables::kHtml5Entities, name)) {
        append_entity(out, *e);
      } else if (const auto* u = find_entity(tables::kFtfyUpperEntities, name)) {
        append_entity(out, *u);
      } else {
        out += match;
      }
    } else {  // numeric: keep it unless html.unescape consumed the ';' too
      const std::u32string dec = html_unescape(match);
      out += dec.find(U';') == std::u32string::npos ? dec : match;
    }
    i = q;
  }
  return out;
}

}  // namespace finepose::text
