#pragma once
// Object arrays ('|O') inside an .npz: np.save writes the usual .npy header and
// then the pickled array, which npy.hpp rightly refuses to interpret. Here the
// header is checked and the pickle after it is handed to the safe unpickler
// (nothing is executed; only data globals are accepted).
//
//   pickle::Value d = data::npz_object(zip, "positions_3d");   // the 0-d array's item
//   d.as_dict() ...
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/io/pickle.hpp"
#include "finepose/io/pickle_numpy.hpp"
#include "finepose/io/zip.hpp"

namespace finepose::data {

// The pickle payload of an '|O' .npy file; `what` names it in errors.
inline std::string npy_object_payload(const std::vector<std::uint8_t>& b, const std::string& what) {
  static const std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (b.size() < 10 || std::memcmp(b.data(), magic, 6) != 0) fail(what, ": not a .npy file (bad magic)");
  std::size_t header_len, prefix;
  if (b[6] == 1) {
    header_len = std::size_t(b[8]) | std::size_t(b[9]) << 8;
    prefix = 10;
  } else if (b[6] == 2 || b[6] == 3) {
    if (b.size() < 12) fail(what, ": .npy preamble is truncated");
    header_len = std::size_t(b[8]) | std::size_t(b[9]) << 8 | std::size_t(b[10]) << 16 | std::size_t(b[11]) << 24;
    prefix = 12;
  } else {
    fail(what, ": .npy format version ", int(b[6]), " is not supported");
  }
  if (header_len > b.size() - prefix) fail(what, ": .npy header runs past the end of the file");
  const std::string header(reinterpret_cast<const char*>(b.data() + prefix), header_len);
  if (header.find("'descr': '|O'") == std::string::npos)
    fail(what, ": not an object array (header ", header.substr(0, 80), "); read it with io::npz_array");
  if (prefix + header_len == b.size()) fail(what, ": object array without a pickle payload");
  return std::string(reinterpret_cast<const char*>(b.data() + prefix + header_len), b.size() - prefix - header_len);
}

// The object array `name` of an archive, unpickled.
inline pickle::ObjectArray npz_object_array(const io::ZipReader& zip, const std::string& name) {
  const io::ZipEntry* e = zip.find(name + ".npy");
  if (!e) {
    std::string present;
    for (const auto& k : io::npz_keys(zip)) present += (present.empty() ? "" : ", ") + k;
    fail(zip.label(), ": no array '", name, "' (present: ", present.empty() ? "none" : present, ")");
  }
  const std::string what = zip.label() + ": array '" + name + "'";
  const pickle::Value v = pickle::loads(npy_object_payload(zip.read(*e), what));
  return pickle::to_object_array(v, what);
}

// The single item of a 0-d object array (how np.savez stores a dict).
inline pickle::Value npz_object(const io::ZipReader& zip, const std::string& name) {
  pickle::ObjectArray a = npz_object_array(zip, name);
  if (a.items.size() != 1)
    fail(zip.label(), ": array '", name, "' holds ", a.items.size(), " objects of shape ", shape_str(a.shape),
         ", expected a single object (0-d array)");
  return a.items[0];
}

}  // namespace finepose::data
