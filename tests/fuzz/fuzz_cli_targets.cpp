// The CLI's whole input path under libFuzzer, one target per command that
// reads user files: the fuzzed bytes become the command's input file and the
// command itself runs in-process (the same functions `finepose` calls) with a
// tiny random-weight model: reading, track selection, gap filling, windowing,
// lifting, aggregation, writing (infer); npz reading, shape checks, drawing,
// GIF/PNG encoding (render); DDIM sampling with replayed noise (sample);
// scoring in all four aggregations (metrics).
//
// A finepose::Error (what main() turns into "error: ..." and exit 1) is the
// expected answer to bad bytes, as is a usage error's exit 2. Anything else (a
// crash, a sanitizer report, another exception type, a huge allocation, a hang)
// is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cmd_infer.hpp"
#include "cmd_metrics.hpp"
#include "cmd_render.hpp"
#include "cmd_sample.hpp"
#include "wild_test_model.hpp"

namespace finepose::fuzz {

using Target = void (*)(const std::uint8_t*, std::size_t);

namespace {

// Per-process scratch files: the tiny model, fixed companion inputs, outputs.
struct Scratch {
  std::string dir, model, target, pred, clip;
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/finepose_fuzz_cli_" + std::to_string(::getpid());
    ::mkdir(dir.c_str(), 0700);
    model = dir + "/tiny.safetensors";
    FinePoseModel m = test::tiny_model();
    save_model(model, m);
    TensorF t({8, 17, 3});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = float((i * 37) % 500) - 250;
    io::NpzMap tm;
    tm["poses_3d"] = io::from_tensor(t);
    target = dir + "/target.npz";
    io::save_npz(target, tm);
    pred = dir + "/pred.npz";
    io::save_npz(pred, tm);
    TensorF x({1, 9, 17, 2});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 0.02f * float(i % 23) - 0.2f;
    io::NpzMap cm;
    cm["keypoints_2d"] = io::from_tensor(x);
    clip = dir + "/clip.npz";
    io::save_npz(clip, cm);
  }
  ~Scratch() {
    for (const char* f : {"/tiny.safetensors", "/target.npz", "/pred.npz", "/clip.npz"}) std::remove((dir + f).c_str());
    ::rmdir(dir.c_str());
  }
  std::string input(const std::string& ext, const std::uint8_t* p, std::size_t n) const {
    const std::string path = dir + "/input" + ext;
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(p), std::streamsize(n));
    return path;
  }
};

const Scratch& scratch() {
  static const Scratch s;
  return s;
}

// Runs a command as main() would, minus the printing: Error is an answer.
void run(int (*cmd)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  try {
    (void)cmd(int(args.size()), argv.data());
  } catch (const Error&) {
  }
}

const char* pick(const char* const* names, std::size_t k, std::uint8_t b) { return names[b % k]; }

}  // namespace

// infer: byte 0 picks the input format (by extension) and the output format.
void cli_infer(const std::uint8_t* p, std::size_t n) {
  if (n < 1) return;
  const Scratch& s = scratch();
  static const char* in_ext[] = {".json", ".csv", ".npz"};
  static const char* out_ext[] = {".npz", ".json", ".csv"};
  const std::string in = s.input(pick(in_ext, 3, p[0]), p + 1, n - 1);
  const std::string out = s.dir + "/out" + pick(out_ext, 3, std::uint8_t(p[0] / 3));
  // --max-frames keeps one input's lifting within the fuzzer's time limit; longer tracks are refused by the same code
  run(cli::cmd_infer, {"--model", s.model, "--keypoints", in, "--width", "640", "--height", "480", "--hypotheses", "2",
                       "--out", out, "--quiet", "--max-frames", "600", "--threads", "1"});
  std::remove(in.c_str());
  std::remove(out.c_str());
}

// render: the bytes are the poses npz; byte 0 picks PNG of one frame or a GIF.
void cli_render(const std::uint8_t* p, std::size_t n) {
  if (n < 1) return;
  const Scratch& s = scratch();
  const std::string in = s.input(".npz", p + 1, n - 1);
  const bool gif = p[0] & 1;
  const std::string out = s.dir + (gif ? "/out.gif" : "/out.png");
  if (gif) run(cli::cmd_render, {"--poses", in, "--out", out, "--size", "64", "--stride", "500", "--quiet"});
  else run(cli::cmd_render, {"--poses", in, "--out", out, "--size", "64", "--frame", std::to_string(p[0] >> 1), "--quiet"});
  std::remove(in.c_str());
  std::remove(out.c_str());
}

// sample: byte 0 even: the bytes are the keypoints_2d input; odd: a noise file for a fixed input.
void cli_sample(const std::uint8_t* p, std::size_t n) {
  if (n < 1) return;
  const Scratch& s = scratch();
  const std::string in = s.input(".npz", p + 1, n - 1), out = s.dir + "/out.npz";
  // work is linear in the batch: inputs of many clips are skipped (the time limit), not refused
  try {
    for (const auto& kv : io::load_npz(in))
      if (shape_numel(kv.second.shape) > 20000) return std::remove(in.c_str()), void();
  } catch (const Error&) {
  }
  if (p[0] & 1)
    run(cli::cmd_sample, {"--checkpoint", s.model, "--input", s.clip, "--noise", in, "--action", "Walking", "--hypotheses", "1",
                          "--steps", "2", "--out", out, "--quiet", "--threads", "1"});
  else
    run(cli::cmd_sample, {"--checkpoint", s.model, "--input", in, "--action", "Walking", "--hypotheses", "2", "--steps", "2",
                          "--flip", "--out", out, "--quiet", "--threads", "1"});
  std::remove(in.c_str());
  std::remove(out.c_str());
}

// metrics: byte 0 even: the bytes are the predictions; odd: the target.
void cli_metrics(const std::uint8_t* p, std::size_t n) {
  if (n < 1) return;
  const Scratch& s = scratch();
  const std::string in = s.input(".npz", p + 1, n - 1);
  std::FILE* devnull = std::fopen("/dev/null", "w");
  std::FILE* saved = stdout;
  stdout = devnull;  // the report itself is not the point
  if (p[0] & 1) run(cli::cmd_metrics, {"--pred", s.pred, "--target", in, "--json"});
  else run(cli::cmd_metrics, {"--pred", in, "--target", s.target, "--json"});
  stdout = saved;
  std::fclose(devnull);
  std::remove(in.c_str());
}

Target cli_target_by_name(const char* name) {
  struct Named {
    const char* name;
    Target run;
  };
  static const Named t[] = {{"cli_infer", cli_infer}, {"cli_render", cli_render}, {"cli_sample", cli_sample}, {"cli_metrics", cli_metrics}};
  for (const auto& x : t)
    if (std::strcmp(x.name, name) == 0) return x.run;
  return nullptr;
}

}  // namespace finepose::fuzz
