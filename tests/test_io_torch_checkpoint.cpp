// torch.save checkpoints read without Python. Fixtures come from real
// torch.save (tools/reference/make_pickle_fixtures.py, torch 1.13); expected
// values are the formulas that script used, recomputed here.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/io/pickle_numpy.hpp"
#include "finepose/io/torch_checkpoint.hpp"
#include "finepose/io/zip.hpp"

using namespace finepose;
using namespace std::string_literals;

namespace {

const std::string kDir = std::string(FINEPOSE_FIXTURE_DIR) + "/pickle/";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ramp(n, a, b)[i] = a * i + b, computed in double and rounded once, as the script does.
std::vector<float> ramp(std::int64_t n, double a, double b) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    volatile double prod = a * double(i);  // no fused multiply-add: torch rounds the product first
    v[std::size_t(i)] = float(prod + b);
  }
  return v;
}

std::string error_of_file(const std::string& path, const io::TorchLoadOptions& o = {}) {
  try {
    io::load_torch_checkpoint(path, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
std::string error_of_bytes(const std::vector<std::uint8_t>& b, const io::TorchLoadOptions& o = {}) {
  try {
    io::load_torch_checkpoint_bytes(b, "test.pt", o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string u32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int k = 0; k < 4; ++k) s[k] = char((v >> (8 * k)) & 0xff);
  return s;
}
std::string str(const std::string& s) { return "X" + u32(std::uint32_t(s.size())) + s; }
std::string small_int(int v) { return "K" + std::string(1, char(v)); }  // 0..255

// A data.pkl with one entry `w` = _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
std::string tensor_pickle(const std::string& storage_type, const std::string& key, int numel, int offset,
                          const std::vector<int>& size, const std::vector<int>& stride, bool valid_pid = true) {
  std::string p = "\x80\x02}"s + str("w");
  p += "ctorch._utils\n_rebuild_tensor_v2\n(";
  if (valid_pid)
    p += "(" + str("storage") + "ctorch\n" + storage_type + "\n" + str(key) + str("cpu") + small_int(numel) + "tQ";
  else
    p += str("storage") + "Q";  // a bare string as persistent id
  p += small_int(offset) + "(";
  for (int s : size) p += small_int(s);
  p += "t(";
  for (int s : stride) p += small_int(s);
  p += "t\x89" "ccollections\nOrderedDict\n)RtRs.";
  return p;
}

std::vector<std::uint8_t> torch_zip(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& data,
                                    const std::string& byteorder = "") {
  io::ZipWriter w(64);
  w.add("archive/data.pkl", pkl.data(), pkl.size());
  if (!byteorder.empty()) w.add("archive/byteorder", byteorder.data(), byteorder.size());
  for (const auto& d : data) w.add("archive/data/" + d.first, d.second.data(), d.second.size());
  w.add("archive/version", "3\n", 2);
  return w.finish();
}

std::string floats_le(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(&s[0], v.data(), s.size());
  return s;
}

}  // namespace

TEST_CASE("torch checkpoint: every storage type, views and shared storages") {
  io::TorchCheckpoint ck = io::load_torch_checkpoint(kDir + "state_dict_dtypes.pt");
  auto sd = ck.state_dict();  // a bare state dict: its top level
  auto vals = [&](const char* k) {
    REQUIRE(sd.count(k));
    return sd.at(k).to_vector();
  };
  CHECK(sd.at("f32").shape() == Shape{2, 3});
  CHECK(vals("f32") == ramp(6, 0.5, -1.0));
  CHECK(vals("f16") == ramp(5, 0.25, 1.0));
  CHECK(vals("f64") == ramp(4, 1.0 / 3.0, 0.0));
  CHECK(vals("bf16") == ramp(4, 2.0, -3.0));
  CHECK(ck.info.at("f16").dtype == "float16");
  CHECK(ck.info.at("bf16").dtype == "bfloat16");
  CHECK(ck.info.at("f64").dtype == "float64");

  // Integer tensors: exact in int_tensors, float32 in the state dict.
  REQUIRE(ck.int_tensors.count("i64"));
  auto i64 = ck.int_tensors.at("i64").to_vector();
  REQUIRE(i64.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(i64[i] == std::int64_t(i) * 1000000007 - 3);
  CHECK(vals("i64")[4] == float(4.0 * 1000000007 - 3));
  CHECK(ck.int_tensors.at("i32").to_vector() == std::vector<std::int64_t>{-1, 0, 1});
  CHECK(ck.int_tensors.at("u8").to_vector() == std::vector<std::int64_t>{0, 60, 120, 180});
  CHECK(ck.int_tensors.at("b").to_vector() == std::vector<std::int64_t>{1, 0, 1});
  CHECK(ck.int_state_dict().size() == 4);

  CHECK(sd.at("scalar").shape().empty());
  CHECK(vals("scalar") == std::vector<float>{2.5f});
  CHECK(sd.at("empty").shape() == Shape{0, 3});

  // base = 0..11 as (3,4); its views share one storage.
  CHECK(vals("base") == ramp(12, 1.0, 0.0));
  CHECK(ck.info.at("base_t").storage_key == ck.info.at("base").storage_key);
  CHECK(sd.at("base_t").shape() == Shape{4, 3});
  std::vector<float> t;
  for (int c = 0; c < 4; ++c)
    for (int r = 0; r < 3; ++r) t.push_back(float(4 * r + c));
  CHECK(vals("base_t") == t);
  CHECK(vals("base_row1") == std::vector<float>{4, 5, 6, 7});
  CHECK(sd.at("base_cols").shape() == Shape{3, 2});
  CHECK(vals("base_cols") == std::vector<float>{1, 3, 5, 7, 9, 11});
  CHECK(vals("base_bcast") == std::vector<float>(6, 0.0f));
  // half_t = (ramp(8, .5, 0) as (2,4)).t()
  std::vector<float> ht;
  for (int c = 0; c < 4; ++c)
    for (int r = 0; r < 2; ++r) ht.push_back(0.5f * float(4 * r + c));
  CHECK(vals("half_t") == ht);
  // Every loaded tensor is contiguous and owns its data.
  for (const auto& kv : ck.tensors) CHECK(kv.second.is_contiguous());
}

TEST_CASE("torch checkpoint: FinePOSE-shaped checkpoint (epoch, lr, random_state, optimizer, DataParallel)") {
  const std::string path = kDir + "finepose_like.bin";
  io::TorchCheckpoint ck = io::load_torch_checkpoint(path);
  CHECK(ck.scalar("epoch") == 7.0);
  CHECK(ck.scalar("lr") == 0.000123);
  CHECK_FALSE(ck.has_scalar("model_pos"));
  CHECK(contains(error_of_file(path + ".missing"), "cannot open"));
  std::vector<std::string> entries = ck.entries();
  CHECK(entries == std::vector<std::string>{"epoch", "lr", "random_state", "optimizer", "model_pos", "loss 3d test",
                                            "loss 3d train", "model_traj"});
  CHECK(ck.scalar("loss 3d test") == 0.0625);   // np.float64
  CHECK(ck.scalar("loss 3d train") == 0.25);    // 0-d tensor
  CHECK_FALSE(ck.has_scalar("model_traj"));     // None

  // model_pos: 'module.' stripped; parameter k (state-dict order, listed in the
  // keys file) = ramp(numel, 0.01 (k+1), k).
  auto sd = ck.state_dict("model_pos");
  std::ifstream keys(kDir + "finepose_like_keys.txt");
  std::string line;
  int k = 0;
  while (std::getline(keys, line)) {
    std::istringstream is(line);
    std::string name, dtype, shape;
    is >> name >> dtype >> shape;
    CAPTURE(name);
    REQUIRE(sd.count(name));
    const TensorF& t = sd.at(name);
    CHECK(t.to_vector() == ramp(t.numel(), 0.01 * (k + 1), double(k)));
    CHECK(ck.info.at("model_pos.module." + name).dtype == dtype);
    ++k;
  }
  CHECK(k == 16);
  CHECK(sd.size() == 16);
  CHECK(sd.count("pose_estimator.STEblocks.0.attn.qkv.weight"));
  CHECK(sd.at("pose_estimator.STEblocks.0.attn.qkv.weight").shape() == Shape{12, 4});
  // Without stripping, DataParallel's names are kept.
  CHECK(ck.state_dict("model_pos", false).count("module.betas"));

  // Optimizer: AdamW after one step on loss = sum p^2 (grad = 2p):
  // exp_avg = 0.1 grad, exp_avg_sq = 0.001 grad^2, step = 1. Parameter i of the
  // optimizer is state-dict entry i+1 (entry 0 is the 'betas' buffer).
  for (int i = 0; i < 13; ++i) {
    CAPTURE(i);
    const std::string pre = "optimizer.state." + std::to_string(i) + ".";
    REQUIRE(ck.tensors.count(pre + "exp_avg"));
    auto p = ramp(ck.tensors.at(pre + "exp_avg").numel(), 0.01 * (i + 2), double(i + 1));
    auto m = ck.tensors.at(pre + "exp_avg").to_vector();
    auto v = ck.tensors.at(pre + "exp_avg_sq").to_vector();
    for (std::size_t j = 0; j < p.size(); ++j) {
      const double g = 2.0 * p[j];
      CHECK(m[j] == doctest::Approx(0.1 * g).epsilon(1e-6));
      CHECK(v[j] == doctest::Approx(0.001 * g * g).epsilon(1e-5));
    }
    CHECK(ck.tensors.at(pre + "step").to_vector() == std::vector<float>{1.0f});
  }

  // random_state: the np.random.RandomState(0) object main.py saves, read as data.
  REQUIRE(ck.has_random_state);
  CHECK(ck.random_state.pos == 624);
  CHECK_FALSE(ck.random_state.has_gauss);
  const auto& mt = ck.random_state.key;
  REQUIRE(mt.size() == 624);
  std::uint32_t x = 0;
  for (std::uint32_t i = 0; i < 624; ++i) {
    x = i == 0 ? 0u : 1812433253u * (x ^ (x >> 30)) + i;  // init_genrand(0)
    if (mt[i] != x) {
      FAIL_CHECK("mt[", i, "]");
      break;
    }
  }

  // Asking for an entry that is not there names what is.
  try {
    ck.state_dict("model");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(contains(e.what(), "no entry 'model'"));
    CHECK(contains(e.what(), "model_pos"));
  }
  CHECK_THROWS_AS(ck.state_dict("epoch"), Error);
}

TEST_CASE("torch checkpoint: the key filter skips tensors without reading them") {
  io::TorchLoadOptions o;
  std::vector<std::string> asked;
  o.keep = [&](const std::string& key) {
    asked.push_back(key);
    return key.rfind("optimizer.", 0) != 0 && key.find("clip_text.visual.") == std::string::npos;
  };
  io::TorchCheckpoint ck = io::load_torch_checkpoint(kDir + "finepose_like.bin", o);
  CHECK(asked.size() == ck.info.size());
  // 16 model tensors minus clip_text.visual.conv1.weight, plus the 'loss 3d train' scalar tensor.
  CHECK(ck.tensors.size() == 16);
  for (const auto& kv : ck.tensors) CHECK((kv.first.rfind("model_pos.", 0) == 0 || kv.first == "loss 3d train"));
  CHECK_FALSE(ck.info.at("model_pos.module.clip_text.visual.conv1.weight").loaded);
  CHECK(ck.info.at("model_pos.module.clip_text.visual.conv1.weight").shape == Shape{2, 3, 2, 2});
  CHECK_FALSE(ck.info.at("optimizer.state.0.exp_avg").loaded);
  CHECK(ck.state_dict().size() == 15);
  CHECK(ck.state_dict().count("clip_text.token_embedding.weight"));

  // A filtered-out tensor is not even checked against its storage.
  io::TorchLoadOptions only_ok;
  only_ok.keep = [](const std::string& key) { return key == "ok"; };
  io::TorchCheckpoint part = io::load_torch_checkpoint(kDir + "view_past_storage.pt", only_ok);
  CHECK(part.tensors.at("ok").to_vector() == ramp(6, 1.0, 0.0));
}

TEST_CASE("torch checkpoint: archive directory name, legacy and non-torch files") {
  io::TorchCheckpoint ck = io::load_torch_checkpoint(kDir + "archive_name.pt");
  CHECK(ck.state_dict().at("w").to_vector() == std::vector<float>{1, 2, 3});
  CHECK(contains(error_of_file(kDir + "legacy.pt"), "legacy (pre-1.6) torch format is not supported; re-save with torch>=1.6"));
  CHECK(contains(error_of_file(kDir + "finepose_like_keys.txt"), "not a PyTorch checkpoint"));
  const std::string whole = error_of_file(kDir + "whole_module.pt");
  CHECK(contains(whole, "refusing global 'torch.nn.modules.linear.Linear'"));
  CHECK(contains(whole, "re-save model.state_dict()"));
  CHECK(contains(error_of_bytes({}), "not a PyTorch checkpoint"));
  // A zip without */data.pkl.
  io::ZipWriter w;
  w.add("x/y.txt", "hi", 2);
  CHECK(contains(error_of_bytes(w.finish()), "without */data.pkl"));
  // TorchScript archives are named as such.
  io::ZipWriter js;
  js.add("m/data.pkl", "\x80\x02N.", 4);
  js.add("m/constants.pkl", "\x80\x02N.", 4);
  CHECK(contains(error_of_bytes(js.finish()), "TorchScript"));
}

TEST_CASE("torch checkpoint: hostile and inconsistent files are refused") {
  std::remove("/tmp/finepose_pickle_PWNED");
  CHECK(contains(error_of_file(kDir + "malicious_checkpoint.pt"),
                 "refusing global 'os.system' (not a tensor/checkpoint type)"));
  std::FILE* f = std::fopen("/tmp/finepose_pickle_PWNED", "rb");
  CHECK(f == nullptr);
  if (f) std::fclose(f);

  const std::string past = error_of_file(kDir + "view_past_storage.pt");
  CHECK(contains(past, "'past_end'"));
  CHECK(contains(past, "storage of 6 elements"));
  CHECK(contains(error_of_file(kDir + "storage_too_short.pt"), "entry holds 24 bytes, but 100 float32 elements need 400"));

  const std::string six = floats_le(ramp(6, 1.0, 0.0));
  // Built here: a good one first, so the failures below are about one thing each.
  auto good = io::load_torch_checkpoint_bytes(torch_zip(tensor_pickle("FloatStorage", "0", 6, 1, {2, 2}, {1, 2}), {{"0", six}}), "t");
  CHECK(good.tensors.at("w").to_vector() == std::vector<float>{1, 3, 2, 4});
  CHECK(contains(error_of_bytes(torch_zip(tensor_pickle("FloatStorage", "0", 6, 0, {4}, {2}), {{"0", six}})),
                 "reaches element 6 of a storage of 6 elements"));
  CHECK(contains(error_of_bytes(torch_zip(tensor_pickle("FloatStorage", "0", 6, 0, {2, 3}, {3}), {{"0", six}})), "differ in rank"));
  CHECK(contains(error_of_bytes(torch_zip(tensor_pickle("FloatStorage", "1", 6, 0, {6}, {1}), {{"0", six}})),
                 "archive has no entry 'archive/data/1'"));
  CHECK(contains(error_of_bytes(torch_zip(tensor_pickle("FloatStorage", "0", 6, 0, {6}, {1}, false), {{"0", six}})),
                 "not a tuple"));
  CHECK(contains(error_of_bytes(torch_zip(tensor_pickle("EvilStorage", "0", 6, 0, {6}, {1}), {{"0", six}})),
                 "refusing global 'torch.EvilStorage'"));
  CHECK(contains(error_of_bytes(torch_zip(tensor_pickle("ComplexFloatStorage", "0", 3, 0, {3}, {1}), {{"0", six}})),
                 "complex tensors are not supported"));
  // Two records of one storage that disagree on its size.
  {
    std::string p = "\x80\x02}"s;
    for (const char* name : {"a", "b"}) {
      p += str(name) + "ctorch._utils\n_rebuild_tensor_v2\n((" + str("storage") + "ctorch\nFloatStorage\n" + str("0") +
           str("cpu") + small_int(name[0] == 'a' ? 6 : 5) + "tQK\x00" "(K\x01t(K\x01t\x89" "ccollections\nOrderedDict\n)RtRs"s;
    }
    p += ".";
    CHECK(contains(error_of_bytes(torch_zip(p, {{"0", six}})), "declared twice"));
  }
  // A shared-list DAG with 2^60 paths is walked once per list.
  {
    std::string p = "\x80\x02]"s;
    for (int k = 0; k < 60; ++k) p += "2\x86";  // Lk+1 = (Lk, Lk)
    p += ".";
    auto ck = io::load_torch_checkpoint_bytes(torch_zip(p, {}), "dag");
    CHECK(ck.tensors.empty());
  }
  // Big-endian storages (byteorder file) are swapped.
  {
    std::string be;
    for (float v : {1.5f, -2.0f, 3.25f}) {
      std::uint32_t u;
      std::memcpy(&u, &v, 4);
      for (int k = 3; k >= 0; --k) be += char((u >> (8 * k)) & 0xff);
    }
    auto ck = io::load_torch_checkpoint_bytes(torch_zip(tensor_pickle("FloatStorage", "0", 3, 0, {3}, {1}), {{"0", be}}, "big"), "be");
    CHECK(ck.tensors.at("w").to_vector() == std::vector<float>{1.5f, -2.0f, 3.25f});
    CHECK(contains(error_of_bytes(torch_zip(tensor_pickle("FloatStorage", "0", 3, 0, {3}, {1}), {{"0", be}}, "middle")),
                   "unknown byteorder"));
  }
}

TEST_CASE("torch checkpoint: truncated and corrupted files are errors, never crashes") {
  const std::vector<std::uint8_t> full = io::read_file(kDir + "finepose_like.bin");
  CHECK_NOTHROW(io::load_torch_checkpoint_bytes(full, "full"));
  int loaded = 0;
  for (std::size_t len = 0; len < full.size(); len += (len < 64 || len + 64 > full.size()) ? 1 : 97) {
    std::vector<std::uint8_t> part(full.begin(), full.begin() + std::ptrdiff_t(len));
    if (error_of_bytes(part).empty()) ++loaded;
  }
  CHECK(loaded == 0);

  // data.pkl truncated at every byte inside an otherwise valid archive.
  io::ZipReader zr(full, "finepose_like.bin");
  std::string dir;
  for (const auto& e : zr.entries())
    if (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0) dir = e.name.substr(0, e.name.size() - 8);
  REQUIRE_FALSE(dir.empty());
  const std::vector<std::uint8_t> pkl = zr.read(dir + "data.pkl");
  std::vector<std::pair<std::string, std::string>> data;
  for (const auto& e : zr.entries())
    if (e.name.rfind(dir + "data/", 0) == 0) {
      auto b = zr.read(e);
      data.emplace_back(e.name.substr(dir.size() + 5), std::string(b.begin(), b.end()));
    }
  const std::string pkls(pkl.begin(), pkl.end());
  CHECK(error_of_bytes(torch_zip(pkls, data)).empty());
  loaded = 0;
  for (std::size_t len = 0; len < pkls.size(); len += 7)
    if (error_of_bytes(torch_zip(pkls.substr(0, len), data)).empty()) ++loaded;
  CHECK(loaded == 0);

  // Single flipped bytes in the pickle: loads or errors, never crashes.
  int errors = 0;
  for (std::size_t pos = 0; pos < pkls.size(); pos += 5) {
    std::string bad = pkls;
    bad[pos] = char(static_cast<unsigned char>(bad[pos]) ^ 0x5a);
    if (!error_of_bytes(torch_zip(bad, data)).empty()) ++errors;
  }
  CHECK(errors > 0);
}

TEST_CASE("torch checkpoint: exactly what the official main.py saves, numpy 1.x and numpy 2.x / torch 2.x forms") {
  // {'epoch', 'lr', 'random_state': RandomState object, 'optimizer': AdamW state, 'model_pos':
  // DataParallel state dict}; the np2 file also has torch 2.x's byteorder and .data/serialization_id.
  io::TorchCheckpoint a = io::load_torch_checkpoint(kDir + "official_main_py.bin");
  io::TorchCheckpoint b = io::load_torch_checkpoint(kDir + "official_main_py_np2.bin");
  for (const io::TorchCheckpoint* ck : {&a, &b}) {
    CAPTURE(ck->path);
    CHECK(ck->entries() == std::vector<std::string>{"epoch", "lr", "random_state", "optimizer", "model_pos"});
    CHECK(ck->scalar("epoch") == 3.0);
    CHECK(ck->scalar("lr") == 6e-5);
    REQUIRE(ck->has_random_state);
    CHECK(ck->random_state.pos == 8);
    CHECK(ck->random_state.has_gauss);
    CHECK(ck->random_state.gauss == 2.240893199201458);
    CHECK(ck->state_dict("model_pos").size() == 16);
  }
  CHECK(a.random_state.key == b.random_state.key);
  const auto sa = a.state_dict("model_pos"), sb = b.state_dict("model_pos");
  for (const auto& kv : sa) CHECK(kv.second.to_vector() == sb.at(kv.first).to_vector());
  CHECK(a.tensors.size() == b.tensors.size());
}
