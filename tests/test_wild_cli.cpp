// finepose infer / render end to end: a COCO keypoint file of a procedural
// walk (made here) through the CLI with a model; clear errors and exit codes
// for bad input. Plausibility of the OUTPUT (bone lengths, left/right) is
// only meaningful with a trained model: checked with the shipped model under
// models/ when present, else skipped with a message.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "finepose/io/json.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/model/default_model.hpp"
#include "finepose/pose/metrics.hpp"
#include "finepose/pose/skeleton.hpp"
#include "finepose/wild/demo_walk.hpp"
#include "finepose/wild/pose_sanity.hpp"
#include "cli_run.hpp"
#include "wild_test_model.hpp"

using namespace finepose;
namespace fs = std::filesystem;

namespace {

using Run = test::CliRun;
Run run(const std::string& args) { return test::run_cli(args); }

struct Workspace {
  fs::path dir = fs::temp_directory_path() / ("finepose_wild_cli_" + std::to_string(::getpid()));
  std::string model, walk;
  Workspace() {
    fs::create_directories(dir);
    model = (dir / "tiny.safetensors").string();
    FinePoseModel m = test::tiny_model();
    save_model(model, m);
    wild::DemoWalkOptions o;
    o.frames = 300;
    walk = (dir / "walk.json").string();
    io::write_file(walk, wild::demo_walk_coco_json(wild::make_demo_walk(o)));
  }
  ~Workspace() { fs::remove_all(dir); }
  std::string p(const std::string& n) const { return (dir / n).string(); }
};

bool have_cli() {
  if (!test::have_cli() || !fs::exists(FINEPOSE_CLI)) {
    MESSAGE("skipped: the finepose CLI is not built (configure with -DFINEPOSE_BUILD_EXAMPLES=ON, build finepose_cli)");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("infer + render: a 300-frame COCO walk through the CLI") {
  if (!have_cli()) return;
  Workspace w;
  Run r = run("infer --model " + w.model + " --keypoints " + w.walk + " --width 1000 --height 1000 --hypotheses 3 "
              "--keep-hypotheses --action Walking --out " + w.p("out.npz") + " --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  auto out = io::load_npz(w.p("out.npz"));
  const TensorF poses = io::to_tensor<float>(out.at("poses_3d"));
  CHECK(poses.shape() == Shape{300, 17, 3});
  CHECK(io::to_tensor<float>(out.at("hypotheses")).shape() == Shape{300, 3, 17, 3});
  CHECK(io::to_tensor<float>(out.at("keypoints_2d")).shape() == Shape{300, 17, 2});
  CHECK(out.count("trajectory") == 0);  // no intrinsics: no trajectory pretended
  for (int64_t f = 0; f < 300; ++f)
    for (int c = 0; c < 3; ++c) REQUIRE(poses(f, 0, c) == 0.f);

  // JSON and CSV outputs, with intrinsics (trajectory)
  r = run("infer --model " + w.model + " --keypoints " + w.walk + " --width 1000 --height 1000 --intrinsics 1145,1145,500,500 --out " +
          w.p("out.json") + " --json");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  CHECK(r.out.find("\"frames\": 300") != std::string::npos);
  const json::Value j = json::parse(io::read_text_file(w.p("out.json")));
  CHECK(j.at("units").as_string() == "mm");
  CHECK(j.at("joint_names").at(3).as_string() == "right_ankle");
  CHECK(j.at("frames").size() == 300);
  CHECK(j.at("frames").at(10).at("pose").size() == 17);
  CHECK(j.at("frames").at(10).at("trajectory").at(2).as_double() > 0);
  r = run("infer --model " + w.model + " --keypoints " + w.walk + " --width 1000 --height 1000 --aggregate p-agg --out " +
          w.p("out.csv") + " --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const std::string csv = io::read_text_file(w.p("out.csv"));
  CHECK(csv.rfind("frame,pelvis_x,pelvis_y,pelvis_z,right_hip_x", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 301);

  // pictures
  r = run("render --poses " + w.p("out.npz") + " --out " + w.p("walk.gif") + " --view 30,20 --fps 25 --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const auto gif = io::read_file(w.p("walk.gif"));
  REQUIRE(gif.size() > 1000);
  CHECK(std::string(gif.begin(), gif.begin() + 6) == "GIF89a");
  CHECK(gif.back() == 0x3B);
  r = run("render --poses " + w.p("out.npz") + " --keypoints " + w.walk + " --out " + w.p("f.png") + " --frame 7 --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const auto png = io::read_file(w.p("f.png"));
  REQUIRE(png.size() > 100);
  CHECK(png[1] == 'P');
  r = run("render --poses " + w.p("out.npz") + " --out " + w.p("fr.png") + " --stride 100 --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  CHECK(fs::exists(w.p("fr_00000.png")));
  CHECK(fs::exists(w.p("fr_00200.png")));
}

TEST_CASE("bad input gives a clear message and exit 1; bad usage exit 2") {
  if (!have_cli()) return;
  Workspace w;
  const std::string base = "infer --model " + w.model + " --width 1000 --height 1000 --out " + w.p("o.npz") + " --keypoints ";
  struct Case {
    std::string name, content, expect;
  };
  std::string nan_csv = "0";
  for (int k = 0; k < 17; ++k) nan_csv += k == 5 ? ",nan,3,1" : ",1,2,1";
  const std::vector<Case> cases = {
      {"broken.json", "[{\"image_id\": 1, \"keypoints\": [1, 2", "broken.json"},
      {"empty.json", "[]", "empty sequence"},
      {"joints.json", "[{\"image_id\": 1, \"keypoints\": [1, 2, 3, 4, 5, 6, 7, 8, 9]}]", "no known layout"},
      {"nan.csv", nan_csv + "\n", "not a finite number"},
      {"notjson.json", "hello", "notjson.json"},
  };
  for (const auto& c : cases) {
    io::write_file(w.p(c.name), c.content);
    Run r = run(base + w.p(c.name));
    CHECK_MESSAGE(r.rc == 1, c.name, ": ", r.out);
    CHECK_MESSAGE(r.out.find("finepose infer: error:") != std::string::npos, r.out);
    CHECK_MESSAGE(r.out.find(c.expect) != std::string::npos, c.name, ": ", r.out);
  }
  Run r = run(base + w.walk + " --format halpe-json");
  CHECK(r.rc == 1);
  CHECK(r.out.find("wrong joint count") != std::string::npos);
  r = run(base + w.p("does_not_exist.json"));
  CHECK(r.rc == 1);
  r = run("infer --model " + w.model + " --keypoints " + w.walk + " --out " + w.p("o.npz"));  // no image size
  CHECK(r.rc == 2);
  CHECK(r.out.find("--width") != std::string::npos);
  CHECK(run(base + w.walk + " --frobnicate").rc == 2);
  CHECK(run(base + w.walk + " --aggregate best").rc == 2);
  CHECK(run("infer --help").rc == 0);
  CHECK(run("render --help").rc == 0);
  CHECK(run("render --poses " + w.walk + " --out x.bmp").rc == 2);
  r = run("render --poses " + w.p("missing.npz") + " --out " + w.p("x.gif"));
  CHECK(r.rc == 1);
}

TEST_CASE("plausible output from the shipped model (bone lengths, left/right, error against the truth)") {
  // The checks themselves are validated on the procedural ground truth in
  // test_wild_formats (rigid bones, handedness 1, mirror 0). The walk is our own
  // procedural motion, unlike anything in the training data (HumanEva-I, CMU, Bandai).
  // the default model: what users get without --model
  const std::string model = (fs::path(FINEPOSE_SOURCE_DIR) / "models" / kDefaultModelFile).string();
  if (!fs::exists(model)) {
    MESSAGE("skipped: no trained Human3.6M-layout model under models/ (output plausibility needs one; random weights say nothing)");
    return;
  }
  if (!have_cli()) return;
  Workspace w;
  // the model card's setting: H=5, K=2, flip; J-Agg needs the camera (1145 px, the walk's own).
  // Under ASan the first 120 frames (the same code; ~20 s less of CI)
  wild::DemoWalkOptions o;
  o.frames = test::kSanitizedBuild ? 120 : 300;
  const std::string walk = w.p("walk_shipped.json");
  io::write_file(walk, wild::demo_walk_coco_json(wild::make_demo_walk(o)));
  Run r = run("infer --model " + model + " --keypoints " + walk + " --width 1000 --height 1000 --intrinsics 1145,1145,500,500 "
              "--action Walking --hypotheses 5 --steps 2 --flip --keep-hypotheses --out " + w.p("shipped.npz") + " --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  // the picture of it (2D input beside the 3D skeleton, hypotheses faint): what the demo shows
  r = run("render --poses " + w.p("shipped.npz") + " --keypoints " + walk + " --out " + w.p("shipped.png") +
          " --frame 60 --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const auto png = io::read_file(w.p("shipped.png"));
  REQUIRE(png.size() > 1000);
  CHECK(std::string(png.begin() + 1, png.begin() + 4) == "PNG");
  const TensorF poses = io::to_tensor<float>(io::load_npz(w.p("shipped.npz")).at("poses_3d"));  // mm, root-relative
  REQUIRE(poses.size(0) == o.frames);
  // A body does not stretch. Long bones (limbs, spine; >= 150 mm): std of the length
  // under 15% of it. The short pelvis and collar bones (85-140 mm) are judged in mm
  // instead: a few cm of per-frame joint noise is a large fraction of them without
  // the skeleton being implausible; the bound is 25 mm.
  const auto cv = wild::bone_length_variation(poses);
  const auto bones = pose::h36m17().bones();
  const int64_t F = poses.size(0);
  for (size_t i = 0; i < cv.size(); ++i) {
    double mean = 0;
    const int a = bones[i].first, b = bones[i].second;
    for (int64_t f = 0; f < F; ++f) {
      double d2 = 0;
      for (int k = 0; k < 3; ++k) {
        const double d = double(poses(f, a, k)) - double(poses(f, b, k));
        d2 += d * d;
      }
      mean += std::sqrt(d2) / double(F);
    }
    if (mean >= 150) CHECK_MESSAGE(cv[i] < 0.15, "bone ", i, " (", mean, " mm) length varies by ", cv[i]);
    else CHECK_MESSAGE(cv[i] * mean < 25, "bone ", i, " (", mean, " mm) length std ", cv[i] * mean, " mm");
  }
  CHECK(wild::chirality_fraction(poses) > 0.9);
  // and close to the truth: P-MPJPE under 80 mm (a random model: ~400 mm; the
  // training set's mean pose on HumanEva-I: 161 mm)
  const auto truth = wild::make_demo_walk(o).camera_mm;
  Tensor<double> pred({F, 17, 3}), tgt({F, 17, 3});
  for (int64_t f = 0; f < F; ++f)
    for (int j = 0; j < 17; ++j)
      for (int k = 0; k < 3; ++k) {
        pred(f, j, k) = poses(f, j, k);
        tgt(f, j, k) = truth(f, j, k) - truth(f, 0, k);
      }
  const double pm = pose::p_mpjpe(pred, tgt);
  MESSAGE("shipped model on the procedural walk: P-MPJPE ", pm, " mm");
  CHECK(pm < 80);
}

TEST_CASE("infer without --model: the shipped default model, in the build tree and after cmake --install") {
  if (!have_cli()) return;
  if (!fs::exists(std::string(FINEPOSE_SOURCE_DIR) + "/models/" + kDefaultModelFile)) {
    MESSAGE("skipped: models/", kDefaultModelFile, " is not in this checkout");
    return;
  }
  Workspace w;
  const std::string args = " --keypoints " + w.walk + " --width 1000 --height 1000 --json --out ";
  Run r = run("infer" + args + w.p("default.npz"));
  INFO(r.out);
  REQUIRE(r.rc == 0);
  json::Value s = json::parse(r.out.substr(0, r.out.find('\n')));
  CHECK(s.at("model").as_string().find(kDefaultModelFile) != std::string::npos);
  // installed: the binary finds <prefix>/share/finepose/models
  const fs::path build = fs::path(FINEPOSE_CLI).parent_path().parent_path(), prefix = w.dir / "prefix";
  const int rc = std::system(("cmake --install " + build.string() + " --prefix " + prefix.string() + " > /dev/null 2>&1").c_str());
  REQUIRE(rc == 0);
  const std::string installed = (prefix / "bin" / "finepose").string();
  REQUIRE(fs::exists(installed));
  REQUIRE(fs::exists(prefix / "share" / "finepose" / "models" / kDefaultModelFile));
  const test::CliRun ri = test::run_command("env -u FINEPOSE_MODEL -u FINEPOSE_MODEL_DIR " + installed + " infer" + args +
                                             w.p("installed.npz") + " 2>&1");
  INFO(ri.out);
  REQUIRE(ri.rc == 0);
  s = json::parse(ri.out.substr(0, ri.out.find('\n')));
  CHECK(s.at("model").as_string().rfind(prefix.string(), 0) == 0);  // the installed copy, not the source tree's
  CHECK(io::read_file(w.p("installed.npz")) == io::read_file(w.p("default.npz")));
}

TEST_CASE("infer --keypoints DIR --out-dir DIR: every file, as one-file runs make them; failures reported; nothing replaced") {
  if (!have_cli()) return;
  Workspace w;
  const fs::path in = w.dir / "videos", out = w.dir / "lifted";
  fs::create_directories(in / "openpose_clip");
  wild::DemoWalkOptions o;
  o.frames = 60;
  io::write_file((in / "a_walk.json").string(), wild::demo_walk_coco_json(wild::make_demo_walk(o)));
  o.seed = 9;
  io::write_file((in / "b_walk.json").string(), wild::demo_walk_coco_json(wild::make_demo_walk(o)));
  io::write_file((in / "c_broken.json").string(), std::string("[{\"image_id\": 1, \"keypoints\": [1, 2"));
  io::write_file((in / "notes.txt").string(), std::string("not an input"));
  const std::string flags = " --model " + w.model + " --width 1000 --height 1000 --quiet";
  Run r = run("infer --keypoints " + in.string() + " --out-dir " + out.string() + flags);
  CHECK_MESSAGE(r.rc == 1, r.out);  // one file failed (and the empty OpenPose directory)
  CHECK_MESSAGE(r.out.find("c_broken.json: error:") != std::string::npos, r.out);
  CHECK_MESSAGE(r.out.find("openpose_clip") != std::string::npos, r.out);
  CHECK_MESSAGE(r.out.find("lifted 2 of 4 files") != std::string::npos, r.out);
  for (const char* n : {"a_walk", "b_walk"}) {
    const std::string single = w.p(std::string(n) + "_single.npz");
    REQUIRE(run("infer --keypoints " + (in / (std::string(n) + ".json")).string() + " --out " + single + flags).rc == 0);
    CHECK_MESSAGE(io::read_file(single) == io::read_file((out / (std::string(n) + ".npz")).string()), n);
  }
  CHECK(!fs::exists(out / "notes.npz"));
  // a second run refuses to replace what exists; --skip-existing lifts only the rest; --overwrite replaces
  const auto before = io::read_file((out / "a_walk.npz").string());
  r = run("infer --keypoints " + in.string() + " --out-dir " + out.string() + flags);
  CHECK(r.rc == 1);
  CHECK_MESSAGE(r.out.find("exist already") != std::string::npos, r.out);
  fs::remove(in / "c_broken.json");
  fs::remove(in / "openpose_clip");
  r = run("infer --keypoints " + in.string() + " --out-dir " + out.string() + flags + " --skip-existing --json");
  CHECK_MESSAGE(r.rc == 0, r.out);
  CHECK_MESSAGE(r.out.find("\"skipped\": 2") != std::string::npos, r.out);
  r = run("infer --keypoints " + in.string() + " --out-dir " + out.string() + flags + " --overwrite --out-format csv");
  CHECK_MESSAGE(r.rc == 0, r.out);
  CHECK(fs::exists(out / "a_walk.csv"));
  CHECK(io::read_file((out / "a_walk.npz").string()) == before);
  // refused before anything runs: two inputs for one output, an OpenPose video given as many, --out with --out-dir
  io::write_file((in / "a_walk.csv").string(), std::string("0,1,2\n"));
  r = run("infer --keypoints " + in.string() + " --out-dir " + w.p("x") + flags);
  CHECK(r.rc == 1);
  CHECK_MESSAGE(r.out.find("would both be written") != std::string::npos, r.out);
  const fs::path op = w.dir / "one_video";
  fs::create_directories(op);
  for (const char* f : {"v_000000000000_keypoints.json", "v_000000000001_keypoints.json"})
    io::write_file((op / f).string(), std::string("{\"people\": []}"));
  r = run("infer --keypoints " + op.string() + " --out-dir " + w.p("y") + flags);
  CHECK(r.rc == 1);
  CHECK_MESSAGE(r.out.find("that is one video") != std::string::npos, r.out);
  CHECK(run("infer --keypoints " + in.string() + " --out-dir " + w.p("z") + " --out " + w.p("z.npz") + flags).rc == 2);
  CHECK(run("infer --keypoints " + w.walk + " --out " + w.p("z.npz") + " --skip-existing" + flags).rc == 2);
}
