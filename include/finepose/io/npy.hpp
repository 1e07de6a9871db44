#pragma once
// NumPy .npy: magic, version, a Python-dict header, raw data.
// Reads format versions 1.0/2.0/3.0, little/big-endian numeric, bool, 'S' and
// 'U' strings, Fortran order (transposed to C order on load). Object arrays
// ('|O', pickled) and structured dtypes are refused. Writes version 1.0
// (2.0 when the header is too long) with the data 64-byte aligned, as numpy does.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/io/bytes.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/ndarray.hpp"

namespace finepose {
namespace io {

namespace npy_detail {

constexpr std::size_t kMaxHeader = std::size_t(1) << 20;

// The header is a Python dict literal; this reads just the subset numpy writes:
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(const std::string& s, const std::string& what) : s_(s), what_(what) {}

  void parse(std::string& descr, bool& fortran, Shape& shape) {
    bool got_descr = false, got_fortran = false, got_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      std::string key = string_literal();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() == '[') fail(what_, ": structured dtypes (a list descr) are not supported");
        descr = string_literal();
        got_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        got_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        got_shape = true;
      } else {
        fail(what_, ": unexpected key '", key, "' in the npy header");
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    skip_ws();
    if (i_ != s_.size()) fail(what_, ": trailing characters after the npy header dict");
    if (!got_descr || !got_fortran || !got_shape)
      fail(what_, ": npy header lacks ", !got_descr ? "'descr'" : !got_fortran ? "'fortran_order'" : "'shape'");
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  [[noreturn]] void bad(const char* expected) const {
    fail(what_, ": malformed npy header at character ", i_, ": expected ", expected, " in \"", s_.substr(0, 200), "\"");
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) {
      const char e[4] = {'\'', c, '\'', 0};
      bad(e);
    }
    ++i_;
  }
  std::string string_literal() {
    skip_ws();
    char q = peek();
    if (q != '\'' && q != '"') bad("a quoted string");
    ++i_;
    std::string r;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') bad("no escapes");
      r += s_[i_++];
    }
    if (i_ >= s_.size()) bad("a closing quote");
    ++i_;
    return r;
  }
  bool boolean() {
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    bad("True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_ws();
      if (peek() == ')') {
        ++i_;
        return shape;
      }
      if (peek() < '0' || peek() > '9') bad("a non-negative integer");
      std::int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (v > (std::int64_t(1) << 50)) fail(what_, ": npy shape dimension is too large");
        v = v * 10 + (s_[i_++] - '0');
      }
      if (peek() == 'L') ++i_;  // Python 2 long suffix
      shape.push_back(v);
      if (shape.size() > 64) fail(what_, ": npy shape has more than 64 dimensions");
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != ')') bad("',' or ')'");
    }
  }

  const std::string& s_;
  const std::string& what_;
  std::size_t i_ = 0;
};

// '<f4' -> dtype, itemsize, whether the bytes are big-endian.
inline void parse_descr(const std::string& d, const std::string& what, DType& dtype, std::size_t& itemsize, bool& big) {
  if (d.size() < 2) fail(what, ": npy dtype '", d, "' is not understood");
  const char order = d[0];
  if (order != '<' && order != '>' && order != '|' && order != '=')
    fail(what, ": npy dtype '", d, "' has unknown byte order '", order, "'");
  big = order == '>';
  const char kind = d[1];
  const std::string num = d.substr(2);
  if (kind == 'O') fail(what, ": npy dtype '", d, "' is an object array (pickled Python objects); not supported");
  if (num.empty() || num.size() > 9 || num.find_first_not_of("0123456789") != std::string::npos)
    fail(what, ": npy dtype '", d, "' is not supported");
  const std::size_t n = std::stoul(num);
  auto pick = [&](std::initializer_list<std::pair<std::size_t, DType>> opts) {
    for (const auto& o : opts)
      if (o.first == n) {
        dtype = o.second;
        itemsize = n;
        return;
      }
    fail(what, ": npy dtype '", d, "' is not supported");
  };
  switch (kind) {
    case 'f': pick({{2, DType::f16}, {4, DType::f32}, {8, DType::f64}}); break;
    case 'i': pick({{1, DType::i8}, {2, DType::i16}, {4, DType::i32}, {8, DType::i64}}); break;
    case 'u': pick({{1, DType::u8}, {2, DType::u16}, {4, DType::u32}, {8, DType::u64}}); break;
    case 'b': pick({{1, DType::boolean}}); break;
    case 'S':
      if (n == 0) fail(what, ": npy dtype '", d, "' has zero width");
      dtype = DType::bytes;
      itemsize = n;
      break;
    case 'U':
      if (n == 0 || n > (std::size_t(1) << 28)) fail(what, ": npy dtype '", d, "' has an unsupported width");
      dtype = DType::unicode;
      itemsize = 4 * n;
      break;
    default: fail(what, ": npy dtype '", d, "' (kind '", kind, "') is not supported");
  }
}

inline std::string descr_of(const NdArray& a, const std::string& what = "npy") {
  switch (a.dtype) {
    case DType::f16: return "<f2";
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i8: return "|i1";
    case DType::i16: return "<i2";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::u8: return "|u1";
    case DType::u16: return "<u2";
    case DType::u32: return "<u4";
    case DType::u64: return "<u8";
    case DType::boolean: return "|b1";
    case DType::bytes: return "|S" + std::to_string(a.itemsize);
    case DType::unicode: return "<U" + std::to_string(a.itemsize / 4);
    case DType::bf16: break;
  }
  fail(what, ": bfloat16 has no NumPy dtype; convert the array to float32 first");
}

inline void byteswap_elements(std::vector<std::uint8_t>& data, std::size_t width) {
  if (width <= 1) return;
  for (std::size_t off = 0; off + width <= data.size(); off += width)
    for (std::size_t a = 0, b = width - 1; a < b; ++a, --b) std::swap(data[off + a], data[off + b]);
}

// Data laid out in Fortran order for `shape` -> C order.
inline std::vector<std::uint8_t> fortran_to_c(const std::vector<std::uint8_t>& f, const Shape& shape, std::size_t item) {
  const std::size_t nd = shape.size();
  if (f.empty() || nd < 2) return f;
  if (item == 0 || f.size() != checked_nbytes(shape, item, "fortran_to_c"))
    fail("fortran_to_c: ", f.size(), " bytes do not match shape ", shape_str(shape), " of ", item, "-byte items");
  std::vector<std::uint8_t> c(f.size());
  std::vector<std::int64_t> fstride(nd), idx(nd, 0);
  std::int64_t acc = 1;
  for (std::size_t k = 0; k < nd; ++k) {
    fstride[k] = acc;
    acc *= shape[k];
  }
  const std::size_t n = f.size() / item;
  std::int64_t src = 0;  // Fortran element index of the current C index
  for (std::size_t lin = 0; lin < n; ++lin) {
    std::memcpy(c.data() + lin * item, f.data() + std::size_t(src) * item, item);
    for (std::size_t k = nd; k-- > 0;) {
      if (++idx[k] < shape[k]) {
        src += fstride[k];
        break;
      }
      src -= fstride[k] * (shape[k] - 1);
      idx[k] = 0;
    }
  }
  return c;
}

}  // namespace npy_detail

// What a .npy header says: where the data starts and how many bytes it must
// have. Needs only the preamble and header (`size` may be less than the file),
// so an archive member's size can be checked against it before it is inflated.
struct NpyLayout {
  std::size_t data_offset = 0;  // preamble + header
  std::size_t data_bytes = 0;   // what the dtype and shape need
  std::string descr;
  bool fortran = false, big = false;
  Shape shape;
  DType dtype = DType::f32;
  std::size_t itemsize = 0;
};

// Bytes of preamble needed to know the header length (then data_offset bytes for the header).
constexpr std::size_t kNpyPreamble = 12;

inline NpyLayout npy_layout(const std::uint8_t* p, std::size_t size, const std::string& what) {
  using namespace npy_detail;
  static const std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(p, magic, 6) != 0) fail(what, ": not a .npy file (bad magic)");
  const int major = p[6], minor = p[7];
  std::size_t header_len, prefix;
  if (major == 1) {
    header_len = load_le<std::uint16_t>(p + 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) fail(what, ": .npy file is truncated in its preamble");
    header_len = load_le<std::uint32_t>(p + 8);
    prefix = 12;
  } else {
    fail(what, ": .npy format version ", major, ".", minor, " is not supported");
  }
  if (minor != 0) fail(what, ": .npy format version ", major, ".", minor, " is not supported");
  if (header_len > kMaxHeader) fail(what, ": .npy header length ", header_len, " exceeds ", kMaxHeader);
  if (header_len > size - prefix)
    fail(what, ": .npy header of ", header_len, " bytes runs past the end (", size, " bytes)");
  const std::string header(reinterpret_cast<const char*>(p + prefix), header_len);
  NpyLayout l;
  HeaderParser(header, what).parse(l.descr, l.fortran, l.shape);
  parse_descr(l.descr, what, l.dtype, l.itemsize, l.big);
  l.data_offset = prefix + header_len;
  l.data_bytes = checked_nbytes(l.shape, l.itemsize, what);
  return l;
}

// The header length of a .npy whose first kNpyPreamble (or more) bytes are `p`;
// 0 when they are too few to tell.
inline std::size_t npy_data_offset_hint(const std::uint8_t* p, std::size_t size) {
  if (size < 10) return 0;
  if (p[6] == 1) return 10 + std::size_t(load_le<std::uint16_t>(p + 8));
  if (size < 12) return 0;
  return 12 + std::size_t(load_le<std::uint32_t>(p + 8));
}

// `what` names the source in errors (a path, or "archive.npz:name.npy").
inline NdArray parse_npy(const std::uint8_t* p, std::size_t size, const std::string& what) {
  using namespace npy_detail;
  const NpyLayout l = npy_layout(p, size, what);
  NdArray a;
  a.dtype = l.dtype, a.itemsize = l.itemsize, a.shape = l.shape;
  const std::size_t need = l.data_bytes;
  const std::size_t have = size - l.data_offset;
  if (have != need)
    fail(what, ": ", l.descr, " ", shape_str(l.shape), " needs ", need, " data bytes, the file has ", have,
         have < need ? " (truncated)" : " (trailing bytes)");
  const std::uint8_t* data = p + l.data_offset;
  a.data.assign(data, data + need);
  if (l.big && a.dtype != DType::bytes) byteswap_elements(a.data, a.dtype == DType::unicode ? 4 : a.itemsize);
  if (l.fortran) a.data = fortran_to_c(a.data, a.shape, a.itemsize);
  return a;
}

inline NdArray parse_npy(const std::vector<std::uint8_t>& bytes, const std::string& what) {
  return parse_npy(bytes.data(), bytes.size(), what);
}

// `what` names the array in errors.
inline std::vector<std::uint8_t> serialize_npy(const NdArray& a, const std::string& what = "serialize_npy") {
  check_ndarray(a, what);
  std::string header = "{'descr': '" + npy_detail::descr_of(a, what) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < a.shape.size(); ++i) header += (i ? ", " : "") + std::to_string(a.shape[i]);
  header += a.shape.size() == 1 ? ",), }" : "), }";  // Python's one-tuple is "(n,)"

  std::size_t prefix = 10;
  std::size_t total = prefix + header.size() + 1;
  std::size_t padded = (total + 63) / 64 * 64;
  if (padded - prefix > 0xffff) {
    prefix = 12;
    total = prefix + header.size() + 1;
    padded = (total + 63) / 64 * 64;
  }
  header.append(padded - total, ' ');
  header += '\n';
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', std::uint8_t(prefix == 10 ? 1 : 2), 0};
  if (prefix == 10) append_le<std::uint16_t>(out, std::uint16_t(header.size()));
  else append_le<std::uint32_t>(out, std::uint32_t(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

inline NdArray load_npy(const std::string& path) { return parse_npy(read_file(path), path); }

inline void save_npy(const std::string& path, const NdArray& a) { write_file(path, serialize_npy(a, path)); }

}  // namespace io
}  // namespace finepose
