// safetensors: a file written by the Python `safetensors` package, round trips
// read back by Python, and every validation rule of the format.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/io/safetensors.hpp"

using namespace finepose;
using namespace finepose::io;

namespace {

std::string fixture(const std::string& name) { return std::string(FINEPOSE_FIXTURE_DIR) + "/io/" + name; }
std::string temp_path(const std::string& name) {
  const char* t = std::getenv("TMPDIR");
  return std::string(t ? t : "/tmp") + "/finepose_test_io_st_" + name;
}

// A file from a header text and a data buffer, as the spec lays it out.
std::vector<std::uint8_t> make_file(const std::string& header, std::size_t data_bytes) {
  std::vector<std::uint8_t> b;
  append_le<std::uint64_t>(b, header.size());
  b.insert(b.end(), header.begin(), header.end());
  for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(std::uint8_t(i));
  return b;
}

}  // namespace

TEST_CASE("safetensors: reads a file written by the Python safetensors package") {
  SafeTensors st = load_safetensors(fixture("python.safetensors"));
  CHECK(st.tensors.size() == 7);
  CHECK(st.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"note", "io fixture"}});
  auto w = to_vector<float>(st.at("weight"));
  CHECK(st.at("weight").dtype == DType::f32);
  CHECK(st.at("weight").shape == Shape{2, 3, 4});
  for (int i = 0; i < 24; ++i) CHECK(w[i] == i * 0.5f);
  CHECK(st.at("bias").dtype == DType::f64);
  CHECK(to_vector<double>(st.at("bias")) == std::vector<double>{-2, -1, 0, 1, 2});
  CHECK(st.at("half").dtype == DType::f16);
  auto h = to_vector<float>(st.at("half"));
  for (int i = 0; i < 24; ++i) CHECK(h[i] == i * 0.5f);
  CHECK(st.at("ids").shape == Shape{2, 3});
  auto ids = to_vector<std::int64_t>(st.at("ids"));
  for (int i = 0; i < 6; ++i) CHECK(ids[i] == std::int64_t(i) << 33);
  CHECK(st.at("mask").dtype == DType::boolean);
  CHECK(to_vector<int>(st.at("mask")) == std::vector<int>{1, 0, 1});
  CHECK(to_vector<int>(st.at("small")) == std::vector<int>{-2, -1, 0, 1});
  CHECK(st.at("empty").shape == Shape{0, 2});
  CHECK_THROWS_WITH_AS(st.at("nope"), doctest::Contains("nope"), Error);
}

TEST_CASE("safetensors: round trip of every dtype, aligned data") {
  std::map<std::string, NdArray> t;
  for (DType d : {DType::f16, DType::bf16, DType::f32, DType::f64, DType::i8, DType::i16, DType::i32, DType::i64,
                  DType::u8, DType::u16, DType::u32, DType::u64, DType::boolean}) {
    NdArray a = make_ndarray(d, {3, 1, 2});
    for (std::size_t i = 0; i < a.data.size(); ++i) a.data[i] = std::uint8_t(d == DType::boolean ? i % 2 : 11 * i + 5);
    t["t_" + dtype_name(d)] = a;
  }
  t["scalar"] = from_vector(std::vector<float>{4.f}, Shape{});
  t["empty"] = make_ndarray(DType::f32, {0});
  auto bytes = serialize_safetensors(t, {{"k", "v"}});
  const std::uint64_t n = load_le<std::uint64_t>(bytes.data());
  CHECK(n % 8 == 0);
  SafeTensors r = parse_safetensors(bytes, "rt");
  CHECK(r.metadata.at("k") == "v");
  REQUIRE(r.tensors.size() == t.size());
  for (const auto& kv : t) {
    const NdArray& b = r.at(kv.first);
    CHECK(b.dtype == kv.second.dtype);
    CHECK(b.shape == kv.second.shape);
    CHECK(b.data == kv.second.data);
  }
  // each tensor's data is aligned to its element size in the file
  auto header = json::parse(std::string(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(n)));
  for (const auto& kv : t) {
    auto begin = header.at(kv.first).at("data_offsets").at(0).as_int64();
    CHECK((8 + n + std::uint64_t(begin)) % kv.second.itemsize == 0);
  }
  CHECK_THROWS_AS(serialize_safetensors({{"s", from_strings({"a"})}}), Error);
  CHECK_THROWS_AS(serialize_safetensors({{"__metadata__", make_ndarray(DType::f32, {1})}}), Error);
}

TEST_CASE("safetensors: Python reads what we write") {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 with numpy not available");
    return;
  }
  TensorF w({2, 3});
  for (int i = 0; i < 6; ++i) w.data()[i] = i * 1.25f;
  Tensor<std::int64_t> ids({2});
  ids.data()[0] = std::int64_t(1) << 40;
  ids.data()[1] = -3;
  std::map<std::string, NdArray> t{{"w", from_tensor(w)}, {"ids", from_tensor(ids)},
                                   {"b", from_vector(std::vector<std::uint8_t>{1, 0}, Shape{2})}};
  t["b"].dtype = DType::boolean;
  const std::string p = temp_path("out.safetensors");
  save_safetensors(p, t, {{"format", "pt"}});
  // The package when importable, else a reading of the spec written in Python.
  std::string cmd =
      "/usr/bin/python3 -c \"import sys,json,struct,numpy as np\n"
      "p=sys.argv[1]\n"
      "try:\n"
      "  from safetensors.numpy import load_file; from safetensors import safe_open\n"
      "  d=load_file(p); meta=safe_open(p,'np').metadata()\n"
      "except ImportError:\n"
      "  raw=open(p,'rb').read(); n=struct.unpack('<Q',raw[:8])[0]; h=json.loads(raw[8:8+n]); meta=h.pop('__metadata__')\n"
      "  code={'F32':'<f4','I64':'<i8','BOOL':'|b1'}\n"
      "  d={k:np.frombuffer(raw[8+n+v['data_offsets'][0]:8+n+v['data_offsets'][1]],dtype=code[v['dtype']]).reshape(v['shape']) for k,v in h.items()}\n"
      "assert meta=={'format':'pt'}, meta\n"
      "assert (d['w']==np.arange(6,dtype='f4').reshape(2,3)*1.25).all() and d['w'].dtype=='<f4'\n"
      "assert list(d['ids'])==[2**40,-3]\n"
      "assert d['b'].dtype==bool and list(d['b'])==[True,False]\n"
      "\" " +
      p;
  CHECK(std::system(cmd.c_str()) == 0);
  std::remove(p.c_str());
}

TEST_CASE("safetensors: every truncation and header corruption is an Error, never a crash") {
  auto full = read_file(fixture("python.safetensors"));
  for (std::size_t n = 0; n < full.size(); ++n) CHECK_THROWS_AS(parse_safetensors(full.data(), n, "cut"), Error);
  const std::uint64_t header_end = 8 + load_le<std::uint64_t>(full.data());
  for (std::size_t i = 0; i < header_end; ++i) {
    for (std::uint8_t mask : {std::uint8_t(0x01), std::uint8_t(0x40), std::uint8_t(0xff)}) {
      auto bad = full;
      bad[i] ^= mask;
      try {
        parse_safetensors(bad, "flip");
      } catch (const Error&) {
      }
    }
  }
}

TEST_CASE("safetensors: validation rules") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(parse_safetensors(make_file(ok, 8), "ok").at("a").shape == Shape{2});
  CHECK_THROWS_WITH_AS(parse_safetensors(make_file(ok, 12), "extra"), doctest::Contains("not covered"), Error);
  CHECK_THROWS_WITH_AS(parse_safetensors(make_file(ok, 4), "short"), doctest::Contains("past"), Error);
  auto expect_error = [](const std::string& header, std::size_t data, const char* needle) {
    CHECK_THROWS_WITH_AS(parse_safetensors(make_file(header, data), "bad.safetensors"), doctest::Contains(needle), Error);
  };
  expect_error(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "needs 12 bytes");
  expect_error(R"({"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", 8, "F8_E4M3");
  expect_error(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "non-negative");
  expect_error(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8, "non-negative");
  expect_error(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8,
               "too large");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, "reversed");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8, "data_offsets");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8, "non-negative");
  expect_error(R"({"a":{"dtype":"F32","shape":[2]}})", 8, "data_offsets");
  expect_error(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8, "dtype");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                   "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, "overlaps");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                   "b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8, "overlaps");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, "gap");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8,
               "duplicate");
  expect_error(R"({"__metadata__":{"k":1}})", 0, "__metadata__");
  expect_error(R"({"__metadata__":[]})", 0, "__metadata__");
  expect_error(R"({"a":[]})", 0, "not an object");
  expect_error(R"([1,2])", 0, "'{'");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8, "line 1");
  // header length beyond the limit, or beyond the file
  std::vector<std::uint8_t> huge;
  append_le<std::uint64_t>(huge, std::uint64_t(1) << 62);
  CHECK_THROWS_WITH_AS(parse_safetensors(huge, "huge"), doctest::Contains("limit"), Error);
  std::vector<std::uint8_t> past;
  append_le<std::uint64_t>(past, 100);
  past.push_back('{');
  CHECK_THROWS_WITH_AS(parse_safetensors(past, "past"), doctest::Contains("past the end"), Error);
  // empty file with just metadata is fine
  auto meta_only = parse_safetensors(make_file(R"({"__metadata__":{"a":"b"}}   )", 0), "meta");
  CHECK(meta_only.tensors.empty());
  CHECK(meta_only.metadata.at("a") == "b");
}
