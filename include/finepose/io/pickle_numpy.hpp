#pragma once
// numpy arrays as the safe unpickler leaves them, turned into NdArray.
//
// A pickled ndarray is `_reconstruct(ndarray, (0,), b'b')` followed by BUILD
// with (version, shape, dtype, is_fortran, data): data is raw bytes for
// numeric/string dtypes and a list of Python objects for dtype 'O' (how
// VideoPose3D's .npz files hold dicts of dicts of lists of arrays). Protocol 5
// writes `_frombuffer(bytes, dtype, shape, order)` instead; numpy scalars are
// `scalar(dtype, bytes)`. A dtype is `dtype('f4', False, True)` + BUILD with
// (version, byteorder, subarray, names, fields, elsize, alignment, flags).
//
//   pickle::Value v = pickle::loads(payload);               // an '|O' .npy payload
//   pickle::ObjectArray objs = pickle::to_object_array(v, "positions_2d");
//   NdArray kp = pickle::to_ndarray(objs.items[0].as_dict().at("S1")...);
#include <cstdint>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/io/ndarray.hpp"
#include "finepose/io/npy.hpp"
#include "finepose/io/pickle.hpp"

namespace finepose {
namespace pickle {

// A numpy array of Python objects (dtype 'O'), in C order.
struct ObjectArray {
  Shape shape;
  std::vector<Value> items;
};

// What a pickled numpy.dtype says.
struct NumpyDType {
  bool object = false;          // dtype 'O'
  io::DType dtype = io::DType::f32;  // when !object
  std::size_t itemsize = 0;
  bool big_endian = false;
};

inline bool is_ndarray(const Value& v) {
  return v.is_object("numpy.ndarray") || v.is_object("numpy.core.numeric._frombuffer");
}
inline bool is_numpy_scalar(const Value& v) { return v.is_object("numpy.core.multiarray.scalar"); }

inline NumpyDType numpy_dtype(const Value& v, const std::string& what) {
  if (!v.is_object("numpy.dtype")) fail(what, ": dtype is a ", v.describe(), ", not a numpy.dtype");
  const Object& o = v.as_object();
  const auto& args = o.args.items();
  if (args.empty() || !args[0].is_string()) fail(what, ": numpy.dtype without a type string");
  const std::string& type = args[0].as_string();
  char order = '|';
  if (o.has_state) {
    const auto& st = o.state.items("dtype state");
    if (st.size() < 8) fail(what, ": numpy.dtype state has ", st.size(), " fields, expected 8 or 9");
    const std::string& bo = st[1].as_string("dtype byte order");
    if (bo.size() != 1) fail(what, ": dtype byte order '", detail::printable(bo), "'");
    order = bo[0];
    if (!st[2].is_none()) fail(what, ": sub-array dtypes are not supported");
    if (!st[3].is_none() || !st[4].is_none()) fail(what, ": structured dtypes are not supported");
  }
  NumpyDType d;
  if (type == "O8" || type == "O4" || type == "O") {
    d.object = true;
    return d;
  }
  if (order == '=') order = io::host_is_little_endian() ? '<' : '>';
  io::npy_detail::parse_descr(std::string(1, order) + type, what, d.dtype, d.itemsize, d.big_endian);
  return d;
}

namespace numpy_detail {

// Raw bytes in file order → NdArray data in C order, little-endian.
inline io::NdArray numeric_array(const NumpyDType& dt, Shape shape, const std::string& raw, bool fortran,
                                 const std::string& what) {
  io::NdArray a;
  a.dtype = dt.dtype;
  a.itemsize = dt.itemsize;
  const std::size_t need = io::checked_nbytes(shape, dt.itemsize, what);
  if (raw.size() != need)
    fail(what, ": ", raw.size(), " data bytes for ", io::dtype_name(dt.dtype), shape_str(shape), " (need ", need, ")");
  a.data.assign(raw.begin(), raw.end());
  if (dt.big_endian) {
    // 'U' is UTF-32: swap each 4-byte code unit; 'S' has no byte order.
    if (dt.dtype == io::DType::unicode) io::npy_detail::byteswap_elements(a.data, 4);
    else if (dt.dtype != io::DType::bytes) io::npy_detail::byteswap_elements(a.data, dt.itemsize);
  }
  if (fortran) a.data = io::npy_detail::fortran_to_c(a.data, shape, dt.itemsize);
  a.shape = std::move(shape);
  return a;
}

inline Shape shape_of(const Value& v, const std::string& what) {
  Shape s;
  for (const auto& x : v.items("array shape")) {
    if (!x.is_int() || x.as_int() < 0) fail(what, ": array shape holds ", x.describe());
    s.push_back(x.as_int());
  }
  return s;
}

struct Parts {
  Shape shape;
  NumpyDType dtype;
  bool fortran = false;
  const Value* data = nullptr;  // bytes (numeric) or list (object)
};

inline Parts parts_of(const Value& v, const std::string& what) {
  Parts p;
  if (v.is_object("numpy.core.numeric._frombuffer")) {  // protocol 5: (buffer, dtype, shape, order)
    const auto& a = v.as_object().args.items();
    if (a.size() != 4) fail(what, ": _frombuffer with ", a.size(), " arguments");
    p.data = &a[0];
    p.dtype = numpy_dtype(a[1], what);
    p.shape = shape_of(a[2], what);
    p.fortran = a[3].is_string() && a[3].as_string() == "F";
    return p;
  }
  if (!v.is_object("numpy.ndarray")) fail(what, ": is a ", v.describe(), ", not a numpy array");
  const Object& o = v.as_object();
  if (!o.has_state) fail(what, ": numpy array without its BUILD state");
  const auto& st = o.state.items("array state");
  if (st.size() != 5) fail(what, ": array state has ", st.size(), " fields, expected 5");
  p.shape = shape_of(st[1], what);
  p.dtype = numpy_dtype(st[2], what);
  p.fortran = st[3].as_bool("array fortran flag");
  p.data = &st[4];
  return p;
}

}  // namespace numpy_detail

// A numeric, bool, 'S' or 'U' numpy array (or numpy scalar, as 0-d) → NdArray.
inline io::NdArray to_ndarray(const Value& v, const std::string& what = "numpy array") {
  if (is_numpy_scalar(v)) {
    const auto& a = v.as_object().args.items();
    if (a.size() != 2) fail(what, ": numpy scalar with ", a.size(), " arguments");
    NumpyDType dt = numpy_dtype(a[0], what);
    if (dt.object) fail(what, ": numpy object scalar");
    if (!a[1].is_bytes()) fail(what, ": numpy scalar data is a ", a[1].describe());
    return numpy_detail::numeric_array(dt, Shape{}, a[1].as_bytes(), false, what);
  }
  numpy_detail::Parts p = numpy_detail::parts_of(v, what);
  if (p.dtype.object) fail(what, ": is an object array (dtype 'O'); use to_object_array");
  if (!p.data->is_bytes() && !p.data->is_string())
    fail(what, ": array data is a ", p.data->describe(), ", not bytes");
  // Python-2 pickles may leave the data as latin-1 str; we keep it as UTF-8 text.
  const std::string raw = p.data->is_bytes() ? p.data->as_bytes() : detail::utf8_to_latin1(p.data->as_string(), what);
  return numpy_detail::numeric_array(p.dtype, p.shape, raw, p.fortran, what);
}

// An object array (dtype 'O') → its shape and items in C order.
inline ObjectArray to_object_array(const Value& v, const std::string& what = "numpy array") {
  numpy_detail::Parts p = numpy_detail::parts_of(v, what);
  if (!p.dtype.object) fail(what, ": is a ", io::dtype_name(p.dtype.dtype), " array, not an object array");
  const auto& items = p.data->items("object array data");
  const std::int64_t n = shape_numel(p.shape);
  if (std::int64_t(items.size()) != n)
    fail(what, ": object array of shape ", shape_str(p.shape), " holds ", items.size(), " items");
  ObjectArray r;
  r.shape = p.shape;
  if (!p.fortran || p.shape.size() < 2) {
    r.items = items;
    return r;
  }
  // Fortran order → C order.
  r.items.resize(items.size());
  const std::size_t nd = p.shape.size();
  std::vector<std::int64_t> idx(nd, 0);
  for (std::size_t lin = 0; lin < items.size(); ++lin) {
    std::int64_t f = 0, acc = 1;
    for (std::size_t k = 0; k < nd; ++k) {
      f += idx[k] * acc;
      acc *= p.shape[k];
    }
    r.items[lin] = items[std::size_t(f)];
    for (std::size_t k = nd; k-- > 0;) {
      if (++idx[k] < p.shape[k]) break;
      idx[k] = 0;
    }
  }
  return r;
}


// A numpy.random.RandomState as the unpickler leaves it (official checkpoints'
// 'random_state': the object itself, any numpy version), or the tuple that
// RandomState.get_state() returns. Inert data: key, pos and the cached Gaussian.
struct NumpyRandomState {
  std::string bit_generator = "MT19937";
  std::vector<std::uint32_t> key;  // 624 words
  std::int64_t pos = 0;            // 0..624
  bool has_gauss = false;
  double gauss = 0.0;
};

inline bool is_random_state(const Value& v) { return v.is_object("numpy.random.RandomState"); }

inline NumpyRandomState to_random_state(const Value& v, const std::string& what = "random_state") {
  const Value* state = &v;
  if (is_random_state(v)) {
    if (!v.as_object().has_state) fail(what, ": a RandomState without its state");
    state = &v.as_object().state;
  }
  NumpyRandomState r;
  const Value* key = nullptr;
  if (state->is_tuple() || state->is_list()) {  // get_state() / numpy < 1.17: ('MT19937', key, pos, has_gauss, gauss)
    const auto& t = state->items(what.c_str());
    if (t.size() != 5 || !t[0].is_string() || t[0].as_string() != "MT19937")
      fail(what, ": not an MT19937 state tuple ('MT19937', key, pos, has_gauss, gauss)");
    key = &t[1];
    r.pos = t[2].as_int("pos");
    r.has_gauss = t[3].as_int("has_gauss") != 0;
    r.gauss = t[4].as_double("gauss");
  } else if (state->is_dict()) {  // get_state(legacy=False) / the pickled object's BUILD state
    const Dict& d = state->as_dict();
    if (!d.has("bit_generator") || !d.has("state") || !d.has("has_gauss") || !d.has("gauss"))
      fail(what, ": RandomState state dict without bit_generator/state/has_gauss/gauss");
    r.bit_generator = d.at("bit_generator").as_string("bit_generator");
    if (r.bit_generator != "MT19937") fail(what, ": bit generator '", detail::printable(r.bit_generator), "', not MT19937");
    const Dict& st = d.at("state").as_dict("state");
    if (!st.has("key") || !st.has("pos")) fail(what, ": MT19937 state without key/pos");
    key = &st.at("key");
    r.pos = st.at("pos").as_int("pos");
    r.has_gauss = d.at("has_gauss").as_int("has_gauss") != 0;
    r.gauss = d.at("gauss").as_double("gauss");
  } else {
    fail(what, ": a ", v.describe(), ", not a numpy RandomState");
  }
  io::NdArray k = to_ndarray(*key, what + " key");
  if (k.dtype != io::DType::u32 || k.shape != Shape{624})
    fail(what, ": MT19937 key must be uint32 (624,), got ", io::dtype_name(k.dtype), " ", shape_str(k.shape));
  r.key = io::to_vector<std::uint32_t>(k);
  if (r.pos < 0 || r.pos > 624) fail(what, ": MT19937 position ", r.pos, " outside 0..624");
  return r;
}

}  // namespace pickle
}  // namespace finepose
