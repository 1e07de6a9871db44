// Checkpoints exactly as the official main.py writes them (tests/fixtures/parity/tiny.bin: its
// save dict with the generator's np.random.RandomState object, numpy 1.x form; tiny_np2.bin: the
// same with numpy 2.x's form and torch 2.x's archive records) through every command that takes a
// model: convert (and convert --info), sample (parity itself: test_parity), eval and infer. Each
// command's output from the .bin must equal its output from the converted .safetensors.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include "finepose/io/file.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/wild/demo_walk.hpp"

#include "cli_run.hpp"

using namespace finepose;
namespace fs = std::filesystem;

namespace {

const std::string kParity = std::string(FINEPOSE_FIXTURE_DIR) + "/parity/";
const std::string kEval = std::string(FINEPOSE_FIXTURE_DIR) + "/eval";

struct Dir {
  fs::path dir = fs::temp_directory_path() / ("finepose_official_ckpt_" + std::to_string(::getpid()));
  Dir() { fs::create_directories(dir); }
  ~Dir() { fs::remove_all(dir); }
  std::string p(const std::string& n) const { return (dir / n).string(); }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void check_same_npz(const std::string& a, const std::string& b) {
  const io::NpzMap x = io::load_npz(a), y = io::load_npz(b);
  REQUIRE(x.size() == y.size());
  for (const auto& kv : x) {
    CAPTURE(kv.first);
    REQUIRE(y.count(kv.first));
    CHECK(kv.second.shape == y.at(kv.first).shape);
    CHECK(kv.second.data == y.at(kv.first).data);
  }
}

}  // namespace

TEST_CASE("official main.py checkpoints through convert, sample, eval and infer") {
  if (!test::have_cli()) {
    MESSAGE("skipped: the finepose CLI was not built");
    return;
  }
  Dir d;
  io::write_file(d.p("cfg.json"), std::string("{\"heads\": 4, \"clip_heads\": 2, \"encoder_heads\": 2}"));
  const std::string cfg = " --config " + d.p("cfg.json");
  wild::DemoWalkOptions wo;
  wo.frames = 40;
  io::write_file(d.p("walk.json"), wild::demo_walk_coco_json(wild::make_demo_walk(wo)));

  for (const char* name : {"tiny", "tiny_np2"}) {
    CAPTURE(name);
    const std::string bin = kParity + name + ".bin", st = d.p(std::string(name) + ".safetensors");
    test::CliRun r = test::run_cli("convert " + bin + " " + st + cfg);
    REQUIRE_MESSAGE(r.rc == 0, r.out);

    r = test::run_cli("convert --info " + bin);
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    // tiny.bin: RandomState(0) untouched; tiny_np2.bin: make_numpy2_pickles.py's, after 3 draws.
    const std::string rs = std::string(name) == "tiny" ? "pos 624, key[0] 0, has_gauss 0" : "pos 8,";
    CHECK_MESSAGE(contains(r.out, "random_state: numpy RandomState MT19937, " + rs), r.out);
    CHECK_MESSAGE(contains(r.out, "entries: epoch, lr, random_state, optimizer, model_pos"), r.out);

    for (const std::string& m : {bin + cfg, st}) {
      const std::string tag = m == st ? "st" : "bin";
      r = test::run_cli("sample --quiet --checkpoint " + m + " --input " + kParity + "tiny_input.npz --action Walking " +
                        "--hypotheses 2 --steps 2 --seed 3 --overwrite --out " + d.p(tag + "_sample.npz"));  // the 2nd model's replace the 1st's
      REQUIRE_MESSAGE(r.rc == 0, r.out);
      r = test::run_cli("eval --checkpoint " + m + " --dataset h36m --keypoints gt --data " + kEval +
                        " --hypotheses 1 --steps 2 --json");
      REQUIRE_MESSAGE(r.rc == 0, r.out);
      io::write_file(d.p(tag + "_eval.json"), r.out);
      r = test::run_cli("infer --model " + m + " --keypoints " + d.p("walk.json") +
                        " --width 1000 --height 1000 --hypotheses 2 --steps 2 --overwrite --out " + d.p(tag + "_infer.npz"));
      REQUIRE_MESSAGE(r.rc == 0, r.out);
    }
    check_same_npz(d.p("bin_sample.npz"), d.p("st_sample.npz"));
    check_same_npz(d.p("bin_infer.npz"), d.p("st_infer.npz"));
    // The JSON names the model file it ran and its wall time; everything else must be equal.
    auto drop_path = [](std::string j) {
      for (const char* key : {"\"checkpoint\":", "\"seconds\":"}) {
        const auto at = j.find(key);
        if (at != std::string::npos) j.erase(at, j.find('\n', at) - at);
      }
      return j;
    };
    const auto je = drop_path(io::read_text_file(d.p("bin_eval.json")));
    const auto js = drop_path(io::read_text_file(d.p("st_eval.json")));
    CHECK(je.size() > 100);
    CHECK(je == js);
  }
  // Both numpy forms are the same checkpoint: identical converted models.
  CHECK(io::read_file(d.p("tiny.safetensors")) == io::read_file(d.p("tiny_np2.safetensors")));
}
