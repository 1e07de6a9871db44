#pragma once
// safetensors (https://github.com/huggingface/safetensors, format section of its README):
//   u64 little-endian N | N bytes of JSON header | data buffer
// The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end)}
// (offsets relative to the data buffer) plus an optional "__metadata__"
// string->string map. Validation follows the reference implementation: the
// tensors tile the data buffer exactly (no gaps, no overlaps, nothing left
// over), and every byte range equals numel * itemsize.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/io/bytes.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/io/ndarray.hpp"

namespace finepose {
namespace io {

struct SafeTensors {
  std::map<std::string, NdArray> tensors;
  std::map<std::string, std::string> metadata;

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  const NdArray& at(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) fail("safetensors: no tensor '", name, "' (", tensors.size(), " tensors)");
    return it->second;
  }
};

namespace st_detail {

constexpr std::uint64_t kMaxHeader = 100000000;  // the reference implementation's limit

inline DType dtype_from_code(const std::string& code, const std::string& where) {
  static const std::map<std::string, DType> codes = {
      {"F16", DType::f16}, {"BF16", DType::bf16}, {"F32", DType::f32}, {"F64", DType::f64},
      {"I8", DType::i8},   {"I16", DType::i16},   {"I32", DType::i32}, {"I64", DType::i64},
      {"U8", DType::u8},   {"U16", DType::u16},   {"U32", DType::u32}, {"U64", DType::u64},
      {"BOOL", DType::boolean}};
  auto it = codes.find(code);
  if (it == codes.end()) fail(where, ": dtype '", code, "' is not supported");
  return it->second;
}

inline const char* code_of(DType d, const std::string& where) {
  switch (d) {
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i8: return "I8";
    case DType::i16: return "I16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::u16: return "U16";
    case DType::u32: return "U32";
    case DType::u64: return "U64";
    case DType::boolean: return "BOOL";
    case DType::bytes:
    case DType::unicode: break;
  }
  fail(where, ": ", dtype_name(d), " arrays cannot be stored in safetensors");
}

inline std::uint64_t offset_value(const json::Value& v, const std::string& where) {
  if (!v.is_int() || v.as_int64() < 0) fail(where, ": data_offsets must be non-negative integers");
  return std::uint64_t(v.as_int64());
}

}  // namespace st_detail

// `label` names the source in errors (usually the path).
inline SafeTensors parse_safetensors(const std::uint8_t* p, std::size_t size, const std::string& label = "safetensors") {
  using namespace st_detail;
  if (size < 8) fail(label, ": ", size, " bytes, too short for a safetensors header length");
  const std::uint64_t n = load_le<std::uint64_t>(p);
  if (n > kMaxHeader) fail(label, ": header length ", n, " exceeds the limit of ", kMaxHeader);
  if (n > size - 8) fail(label, ": header length ", n, " runs past the end of the file (", size, " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(p + 8), std::size_t(n));
  if (text.empty() || text[0] != '{') fail(label, ": header does not start with '{'");
  const json::Value header = json::parse(text, label + " (header)");
  if (!header.is_object()) fail(label, ": header is not a JSON object");

  SafeTensors out;
  const std::uint8_t* buffer = p + 8 + n;
  const std::uint64_t buffer_size = size - 8 - n;
  struct Range {
    std::uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string& name = header.key(i);
    const json::Value& info = header.at(i);
    const std::string where = label + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      if (!info.is_object()) fail(label, ": __metadata__ is not an object");
      for (std::size_t k = 0; k < info.size(); ++k) {
        if (!info.at(k).is_string()) fail(label, ": __metadata__ value of '", info.key(k), "' is not a string");
        out.metadata[info.key(k)] = info.at(k).as_string();
      }
      continue;
    }
    if (!info.is_object()) fail(where, ": entry is not an object");
    const json::Value* dt = info.find("dtype");
    const json::Value* sh = info.find("shape");
    const json::Value* off = info.find("data_offsets");
    if (!dt || !dt->is_string()) fail(where, ": missing or non-string 'dtype'");
    if (!sh || !sh->is_array()) fail(where, ": missing or non-array 'shape'");
    if (!off || !off->is_array() || off->size() != 2) fail(where, ": 'data_offsets' must be [begin, end]");
    NdArray a;
    a.dtype = dtype_from_code(dt->as_string(), where);
    a.itemsize = dtype_size(a.dtype);
    for (std::size_t k = 0; k < sh->size(); ++k) {
      const json::Value& d = sh->at(k);
      if (!d.is_int() || d.as_int64() < 0) fail(where, ": shape entries must be non-negative integers");
      a.shape.push_back(d.as_int64());
    }
    const std::size_t need = checked_nbytes(a.shape, a.itemsize, where);
    const std::uint64_t begin = offset_value(off->at(0), where), end = offset_value(off->at(1), where);
    if (begin > end) fail(where, ": data_offsets [", begin, ", ", end, ") are reversed");
    if (end > buffer_size)
      fail(where, ": data_offsets [", begin, ", ", end, ") run past the data buffer (", buffer_size, " bytes)");
    if (end - begin != need)
      fail(where, ": ", dt->as_string(), shape_str(a.shape), " needs ", need, " bytes, data_offsets span ", end - begin);
    ranges.push_back({begin, end, name});
    out.tensors.emplace(name, std::move(a));
  }
  // The tensors must tile the buffer: sorted by offset, each starts where the last ended.
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  std::uint64_t expected = 0;
  for (const auto& r : ranges) {
    if (r.begin < expected)
      fail(label, ": tensor '", r.name, "' data [", r.begin, ", ", r.end, ") overlaps the previous tensor (ends at ",
           expected, ")");
    if (r.begin > expected)
      fail(label, ": gap in the data buffer before tensor '", r.name, "' (", expected, " to ", r.begin, ")");
    expected = r.end;
  }
  if (expected != buffer_size)
    fail(label, ": the data buffer has ", buffer_size - expected, " bytes not covered by any tensor");
  // Copy only now: overlapping ranges could otherwise multiply the file's size in memory.
  for (const auto& r : ranges) out.tensors[r.name].data.assign(buffer + r.begin, buffer + r.end);
  return out;
}

inline SafeTensors parse_safetensors(const std::vector<std::uint8_t>& bytes, const std::string& label = "safetensors") {
  return parse_safetensors(bytes.data(), bytes.size(), label);
}

inline SafeTensors load_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

inline std::vector<std::uint8_t> serialize_safetensors(const std::map<std::string, NdArray>& tensors,
                                                       const std::map<std::string, std::string>& metadata = {}) {
  // Largest itemsize first: with an 8-aligned header every tensor is aligned to its element size.
  std::vector<const std::pair<const std::string, NdArray>*> order;
  for (const auto& kv : tensors) {
    if (kv.first == "__metadata__" || kv.first.empty()) fail("save_safetensors: invalid tensor name '", kv.first, "'");
    check_ndarray(kv.second, "save_safetensors: tensor '" + kv.first + "'");
    st_detail::code_of(kv.second.dtype, "save_safetensors: tensor '" + kv.first + "'");
    order.push_back(&kv);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return a->second.itemsize > b->second.itemsize; });
  json::Value header = json::Value::object();
  if (!metadata.empty()) {
    json::Value m = json::Value::object();
    for (const auto& kv : metadata) m[kv.first] = kv.second;
    header["__metadata__"] = std::move(m);
  }
  std::uint64_t offset = 0;
  for (const auto* kv : order) {
    json::Value info = json::Value::object();
    info["dtype"] = st_detail::code_of(kv->second.dtype, kv->first);
    json::Value shape = json::Value::array();
    for (auto d : kv->second.shape) shape.push_back(json::Value(static_cast<long long>(d)));
    info["shape"] = std::move(shape);
    const std::uint64_t end = offset + kv->second.data.size();
    info["data_offsets"] = json::Value::array({json::Value(static_cast<unsigned long long>(offset)),
                                               json::Value(static_cast<unsigned long long>(end))});
    header[kv->first] = std::move(info);
    offset = end;
  }
  std::string text = json::dump_compact(header);
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> out;
  out.reserve(8 + text.size() + offset);
  append_le<std::uint64_t>(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
  for (const auto* kv : order) out.insert(out.end(), kv->second.data.begin(), kv->second.data.end());
  return out;
}

inline void save_safetensors(const std::string& path, const std::map<std::string, NdArray>& tensors,
                             const std::map<std::string, std::string>& metadata = {},
                             Existing existing = Existing::replace) {
  write_file(path, serialize_safetensors(tensors, metadata), existing);
}

}  // namespace io
}  // namespace finepose
