#pragma once
// The text cleaning CLIP applies before tokenizing:
//   whitespace_clean(basic_clean(text)).lower()
//   basic_clean      = ftfy.fix_text, html.unescape twice, str.strip
//   whitespace_clean = every run of \s becomes one space, str.strip
//
// ftfy.fix_text is reproduced for everything except its mojibake repair: per
// line (segments end after '\n'), until nothing changes: unescape_html (only
// while no segment so far contained '<'), fix_c1_controls, fix_latin_ligatures,
// fix_character_width, uncurl_quotes, fix_line_breaks, remove_terminal_escapes,
// remove_control_chars, NFC. Skipped: fix_encoding and its helpers
// (restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8), which
// guess that text like "cafÃ©" was UTF-8 read as Latin-1 and undo it; such
// text tokenizes here as written. fix_surrogates has nothing to do on valid UTF-8.
#include <string>

#include "finepose/text/char_class.hpp"
#include "finepose/text/html_unescape.hpp"
#include "finepose/text/lowercase.hpp"
#include "finepose/text/nfc.hpp"
#include "finepose/text/unicode_tables.hpp"

namespace finepose::text {

namespace ftfy_detail {

inline std::u32string fix_c1_controls(const std::u32string& s) {
  std::u32string out = s;
  for (char32_t& c : out)
    if (c >= 0x80 && c <= 0x9F) c = tables::kC1ToCp1252[c - 0x80];
  return out;
}

// single-character Latin ligatures and legacy digraphs (ftfy's LIGATURES)
inline const char32_t* latin_ligature(char32_t c) {
  switch (c) {
    case 0x132: return U"IJ";
    case 0x133: return U"ij";
    case 0x149: return U"\u02BCn";
    case 0x1F1: return U"DZ";
    case 0x1F2: return U"Dz";
    case 0x1F3: return U"dz";
    case 0x1C4: return U"D\u017D";
    case 0x1C5: return U"D\u017E";
    case 0x1C6: return U"d\u017E";
    case 0x1C7: return U"LJ";
    case 0x1C8: return U"Lj";
    case 0x1C9: return U"lj";
    case 0x1CA: return U"NJ";
    case 0x1CB: return U"Nj";
    case 0x1CC: return U"nj";
    case 0xFB00: return U"ff";
    case 0xFB01: return U"fi";
    case 0xFB02: return U"fl";
    case 0xFB03: return U"ffi";
    case 0xFB04: return U"ffl";
    case 0xFB05: return U"\u017Ft";
    case 0xFB06: return U"st";
    default: return nullptr;
  }
}

inline std::u32string fix_latin_ligatures(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (const char32_t* r = latin_ligature(c)) out += r;
    else out += c;
  }
  return out;
}

inline std::u32string fix_character_width(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  const auto& t = tables::kWidthMap;
  const auto* end = t + sizeof(t) / sizeof(t[0]);
  for (char32_t c : s) {
    if (c == 0x3000 || (c >= 0xFF01 && c <= 0xFFEF)) {
      const auto* it = std::lower_bound(t, end, c, [](const tables::CharMap2& m, char32_t v) { return m.from < v; });
      if (it != end && it->from == c) {
        out += it->to0;
        if (it->to1) out += it->to1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

inline std::u32string uncurl_quotes(const std::u32string& s) {
  std::u32string out = s;
  for (char32_t& c : out) {
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = U'\'';
    else if (c >= 0x201C && c <= 0x201F) c = U'"';
  }
  return out;
}

inline std::u32string fix_line_breaks(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == U'\r' && i + 1 < s.size() && s[i + 1] == U'\n') continue;  // "\r\n" -> "\n"
    out += (c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85) ? U'\n' : c;
  }
  return out;
}

// ESC '[' (digit | ';')* letter
inline std::u32string remove_terminal_escapes(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == U'[') {
      size_t j = i + 2;
      while (j < s.size() && (s[j] == U';' || is_decimal_digit(s[j]))) ++j;
      if (j < s.size() && s[j] < 0x80 && ((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'z')) {
        i = j;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

inline bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

inline std::u32string remove_control_chars(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s)
    if (!is_removed_control(c)) out += c;
  return out;
}

inline std::u32string fix_segment(std::u32string s, bool unescape) {
  for (;;) {
    const std::u32string before = s;
    if (unescape) s = ftfy_unescape(s);
    s = fix_c1_controls(s);
    s = fix_latin_ligatures(s);
    s = fix_character_width(s);
    s = uncurl_quotes(s);
    s = fix_line_breaks(s);
    s = remove_terminal_escapes(s);
    s = remove_control_chars(s);
    s = nfc(s);
    if (s == before) return s;
  }
}
}  // namespace ftfy_detail

// ftfy.fix_text without mojibake repair (see the top of this file)
inline std::u32string ftfy_fix_text(const std::u32string& text) {
  constexpr size_t kMaxSegment = 1000000;  // ftfy's max_decode_length
  std::u32string out;
  out.reserve(text.size());
  bool unescape = true;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(U'\n', pos);
    end = end == std::u32string::npos ? text.size() : end + 1;
    if (end - pos > kMaxSegment) end = pos + kMaxSegment;
    const std::u32string segment = text.substr(pos, end - pos);
    if (unescape && segment.find(U'<') != std::u32string::npos) unescape = false;  // stays off for later lines
    out += ftfy_detail::fix_segment(segment, unescape);
    pos = end;
  }
  return out;
}

// str.strip(): isspace() code points at both ends
inline std::u32string strip_python(const std::u32string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_python_space(s[b])) ++b;
  while (e > b && is_python_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// re.sub(r"\s+", " ", s) with the `regex` module's \s
inline std::u32string collapse_white_space(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (is_white_space(s[i])) {
      while (i < s.size() && is_white_space(s[i])) ++i;
      out += U' ';
    } else {
      out += s[i++];
    }
  }
  return out;
}

// whitespace_clean(basic_clean(text)).lower()
inline std::u32string clip_clean_text(const std::u32string& text) {
  std::u32string s = ftfy_fix_text(text);
  s = html_unescape(html_unescape(s));
  s = strip_python(s);
  s = strip_python(collapse_white_space(s));
  return to_lower(s);
}

}  // namespace finepose::text
