// finepose infer --persons all end to end: the walker scene written as a
// detector without tracking writes it, lifted through the CLI; the arrays the
// issue names, the library's numbers, and one person's file giving today's.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>

#include "finepose/io/json.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/wild/multi_person_scene.hpp"
#include "cli_run.hpp"
#include "wild_test_model.hpp"

using namespace finepose;
namespace fs = std::filesystem;

namespace {

struct Workspace {
  fs::path dir = fs::temp_directory_path() / ("finepose_multi_cli_" + std::to_string(::getpid()));
  std::string model, scene, single;
  wild::WalkerScene sc = wild::make_walker_scene({120, 1920, 1080, 1400, 3, 0.03, 11, {}});
  Workspace() {
    fs::create_directories(dir);
    model = (dir / "tiny.safetensors").string();
    FinePoseModel m = test::tiny_model();
    save_model(model, m);
    scene = (dir / "scene.json").string();
    io::write_file(scene, wild::detections_coco_json(sc.detections));
    single = (dir / "one.json").string();
    io::write_file(single, wild::detections_coco_json(wild::scene_person_detections(sc, 0)));
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

TEST_CASE("infer --persons all: every person of a file without ids, the issue's arrays, the library's numbers") {
  if (!have_cli()) return;
  Workspace w;
  const std::string common = "infer --model " + w.model + " --width 1920 --height 1080 --aggregate p-agg --intrinsics 1400,1400,960,540 ";
  test::CliRun r = test::run_cli(common + "--keypoints " + w.scene + " --persons all --out " + w.p("all.npz") + " --json");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const json::Value js = json::parse(r.out.substr(r.out.find('{')));
  CHECK(js.at("persons").as_int64() == 3);
  CHECK(js.at("tracked").as_bool());
  CHECK(js.at("tracking").at("tracks").as_int64() == 3);
  auto z = io::load_npz(w.p("all.npz"));
  const TensorF poses = io::to_tensor<float>(z.at("poses_3d"));
  REQUIRE(poses.dim() == 4);
  CHECK(poses.size(0) == 3);
  const int64_t F = poses.size(1);
  CHECK(z.at("present").dtype == io::DType::boolean);
  CHECK(z.at("present").shape == Shape{3, F});
  CHECK(z.at("track_ids").dtype == io::DType::i64);
  CHECK(io::to_tensor<int64_t>(z.at("track_ids")).to_vector() == std::vector<int64_t>{0, 1, 2});
  CHECK(io::to_tensor<int64_t>(z.at("frame_index")).shape() == Shape{F});
  CHECK(io::to_tensor<float>(z.at("root_3d")).shape() == Shape{3, F, 3});
  // the library on the same file gives the same numbers
  wild::PersonsInput in = wild::read_persons(w.scene);
  wild::LiftOptions o;
  o.aggregation = wild::Aggregation::p_agg;
  pose::CameraIntrinsics k;
  k.fx = k.fy = 1400, k.cx = 960, k.cy = 540;
  o.intrinsics = k;
  o.smooth = pose::default_smooth_options();  // infer's default --smooth
  const wild::MultiLifted ml = wild::lift_persons(test::tiny_model(), in, 1920, 1080, o);
  CHECK(ml.poses.to_vector() == poses.to_vector());
  // --smooth none: the library's unsmoothed numbers
  r = test::run_cli(common + "--keypoints " + w.scene + " --persons all --smooth none --out " + w.p("raw.npz") + " --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  o.smooth = {};
  CHECK(wild::lift_persons(test::tiny_model(), in, 1920, 1080, o).poses.to_vector() ==
        io::to_tensor<float>(io::load_npz(w.p("raw.npz")).at("poses_3d")).to_vector());
  const auto present = io::to_tensor<uint8_t>(z.at("present")).to_vector();
  CHECK(present == ml.present.to_vector());
  // JSON / CSV: one row per person and frame present, with the person's id
  r = test::run_cli(common + "--keypoints " + w.scene + " --persons all --out " + w.p("all.csv") + " --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const std::string csv = io::read_text_file(w.p("all.csv"));
  CHECK(csv.rfind("frame,person,pelvis_x", 0) == 0);
  const int64_t rows = std::count(present.begin(), present.end(), uint8_t(1));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == rows + 1);
  r = test::run_cli(common + "--keypoints " + w.scene + " --persons all --out " + w.p("all.json") + " --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const json::Value j = json::parse(io::read_text_file(w.p("all.json")));
  CHECK(int64_t(j.at("frames").size()) == rows);
  CHECK(j.at("frames").at(0).at("person").as_int64() >= 0);
  CHECK(j.at("frames").at(0).at("root_3d").size() == 3);
  // one picture of everybody: camera space (root_3d), one colour per track
  r = test::run_cli("render --poses " + w.p("all.npz") + " --out " + w.p("scene.png") + " --frame 60 --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const auto png = io::read_file(w.p("scene.png"));
  REQUIRE(png.size() > 100);
  CHECK(png[1] == 'P');
  r = test::run_cli("render --poses " + w.p("all.npz") + " --out " + w.p("scene.gif") + " --stride 10 --quiet");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  CHECK(io::read_file(w.p("scene.gif")).size() > 1000);
  // the default lifts one and says that there are more
  r = test::run_cli(common + "--keypoints " + w.scene + " --out " + w.p("one.npz") + " 2>&1");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  CHECK(r.out.find("--persons all") != std::string::npos);
  // --track stays an alias of --persons ID; bad combinations are usage errors
  r = test::run_cli(common + "--keypoints " + w.scene + " --persons all --keep-hypotheses --out " + w.p("x.npz") + " 2>&1");
  CHECK(r.rc == 2);
  r = test::run_cli(common + "--keypoints " + w.scene + " --retrack --out " + w.p("x.npz") + " 2>&1");
  CHECK(r.rc == 2);
  CHECK(!fs::exists(w.p("x.npz")));
}

TEST_CASE("infer --persons all on a one-person file: P = 1 and the default's numbers") {
  if (!have_cli()) return;
  Workspace w;
  const std::string common = "infer --model " + w.model + " --width 1920 --height 1080 --keypoints " + w.single + " --quiet ";
  test::CliRun r = test::run_cli(common + "--out " + w.p("default.npz"));
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  r = test::run_cli(common + "--persons all --out " + w.p("all.npz"));
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  auto a = io::load_npz(w.p("default.npz")), b = io::load_npz(w.p("all.npz"));
  const TensorF pa = io::to_tensor<float>(a.at("poses_3d")), pb = io::to_tensor<float>(b.at("poses_3d"));
  REQUIRE(pb.dim() == 4);
  CHECK(pb.size(0) == 1);
  CHECK(pb.size(1) == pa.size(0));
  CHECK(pb.to_vector() == pa.to_vector());
  CHECK(io::to_tensor<int64_t>(b.at("frame_index")).to_vector() == io::to_tensor<int64_t>(a.at("frame_index")).to_vector());
  // --persons ID and --track ID are the same thing (the tracker's id 0 here: a file of one person has no ids)
  r = test::run_cli(common + "--persons 0 --out " + w.p("id.npz") + " 2>&1");
  CHECK(r.rc != 0);
  CHECK(r.out.find("no track ids") != std::string::npos);
}

TEST_CASE("infer --persons: bad values and hostile files give a clear error, never a crash or a file") {
  if (!have_cli()) return;
  Workspace w;
  const std::string common = "infer --model " + w.model + " --width 1920 --height 1080 ";
  test::CliRun r = test::run_cli(common + "--keypoints " + w.scene + " --persons everybody --out " + w.p("x.npz") + " 2>&1");
  CHECK(r.rc == 2);
  CHECK(r.out.find("persons") != std::string::npos);
  r = test::run_cli(common + "--keypoints " + w.scene + " --persons 1 --track 2 --out " + w.p("x.npz") + " 2>&1");
  CHECK(r.rc == 2);
  // --smooth: unknown filters and bad parameters are usage errors that say what is wrong
  const std::pair<std::string, std::string> bad_smooth[] = {
      {"--smooth kalman", "unknown filter 'kalman'"},
      {"--smooth savgol --smooth-window 8", "window must be odd"},
      {"--smooth savgol --smooth-order 40", "--smooth-order"},
      {"--smooth one-euro --beta -1", "--beta"},
      {"--min-cutoff 2", "one-euro's (give --smooth one-euro)"},
      {"--smooth one-euro --fps 0", "--fps"}};
  for (const auto& [flags, says] : bad_smooth) {
    r = test::run_cli(common + "--keypoints " + w.scene + " " + flags + " --out " + w.p("x.npz") + " 2>&1");
    INFO(flags, ": ", r.out);
    CHECK(r.rc == 2);
    CHECK(r.out.find(says) != std::string::npos);
  }
  CHECK(!fs::exists(w.p("x.npz")));
  // 300 people in one frame: refused by name, not a cubic assignment that never ends
  wild::DetectionSet crowd;
  crowd.joints = 17;
  for (int64_t f = 0; f < 3; ++f)
    for (int p = 0; p < 300; ++p) {
      wild::Detection d;
      d.frame = f;
      for (int j = 0; j < 17; ++j) d.kp.insert(d.kp.end(), {double(p * 6 + j % 3), double(j * 10 + f), 0.9});
      crowd.dets.push_back(d);
    }
  io::write_file(w.p("crowd.json"), wild::detections_coco_json(crowd));
  r = test::run_cli(common + "--keypoints " + w.p("crowd.json") + " --persons all --out " + w.p("x.npz") + " 2>&1");
  CHECK(r.rc == 1);
  CHECK(r.out.find("300 people") != std::string::npos);
  // blips only: no person can be tracked
  wild::DetectionSet blip;
  blip.joints = 17;
  wild::Detection d;
  d.frame = 5;
  for (int j = 0; j < 17; ++j) d.kp.insert(d.kp.end(), {100.0 + j, 100.0 + 5 * j, 0.9});
  blip.dets.push_back(d);
  io::write_file(w.p("blip.json"), wild::detections_coco_json(blip));
  r = test::run_cli(common + "--keypoints " + w.p("blip.json") + " --persons all --out " + w.p("x.npz") + " 2>&1");
  CHECK(r.rc == 1);
  CHECK(r.out.find("no person could be tracked") != std::string::npos);
  CHECK(!fs::exists(w.p("x.npz")));
}
