// Hostile model files through the `finepose` CLI and the model-loading path
// (load_model): code-running pickles, absurd nesting, tensors that point
// outside the file, lying safetensors headers, absurd model configs, NaN/Inf
// weights, truncated checkpoints. Each must give a clear error and a non-zero
// exit (never a signal), and nothing may run: the payloads would `touch` a
// marker file, which must not exist afterwards. The parsers' own unit tests
// (tests/test_io_*.cpp) cover the byte-level details; this file covers what a
// user running `finepose convert/sample` on a downloaded file meets.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/io/safetensors.hpp"
#include "finepose/io/torch_checkpoint.hpp"
#include "finepose/io/zip.hpp"
#include "finepose/model/config_json.hpp"
#include "finepose/model/model_file.hpp"

#include "cli_run.hpp"

namespace fs = std::filesystem;
using namespace finepose;
using namespace std::string_literals;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A private scratch directory; removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("finepose_hostile_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup;
  return dir;
}
std::string tmp(const std::string& name) { return (scratch() / name).string(); }
const std::string& marker() {
  static const std::string m = tmp("PWNED");
  return m;
}
bool marker_exists() { return fs::exists(marker()); }

void write_bytes(const std::string& path, const std::string& s) { io::write_file(path, s.data(), s.size()); }
void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) { io::write_file(path, b); }

// ---- the CLI -----------------------------------------------------------------
struct CliResult {
  bool exited = false;  // false: killed by a signal (a crash)
  int code = -1;
  std::string output;   // stdout + stderr
};

bool have_cli() { return test::have_cli() && fs::exists(FINEPOSE_CLI); }

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? "'\\''"s : std::string(1, c);
  return q + "'";
}

CliResult run_cli(const std::vector<std::string>& args) {
  std::string line;
  for (const auto& a : args) line += (line.empty() ? "" : " ") + quoted(a);
  const test::CliRun run = test::run_cli(line);
  CliResult r;
  r.exited = run.rc >= 0;  // run_cli gives -1 unless the process exited normally
  r.code = run.rc;
  r.output = run.out;
  return r;
}

// `finepose convert IN OUT` must fail cleanly, mention `expect`, and write nothing.
void check_convert_refuses(const std::string& in, const std::string& expect) {
  const std::string out = tmp("converted.safetensors");
  fs::remove(out);
  const CliResult r = run_cli({"convert", in, out});
  INFO("finepose convert ", in, " said: ", r.output);
  CHECK(r.exited);  // not a signal
  CHECK(r.code == 1);
  CHECK(contains(r.output, "finepose convert: error: "));
  CHECK(contains(r.output, expect));
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(marker_exists());
}

// load_model must throw finepose::Error mentioning `expect`.
void check_load_refuses(const std::string& in, const std::string& expect) {
  std::string msg;
  try {
    (void)load_model(in);
  } catch (const Error& e) {
    msg = e.what();
  }
  INFO("load_model(", in, ") said: ", msg);
  CHECK(contains(msg, expect));
  CHECK_FALSE(marker_exists());
}

// ---- pickle / torch.save archives built by hand -------------------------------
std::string u32le(std::uint32_t v) {
  std::string s(4, '\0');
  for (int k = 0; k < 4; ++k) s[std::size_t(k)] = char((v >> (8 * k)) & 0xff);
  return s;
}
std::string pstr(const std::string& s) { return "X" + u32le(std::uint32_t(s.size())) + s; }   // BINUNICODE
std::string pint(std::int64_t v) {                                                         // LONG1, any size
  std::string b;
  for (int k = 0; k < 8; ++k) b += char((std::uint64_t(v) >> (8 * k)) & 0xff);
  return "\x8a\x08"s + b;
}
std::string ptuple(const std::vector<std::int64_t>& v) {
  std::string s = "(";
  for (auto x : v) s += pint(x);
  return s + "t";
}

// {'model_pos': {KEY: VALUE}} around a pickled value (protocol 2)
std::string in_model_pos(const std::string& value, const std::string& key = "module.pose_estimator.Spatial_pos_embed") {
  return "\x80\x02}"s + pstr("model_pos") + "}" + pstr(key) + value + "ss.";
}

// _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), offset, size, stride, False, OrderedDict())
std::string tensor_record(std::int64_t numel, std::int64_t offset, const std::vector<std::int64_t>& size,
                          const std::vector<std::int64_t>& stride) {
  return "ctorch._utils\n_rebuild_tensor_v2\n((" + pstr("storage") + "ctorch\nFloatStorage\n" + pstr("0") + pstr("cpu") +
         pint(numel) + "tQ" + pint(offset) + ptuple(size) + ptuple(stride) + "\x89" "ccollections\nOrderedDict\n)Rt" "R";
}

std::vector<std::uint8_t> torch_zip(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& data = {}) {
  io::ZipWriter w(64);
  w.add("archive/data.pkl", pkl.data(), pkl.size());
  for (const auto& d : data) w.add("archive/data/" + d.first, d.second.data(), d.second.size());
  w.add("archive/version", "3\n", 2);
  return w.finish();
}

std::string floats(std::size_t n, float v = 0.5f) {
  std::string s(n * 4, '\0');
  for (std::size_t i = 0; i < n; ++i) std::memcpy(&s[i * 4], &v, 4);
  return s;
}

// Ways a pickle can ask for a call of module.name(arg).
std::vector<std::pair<std::string, std::string>> call_forms(const std::string& module, const std::string& name,
                                                            const std::string& arg) {
  return {
      {"GLOBAL+REDUCE", "c" + module + "\n" + name + "\n" + pstr(arg) + "\x85R"},
      {"STACK_GLOBAL+REDUCE", pstr(module) + pstr(name) + "\x93" + pstr(arg) + "\x85R"},
      {"INST", "(" + pstr(arg) + "i" + module + "\n" + name + "\n"},
      {"OBJ", "(c" + module + "\n" + name + "\n" + pstr(arg) + "o"},
      {"NEWOBJ", "c" + module + "\n" + name + "\n" + pstr(arg) + "\x85\x81"},
  };
}

const std::string kFixtures = FINEPOSE_FIXTURE_DIR;

}  // namespace

TEST_CASE("hostile pickles: os.system, eval, subprocess are refused by the CLI and load_model; nothing runs") {
  fs::remove(marker());
  const std::string touch = "touch " + marker();
  const std::string py = "__import__('os').system('" + touch + "')";
  const std::vector<std::pair<std::pair<std::string, std::string>, std::string>> calls = {
      {{"os", "system"}, touch},          {{"posix", "system"}, touch},       {{"nt", "system"}, touch},
      {{"builtins", "eval"}, py},         {{"builtins", "exec"}, py},         {{"__builtin__", "eval"}, py},
      {{"subprocess", "Popen"}, touch},   {{"subprocess", "check_call"}, touch}, {{"subprocess", "getoutput"}, touch},
      {{"builtins", "__import__"}, "os"}, {{"torch", "load"}, marker()},     {{"pickle", "loads"}, "x"},
  };
  int n = 0;
  for (const auto& c : calls) {
    for (const auto& form : call_forms(c.first.first, c.first.second, c.second)) {
      // both at the top level and hidden inside the state dict
      for (bool nested : {false, true}) {
        const std::string pkl = nested ? in_model_pos(form.second) : "\x80\x02"s + form.second + ".";
        const std::string path = tmp("hostile_" + std::to_string(n++) + ".bin");
        write_bytes(path, torch_zip(pkl));
        INFO(c.first.first, ".", c.first.second, " via ", form.first, nested ? " inside model_pos" : " at the top");
        // INST is refused as an opcode, before its global is even looked up
        const bool opcode = form.first == "INST";
        const std::string expect =
            opcode ? "refusing opcode " + form.first : "refusing global '" + c.first.first + "." + c.first.second + "'";
        check_load_refuses(path, expect);
        if (have_cli() && !nested) check_convert_refuses(path, expect);
      }
    }
  }
  // the committed hostile pickles (tools/reference/make_pickle_fixtures.py) as a checkpoint's data.pkl
  for (const char* f : {"hostile_os_system.pkl", "hostile_posix_system.pkl", "hostile_nt_system.pkl",
                        "hostile_builtins_eval.pkl", "hostile_subprocess_popen.pkl"}) {
    const std::vector<std::uint8_t> pkl = io::read_file(kFixtures + "/pickle/" + f);
    const std::string path = tmp(std::string(f) + ".bin");
    write_bytes(path, torch_zip(std::string(pkl.begin(), pkl.end())));
    check_load_refuses(path, "refusing global");
    if (have_cli()) check_convert_refuses(path, "refusing global");
  }
  if (have_cli()) check_convert_refuses(kFixtures + "/pickle/malicious_checkpoint.pt", "refusing global 'os.system'");
  else MESSAGE("skipped: CLI half (FINEPOSE_CLI not built)");
  CHECK_FALSE(marker_exists());
  fs::remove(marker());
}

TEST_CASE("hostile pickles: 10^5-deep nesting is an error, not a stack overflow") {
  const int deep = 100000;
  const std::vector<std::pair<std::string, std::string>> shapes = {
      {"lists", "\x80\x02" + std::string(deep, ']') + std::string(deep - 1, 'a') + "."},
      {"marks", "\x80\x02" + std::string(deep, '(') + std::string(deep, 't') + "."},
      {"dicts", "\x80\x02" + [&] {
         std::string s;
         for (int i = 0; i < deep; ++i) s += "}" + pstr("k");
         s += "N";
         for (int i = 0; i < deep; ++i) s += "s";
         return s;
       }() + "."},
      {"tuples", "\x80\x02N" + std::string(deep, '\x85') + "."},
      {"in model_pos", in_model_pos(std::string(deep, ']') + std::string(deep - 1, 'a'))},
  };
  for (const auto& s : shapes) {
    INFO(s.first);
    const std::string path = tmp("deep_" + std::to_string(&s - &shapes[0]) + ".bin");
    write_bytes(path, torch_zip(s.second));
    check_load_refuses(path, "nest");
    if (have_cli()) check_convert_refuses(path, "nest");
  }
}

TEST_CASE("hostile checkpoints: tensors whose storage offset or size points outside the file") {
  const std::string six = floats(6);
  struct Case {
    const char* what;
    std::string pkl;
    std::string expect;
  };
  const std::int64_t big = std::int64_t(1) << 40;
  const std::vector<Case> cases = {
      {"storage longer than its entry", in_model_pos(tensor_record(100, 0, {100}, {1})), "need 400"},
      {"offset past the storage", in_model_pos(tensor_record(6, 200, {2}, {1})), "storage of 6 elements"},
      {"size past the storage", in_model_pos(tensor_record(6, 0, {7}, {1})), "storage of 6 elements"},
      {"stride past the storage", in_model_pos(tensor_record(6, 0, {2, 2}, {100, 1})), "storage of 6 elements"},
      {"huge declared storage", in_model_pos(tensor_record(big, 0, {6}, {1})), "need"},
      {"huge size", in_model_pos(tensor_record(6, 0, {big, big}, {1, 1})), "6"},
      {"negative offset", in_model_pos(tensor_record(6, -3, {2}, {1})), "offset"},
      {"negative size", in_model_pos(tensor_record(6, 0, {-2}, {1})), "size"},
      {"negative stride", in_model_pos(tensor_record(6, 4, {2}, {-1})), "stride"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const std::string path = tmp("outside.bin");
    write_bytes(path, torch_zip(c.pkl, {{"0", six}}));
    check_load_refuses(path, c.expect);
    if (have_cli()) check_convert_refuses(path, c.expect);
  }
}

namespace {
// A safetensors file with a raw JSON header.
std::string safetensors_raw(const std::string& header, const std::string& data) {
  std::string s(8, '\0');
  const std::uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) s[std::size_t(k)] = char((n >> (8 * k)) & 0xff);
  return s + header + data;
}
std::string tensor_json(const char* name, const std::vector<std::int64_t>& shape, std::uint64_t b, std::uint64_t e) {
  std::string s = "\""s + name + "\":{\"dtype\":\"F32\",\"shape\":[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "],\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(e) + "]}";
}
std::string meta_json() {
  json::Value m = json::Value::object();
  m.set("finepose.config", config_to_json(FinePoseConfig()));
  return "\"__metadata__\":" + json::dump(m);
}
}  // namespace

TEST_CASE("hostile safetensors: overlapping, out-of-range and lying tensors are refused by the CLI and load_model") {
  const std::string d16 = floats(4);
  struct Case {
    const char* what;
    std::string file;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"overlapping", safetensors_raw("{" + meta_json() + "," + tensor_json("a", {2}, 0, 8) + "," + tensor_json("b", {2}, 4, 12) + "}", floats(3)), "safetensors"},
      {"out of range", safetensors_raw("{" + meta_json() + "," + tensor_json("a", {4}, 0, 16) + "," + tensor_json("b", {2}, 16, 1ull << 40) + "}", d16), "safetensors"},
      {"end before begin", safetensors_raw("{" + meta_json() + "," + tensor_json("a", {0}, 16, 8) + "}", d16), "safetensors"},
      {"shape disagrees with bytes", safetensors_raw("{" + meta_json() + "," + tensor_json("a", {1000}, 0, 16) + "}", d16), "safetensors"},
      {"shape overflows", safetensors_raw("{" + meta_json() + "," + tensor_json("a", {1ll << 32, 1ll << 32, 16}, 0, 16) + "}", d16), "safetensors"},
      {"gap between tensors", safetensors_raw("{" + meta_json() + "," + tensor_json("a", {1}, 0, 4) + "," + tensor_json("b", {1}, 8, 12) + "}", floats(3)), "safetensors"},
      {"header longer than the file", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f") + "{}", "safetensors"},
      {"header not JSON", safetensors_raw("{\"a\":", ""), "safetensors"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const std::string path = tmp("hostile.safetensors");
    write_bytes(path, c.file);
    check_load_refuses(path, c.expect);
    if (have_cli()) check_convert_refuses(path, c.expect);
  }
}

TEST_CASE("hostile model configs: absurd sizes are refused before anything is allocated") {
  // A 1 KB file must not make the loader allocate terabytes (or run out of memory).
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"dim", "{\"dim\": 8388608, \"heads\": 8, \"mlp_hidden\": 8388608}"},
      {"depth", "{\"depth\": 16000000}"},
      {"vocab", "{\"text_vocab\": 16000000, \"text_width\": 16000000, \"clip_heads\": 1, \"encoder_heads\": 1}"},
      {"frames", "{\"frames\": 16000000, \"dim\": 16000000, \"heads\": 1}"},
      {"context overflow", "{\"ctx_lengths\": [9223372036854775807, 9223372036854775807, 1, 1, 1, 1, 1]}"},
  };
  for (const auto& c : cases) {
    INFO(c.first);
    json::Value m = json::Value::object();
    m.set("finepose.config", c.second);
    const std::string file = safetensors_raw("{\"__metadata__\":" + json::dump(m) + "," + tensor_json("a", {1}, 0, 4) + "}", floats(1));
    const std::string path = tmp("absurd.safetensors");
    write_bytes(path, file);
    check_load_refuses(path, "config");
    if (have_cli()) check_convert_refuses(path, "config");
  }
}

TEST_CASE("NaN/Inf weights are refused at load; convert --allow-non-finite converts them with a warning") {
  const std::string tiny = kFixtures + "/parity/tiny.bin";
  if (!fs::exists(tiny)) {
    MESSAGE("skipped: ", tiny, " not present (tools/reference/make_parity_fixtures.py --preset tiny)");
    return;
  }
  // our own model file with two poisoned parameters
  FinePoseModel model = load_model(tiny);
  const std::string clean = tmp("clean.safetensors");
  save_model(clean, model, "f32");
  io::SafeTensors st = io::load_safetensors(clean);
  REQUIRE(st.tensors.size() > 2);
  std::vector<std::string> poisoned;
  for (auto& kv : st.tensors) {
    if (kv.second.dtype != io::DType::f32 || kv.second.data.size() < 8) continue;
    const float bad = poisoned.empty() ? std::nanf("") : -INFINITY;
    std::memcpy(kv.second.data.data() + 4, &bad, 4);
    poisoned.push_back(kv.first);
    if (poisoned.size() == 2) break;
  }
  REQUIRE(poisoned.size() == 2);
  const std::string nan_path = tmp("nan.safetensors");
  write_bytes(nan_path, io::serialize_safetensors(st.tensors, st.metadata));

  // refused at load by default, naming the first poisoned tensor
  CHECK_THROWS_WITH_AS(load_model(nan_path), doctest::Contains("contain NaN/Inf"), Error);
  ModelFileOptions allow;
  allow.allow_non_finite = true;
  LoadReport report;
  CHECK_NOTHROW(load_model(nan_path, allow, &report));
  CHECK(report.non_finite == 2);
  for (const auto& name : poisoned)
    CHECK(std::find(report.non_finite_names.begin(), report.non_finite_names.end(), name) != report.non_finite_names.end());
  LoadReport clean_report;
  (void)load_model(clean, {}, &clean_report);
  CHECK(clean_report.non_finite == 0);

  if (!have_cli()) {
    MESSAGE("skipped: CLI half (FINEPOSE_CLI not built)");
    return;
  }
  const std::string out = tmp("nan_out.safetensors");
  const CliResult refused = run_cli({"convert", nan_path, out});
  INFO(refused.output);
  CHECK(refused.code == 1);
  CHECK(contains(refused.output, "2 parameter tensors contain NaN/Inf"));
  CHECK_FALSE(fs::exists(out));
  const CliResult r = run_cli({"convert", "--allow-non-finite", nan_path, out});
  INFO(r.output);
  CHECK(r.exited);
  CHECK(r.code == 0);
  CHECK(contains(r.output, "warning: 2 parameters contain NaN/Inf"));
  CHECK(fs::exists(out));
  const CliResult ok = run_cli({"convert", clean, tmp("clean_out.safetensors")});
  CHECK(ok.code == 0);
  CHECK_FALSE(contains(ok.output, "NaN"));
}

TEST_CASE("truncated checkpoints: every byte boundary of a small one, sampled boundaries of the parity model") {
  // every prefix of a FinePOSE-shaped checkpoint through the checkpoint loader
  const std::vector<std::uint8_t> small = io::read_file(kFixtures + "/pickle/finepose_like.bin");
  CHECK_NOTHROW(io::load_torch_checkpoint_bytes(small, "finepose_like.bin"));
  std::size_t refused = 0;
  for (std::size_t len = 0; len < small.size(); ++len) {
    try {
      (void)io::load_torch_checkpoint_bytes(std::vector<std::uint8_t>(small.begin(), small.begin() + std::ptrdiff_t(len)), "cut");
    } catch (const Error&) {
      ++refused;
    }
  }
  CHECK(refused == small.size());

  const std::string tiny = kFixtures + "/parity/tiny.bin";
  if (!fs::exists(tiny)) {
    MESSAGE("skipped: the parity model half (", tiny, " not present)");
    return;
  }
  // the official-format model through load_model: every byte of the first and
  // last 512 (headers, data.pkl start, central directory, end records), and
  // evenly spread cuts through the rest
  const std::vector<std::uint8_t> full = io::read_file(tiny);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 0; i < 512 && i < full.size(); ++i) cuts.push_back(i);
  for (std::size_t i = full.size() > 512 ? full.size() - 512 : 0; i < full.size(); ++i) cuts.push_back(i);
  for (std::size_t k = 1; k < 100; ++k) cuts.push_back(full.size() * k / 100 + k % 7);
  const std::string path = tmp("cut.bin");
  std::size_t n = 0;
  for (std::size_t len : cuts) {
    if (len >= full.size()) continue;
    {
      std::FILE* f = std::fopen(path.c_str(), "wb");
      REQUIRE(f);
      if (len) REQUIRE(std::fwrite(full.data(), 1, len, f) == len);
      std::fclose(f);
    }
    std::string msg;
    try {
      (void)load_model(path);
    } catch (const Error& e) {
      msg = e.what();
    }
    if (msg.empty()) FAIL_CHECK("a checkpoint cut at byte ", len, " of ", full.size(), " loaded");
    ++n;
  }
  MESSAGE(n, " truncations of tiny.bin refused by load_model");
  if (!have_cli()) return;
  for (std::size_t len : {std::size_t(0), std::size_t(3), std::size_t(100), full.size() / 3, full.size() / 2,
                          full.size() - 200, full.size() - 22, full.size() - 1}) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    if (len) REQUIRE(std::fwrite(full.data(), 1, len, f) == len);
    std::fclose(f);
    INFO("cut at ", len);
    check_convert_refuses(path, path);
  }
}
