#pragma once
// NdArray: a typed byte buffer as it sits in a file (npy, npz, safetensors,
// pickled numpy arrays), before it becomes a Tensor. Always C-order and
// little-endian in memory once loaded; the readers normalise on the way in.
//
// to_tensor<T> converts any numeric dtype to T and refuses values T cannot
// hold (NaN or out-of-range into an integer type) instead of wrapping.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/half.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/io/bytes.hpp"

namespace finepose {
namespace io {

enum class DType { f16, bf16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, boolean, bytes /*numpy 'S'*/, unicode /*numpy 'U'*/ };

inline std::string dtype_name(DType d) {
  switch (d) {
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i8: return "int8";
    case DType::i16: return "int16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::u16: return "uint16";
    case DType::u32: return "uint32";
    case DType::u64: return "uint64";
    case DType::boolean: return "bool";
    case DType::bytes: return "bytes";
    case DType::unicode: return "unicode";
  }
  return "unknown";
}

// Element size of the fixed-size dtypes; 0 for bytes/unicode (their itemsize is per array).
inline std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::f16: case DType::bf16: case DType::i16: case DType::u16: return 2;
    case DType::f32: case DType::i32: case DType::u32: return 4;
    case DType::f64: case DType::i64: case DType::u64: return 8;
    case DType::i8: case DType::u8: case DType::boolean: return 1;
    case DType::bytes: case DType::unicode: return 0;
  }
  return 0;
}

inline bool dtype_is_numeric(DType d) { return d != DType::bytes && d != DType::unicode; }

struct NdArray {
  DType dtype = DType::f32;
  std::size_t itemsize = 4;
  Shape shape;
  std::vector<std::uint8_t> data;  // C-order, little-endian

  std::int64_t numel() const { return shape_numel(shape); }
  std::size_t nbytes() const { return data.size(); }
  bool is_numeric() const { return dtype_is_numeric(dtype); }
  std::string describe() const {
    std::string s = dtype_name(dtype);
    if (!is_numeric()) s += std::to_string(dtype == DType::unicode ? itemsize / 4 : itemsize);
    return s + shape_str(shape);
  }
};

// numel * itemsize with overflow and size checks; `what` names the array in errors.
inline std::size_t checked_nbytes(const Shape& shape, std::size_t itemsize, const std::string& what) {
  for (auto d : shape)
    if (d < 0) fail(what, ": negative dimension in shape ", shape_str(shape));
  std::uint64_t n = 1;
  for (auto d : shape) {
    if (d != 0 && n > (std::uint64_t(1) << 50) / std::uint64_t(d)) fail(what, ": shape ", shape_str(shape), " is too large");
    n *= std::uint64_t(d);
  }
  if (itemsize != 0 && n > (std::uint64_t(1) << 44) / itemsize)
    fail(what, ": shape ", shape_str(shape), " of ", itemsize, "-byte items is too large");
  return std::size_t(n * itemsize);
}

// Zero-filled array of a fixed-size dtype (or bytes/unicode with an explicit itemsize).
inline NdArray make_ndarray(DType dtype, Shape shape, std::size_t itemsize = 0) {
  NdArray a;
  a.dtype = dtype;
  a.itemsize = itemsize ? itemsize : dtype_size(dtype);
  if (a.itemsize == 0) fail("make_ndarray: ", dtype_name(dtype), " needs an explicit itemsize");
  if (dtype == DType::unicode && a.itemsize % 4 != 0) fail("make_ndarray: unicode itemsize ", a.itemsize, " is not a multiple of 4");
  if (dtype_size(dtype) && a.itemsize != dtype_size(dtype))
    fail("make_ndarray: ", dtype_name(dtype), " has itemsize ", dtype_size(dtype), ", not ", a.itemsize);
  a.data.assign(checked_nbytes(shape, a.itemsize, "make_ndarray"), 0);
  a.shape = std::move(shape);
  return a;
}

// Throws unless data, shape and itemsize agree.
inline void check_ndarray(const NdArray& a, const std::string& what) {
  if (dtype_size(a.dtype) && a.itemsize != dtype_size(a.dtype))
    fail(what, ": ", dtype_name(a.dtype), " array with itemsize ", a.itemsize);
  if (a.itemsize == 0) fail(what, ": itemsize 0");
  std::size_t want = checked_nbytes(a.shape, a.itemsize, what);
  if (a.data.size() != want)
    fail(what, ": ", a.data.size(), " data bytes for ", dtype_name(a.dtype), shape_str(a.shape), " (need ", want, ")");
}

// ---- element types --------------------------------------------------------

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<half> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<bfloat16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<std::int8_t> { static constexpr DType value = DType::i8; };
template <> struct dtype_of<std::int16_t> { static constexpr DType value = DType::i16; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<std::uint16_t> { static constexpr DType value = DType::u16; };
template <> struct dtype_of<std::uint32_t> { static constexpr DType value = DType::u32; };
template <> struct dtype_of<std::uint64_t> { static constexpr DType value = DType::u64; };

template <class T>
NdArray from_tensor(const Tensor<T>& t) {
  NdArray a;
  a.dtype = dtype_of<T>::value;
  a.itemsize = sizeof(T);
  a.shape = t.shape();
  a.data.resize(checked_nbytes(a.shape, sizeof(T), "from_tensor"));
  if (!a.data.empty()) {
    Tensor<T> c = t.contiguous();
    std::memcpy(a.data.data(), c.data(), a.data.size());
  }
  return a;
}

// Values in C order with the given shape ({} is a 0-d scalar).
template <class T>
NdArray from_vector(const std::vector<T>& v, Shape shape) {
  NdArray a = make_ndarray(dtype_of<T>::value, std::move(shape));
  if (a.data.size() != v.size() * sizeof(T))
    fail("from_vector: ", v.size(), " values for shape ", shape_str(a.shape));
  if (!v.empty()) std::memcpy(a.data.data(), v.data(), a.data.size());
  return a;
}

// A 1-d array of the values.
template <class T>
NdArray from_vector(const std::vector<T>& v) {
  return from_vector(v, Shape{std::int64_t(v.size())});
}

namespace nd_detail {

template <class T> struct is_half_like : std::false_type {};
template <> struct is_half_like<half> : std::true_type {};
template <> struct is_half_like<bfloat16> : std::true_type {};

template <class S>
inline S load(const std::uint8_t* p) {
  S v;
  std::memcpy(&v, p, sizeof(S));
  return v;
}

// One element of source type S to destination T, refusing what T cannot hold.
template <class T, class S>
inline T convert(S v, const std::string& what) {
  if constexpr (is_half_like<S>::value) {
    return convert<T>(float(v), what);
  } else if constexpr (std::is_same<S, bool>::value) {
    return convert<T>(std::uint8_t(v ? 1 : 0), what);
  } else if constexpr (is_half_like<T>::value) {
    return T(float(v));
  } else if constexpr (std::is_floating_point<T>::value) {
    return T(v);
  } else if constexpr (std::is_floating_point<S>::value) {
    // float -> integer: truncate like numpy's astype, but never from NaN or out of range.
    const double t = std::trunc(double(v));
    const double lo = double(std::numeric_limits<T>::min());
    const double hi_excl = double(std::numeric_limits<T>::max()) + 1.0;  // exact: a power of two
    if (!(t >= lo && t < hi_excl))
      fail(what, ": value ", double(v), " does not fit ", sizeof(T) * 8, "-bit ", std::is_signed<T>::value ? "int" : "uint");
    return T(t);
  } else {
    // integer -> integer: exact or refused.
    bool ok;
    if constexpr (std::is_signed<S>::value == std::is_signed<T>::value && std::is_unsigned<S>::value) {
      ok = sizeof(S) <= sizeof(T) || v <= S(std::numeric_limits<T>::max());  // (no lower bound to check: nvcc #186)
    } else if constexpr (std::is_signed<S>::value == std::is_signed<T>::value) {
      ok = sizeof(S) <= sizeof(T) || (v >= S(std::numeric_limits<T>::min()) && v <= S(std::numeric_limits<T>::max()));
    } else if constexpr (std::is_signed<S>::value) {  // signed -> unsigned
      ok = v >= 0 && std::uint64_t(v) <= std::uint64_t(std::numeric_limits<T>::max());
    } else {  // unsigned -> signed
      ok = std::uint64_t(v) <= std::uint64_t(std::numeric_limits<T>::max());
    }
    if (!ok) fail(what, ": value ", +v, " does not fit ", sizeof(T) * 8, "-bit ", std::is_signed<T>::value ? "int" : "uint");
    return T(v);
  }
}

template <class T, class S>
inline void convert_all(const std::uint8_t* src, T* dst, std::size_t n, const std::string& what) {
  if constexpr (std::is_same<S, T>::value) {
    if (n) std::memcpy(dst, src, n * sizeof(T));
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = convert<T>(load<S>(src + i * sizeof(S)), what);
  }
}

template <class T>
inline void convert_any(const NdArray& a, T* dst, const std::string& what) {
  const std::size_t n = std::size_t(a.numel());
  const std::uint8_t* s = a.data.data();
  switch (a.dtype) {
    case DType::f16: return convert_all<T, half>(s, dst, n, what);
    case DType::bf16: return convert_all<T, bfloat16>(s, dst, n, what);
    case DType::f32: return convert_all<T, float>(s, dst, n, what);
    case DType::f64: return convert_all<T, double>(s, dst, n, what);
    case DType::i8: return convert_all<T, std::int8_t>(s, dst, n, what);
    case DType::i16: return convert_all<T, std::int16_t>(s, dst, n, what);
    case DType::i32: return convert_all<T, std::int32_t>(s, dst, n, what);
    case DType::i64: return convert_all<T, std::int64_t>(s, dst, n, what);
    case DType::u8: return convert_all<T, std::uint8_t>(s, dst, n, what);
    case DType::u16: return convert_all<T, std::uint16_t>(s, dst, n, what);
    case DType::u32: return convert_all<T, std::uint32_t>(s, dst, n, what);
    case DType::u64: return convert_all<T, std::uint64_t>(s, dst, n, what);
    case DType::boolean:
      for (std::size_t i = 0; i < n; ++i) {
        if (s[i] > 1) fail(what, ": bool element ", i, " has byte value ", int(s[i]));
        dst[i] = convert<T>(s[i] != 0, what);
      }
      return;
    case DType::bytes:
    case DType::unicode: break;
  }
  fail(what, ": ", a.describe(), " is a string array, not numeric");
}

}  // namespace nd_detail

// Any numeric dtype -> Tensor<T> (T: float, double, half, bfloat16, or an integer type).
template <class T>
Tensor<T> to_tensor(const NdArray& a, const std::string& what = "array") {
  if (!a.is_numeric()) fail(what, ": ", a.describe(), " is a string array; cannot make a numeric tensor");
  check_ndarray(a, what);
  Tensor<T> t(a.shape);
  nd_detail::convert_any<T>(a, t.data(), what);
  return t;
}

template <class T>
std::vector<T> to_vector(const NdArray& a, const std::string& what = "array") {
  if (!a.is_numeric()) fail(what, ": ", a.describe(), " is a string array; cannot convert to numbers");
  check_ndarray(a, what);
  std::vector<T> v(std::size_t(a.numel()));
  nd_detail::convert_any<T>(a, v.data(), what);
  return v;
}

// ---- strings --------------------------------------------------------------

// UTF-8 -> code points; throws on malformed input.
inline std::vector<std::uint32_t> decode_utf8(const std::string& s, const std::string& what) {
  std::vector<std::uint32_t> cps;
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) fail(what, ": invalid UTF-8 at byte ", i);
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      unsigned char d = s[i + k];
      if ((d >> 6) != 2) fail(what, ": invalid UTF-8 at byte ", i + k);
      cp = (cp << 6) | (d & 0x3f);
    }
    static const std::uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      fail(what, ": invalid UTF-8 code point at byte ", i);
    cps.push_back(cp);
    i += std::size_t(len);
  }
  return cps;
}

// 'S' arrays: raw bytes with trailing NULs removed (as numpy does); 'U' arrays: UTF-8.
inline std::vector<std::string> to_strings(const NdArray& a, const std::string& what = "array") {
  if (a.is_numeric()) fail(what, ": ", a.describe(), " is numeric, not a string array");
  check_ndarray(a, what);
  const std::size_t n = std::size_t(a.numel());
  std::vector<std::string> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = a.data.data() + i * a.itemsize;
    if (a.dtype == DType::bytes) {
      std::size_t len = a.itemsize;
      while (len > 0 && p[len - 1] == 0) --len;
      out[i].assign(reinterpret_cast<const char*>(p), len);
    } else {
      std::size_t chars = a.itemsize / 4;
      while (chars > 0 && nd_detail::load<std::uint32_t>(p + 4 * (chars - 1)) == 0) --chars;
      for (std::size_t k = 0; k < chars; ++k) {
        std::uint32_t cp = nd_detail::load<std::uint32_t>(p + 4 * k);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
          fail(what, ": element ", i, " has invalid code point ", cp);
        append_utf8(out[i], cp);
      }
    }
  }
  return out;
}

// Strings -> 'S' (bytes) or 'U' (unicode, UTF-8 input) array of the given shape
// ({} is 0-d), width = the longest string (at least 1).
inline NdArray from_strings(const std::vector<std::string>& v, bool unicode, Shape shape) {
  std::vector<std::vector<std::uint32_t>> cps;
  std::size_t width = 1;
  for (const auto& s : v) {
    if (unicode) {
      cps.push_back(decode_utf8(s, "from_strings"));
      width = std::max(width, cps.back().size());
    } else {
      width = std::max(width, s.size());
    }
  }
  if (std::uint64_t(shape_numel(shape)) != v.size()) fail("from_strings: ", v.size(), " strings for shape ", shape_str(shape));
  NdArray a = make_ndarray(unicode ? DType::unicode : DType::bytes, shape, unicode ? 4 * width : width);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint8_t* p = a.data.data() + i * a.itemsize;
    if (unicode) {
      for (std::size_t k = 0; k < cps[i].size(); ++k) std::memcpy(p + 4 * k, &cps[i][k], 4);
    } else if (!v[i].empty()) {
      std::memcpy(p, v[i].data(), v[i].size());
    }
  }
  return a;
}

// A 1-d string array.
inline NdArray from_strings(const std::vector<std::string>& v, bool unicode = false) {
  return from_strings(v, unicode, Shape{std::int64_t(v.size())});
}

}  // namespace io
}  // namespace finepose
