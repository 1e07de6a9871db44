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

// Every ".npy" member of the archive; other members are ignored.
inline NpzMap parse_npz(const ZipReader& zip) {
  NpzMap out;
  for (const auto& e : zip.entries()) {
    if (!npz_detail::is_npy_name(e.name)) continue;
    out[npz_detail::key_of(e.name)] = parse_npy(zip.read(e), zip.label() + ": array '" + npz_detail::key_of(e.name) + "'");
  }
  return out;
}

inline NpzMap parse_npz(std::vector<std::uint8_t> bytes, const std::string& label) {
  return parse_npz(ZipReader(std::move(bytes), label));
}

inline NpzMap load_npz(const std::string& path) { return parse_npz(ZipReader::open(path)); }

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
  return parse_npy(zip.read(*e), zip.label() + ": array '" + name + "'");
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

inline void save_npz(const std::string& path, const NpzMap& arrays, bool compress = false) {
  write_file(path, serialize_npz(arrays, compress));
}

}  // namespace io
}  // namespace finepose
