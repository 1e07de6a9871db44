#pragma once
// PyTorch checkpoints (torch.save zip format, torch >= 1.6) read without Python.
//
// The archive holds <dir>/data.pkl (the pickled object) and <dir>/data/<key>
// (raw storage bytes). The pickle goes through the safe unpickler; tensors in it
// are inert `_rebuild_tensor_v2(storage, offset, size, stride, ...)` records
// whose storage is a persistent id ('storage', torch.FloatStorage, key,
// location, numel). Here those records become Tensor<float> (and, for integer
// and bool storages, also Tensor<int64_t>), each view checked against its
// storage's bytes. A key filter decides which tensors are read at all: an
// optimizer's moments or CLIP's visual tower need never be materialised.
//
//   auto ck = io::load_torch_checkpoint("checkpoint/best_epoch.bin", opts);
//   StateDict sd = ck.state_dict("model_pos");   // 'module.' prefixes stripped
//   double epoch = ck.scalar("epoch");
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/half.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/pickle.hpp"
#include "finepose/io/pickle_numpy.hpp"
#include "finepose/io/zip.hpp"

namespace finepose {
namespace io {

struct TorchLoadOptions {
  // Called with each tensor's full key ("model_pos.module.x.weight",
  // "optimizer.state.0.exp_avg"); false means the tensor is not read.
  // Empty: every tensor is read.
  std::function<bool(const std::string& key)> keep;
  pickle::Limits limits;
};
using LoadOptions = TorchLoadOptions;

// What a tensor was in the file, whether or not it was read.
struct TorchTensorInfo {
  std::string dtype;        // torch name: float32, float16, bfloat16, float64, int64, ...
  Shape shape;
  std::string storage_key;  // data/<key> in the archive
  bool loaded = false;      // false when keep() said no
};

struct TorchCheckpoint {
  std::string path;
  pickle::Value root;                                   // the unpickled object; tensors stay records
  std::map<std::string, double> scalars;                // top-level numbers: epoch, lr, and
                                                        // one-element tensors / numpy scalars
  std::map<std::string, TensorF> tensors;               // every loaded tensor as float32, by full key
  std::map<std::string, Tensor<std::int64_t>> int_tensors;  // integer/bool tensors, exact
  std::map<std::string, TorchTensorInfo> info;          // every tensor in the file, loaded or not
  bool has_random_state = false;                        // top-level 'random_state' (main.py saves the
  pickle::NumpyRandomState random_state;                // generator's RandomState object): inert data

  bool has_scalar(const std::string& name) const { return scalars.count(name) != 0; }
  double scalar(const std::string& name) const {
    auto it = scalars.find(name);
    if (it == scalars.end()) fail(path, ": no top-level number '", name, "' in the checkpoint");
    return it->second;
  }
  // Top-level keys of the checkpoint dict.
  std::vector<std::string> entries() const;

  // The tensors directly inside top-level entry `entry` (a state dict), keyed
  // as PyTorch names them inside it, with DataParallel's leading 'module.'
  // stripped. An empty entry, or a file that is itself a bare state dict (only
  // tensors at the top level) and has no such entry, gives the top-level tensors. Integer tensors appear as
  // float32 here; int_state_dict has them exactly.
  std::map<std::string, TensorF> state_dict(const std::string& entry = "model_pos", bool strip_module = true) const {
    return collect<float>(tensors, entry, strip_module);
  }
  std::map<std::string, Tensor<std::int64_t>> int_state_dict(const std::string& entry = "model_pos",
                                                            bool strip_module = true) const {
    return collect<std::int64_t>(int_tensors, entry, strip_module);
  }

 private:
  template <class T>
  std::map<std::string, Tensor<T>> collect(const std::map<std::string, Tensor<T>>& from, const std::string& entry,
                                           bool strip_module) const;
};

namespace torch_detail {

struct StorageType {
  enum Code { f32, f64, f16, bf16, i64, i32, i16, i8, u8, b8, c64, c128 };
  const char* storage;  // class name without module
  const char* dtype;    // torch dtype name
  std::size_t itemsize;
  Code code;
  bool floating() const { return code == f32 || code == f64 || code == f16 || code == bf16; }
  bool complex() const { return code == c64 || code == c128; }
};

inline const StorageType& storage_type(const std::string& global, const std::string& where) {
  static const StorageType kTypes[] = {
      {"FloatStorage", "float32", 4, StorageType::f32},   {"DoubleStorage", "float64", 8, StorageType::f64},
      {"HalfStorage", "float16", 2, StorageType::f16},    {"BFloat16Storage", "bfloat16", 2, StorageType::bf16},
      {"LongStorage", "int64", 8, StorageType::i64},      {"IntStorage", "int32", 4, StorageType::i32},
      {"ShortStorage", "int16", 2, StorageType::i16},     {"CharStorage", "int8", 1, StorageType::i8},
      {"ByteStorage", "uint8", 1, StorageType::u8},       {"BoolStorage", "bool", 1, StorageType::b8},
      {"ComplexFloatStorage", "complex64", 8, StorageType::c64},
      {"ComplexDoubleStorage", "complex128", 16, StorageType::c128},
  };
  std::string name = global;
  for (const char* prefix : {"torch.cuda.", "torch."})
    if (name.rfind(prefix, 0) == 0) {
      name = name.substr(std::strlen(prefix));
      break;
    }
  for (const auto& t : kTypes)
    if (name == t.storage) return t;
  fail(where, ": unknown storage type '", pickle::detail::printable(global), "'");
}

// A storage as its persistent id describes it.
struct StorageRef {
  const StorageType* type = nullptr;
  std::string key;
  std::int64_t numel = 0;
};

inline const char* kStorageRecord = "torch.storage";

// persistent_load for torch.save archives: validate the id, return an inert record.
inline pickle::Value storage_record(const pickle::Value& pid, const std::string& where) {
  if (!pid.is_tuple()) fail("persistent id is a ", pickle::kind_name(pid.kind), ", not a tuple");
  const auto& t = pid.items();
  if (t.size() != 5 || !t[0].is_string() || t[0].as_string() != "storage")
    fail("persistent id is not a ('storage', type, key, location, numel) tuple");
  if (!t[1].is_global()) fail("storage type is a ", pickle::kind_name(t[1].kind), ", not a storage class");
  storage_type(t[1].global_name(), where);  // known type?
  if (!t[2].is_string()) fail("storage key is not a string");
  if (!t[3].is_string()) fail("storage location is not a string");
  if (!t[4].is_int() || t[4].as_int() < 0) fail("storage size is not a non-negative int");
  return pickle::Value::object(kStorageRecord, pid);
}

inline StorageRef storage_ref(const pickle::Value& rec, const std::string& where) {
  if (!rec.is_object(kStorageRecord)) fail(where, ": tensor storage is a ", rec.describe(), ", not a storage");
  const auto& t = rec.as_object().args.items();
  StorageRef r;
  r.type = &storage_type(t[1].global_name(), where);
  r.key = t[2].as_string();
  r.numel = t[4].as_int();
  return r;
}

inline bool is_tensor_record(const pickle::Value& v) {
  return v.is_object("torch._utils._rebuild_tensor_v2") || v.is_object("torch._utils._rebuild_tensor");
}

// A tensor record, unpacked and checked (not yet against the storage bytes).
struct TensorRef {
  StorageRef storage;
  std::int64_t offset = 0;
  Shape shape;
  Shape strides;
};

inline Shape int_tuple(const pickle::Value& v, const std::string& where, const char* what) {
  if (!v.is_tuple() && !v.is_list()) fail(where, ": tensor ", what, " is a ", pickle::kind_name(v.kind), ", not a tuple");
  Shape s;
  for (const auto& x : v.items()) {
    if (!x.is_int()) fail(where, ": tensor ", what, " holds a ", pickle::kind_name(x.kind));
    s.push_back(x.as_int());
  }
  return s;
}

inline TensorRef tensor_ref(const pickle::Value& rec, const std::string& where) {
  const auto& a = rec.as_object().args.items("tensor arguments");
  if (a.size() < 4) fail(where, ": tensor record has ", a.size(), " arguments, expected at least 4");
  TensorRef r;
  r.storage = storage_ref(a[0], where);
  if (!a[1].is_int()) fail(where, ": storage offset is a ", pickle::kind_name(a[1].kind));
  r.offset = a[1].as_int();
  r.shape = int_tuple(a[2], where, "size");
  r.strides = int_tuple(a[3], where, "stride");
  if (r.shape.size() != r.strides.size())
    fail(where, ": size ", shape_str(r.shape), " and stride ", shape_str(r.strides), " differ in rank");
  if (r.shape.size() > 64) fail(where, ": tensor of rank ", r.shape.size());
  if (r.offset < 0) fail(where, ": negative storage offset ", r.offset);
  for (std::size_t d = 0; d < r.shape.size(); ++d) {
    if (r.shape[d] < 0) fail(where, ": negative size in ", shape_str(r.shape));
    if (r.strides[d] < 0) fail(where, ": negative stride in ", shape_str(r.strides));
  }
  shape_numel(r.shape);  // bounded
  return r;
}

// The largest storage index the view touches + 1 (0 for an empty view), overflow-safe.
inline std::int64_t view_extent(const TensorRef& r, const std::string& where) {
  constexpr std::int64_t kMax = std::int64_t(1) << 52;
  std::int64_t last = r.offset;
  for (std::size_t d = 0; d < r.shape.size(); ++d) {
    if (r.shape[d] == 0) return 0;
    const std::int64_t span = r.shape[d] - 1;
    if (span > 0 && r.strides[d] > (kMax - last) / span)
      fail(where, ": view size ", shape_str(r.shape), " stride ", shape_str(r.strides), " offset ", r.offset,
           " reaches past any storage");
    last += span * r.strides[d];
  }
  if (last >= kMax) fail(where, ": storage offset ", r.offset, " is too large");
  return last + 1;
}

inline std::uint64_t read_raw(const std::uint8_t* p, std::size_t itemsize, bool swap) {
  std::uint64_t v = 0;
  if (!swap) {
    for (std::size_t k = 0; k < itemsize; ++k) v |= std::uint64_t(p[k]) << (8 * k);
  } else {
    for (std::size_t k = 0; k < itemsize; ++k) v |= std::uint64_t(p[itemsize - 1 - k]) << (8 * k);
  }
  return v;
}

// Storage element `idx` as int64 (integer and bool types).
inline std::int64_t element_as_int(const StorageType& t, const std::uint8_t* base, std::int64_t idx, bool swap) {
  const std::uint64_t raw = read_raw(base + std::size_t(idx) * t.itemsize, t.itemsize, swap);
  switch (t.code) {
    case StorageType::b8: return raw != 0;
    case StorageType::u8: return std::int64_t(raw);
    case StorageType::i8: return std::int8_t(raw);
    case StorageType::i16: return std::int16_t(raw);
    case StorageType::i32: return std::int32_t(raw);
    case StorageType::i64: {
      std::int64_t v;
      std::memcpy(&v, &raw, 8);
      return v;
    }
    default: fail("storage element of type ", t.dtype, " read as an integer");
  }
}

// Storage element `idx` as double (any real type).
inline double element_as_double(const StorageType& t, const std::uint8_t* base, std::int64_t idx, bool swap) {
  const std::uint64_t raw = read_raw(base + std::size_t(idx) * t.itemsize, t.itemsize, swap);
  switch (t.code) {
    case StorageType::f32: {
      const std::uint32_t u = std::uint32_t(raw);
      float f;
      std::memcpy(&f, &u, 4);
      return f;
    }
    case StorageType::f64: {
      double d;
      std::memcpy(&d, &raw, 8);
      return d;
    }
    case StorageType::f16: {
      half h;
      h.bits = std::uint16_t(raw);
      return double(float(h));
    }
    case StorageType::bf16: {
      bfloat16 b;
      b.bits = std::uint16_t(raw);
      return double(float(b));
    }
    default: return double(element_as_int(t, base, idx, swap));
  }
}

// Gather a (possibly strided) view of storage bytes into a contiguous tensor.
template <class T, class Read>
Tensor<T> gather(const TensorRef& r, Read&& read) {
  Tensor<T> out(r.shape);
  T* dst = out.data();
  const std::int64_t n = out.numel();
  if (n == 0) return out;
  const int nd = int(r.shape.size());
  std::vector<std::int64_t> idx(std::size_t(nd), 0);
  std::int64_t off = r.offset;
  for (std::int64_t lin = 0; lin < n; ++lin) {
    dst[lin] = T(read(off));
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[std::size_t(d)] < r.shape[std::size_t(d)]) {
        off += r.strides[std::size_t(d)];
        break;
      }
      off -= r.strides[std::size_t(d)] * (r.shape[std::size_t(d)] - 1);
      idx[std::size_t(d)] = 0;
    }
  }
  return out;
}

inline std::string key_part(const pickle::Value& k) {
  if (k.is_string()) return k.as_string();
  if (k.kind == pickle::Kind::integer) return std::to_string(k.i);
  return k.describe();
}

// Every tensor record in the object, with its dotted path. A dict or list
// reached a second time (shared through the memo) is not walked again: a
// small hostile pickle could otherwise describe exponentially many paths.
inline void find_tensors(const pickle::Value& v, const std::string& path,
                         std::vector<std::pair<std::string, const pickle::Value*>>& out,
                         std::set<const void*>& seen, int depth) {
  if (depth > 2000) fail("checkpoint nested too deep");
  auto join = [&](const std::string& part) { return path.empty() ? part : path + "." + part; };
  if (is_tensor_record(v)) {
    out.emplace_back(path, &v);
    return;
  }
  if (!v.is_dict() && !v.is_list() && !v.is_tuple()) return;
  if (!seen.insert(v.identity()).second) return;
  if (v.is_dict()) {
    for (const auto& kv : v.as_dict().entries) find_tensors(kv.second, join(key_part(kv.first)), out, seen, depth + 1);
  } else {
    const auto& items = v.items();
    for (std::size_t k = 0; k < items.size(); ++k) find_tensors(items[k], join(std::to_string(k)), out, seen, depth + 1);
  }
}

inline std::string strip_module_prefix(std::string key) {
  while (key.rfind("module.", 0) == 0) key = key.substr(7);
  return key;
}

}  // namespace torch_detail

// Load from bytes already in memory; `label` names them in errors.
inline TorchCheckpoint load_torch_checkpoint_bytes(std::vector<std::uint8_t> bytes, const std::string& label,
                                                   const TorchLoadOptions& options = {}) {
  using namespace torch_detail;
  TorchCheckpoint ck;
  ck.path = label;
  if (bytes.size() >= 2 && bytes[0] == 0x80 && bytes[1] <= 5)
    fail(label, ": legacy (pre-1.6) torch format is not supported; re-save with torch>=1.6 "
                "(torch.save(torch.load(f), f2) writes the zip format)");
  if (bytes.size() < 4 || !(bytes[0] == 'P' && bytes[1] == 'K'))
    fail(label, ": not a PyTorch checkpoint (neither a torch.save zip archive nor a pickle)");

  ZipReader zip(std::move(bytes), label);
  // The archive directory is named after the file at save time: find */data.pkl.
  std::string dir;
  for (const auto& e : zip.entries()) {
    const std::string& n = e.name;
    const std::size_t slash = n.find('/');
    if (slash != std::string::npos && n.substr(slash + 1) == "data.pkl") {
      dir = n.substr(0, slash + 1);
      break;
    }
  }
  if (dir.empty()) {
    for (const auto& e : zip.entries())
      if (e.name.find("constants.pkl") != std::string::npos)
        fail(label, ": a TorchScript archive (torch.jit.save) is not supported; save model.state_dict() with torch.save");
    fail(label, ": zip archive without */data.pkl: not a torch.save checkpoint");
  }
  if (zip.has(dir + "constants.pkl"))
    fail(label, ": a TorchScript archive (torch.jit.save) is not supported; save model.state_dict() with torch.save");
  bool swap = false;
  if (zip.has(dir + "byteorder")) {
    auto bo = zip.read(dir + "byteorder");
    std::string order(bo.begin(), bo.end());
    if (order == "big") swap = host_is_little_endian();
    else if (order == "little") swap = !host_is_little_endian();
    else fail(label, ": unknown byteorder '", pickle::detail::printable(order), "'");
  } else {
    swap = !host_is_little_endian();
  }

  const std::string pkl_name = dir + "data.pkl";
  {
    std::vector<std::uint8_t> pkl = zip.read(pkl_name);
    pickle::Options po;
    po.source = label + ": " + pkl_name;
    po.limits = options.limits;
    po.persistent_load = [&](const pickle::Value& pid) { return storage_record(pid, po.source); };
    try {
      ck.root = pickle::loads(pkl, po);
    } catch (const Error& e) {
      const std::string msg = e.what();
      if (msg.find("refusing global") == std::string::npos) throw;
      fail(msg, "; a checkpoint should hold only tensors and plain data (if this is a whole pickled model, "
                "torch.save(model), re-save model.state_dict())");
    }
  }

  if (ck.root.is_dict())
    for (const auto& kv : ck.root.as_dict().entries)
      if (kv.first.is_string() && (kv.second.is_number()))
        ck.scalars[kv.first.as_string()] = kv.second.as_double();
  // The official main.py saves the data generator's np.random.RandomState object (not get_state()'s
  // tuple); older scripts the tuple. Either is read as data and checked whole here.
  if (ck.root.is_dict())
    if (const pickle::Value* rs = ck.root.as_dict().find("random_state"))
      if (pickle::is_random_state(*rs) ||  // a get_state() tuple; any other tuple is left alone
          (rs->is_tuple() && rs->items().size() == 5 && rs->items()[0].is_string() &&
           rs->items()[0].as_string() == "MT19937")) {
        ck.random_state = pickle::to_random_state(*rs, label + ": random_state");
        ck.has_random_state = true;
      }

  // Find tensors; decide which to read; group them by storage.
  std::vector<std::pair<std::string, const pickle::Value*>> found;
  {
    std::set<const void*> seen;
    find_tensors(ck.root, "", found, seen, 0);
  }
  struct Wanted {
    std::string key;
    TensorRef ref;
  };
  std::map<std::string, std::vector<Wanted>> by_storage;
  std::map<std::string, std::pair<const StorageType*, std::int64_t>> storage_decl;
  for (const auto& f : found) {
    const std::string where = label + ": tensor '" + pickle::detail::printable(f.first, 200) + "'";
    TensorRef ref = tensor_ref(*f.second, where);
    auto decl = storage_decl.emplace(ref.storage.key, std::make_pair(ref.storage.type, ref.storage.numel));
    if (decl.first->second.first != ref.storage.type || decl.first->second.second != ref.storage.numel)
      fail(where, ": storage '", pickle::detail::printable(ref.storage.key), "' is declared twice with different types or sizes");
    TorchTensorInfo ti;
    ti.dtype = ref.storage.type->dtype;
    ti.shape = ref.shape;
    ti.storage_key = ref.storage.key;
    ti.loaded = !options.keep || options.keep(f.first);
    if (ck.info.count(f.first)) fail(where, ": two tensors have the same key");
    ck.info[f.first] = ti;
    if (!ti.loaded) continue;
    if (ref.storage.type->complex()) fail(where, ": complex tensors are not supported");
    const std::int64_t extent = view_extent(ref, where);
    if (extent > ref.storage.numel)
      fail(where, ": view (offset ", ref.offset, ", size ", shape_str(ref.shape), ", stride ", shape_str(ref.strides),
           ") reaches element ", extent - 1, " of a storage of ", ref.storage.numel, " elements");
    by_storage[ref.storage.key].push_back({f.first, std::move(ref)});
  }

  // Read each needed storage once; materialise every view of it.
  for (auto& s : by_storage) {
    const std::string entry = dir + "data/" + s.first;
    const StorageType& type = *s.second.front().ref.storage.type;
    const std::int64_t numel = s.second.front().ref.storage.numel;
    const std::string where = label + ": storage '" + pickle::detail::printable(s.first) + "'";
    const ZipEntry* ze = zip.find(entry);
    if (!ze) fail(where, ": archive has no entry '", pickle::detail::printable(entry), "'");
    if (ze->uncompressed_size < std::uint64_t(numel) * type.itemsize)
      fail(where, ": entry holds ", ze->uncompressed_size, " bytes, but ", numel, " ", type.dtype, " elements need ",
           std::uint64_t(numel) * type.itemsize);
    std::vector<std::uint8_t> owned;
    const std::uint8_t* base;
    if (ze->method == 0) {
      base = zip.stored_view(entry).first;
    } else {
      owned = zip.read(entry);
      base = owned.data();
    }
    for (const auto& w : s.second) {
      const TensorRef& r = w.ref;
      if (type.code == StorageType::f32 && !swap && r.strides == contiguous_strides(r.shape)) {
        TensorF t(r.shape);  // the common case: one memcpy
        if (t.numel() > 0) std::memcpy(t.data(), base + std::size_t(r.offset) * 4, std::size_t(t.numel()) * 4);
        ck.tensors[w.key] = t;
      } else if (type.code == StorageType::f32 && !swap) {
        ck.tensors[w.key] = gather<float>(r, [&](std::int64_t i) {
          float f;
          std::memcpy(&f, base + std::size_t(i) * 4, 4);
          return f;
        });
      } else {
        ck.tensors[w.key] = gather<float>(r, [&](std::int64_t i) { return float(element_as_double(type, base, i, swap)); });
      }
      if (!type.floating())
        ck.int_tensors[w.key] = gather<std::int64_t>(r, [&](std::int64_t i) { return element_as_int(type, base, i, swap); });
    }
  }
  // Top-level one-element tensors and numpy scalars are numbers too (a loss
  // saved as a tensor or np.float64).
  if (ck.root.is_dict())
    for (const auto& kv : ck.root.as_dict().entries) {
      if (!kv.first.is_string()) continue;
      const std::string& name = kv.first.as_string();
      auto t = ck.tensors.find(name);
      if (t != ck.tensors.end() && t->second.numel() == 1) {
        auto i = ck.int_tensors.find(name);
        ck.scalars[name] = i != ck.int_tensors.end() ? double(i->second.data()[0]) : double(t->second.data()[0]);
      } else if (pickle::is_numpy_scalar(kv.second)) {
        NdArray a = pickle::to_ndarray(kv.second, label + ": " + name);
        if (a.is_numeric()) ck.scalars[name] = to_vector<double>(a, label + ": " + name).at(0);
      }
    }
  return ck;
}

inline TorchCheckpoint load_torch_checkpoint(const std::string& path, const TorchLoadOptions& options = {}) {
  return load_torch_checkpoint_bytes(read_file(path), path, options);
}

inline std::vector<std::string> TorchCheckpoint::entries() const {
  std::vector<std::string> r;
  if (root.is_dict())
    for (const auto& kv : root.as_dict().entries) r.push_back(torch_detail::key_part(kv.first));
  return r;
}

template <class T>
std::map<std::string, Tensor<T>> TorchCheckpoint::collect(const std::map<std::string, Tensor<T>>& from,
                                                          const std::string& entry, bool strip_module) const {
  if (!root.is_dict()) fail(path, ": the checkpoint is a ", pickle::kind_name(root.kind), ", not a dict");
  const pickle::Dict& top = root.as_dict();
  std::string prefix;
  const pickle::Dict* sd = &top;
  if (!entry.empty()) {
    const pickle::Value* e = top.find(entry);
    if (e) {
      if (!e->is_dict()) fail(path, ": entry '", entry, "' is a ", pickle::kind_name(e->kind), ", not a state dict");
      sd = &e->as_dict();
      prefix = entry + ".";
    } else {
      bool bare = top.size() > 0;  // a bare state dict: nothing but tensors at the top level
      for (const auto& kv : top.entries) bare = bare && torch_detail::is_tensor_record(kv.second);
      if (!bare) {
        std::string names;
        for (const auto& n : entries()) names += (names.empty() ? "" : ", ") + pickle::detail::printable(n);
        fail(path, ": no entry '", entry, "' (top-level entries: ", names, ")");
      }
    }
  }
  std::map<std::string, Tensor<T>> out;
  for (const auto& kv : sd->entries) {
    if (!torch_detail::is_tensor_record(kv.second)) continue;
    const std::string name = torch_detail::key_part(kv.first);
    auto it = from.find(prefix + name);
    if (it == from.end()) continue;  // filtered out, or not of this kind
    const std::string key = strip_module ? torch_detail::strip_module_prefix(name) : name;
    if (!out.emplace(key, it->second).second)
      fail(path, ": key '", key, "' appears both with and without a 'module.' prefix");
  }
  return out;
}

}  // namespace io
}  // namespace finepose
