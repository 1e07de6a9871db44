#pragma once
// A small JSON value, parser and printer: safetensors headers, model configs,
// CLI --json output, keypoint files.
//
// - Objects keep insertion order (printing a config gives back its order);
//   duplicate keys are refused, since they make a header ambiguous.
// - Numbers remember whether they were written as integers that fit int64, so
//   offsets and counts stay exact.
// - parse() reports line and column, limits nesting depth, validates UTF-8,
//   decodes \uXXXX escapes incl. surrogate pairs. Like Python's json module it
//   reads and writes NaN / Infinity / -Infinity (plain JSON has no spelling).
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/io/bytes.hpp"

namespace finepose {
namespace json {

enum class Type { null, boolean, number, string, array, object };

inline const char* type_name(Type t) {
  switch (t) {
    case Type::null: return "null";
    case Type::boolean: return "bool";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::array: return "array";
    case Type::object: return "object";
  }
  return "?";
}

// 32 bytes per value: numbers, booleans and null hold no heap memory; strings,
// arrays and objects keep their contents behind one pointer. (A keypoint file is
// mostly numbers: parsing costs ~40 bytes per number, not ~300.)
class Value {
 public:
  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : type_(Type::boolean), bool_(b) {}
  Value(double d) : type_(Type::number), num_(d) {}
  Value(float d) : Value(double(d)) {}
  Value(int i) : Value(static_cast<long long>(i)) {}
  Value(long i) : Value(static_cast<long long>(i)) {}
  Value(long long i) : type_(Type::number), is_int_(true), num_(double(i)), int_(std::int64_t(i)) {}
  Value(unsigned i) : Value(static_cast<long long>(i)) {}
  Value(unsigned long i) : Value(static_cast<unsigned long long>(i)) {}
  Value(unsigned long long i) : type_(Type::number), num_(double(i)) {
    if (i <= 0x7fffffffffffffffull) int_ = std::int64_t(i), is_int_ = true;
  }
  Value(const char* s) : Value(std::string(s)) {}
  Value(std::string s) : type_(Type::string), h_(std::make_unique<Heavy>()) { h_->str = std::move(s); }
  Value(std::string_view s) : Value(std::string(s)) {}

  Value(const Value& o) : type_(o.type_), bool_(o.bool_), is_int_(o.is_int_), num_(o.num_), int_(o.int_) {
    if (o.h_) h_ = std::make_unique<Heavy>(*o.h_);
  }
  Value(Value&&) noexcept = default;
  Value& operator=(const Value& o) {
    if (this != &o) *this = Value(o);
    return *this;
  }
  Value& operator=(Value&&) noexcept = default;
  ~Value() = default;

  static Value array() {
    Value v;
    v.type_ = Type::array;
    v.h_ = std::make_unique<Heavy>();
    return v;
  }
  static Value array(std::vector<Value> items) {
    Value v = array();
    v.h_->items = std::move(items);
    return v;
  }
  static Value object() {
    Value v;
    v.type_ = Type::object;
    v.h_ = std::make_unique<Heavy>();
    return v;
  }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::null; }
  bool is_bool() const { return type_ == Type::boolean; }
  bool is_number() const { return type_ == Type::number; }
  // A number written (or made) as an integer that fits int64.
  bool is_int() const { return type_ == Type::number && is_int_; }
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }

  bool as_bool() const {
    need(Type::boolean);
    return bool_;
  }
  double as_double() const {
    need(Type::number);
    return num_;
  }
  // Exact integers only: 3 and 3.0 are fine, 3.5 and 1e300 are not.
  std::int64_t as_int64() const {
    need(Type::number);
    if (is_int_) return int_;
    if (std::trunc(num_) == num_ && num_ >= -9223372036854775808.0 && num_ < 9223372036854775808.0)
      return std::int64_t(num_);
    fail("json: expected an integer, got ", num_);
  }
  const std::string& as_string() const {
    need(Type::string);
    return h_->str;
  }

  // Arrays and objects.
  std::size_t size() const {
    if (type_ != Type::array && type_ != Type::object) fail("json: size() of a ", type_name(type_));
    return h_->items.size();
  }
  const Value& at(std::size_t i) const {
    if (type_ != Type::array && type_ != Type::object) fail("json: index into a ", type_name(type_));
    if (i >= h_->items.size()) fail("json: index ", i, " out of range (size ", h_->items.size(), ")");
    return h_->items[i];
  }
  Value& at(std::size_t i) { return const_cast<Value&>(static_cast<const Value&>(*this).at(i)); }
  const std::vector<Value>& items() const {
    if (type_ != Type::array && type_ != Type::object) fail("json: items() of a ", type_name(type_));
    return h_->items;
  }
  void push_back(Value v) {
    need(Type::array);
    h_->items.push_back(std::move(v));
  }
  // Gives back the spare capacity of a finished array or object (the parser's growth).
  void shrink_to_fit() {
    if (h_) h_->items.shrink_to_fit(), h_->keys.shrink_to_fit();
  }

  // Objects: keys in insertion order, values by key.
  const std::vector<std::string>& keys() const {
    need(Type::object);
    return h_->keys;
  }
  const std::string& key(std::size_t i) const {
    need(Type::object);
    if (i >= h_->keys.size()) fail("json: key index ", i, " out of range (size ", h_->keys.size(), ")");
    return h_->keys[i];
  }
  bool contains(const std::string& k) const { return type_ == Type::object && index_of(k) != kNone; }
  const Value* find(const std::string& k) const {
    need(Type::object);
    const std::size_t i = index_of(k);
    return i == kNone ? nullptr : &h_->items[i];
  }
  const Value& at(const std::string& k) const {
    const Value* v = find(k);
    if (!v) fail("json: missing key '", k, "'");
    return *v;
  }
  Value& at(const std::string& k) { return const_cast<Value&>(static_cast<const Value&>(*this).at(k)); }
  // Inserts null if absent (turns a null value into an object first).
  Value& operator[](const std::string& k) {
    if (type_ == Type::null) *this = object();
    need(Type::object);
    const std::size_t i = index_of(k);
    if (i != kNone) return h_->items[i];
    return insert_new(k, Value());
  }
  void set(const std::string& k, Value v) { (*this)[k] = std::move(v); }
  // For the parser: refuses a key that is already there.
  bool insert_unique(const std::string& k, Value v) {
    need(Type::object);
    if (index_of(k) != kNone) return false;
    insert_new(k, std::move(v));
    return true;
  }

  // Lookups with defaults, for configs.
  double get_double(const std::string& k, double dflt) const {
    const Value* v = is_object() ? find(k) : nullptr;
    return v && !v->is_null() ? v->as_double() : dflt;
  }
  std::int64_t get_int(const std::string& k, std::int64_t dflt) const {
    const Value* v = is_object() ? find(k) : nullptr;
    return v && !v->is_null() ? v->as_int64() : dflt;
  }
  bool get_bool(const std::string& k, bool dflt) const {
    const Value* v = is_object() ? find(k) : nullptr;
    return v && !v->is_null() ? v->as_bool() : dflt;
  }
  std::string get_string(const std::string& k, const std::string& dflt) const {
    const Value* v = is_object() ? find(k) : nullptr;
    return v && !v->is_null() ? v->as_string() : dflt;
  }

  bool operator==(const Value& o) const {
    if (type_ != o.type_) return false;
    switch (type_) {
      case Type::null: return true;
      case Type::boolean: return bool_ == o.bool_;
      case Type::number: return is_int_ && o.is_int_ ? int_ == o.int_ : num_ == o.num_;
      case Type::string: return h_->str == o.h_->str;
      case Type::array: return h_->items == o.h_->items;
      case Type::object:
        if (h_->items.size() != o.h_->items.size()) return false;
        for (std::size_t i = 0; i < h_->keys.size(); ++i) {
          const Value* w = o.find(h_->keys[i]);
          if (!w || !(*w == h_->items[i])) return false;
        }
        return true;
    }
    return false;
  }
  bool operator!=(const Value& o) const { return !(*this == o); }

 private:
  static constexpr std::size_t kNone = std::size_t(-1);
  static constexpr std::size_t kIndexFrom = 16;  // objects this large get a key index; smaller ones are scanned
  struct Heavy {
    std::string str;
    std::vector<Value> items;       // array elements, or object values
    std::vector<std::string> keys;  // object keys, parallel to items
    std::map<std::string, std::size_t> index;  // key -> position, once keys.size() >= kIndexFrom
  };

  void need(Type t) const {
    if (type_ != t) fail("json: expected ", type_name(t), ", got ", type_name(type_));
  }
  std::size_t index_of(const std::string& k) const {
    if (type_ != Type::object) return kNone;
    if (h_->keys.size() >= kIndexFrom) {
      auto it = h_->index.find(k);
      return it == h_->index.end() ? kNone : it->second;
    }
    for (std::size_t i = 0; i < h_->keys.size(); ++i)
      if (h_->keys[i] == k) return i;
    return kNone;
  }
  Value& insert_new(const std::string& k, Value v) {
    Heavy& h = *h_;
    h.keys.push_back(k);
    h.items.push_back(std::move(v));
    if (h.keys.size() == kIndexFrom)
      for (std::size_t i = 0; i < h.keys.size(); ++i) h.index.emplace(h.keys[i], i);
    else if (h.keys.size() > kIndexFrom)
      h.index.emplace(k, h.items.size() - 1);
    return h.items.back();
  }

  Type type_ = Type::null;
  bool bool_ = false;
  bool is_int_ = false;
  double num_ = 0;
  std::int64_t int_ = 0;
  std::unique_ptr<Heavy> h_;  // string, array or object contents
};

// ---- parsing ------------------------------------------------------------------

namespace detail {

using io::append_utf8;

class Parser {
 public:
  Parser(std::string_view s, const std::string& what, int max_depth, std::size_t max_values = std::size_t(-1))
      : s_(s), what_(what), max_depth_(max_depth), max_values_(max_values) {}

  Value run() {
    skip_bom();
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (i_ != s_.size()) err("unexpected text after the JSON value");
    return v;
  }

  // A top-level array, one element at a time: `each(element, index)` gets each
  // value as soon as it is parsed, and it is dropped afterwards (memory: one
  // element, not the whole tree). Returns false, having read nothing, when the
  // document is not an array.
  template <class F>
  bool run_array(F&& each) {
    skip_bom();
    skip_ws();
    if (peek() != '[') return false;
    ++i_;
    skip_ws();
    std::size_t k = 0;
    if (peek() == ']') {
      ++i_;
    } else {
      while (true) {
        skip_ws();
        values_ = 0;  // the limit is per element: each is dropped once handed on
        each(value(1), k++);
        skip_ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        if (peek() == ']') {
          ++i_;
          break;
        }
        err(at_end() ? "unexpected end of input in an array" : "expected ',' or ']' in an array");
      }
    }
    skip_ws();
    if (i_ != s_.size()) err("unexpected text after the JSON value");
    return true;
  }

 private:
  // A UTF-8 byte order mark is tolerated at the very start.
  void skip_bom() {
    if (i_ == 0 && s_.size() >= 3 && std::uint8_t(s_[0]) == 0xef && std::uint8_t(s_[1]) == 0xbb && std::uint8_t(s_[2]) == 0xbf)
      i_ = 3;
  }
  [[noreturn]] void err(const std::string& msg) const { err_at(i_, msg); }
  [[noreturn]] void err_at(std::size_t pos, const std::string& msg) const {
    std::size_t line = 1, col = 1;
    for (std::size_t k = 0; k < pos && k < s_.size(); ++k) {
      if (s_[k] == '\n') ++line, col = 1;
      else ++col;
    }
    fail(what_, ": line ", line, ", column ", col, ": ", msg);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool at_end() const { return i_ >= s_.size(); }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool literal(const char* word) {
    std::size_t n = std::strlen(word);
    if (s_.substr(i_, n) == word) {
      i_ += n;
      return true;
    }
    return false;
  }

  Value value(int depth) {
    if (at_end()) err("unexpected end of input, expected a value");
    if (++values_ > max_values_) err("more than " + std::to_string(max_values_) + " values (the reader's memory limit)");
    char c = peek();
    switch (c) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return Value(string());
      case 't':
        if (literal("true")) return Value(true);
        break;
      case 'f':
        if (literal("false")) return Value(false);
        break;
      case 'n':
        if (literal("null")) return Value();
        break;
      case 'N':
        if (literal("NaN")) return Value(std::nan(""));
        break;
      case 'I':
        if (literal("Infinity")) return Value(HUGE_VAL);
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number();
    }
    err(std::string("unexpected character '") + printable(c) + "', expected a value");
  }

  static std::string printable(char c) {
    if (std::uint8_t(c) < 0x20 || std::uint8_t(c) >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", unsigned(std::uint8_t(c)));
      return b;
    }
    return std::string(1, c);
  }

  Value object(int depth) {
    if (depth > max_depth_) err("nesting deeper than " + std::to_string(max_depth_));
    ++i_;
    Value obj = Value::object();
    skip_ws();
    if (peek() == '}') {
      ++i_;
      return obj;
    }
    while (true) {
      skip_ws();
      if (peek() != '"') err("expected a string key");
      std::size_t key_pos = i_;
      std::string k = string();
      skip_ws();
      if (peek() != ':') err("expected ':' after an object key");
      ++i_;
      skip_ws();
      if (!obj.insert_unique(k, value(depth))) err_at(key_pos, "duplicate key \"" + k + "\"");
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == '}') {
        ++i_;
        obj.shrink_to_fit();
        return obj;
      }
      err(at_end() ? "unexpected end of input in an object" : "expected ',' or '}' in an object");
    }
  }

  Value array(int depth) {
    if (depth > max_depth_) err("nesting deeper than " + std::to_string(max_depth_));
    ++i_;
    Value arr = Value::array();
    skip_ws();
    if (peek() == ']') {
      ++i_;
      return arr;
    }
    while (true) {
      skip_ws();
      arr.push_back(value(depth));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == ']') {
        ++i_;
        arr.shrink_to_fit();
        return arr;
      }
      err(at_end() ? "unexpected end of input in an array" : "expected ',' or ']' in an array");
    }
  }

  Value number() {
    const std::size_t start = i_;
    if (peek() == '-') {
      ++i_;
      if (literal("Infinity")) return Value(-HUGE_VAL);
    }
    bool integral = true;
    if (peek() == '0') {
      ++i_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++i_;
    } else {
      err("malformed number");
    }
    if (peek() == '.') {
      integral = false;
      ++i_;
      if (!(peek() >= '0' && peek() <= '9')) err("malformed number: digit expected after '.'");
      while (peek() >= '0' && peek() <= '9') ++i_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!(peek() >= '0' && peek() <= '9')) err("malformed number: digit expected in the exponent");
      while (peek() >= '0' && peek() <= '9') ++i_;
    }
    const std::string text(s_.substr(start, i_ - start));
    if (integral) {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (errno == 0 && end == text.c_str() + text.size()) return Value(v);
    }
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);  // "C" locale is assumed, as everywhere in the library
    if (end != text.c_str() + text.size()) err_at(start, "malformed number");
    return Value(d);
  }

  std::uint32_t hex4() {
    if (i_ + 4 > s_.size()) err("truncated \\u escape");
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= std::uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= std::uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= std::uint32_t(c - 'A' + 10);
      else err("bad hex digit in a \\u escape");
    }
    return v;
  }

  std::string string() {
    ++i_;  // opening quote
    std::string out;
    while (true) {
      if (at_end()) err("unterminated string");
      const std::uint8_t c = std::uint8_t(s_[i_]);
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) err("control character in a string (must be escaped)");
      if (c == '\\') {
        ++i_;
        if (at_end()) err("unterminated string");
        char e = s_[i_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            std::uint32_t cp = hex4();
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (!(peek() == '\\' && i_ + 1 < s_.size() && s_[i_ + 1] == 'u')) err("unpaired high surrogate in \\u escape");
              i_ += 2;
              std::uint32_t lo = hex4();
              if (lo < 0xdc00 || lo > 0xdfff) err("high surrogate not followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
              err("unpaired low surrogate in \\u escape");
            }
            append_utf8(out, cp);
            break;
          }
          default: err_at(i_ - 2, std::string("invalid escape '\\") + printable(e) + "'");
        }
        continue;
      }
      if (c < 0x80) {
        out += char(c);
        ++i_;
        continue;
      }
      // Raw UTF-8: validate and copy the sequence.
      int len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      if (len == 0 || i_ + std::size_t(len) > s_.size()) err("invalid UTF-8 in a string");
      std::uint32_t cp = len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
      for (int k = 1; k < len; ++k) {
        std::uint8_t d = std::uint8_t(s_[i_ + std::size_t(k)]);
        if ((d >> 6) != 2) err("invalid UTF-8 in a string");
        cp = (cp << 6) | (d & 0x3f);
      }
      static const std::uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) err("invalid UTF-8 in a string");
      out.append(s_.data() + i_, std::size_t(len));
      i_ += std::size_t(len);
    }
  }

  std::string_view s_;
  const std::string& what_;
  int max_depth_;
  std::size_t max_values_, values_ = 0;
  std::size_t i_ = 0;
};

inline void dump_string(std::string& out, const std::string& s) {
  out += '"';
  for (char ch : s) {
    const std::uint8_t c = std::uint8_t(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", unsigned(c));
          out += b;
        } else {
          out += ch;  // UTF-8 passes through
        }
    }
  }
  out += '"';
}

// Shortest decimal that reads back as the same double.
inline std::string format_double(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // stays a float when read back
  return s;
}

inline void dump_value(std::string& out, const Value& v, int indent, int level, bool compact = false) {
  const char* comma = compact || indent >= 0 ? "," : ", ";
  const char* colon = compact ? ":" : ": ";
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(std::size_t(indent) * std::size_t(lvl), ' ');
  };
  switch (v.type()) {
    case Type::null: out += "null"; return;
    case Type::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Type::number:
      if (v.is_int()) out += std::to_string(v.as_int64());
      else out += format_double(v.as_double());
      return;
    case Type::string: dump_string(out, v.as_string()); return;
    case Type::array: {
      if (v.size() == 0) {
        out += "[]";
        return;
      }
      out += '[';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += comma;
        newline(level + 1);
        dump_value(out, v.at(i), indent, level + 1, compact);
      }
      newline(level);
      out += ']';
      return;
    }
    case Type::object: {
      if (v.size() == 0) {
        out += "{}";
        return;
      }
      out += '{';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += comma;
        newline(level + 1);
        dump_string(out, v.key(i));
        out += colon;
        dump_value(out, v.at(i), indent, level + 1, compact);
      }
      newline(level);
      out += '}';
      return;
    }
  }
}

}  // namespace detail

constexpr int kMaxDepth = 256;
// Values one parse() may build (32 bytes each: 2 GiB). A document of more is refused
// before it exhausts memory; parse_array_elements applies it per element.
constexpr std::size_t kMaxValues = std::size_t(1) << 26;

// `what` names the source in errors (a path, "safetensors header", ...).
inline Value parse(std::string_view text, const std::string& what = "json", int max_depth = kMaxDepth,
                   std::size_t max_values = kMaxValues) {
  return detail::Parser(text, what, max_depth, max_values).run();
}

// Streams a top-level array: each(Value&& element, std::size_t index) per
// element; false (nothing read) when `text` is not an array. Same errors and
// limits as parse().
template <class F>
bool parse_array_elements(std::string_view text, F&& each, const std::string& what = "json", int max_depth = kMaxDepth,
                          std::size_t max_values = kMaxValues) {
  return detail::Parser(text, what, max_depth, max_values).run_array(std::forward<F>(each));
}

// indent < 0: one line ("a": 1, "b": 2); indent >= 0: pretty, that many spaces per level.
inline std::string dump(const Value& v, int indent = -1) {
  std::string out;
  detail::dump_value(out, v, indent, 0);
  return out;
}

// Compact form without spaces, as written into file headers.
inline std::string dump_compact(const Value& v) {
  std::string out;
  detail::dump_value(out, v, -1, 0, true);
  return out;
}

}  // namespace json
}  // namespace finepose
