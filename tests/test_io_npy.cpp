// NdArray, .npy and .npz against files written by numpy (tests/fixtures/io,
// made by tools/reference/make_io_fixtures.py), round trips read back by numpy,
// hostile inputs, and the real data sets in ../shared/data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/io/ndarray.hpp"
#include "finepose/io/npy.hpp"
#include "finepose/io/npz.hpp"

using namespace finepose;
using namespace finepose::io;

namespace {

std::string fixture(const std::string& name) { return std::string(FINEPOSE_FIXTURE_DIR) + "/io/" + name; }
std::string temp_path(const std::string& name) {
  const char* t = std::getenv("TMPDIR");
  return std::string(t ? t : "/tmp") + "/finepose_test_io_npy_" + name;
}
bool have_numpy() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }
bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

const Shape kShape = {2, 3, 4};

// Checks a [2,3,4] fixture against value(i) for i = arange(24) (C order).
template <class F>
void check_values(const NdArray& a, DType dtype, F value) {
  CHECK(a.dtype == dtype);
  CHECK(a.shape == kShape);
  auto t = to_tensor<double>(a);
  REQUIRE(t.numel() == 24);
  for (int i = 0; i < 24; ++i) CHECK(t.data()[i] == double(value(i)));
}

}  // namespace

TEST_CASE("npy: every numeric dtype numpy writes") {
  check_values(load_npy(fixture("f4.npy")), DType::f32, [](int i) { return i * 0.5; });
  check_values(load_npy(fixture("f8.npy")), DType::f64, [](int i) { return i * 0.25 - 1; });
  check_values(load_npy(fixture("f2.npy")), DType::f16, [](int i) { return i * 0.5; });
  check_values(load_npy(fixture("i1.npy")), DType::i8, [](int i) { return i - 12; });
  check_values(load_npy(fixture("u1.npy")), DType::u8, [](int i) { return i * 10; });
  check_values(load_npy(fixture("i2.npy")), DType::i16, [](int i) { return i * 1000 - 12000; });
  check_values(load_npy(fixture("u2.npy")), DType::u16, [](int i) { return i * 2000; });
  check_values(load_npy(fixture("i4.npy")), DType::i32, [](int i) { return i * 100000 - 1; });
  check_values(load_npy(fixture("u4.npy")), DType::u32, [](int i) { return i * 100000; });
  check_values(load_npy(fixture("b1.npy")), DType::boolean, [](int i) { return i % 3 == 0 ? 1 : 0; });
  // 64-bit integers: compare exactly, beyond double's 53 bits where it matters.
  auto i8 = to_tensor<std::int64_t>(load_npy(fixture("i8.npy")));
  auto u8 = to_tensor<std::uint64_t>(load_npy(fixture("u8.npy")));
  for (int i = 0; i < 24; ++i) {
    CHECK(i8.data()[i] == std::int64_t(i) * (std::int64_t(1) << 40) - 5);
    CHECK(u8.data()[i] == std::uint64_t(i) << 40);
  }
  CHECK(load_npy(fixture("u8.npy")).dtype == DType::u64);
}

TEST_CASE("npy: big-endian, Fortran order, header versions 2.0 and 3.0") {
  check_values(load_npy(fixture("be_f4.npy")), DType::f32, [](int i) { return i * 0.5; });
  check_values(load_npy(fixture("be_f8.npy")), DType::f64, [](int i) { return i * 0.25 - 1; });
  auto be = to_tensor<std::int64_t>(load_npy(fixture("be_i8.npy")));
  for (int i = 0; i < 24; ++i) CHECK(be.data()[i] == std::int64_t(i) * (std::int64_t(1) << 40) - 5);
  check_values(load_npy(fixture("fortran_f4.npy")), DType::f32, [](int i) { return i * 0.5; });
  check_values(load_npy(fixture("fortran_be_i2.npy")), DType::i16, [](int i) { return i * 1000 - 12000; });
  check_values(load_npy(fixture("v2_f4.npy")), DType::f32, [](int i) { return i * 0.5; });
  check_values(load_npy(fixture("v3_f4.npy")), DType::f32, [](int i) { return i * 0.5; });
}

TEST_CASE("npy: 0-d, 1-d and empty shapes") {
  auto s = load_npy(fixture("scalar_f8.npy"));
  CHECK(s.shape.empty());
  CHECK(s.numel() == 1);
  CHECK(to_vector<double>(s) == std::vector<double>{3.5});
  auto v = load_npy(fixture("vector_i4.npy"));
  CHECK(v.shape == Shape{7});
  CHECK(to_vector<int>(v) == std::vector<int>{0, 1, 2, 3, 4, 5, 6});
  auto e = load_npy(fixture("empty_f4.npy"));
  CHECK(e.shape == Shape{0, 3});
  CHECK(e.data.empty());
  CHECK(to_tensor<float>(e).numel() == 0);
}

TEST_CASE("npy: 'S' and 'U' string arrays") {
  auto s = load_npy(fixture("strings_S.npy"));
  CHECK(s.dtype == DType::bytes);
  CHECK(s.itemsize == 16);
  CHECK(to_strings(s) == std::vector<std::string>{"hip", "rknee", "", "sixteen-chars-xx"});
  auto u = load_npy(fixture("strings_U.npy"));
  CHECK(u.dtype == DType::unicode);
  CHECK(u.itemsize == 40);
  CHECK(to_strings(u) == std::vector<std::string>{"walk", "caf\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87", ""});
  CHECK(to_strings(load_npy(fixture("strings_U_be.npy"))) == std::vector<std::string>{"walk", "caf\xc3\xa9"});
  CHECK_THROWS_AS(to_tensor<float>(s), Error);
  CHECK_THROWS_AS(to_strings(load_npy(fixture("f4.npy"))), Error);
}

TEST_CASE("npy: object and structured arrays are refused with a clear message") {
  CHECK_THROWS_WITH_AS(load_npy(fixture("object.npy")), doctest::Contains("object"), Error);
  CHECK_THROWS_WITH_AS(load_npy(fixture("object.npy")), doctest::Contains("object.npy"), Error);
  CHECK_THROWS_WITH_AS(load_npy(fixture("structured.npy")), doctest::Contains("structured"), Error);
}

TEST_CASE("npy: serialize -> parse round trip for every dtype and shape") {
  std::vector<NdArray> arrays;
  for (DType d : {DType::f16, DType::f32, DType::f64, DType::i8, DType::i16, DType::i32, DType::i64, DType::u8,
                  DType::u16, DType::u32, DType::u64, DType::boolean}) {
    for (Shape sh : {Shape{}, Shape{5}, Shape{2, 3}, Shape{0, 4}, Shape{2, 1, 3, 2}}) {
      NdArray a = make_ndarray(d, sh);
      for (std::size_t i = 0; i < a.data.size(); ++i) a.data[i] = std::uint8_t(d == DType::boolean ? i % 2 : i * 37 + 1);
      arrays.push_back(a);
    }
  }
  arrays.push_back(from_strings({"a", "bcd", ""}));
  arrays.push_back(from_strings({"caf\xc3\xa9", "x"}, true));
  for (const auto& a : arrays) {
    auto bytes = serialize_npy(a);
    auto header_end = std::size_t(10) + load_le<std::uint16_t>(bytes.data() + 8);
    CHECK(header_end % 64 == 0);  // numpy aligns data to 64 bytes
    NdArray b = parse_npy(bytes, "roundtrip");
    CHECK(b.dtype == a.dtype);
    CHECK(b.itemsize == a.itemsize);
    CHECK(b.shape == a.shape);
    CHECK(b.data == a.data);
  }
  CHECK_THROWS_AS(serialize_npy(make_ndarray(DType::bf16, {2})), Error);
}

TEST_CASE("npy/npz: numpy reads what we write") {
  if (!have_numpy()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy not available");
    return;
  }
  TensorF t({2, 3, 4});
  for (int i = 0; i < 24; ++i) t.data()[i] = i * 0.5f;
  Tensor<std::int64_t> v({3});
  for (int i = 0; i < 3; ++i) v.data()[i] = (std::int64_t(1) << 40) + i;
  NpzMap m;
  m["pose"] = from_tensor(t);
  m["big"] = from_tensor(v);
  m["names"] = from_strings({"hip", "rknee"});
  m["uni"] = from_strings({"caf\xc3\xa9"}, true);
  m["scalar"] = from_vector(std::vector<double>{2.5}, Shape{});
  m["vec1"] = from_vector(std::vector<std::int16_t>{-7});
  const std::string npy = temp_path("pose.npy");
  save_npy(npy, m["pose"]);
  for (bool compress : {false, true}) {
    const std::string npz = temp_path(compress ? "c.npz" : "s.npz");
    save_npz(npz, m, compress);
    std::string cmd =
        "/usr/bin/python3 -c \"import numpy as np,sys; d=np.load(sys.argv[1]); p=np.load(sys.argv[2]); "
        "assert (p==np.arange(24,dtype='f4').reshape(2,3,4)*0.5).all() and p.dtype=='<f4'; "
        "assert (d['pose']==p).all(); assert list(d['big'])==[2**40,2**40+1,2**40+2]; "
        "assert list(d['names'])==[b'hip',b'rknee']; assert d['uni'][0]=='caf\\u00e9'; "
        "assert d['scalar'].shape==() and d['scalar']==2.5; assert d['vec1'].shape==(1,) and d['vec1'][0]==-7; "
        "assert sorted(d.files)==['big','names','pose','scalar','uni','vec1']\" " +
        npz + " " + npy;
    CHECK(std::system(cmd.c_str()) == 0);
    std::remove(npz.c_str());
  }
  std::remove(npy.c_str());
}

TEST_CASE("npz: archives from np.savez (stored) and np.savez_compressed (deflate)") {
  {
    // numpy writes every member with force_zip64: the local header carries a zip64 extra field.
    auto raw = read_file(fixture("stored.npz"));
    const std::size_t name_len = load_le<std::uint16_t>(raw.data() + 26), extra_len = load_le<std::uint16_t>(raw.data() + 28);
    REQUIRE(extra_len >= 20);
    CHECK(load_le<std::uint16_t>(raw.data() + 30 + name_len) == 0x0001);
  }
  for (const char* f : {"stored.npz", "compressed.npz"}) {
    NpzMap m = load_npz(fixture(f));
    REQUIRE(m.size() == 4);
    check_values(m.at("pose"), DType::f32, [](int i) { return i * 0.5; });
    check_values(m.at("counts"), DType::i16, [](int i) { return i * 1000 - 12000; });
    CHECK(to_strings(m.at("names")) == std::vector<std::string>{"hip", "rknee", "rfoot"});
    CHECK(m.at("scalar").shape.empty());
    CHECK(to_vector<std::int64_t>(m.at("scalar")) == std::vector<std::int64_t>{7});
    check_values(load_npz_array(fixture(f), "pose"), DType::f32, [](int i) { return i * 0.5; });
  }
  try {
    load_npz_array(fixture("stored.npz"), "missing");
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("missing") != std::string::npos);
    CHECK(m.find("stored.npz") != std::string::npos);
    CHECK(m.find("pose") != std::string::npos);  // lists what is there
    CHECK(m.find("counts") != std::string::npos);
  }
}

TEST_CASE("npz: save/load round trip, stored and compressed") {
  NpzMap m;
  TensorD d({4, 2});
  for (int i = 0; i < 8; ++i) d.data()[i] = std::sin(i * 0.3);
  m["x"] = from_tensor(d);
  m["labels"] = from_strings({"walk", "run"});
  m["bf"] = from_tensor(Tensor<std::int32_t>::full({3}, -5));
  for (bool compress : {false, true}) {
    const std::string p = temp_path("rt.npz");
    save_npz(p, m, compress);
    NpzMap r = load_npz(p);
    CHECK(r.size() == 3);
    for (const auto& kv : m) {
      CHECK(r.at(kv.first).data == kv.second.data);
      CHECK(r.at(kv.first).shape == kv.second.shape);
      CHECK(r.at(kv.first).dtype == kv.second.dtype);
    }
    std::remove(p.c_str());
  }
}

TEST_CASE("npy: every truncation and header corruption is an Error, never a crash") {
  for (const char* f : {"f4.npy", "fortran_be_i2.npy", "strings_U.npy", "v2_f4.npy"}) {
    auto full = read_file(fixture(f));
    NdArray good = parse_npy(full, f);
    for (std::size_t n = 0; n < full.size(); ++n)
      CHECK_THROWS_AS(parse_npy(full.data(), n, f), Error);
    // Flip every header byte: either an Error or the very same array.
    const std::size_t header_end = full[6] == 1 ? 10 + load_le<std::uint16_t>(full.data() + 8)
                                               : 12 + load_le<std::uint32_t>(full.data() + 8);
    for (std::size_t i = 0; i < header_end; ++i) {
      for (std::uint8_t mask : {std::uint8_t(0x01), std::uint8_t(0x20), std::uint8_t(0xff)}) {
        auto bad = full;
        bad[i] ^= mask;
        try {
          NdArray a = parse_npy(bad, f);
          // Some flips leave a valid header ('<'->'>', 'f'->'i', spaces->tabs): the same
          // bytes then read under another valid dtype. The shape and size must still hold.
          bool same_layout = a.shape == good.shape && a.data.size() == good.data.size();
          CHECK_MESSAGE(same_layout, "flip at ", i, " of ", f, " gave a different array");
        } catch (const Error&) {
        }
      }
    }
  }
  for (const char* f : {"stored.npz", "compressed.npz"}) {
    auto full = read_file(fixture(f));
    for (std::size_t n = 0; n < full.size(); n += 7) CHECK_THROWS_AS(parse_npz(std::vector<std::uint8_t>(full.begin(), full.begin() + n), f), Error);
  }
}

TEST_CASE("npy: hand-made bad headers") {
  auto make = [](const std::string& header, std::size_t data_bytes) {
    std::vector<std::uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    append_le<std::uint16_t>(b, std::uint16_t(header.size()));
    b.insert(b.end(), header.begin(), header.end());
    b.resize(b.size() + data_bytes, 0);
    return b;
  };
  auto ok = parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8), "ok");
  CHECK(ok.shape == Shape{2});
  CHECK(parse_npy(make("{\"shape\": (3L, 1), \"descr\": \"|u1\", \"fortran_order\": True}", 3), "py2").shape == Shape{3, 1});
  CHECK_THROWS_WITH_AS(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 4), "trunc"),
                       doctest::Contains("truncated"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12), "trail"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16), "complex"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<f4', 'fortran_order': False}", 4), "noshape"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", 8), "bool"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", 8), "neg"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8), "key"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999, 99999999999999)}", 8), "huge"),
                  Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '|S0', 'fortran_order': False, 'shape': (2,)}", 0), "s0"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<U99999999999', 'fortran_order': False, 'shape': (1,)}", 0), "uhuge"), Error);
  CHECK_THROWS_AS(parse_npy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8), "open"), Error);
}

TEST_CASE("ndarray: conversions refuse values the target cannot hold") {
  NdArray neg = from_vector(std::vector<std::int8_t>{-1, 5});
  CHECK_THROWS_AS(to_tensor<std::uint8_t>(neg), Error);
  CHECK(to_vector<std::int64_t>(neg) == std::vector<std::int64_t>{-1, 5});
  CHECK(to_vector<float>(neg) == std::vector<float>{-1.f, 5.f});
  NdArray big = from_vector(std::vector<std::int64_t>{std::int64_t(1) << 40});
  CHECK_THROWS_AS(to_tensor<std::int32_t>(big), Error);
  NdArray huge_u = from_vector(std::vector<std::uint64_t>{~std::uint64_t(0)});
  CHECK_THROWS_AS(to_tensor<std::int64_t>(huge_u), Error);
  NdArray nan = from_vector(std::vector<float>{NAN});
  CHECK_THROWS_AS(to_tensor<std::int32_t>(nan), Error);
  NdArray fl = from_vector(std::vector<double>{2.9, -2.9, 2147483647.0});
  CHECK(to_vector<std::int32_t>(fl) == std::vector<std::int32_t>{2, -2, 2147483647});
  CHECK_THROWS_AS(to_vector<std::int32_t>(from_vector(std::vector<double>{2147483648.0})), Error);
  // half / bfloat16 both ways
  Tensor<half> h({2});
  h.data()[0] = half(1.5f);
  h.data()[1] = half(-0.25f);
  NdArray ha = from_tensor(h);
  CHECK(ha.dtype == DType::f16);
  CHECK(to_vector<float>(ha) == std::vector<float>{1.5f, -0.25f});
  auto bf = to_tensor<bfloat16>(from_vector(std::vector<float>{3.0f}));
  CHECK(float(bf.data()[0]) == 3.0f);
  CHECK(to_vector<float>(from_tensor(bf)) == std::vector<float>{3.0f});
  // a bool array whose byte is not 0/1 is corrupt
  NdArray b = make_ndarray(DType::boolean, {2});
  b.data[1] = 7;
  CHECK_THROWS_AS(to_vector<int>(b), Error);
  // inconsistent arrays are refused before conversion
  NdArray bad = make_ndarray(DType::f32, {3});
  bad.data.pop_back();
  CHECK_THROWS_AS(to_tensor<float>(bad), Error);
  CHECK(dtype_name(DType::bf16) == "bfloat16");
  CHECK_THROWS_AS(from_strings({"\xff"}, true), Error);
}

TEST_CASE("npz: the real data sets in ../shared/data") {
  const std::string dir = std::string(FINEPOSE_SHARED_DIR) + "/data/";
  const std::vector<std::string> joints = {"hip",   "rhip",  "rknee",     "rfoot",  "lhip",   "lknee",
                                           "lfoot", "spine", "thorax",    "neck",   "head",   "lshoulder",
                                           "lelbow", "lwrist", "rshoulder", "relbow", "rwrist"};
  struct Set {
    const char* file;
    const char* pose;
    std::int64_t frames;
    float fps;
    DType dtype;
  };
  const Set sets[] = {{"humaneva_i_h36m17.npz", "pose3d_world", 9577, 60.f, DType::f32},
                      {"cmu_mocap_h36m17.npz", "pose3d", 11816, 50.f, DType::f32},
                      {"bandai_namco_h36m17.npz", "pose3d_mm", 416845, 30.f, DType::i16}};
  int found = 0;
  for (const auto& s : sets) {
    const std::string path = dir + s.file;
    if (!file_exists(path)) {
      MESSAGE("skipped: ", path, " is absent");
      continue;
    }
    ++found;
    NpzMap m = load_npz(path);
    const NdArray& pose = m.at(s.pose);
    CHECK(pose.dtype == s.dtype);
    CHECK(pose.shape == Shape{s.frames, 17, 3});
    auto joint_names = to_strings(m.at("joint_names"));
    CHECK(joint_names.size() == 17);
    // The README names joints 9 and 10 "neck/nose" and "head"; check the unambiguous ones.
    for (int j : {0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16}) CHECK(joint_names[j] == joints[j]);
    CHECK(to_vector<float>(m.at("fps")) == std::vector<float>{s.fps});
    auto start = to_vector<std::int64_t>(m.at("seq_start"));
    auto len = to_vector<std::int64_t>(m.at("seq_len"));
    REQUIRE(start.size() == len.size());
    std::int64_t next = 0;
    for (std::size_t i = 0; i < start.size(); ++i) {
      CHECK(start[i] == next);
      next = start[i] + len[i];
    }
    CHECK(next == s.frames);
    CHECK(to_strings(m.at("seq_name")).size() == start.size());
    auto t = to_tensor<float>(pose);
    double max_abs = 0;
    bool finite = true;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      finite = finite && std::isfinite(t.data()[i]);
      max_abs = std::max(max_abs, double(std::fabs(t.data()[i])));
    }
    CHECK(finite);
    CHECK(max_abs < 1e5);  // millimetres: a capture volume is at most tens of metres
    CHECK(max_abs > 100);
    if (std::string(s.file) == "humaneva_i_h36m17.npz") {
      CHECK(m.at("pose3d_cam").shape == Shape{3, s.frames, 17, 3});
      CHECK(m.at("pose2d").shape == Shape{3, s.frames, 17, 2});
      CHECK(m.at("pose2d_pinhole").shape == Shape{3, s.frames, 17, 2});
      CHECK(m.at("he15_pose3d_world").shape == Shape{s.frames, 15, 3});
      CHECK(m.at("cam_R_world_to_cam").shape == Shape{3, 3, 3, 3});
      CHECK(m.at("cam_intrinsics").shape == Shape{3, 6});
      auto intr = to_vector<float>(m.at("cam_intrinsics"));
      CHECK(intr[0] == doctest::Approx(765.8).epsilon(1e-3));  // C1 fx from the README
      auto split = to_strings(m.at("seq_split"));
      for (const auto& x : split) CHECK((x == "Train" || x == "Validate"));
      CHECK(to_strings(m.at("cam_names")) == std::vector<std::string>{"C1", "C2", "C3"});
    }
    if (std::string(s.file) == "cmu_mocap_h36m17.npz") {
      CHECK(start.size() == 59);
      CHECK(m.at("seq_retargeted").dtype == DType::boolean);
      auto r = to_vector<int>(m.at("seq_retargeted"));
      int retargeted = 0;
      for (int x : r) retargeted += x;
      CHECK(retargeted == 54);  // README: 54 DAZ clips are retargeted
    }
    if (std::string(s.file) == "bandai_namco_h36m17.npz") {
      CHECK(start.size() == 3076);
      // one array alone, without parsing the rest
      NdArray names = load_npz_array(path, "seq_content");
      CHECK(names.dtype == DType::bytes);
    }
  }
  if (found == 0) MESSAGE("skipped: no data sets under ", dir);
}

TEST_CASE("npz/npy: random multi-byte mutations never crash (only finepose::Error)") {
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int accepted = 0, refused = 0;
  for (const char* f : {"stored.npz", "compressed.npz", "fortran_be_i2.npy", "strings_U.npy"}) {
    const auto full = read_file(fixture(f));
    const bool is_npz = std::string(f).find(".npz") != std::string::npos;
    for (int iter = 0; iter < 1500; ++iter) {
      auto bad = full;
      const int flips = 1 + int(next() % 8);
      for (int k = 0; k < flips; ++k) bad[next() % bad.size()] = std::uint8_t(next());
      try {
        if (is_npz) {
          for (auto& kv : parse_npz(bad, f))
            if (kv.second.is_numeric()) to_vector<double>(kv.second);
            else to_strings(kv.second);
        } else {
          NdArray a = parse_npy(bad, f);
          if (a.is_numeric()) to_vector<double>(a);
          else to_strings(a);
        }
        ++accepted;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  CHECK(refused > accepted);  // CRCs and size checks catch most damage
}

TEST_CASE("npz: saving a bfloat16 array names the array") {
  NpzMap m;
  m["weights"] = make_ndarray(DType::bf16, {2});
  CHECK_THROWS_WITH_AS(serialize_npz(m), doctest::Contains("weights"), Error);
}

TEST_CASE("file errors: the operating system's refusals are IoError, content errors are not") {
  // bindings map IoError to OSError and every other Error to ValueError (python/src)
  const std::string missing = temp_path("no_such_file.npy");
  std::remove(missing.c_str());
  CHECK_THROWS_AS(finepose::io::read_file(missing), finepose::IoError);
  CHECK_THROWS_AS(finepose::io::write_file("/nonexistent_dir_finepose/x.npy", std::string("x")), finepose::IoError);
  const std::string bad = temp_path("not_npy.npy");
  finepose::io::write_file(bad, std::string("not an npy file at all"));
  bool io_error = false, error = false;
  try {
    finepose::io::load_npy(bad);
  } catch (const finepose::IoError&) {
    io_error = true;
  } catch (const finepose::Error&) {
    error = true;
  }
  CHECK(error);
  CHECK_FALSE(io_error);
  std::remove(bad.c_str());
}

TEST_CASE("writes with Existing::refuse never replace a file, even one that appears while they write") {
  namespace fs = std::filesystem;
  const fs::path dir = temp_path("existing");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string p = (dir / "a.txt").string();
  auto read = [](const std::string& f) { return read_text_file(f); };
  write_file(p, std::string("first"));
  CHECK(path_taken(p));
  CHECK_THROWS_WITH_AS(check_not_taken("cmd", p, Existing::refuse, "give --overwrite"), doctest::Contains("exists; give --overwrite"), Error);
  CHECK_NOTHROW(check_not_taken("cmd", p, Existing::replace, ""));
  CHECK_THROWS_WITH_AS(write_file(p, std::string("second"), Existing::refuse), doctest::Contains("was not replaced"), Error);
  CHECK(read(p) == "first");
  write_file(p, std::string("third"), Existing::replace);
  CHECK(read(p) == "third");
  // another writer puts a file in place between our open and our commit: it stays, ours is dropped
  const std::string q = (dir / "b.npz").string();
  {
    AtomicFile f(q, Existing::refuse);
    f.write(std::string("ours"));
    write_file(q, std::string("theirs"));
    CHECK_THROWS_WITH_AS(f.commit(), doctest::Contains("appeared while this ran"), Error);
  }
  CHECK(read(q) == "theirs");
  // a dangling symbolic link is a name in use as well
  const std::string l = (dir / "link.npz").string();
  fs::create_symlink(dir / "nowhere", l);
  CHECK(path_taken(l));
  NpzMap m;
  m["x"] = from_vector(std::vector<int64_t>{1, 2});
  CHECK_THROWS_AS(save_npz(l, m, false, Existing::refuse), Error);
  CHECK_FALSE(fs::exists(dir / "nowhere"));
  // a new name is written; no temporary is left behind by any of the above
  save_npz((dir / "new.npz").string(), m, false, Existing::refuse);
  CHECK(load_npz((dir / "new.npz").string()).count("x") == 1);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"a.txt", "b.npz", "link.npz", "new.npz"});
  fs::remove_all(dir);
}
