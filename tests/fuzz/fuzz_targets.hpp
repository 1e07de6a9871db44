#pragma once
// One function per parser that takes untrusted bytes. The libFuzzer programs
// (fuzz_<name>.cpp) call them; tests/test_fuzz_regressions.cpp replays every
// saved input under tests/fuzz/regressions/<name>/ through the same function
// in the ordinary (and the sanitized) build.
//
// A finepose::Error is the expected answer to bad bytes. Anything else (another
// exception type, a crash, a sanitizer report, a huge allocation, a hang) is a
// finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include <zlib.h>

#include "finepose/core/error.hpp"
#include "finepose/io/json.hpp"
#include "finepose/io/npy.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/io/pickle.hpp"
#include "finepose/io/pickle_numpy.hpp"
#include "finepose/io/safetensors.hpp"
#include "finepose/io/torch_checkpoint.hpp"
#include "finepose/model/config_json.hpp"
#include "finepose/model/state_dict.hpp"
#include "finepose/text/clip_tokenizer.hpp"
#if __has_include("finepose/wild/keypoint_input.hpp")
#include "finepose/wild/keypoint_input.hpp"
#define FINEPOSE_FUZZ_KEYPOINTS 1
#endif

namespace finepose::fuzz {

using Target = void (*)(const std::uint8_t*, std::size_t);

// Runs `f`, swallowing the finepose::Error that bad input should produce.
template <class F>
void expect_error_or_ok(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
}

// Touch every element so that a wrong length or offset shows up under ASan.
inline double checksum(const io::NdArray& a) {
  double s = 0;
  for (std::uint8_t b : a.data) s += b;
  return s;
}

inline void npy(const std::uint8_t* p, std::size_t n) {
  expect_error_or_ok([&] {
    io::NdArray a = io::parse_npy(p, n, "fuzz.npy");
    volatile double s = checksum(a);
    (void)s;
    if (io::dtype_is_numeric(a.dtype)) {
      TensorF t = io::to_tensor<float>(a, "fuzz.npy");
      volatile float f = t.numel() ? t.data()[t.numel() - 1] : 0.f;
      (void)f;
    } else {
      volatile std::size_t k = io::to_strings(a, "fuzz.npy").size();
      (void)k;
    }
  });
}

inline void npz(const std::uint8_t* p, std::size_t n) {
  expect_error_or_ok([&] {
    io::NpzMap m = io::parse_npz(std::vector<std::uint8_t>(p, p + n), "fuzz.npz");
    volatile double s = 0;
    for (const auto& kv : m) s = s + checksum(kv.second);
  });
}

inline void safetensors(const std::uint8_t* p, std::size_t n) {
  expect_error_or_ok([&] {
    io::SafeTensors st = io::parse_safetensors(p, n, "fuzz.safetensors");
    volatile double s = 0;
    for (const auto& kv : st.tensors) {
      s = s + checksum(kv.second);
      if (io::dtype_is_numeric(kv.second.dtype)) s = s + double(io::to_tensor<float>(kv.second, kv.first).numel());
    }
    // the model loader reads its config from the metadata
    auto it = st.metadata.find("finepose.config");
    if (it != st.metadata.end()) (void)config_from_json(it->second);
  });
}

inline void json(const std::uint8_t* p, std::size_t n) {
  expect_error_or_ok([&] {
    finepose::json::Value v = finepose::json::parse(std::string_view(reinterpret_cast<const char*>(p), n), "fuzz.json");
    // what we print must parse back to the same thing
    const std::string once = finepose::json::dump(v);
    const std::string twice = finepose::json::dump(finepose::json::parse(once, "fuzz.json (printed)"));
    if (once != twice) __builtin_trap();
  });
}

inline void model_config(const std::uint8_t* p, std::size_t n) {
  const std::string text(reinterpret_cast<const char*>(p), n);
  expect_error_or_ok([&] {
    FinePoseConfig c = config_from_json(text);
    // a config we accepted prints and reads back
    (void)config_from_json(config_to_json(c));
  });
  expect_error_or_ok([&] { (void)unshaped_from_json(text); });
}

// The unpickler alone (no persistent ids: torch storages are refused), then
// the numpy reconstruction on whatever came out.
inline void unpickle(const std::uint8_t* p, std::size_t n) {
  expect_error_or_ok([&] {
    pickle::Options o;
    o.source = "fuzz.pkl";
    o.limits.max_values = std::size_t(1) << 20;  // keep each run short; the default is tested elsewhere
    pickle::Value v = pickle::loads(p, n, o);
    (void)v.describe();
    if (pickle::is_ndarray(v)) {
      io::NdArray a = pickle::to_ndarray(v, "fuzz.pkl");
      volatile double s = checksum(a);
      (void)s;
    }
  });
}

inline void torch_checkpoint(const std::uint8_t* p, std::size_t n) {
  expect_error_or_ok([&] {
    io::TorchCheckpoint ck = io::load_torch_checkpoint_bytes(std::vector<std::uint8_t>(p, p + n), "fuzz.pt");
    volatile double s = 0;
    for (const auto& kv : ck.tensors)
      for (std::int64_t i = 0; i < kv.second.numel(); ++i) s = s + kv.second.data()[i];
    for (const auto& e : ck.entries()) (void)ck.state_dict(e);
    (void)ck.state_dict();
  });
}

// The CLIP merge list (gzip'd text). The loader takes a path, so the bytes
// go through a per-process temporary file: once as they are (the gzip layer),
// once gzip'd here (so that the fuzzer reaches the merge-list parser directly).
inline std::string gzip_of(const std::uint8_t* p, std::size_t n) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) __builtin_trap();
  std::string out(deflateBound(&zs, uLong(n)) + 32, '\0');
  zs.next_in = const_cast<Bytef*>(p);
  zs.avail_in = uInt(n);
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = uInt(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) __builtin_trap();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline void load_vocab_bytes(const char* data, std::size_t n) {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/finepose_fuzz_vocab_" + std::to_string(::getpid()) + ".gz";
  }();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(data, std::streamsize(n));
  }
  expect_error_or_ok([&] { (void)ClipTokenizer::load(path); });
  std::remove(path.c_str());
}

inline void tokenizer_vocab(const std::uint8_t* p, std::size_t n) {
  load_vocab_bytes(reinterpret_cast<const char*>(p), n);
  const std::string gz = gzip_of(p, n);
  load_vocab_bytes(gz.data(), gz.size());
}

// Writes the bytes to a per-process temporary file named *`ext` (for loaders that take a path).
inline std::string temp_input(const char* ext, const std::uint8_t* p, std::size_t n) {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/finepose_fuzz_" + std::to_string(::getpid()) + ext;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(p), std::streamsize(n));
  return path;
}

#ifdef FINEPOSE_FUZZ_KEYPOINTS
// Detector output (COCO/MMPose/OpenPose JSON, CSV) up to the H36M-17 person track
// that `finepose infer` lifts.
inline void keypoints_file(const char* ext, const std::uint8_t* p, std::size_t n) {
  const std::string path = temp_input(ext, p, n);
  expect_error_or_ok([&] {
    wild::KeypointInput in = wild::read_keypoints(path);
    volatile std::int64_t k = in.kp.numel();
    (void)k;
  });
  std::remove(path.c_str());
}
inline void keypoints_json(const std::uint8_t* p, std::size_t n) { keypoints_file(".json", p, n); }
inline void keypoints_csv(const std::uint8_t* p, std::size_t n) { keypoints_file(".csv", p, n); }
#endif

struct NamedTarget {
  const char* name;
  Target run;
};

inline const std::vector<NamedTarget>& all_targets() {
  static const std::vector<NamedTarget> t = {
      {"npy", npy},       {"npz", npz},           {"safetensors", safetensors},
      {"json", json},     {"model_config", model_config}, {"unpickle", unpickle},
      {"torch_checkpoint", torch_checkpoint}, {"tokenizer_vocab", tokenizer_vocab},
#ifdef FINEPOSE_FUZZ_KEYPOINTS
      {"keypoints_json", keypoints_json}, {"keypoints_csv", keypoints_csv},
#endif
  };
  return t;
}

}  // namespace finepose::fuzz
