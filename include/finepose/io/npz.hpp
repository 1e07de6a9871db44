#pragma once
// NumPy .npz: a zip of .npy files, one per array (keys without ".npy").
// np.savez stores, np.savez_compressed deflates; both read through ZipReader.
#include <map>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/npy.hpp"
#include "finepose/io/zip.hpp"

namespace finepose {
namespace io {

using NpzMap = std::map<std::string, NdArray>;

namespace npz_detail {
inline bool is_npy_name(const std::string& n) { return n.size() > 4 && n.compare(n.size() - 4, 4, ".npy") == 0; }
inline std::string key_of(const std::string& n) { return n.substr(0, n.size() - 4); }
}  // namespace npz_detail

// Largest total of array bytes one archive may inflate to (load_npz's default):
// a member's size must also be exactly what its .npy header declares, so a
// small archive cannot make a reader allocate gigabytes it never announced.
constexpr std::uint64_t kMaxNpzBytes = std::uint64_t(1) << 30;  // 268M float32 numbers: 5M frames of 17 x 3

namespace npz_detail {
// Reads one member after checking, from its header alone, that its size is
// what the array needs and that `budget` (bytes left for this archive) covers it.
inline NdArray read_member(const ZipReader& zip, const ZipEntry& e, const std::string& what, std::uint64_t& budget) {
  const std::vector<std::uint8_t> pre = zip.read_prefix(e, kNpyPreamble);
  const std::size_t off = npy_data_offset_hint(pre.data(), pre.size());
  if (off > 0 && off <= kNpyPreamble + npy_detail::kMaxHeader && off <= e.uncompressed_size) {
    const std::vector<std::uint8_t> head = zip.read_prefix(e, off);
    const NpyLayout l = npy_layout(head.data(), head.size(), what);
    if (std::uint64_t(l.data_offset) + l.data_bytes != e.uncompressed_size)
      fail(what, ": the archive says ", e.uncompressed_size, " bytes, the array header ", l.descr, " ", shape_str(l.shape), " needs ",
           l.data_offset + l.data_bytes);
  }
  if (e.uncompressed_size > budget)
    fail(what, ": ", e.uncompressed_size, " bytes is more than this reader's limit (", budget, " bytes left of ", kMaxNpzBytes, ")");
  budget -= e.uncompressed_size;
  return parse_npy(zip.read(e), what);  // a header too short to peek at fails here, with the parser's message
}
}  // namespace npz_detail

// Every ".npy" member of the archive; other members are ignored.
inline NpzMap parse_npz(const ZipReader& zip, std::uint64_t max_bytes = kMaxNpzBytes) {
  NpzMap out;
  std::uint64_t budget = max_bytes;
  for (const auto& e : zip.entries()) {
    if (!npz_detail::is_npy_name(e.name)) continue;
    const std::string key = npz_detail::key_of(e.name);
    out[key] = npz_detail::read_member(zip, e, zip.label() + ": array '" + key + "'", budget);
  }
  return out;
}

inline NpzMap parse_npz(std::vector<std::uint8_t> bytes, const std::string& label, std::uint64_t max_bytes = kMaxNpzBytes) {
  return parse_npz(ZipReader(std::move(bytes), label), max_bytes);
}

inline NpzMap load_npz(const std::string& path, std::uint64_t max_bytes = kMaxNpzBytes) {
  return parse_npz(ZipReader::open(path), max_bytes);
}

// Names of the arrays in an archive, in archive order.
inline std::vector<std::string> npz_keys(const ZipReader& zip) {
  std::vector<std::string> keys;
  for (const auto& e : zip.entries())
    if (npz_detail::is_npy_name(e.name)) keys.push_back(npz_detail::key_of(e.name));
  return keys;
}

inline NdArray npz_array(const ZipReader& zip, const std::string& name) {
  const ZipEntry* e = zip.find(name + ".npy");
  if (!e) {
    std::string present;
    for (const auto& k : npz_keys(zip)) present += (present.empty() ? "" : ", ") + k;
    fail(zip.label(), ": no array '", name, "' (present: ", present.empty() ? "none" : present, ")");
  }
  std::uint64_t budget = kMaxNpzBytes;
  return npz_detail::read_member(zip, *e, zip.label() + ": array '" + name + "'", budget);
}

// One array, without parsing the others.
inline NdArray load_npz_array(const std::string& path, const std::string& name) {
  return npz_array(ZipReader::open(path), name);
}

inline std::vector<std::uint8_t> serialize_npz(const NpzMap& arrays, bool compress = false) {
  ZipWriter w;
  for (const auto& kv : arrays) {
    if (kv.first.empty()) fail("save_npz: empty array name");
    w.add(kv.first + ".npy", serialize_npy(kv.second, "npz array '" + kv.first + "'"), compress);
  }
  return w.finish();
}

inline void save_npz(const std::string& path, const NpzMap& arrays, bool compress = false,
                     Existing existing = Existing::replace) {
  write_file(path, serialize_npz(arrays, compress), existing);
}

}  // namespace io
}  // namespace finepose
