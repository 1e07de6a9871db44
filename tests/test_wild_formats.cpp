// In-the-wild input: joint-layout conversion, detector file readers, person
// tracks, gap filling, windowing, and the procedural walk used by the demo.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "finepose/io/npz.hpp"
#include "finepose/pose/keypoint_formats.hpp"
#include "finepose/wild/demo_walk.hpp"
#include "finepose/wild/detections.hpp"
#include "finepose/wild/gap_fill.hpp"
#include "finepose/wild/person_track.hpp"
#include "finepose/wild/pose_sanity.hpp"
#include "finepose/wild/windowing.hpp"

using namespace finepose;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("finepose_wild_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// A COCO-17 frame with distinct, easy values: joint k at (10 k, 100 + k), score 0.9.
Tensor<double> coco_frame() {
  Tensor<double> t({1, 17, 3});
  for (int k = 0; k < 17; ++k) t(0, k, 0) = 10.0 * k, t(0, k, 1) = 100.0 + k, t(0, k, 2) = 0.9;
  return t;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("COCO-17 -> H36M-17 as MMPose defines it") {
  const auto h = pose::to_h36m17(coco_frame(), pose::KeypointLayout::coco17);
  // pelvis = mean(l_hip 11, r_hip 12); thorax = mean(l_sho 5, r_sho 6); spine = mean(pelvis, thorax); head = mean(eyes 1, 2)
  CHECK(h(0, 0, 0) == doctest::Approx(115));
  CHECK(h(0, 0, 1) == doctest::Approx(111.5));
  CHECK(h(0, 8, 0) == doctest::Approx(55));
  CHECK(h(0, 7, 0) == doctest::Approx(85));
  CHECK(h(0, 10, 0) == doctest::Approx(15));
  CHECK(h(0, 9, 0) == doctest::Approx(0));  // nose
  // right leg (H36M 1-3) <- COCO 12, 14, 16; left leg (4-6) <- 11, 13, 15
  CHECK(h(0, 1, 0) == 120);
  CHECK(h(0, 2, 0) == 140);
  CHECK(h(0, 3, 0) == 160);
  CHECK(h(0, 4, 0) == 110);
  CHECK(h(0, 6, 0) == 150);
  // left arm (11-13) <- 5, 7, 9; right arm (14-16) <- 6, 8, 10
  CHECK(h(0, 11, 0) == 50);
  CHECK(h(0, 13, 0) == 90);
  CHECK(h(0, 14, 0) == 60);
  CHECK(h(0, 16, 0) == 100);
  // a derived joint is as confident as its least confident source
  Tensor<double> c = coco_frame();
  c(0, 12, 2) = 0.1;
  CHECK(pose::to_h36m17(c, pose::KeypointLayout::coco17)(0, 0, 2) == doctest::Approx(0.1));
  CHECK(pose::to_h36m17(c, pose::KeypointLayout::coco17)(0, 8, 2) == doctest::Approx(0.9));
}

TEST_CASE("Halpe-26, OpenPose BODY_25 and COCO-18 give the same body as COCO-17") {
  const auto coco = coco_frame();
  const auto ref = pose::to_h36m17(coco, pose::KeypointLayout::coco17);
  // build each layout from the COCO joints by name
  struct L {
    pose::KeypointLayout layout;
    std::vector<int> coco_to;  // where COCO joint k goes
  };
  const std::vector<L> layouts = {
      {pose::KeypointLayout::halpe26, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
      // BODY_25: nose 0, R/L eye 15/16, R/L ear 17/18, R sho/elb/wri 2/3/4, L 5/6/7, R hip/knee/ankle 9/10/11, L 12/13/14
      {pose::KeypointLayout::openpose_body25, {0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11}},
      // COCO-18: R/L eye 14/15, R/L ear 16/17, R hip/knee/ankle 8/9/10, L 11/12/13
      {pose::KeypointLayout::openpose_coco18, {0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10}},
  };
  for (const auto& l : layouts) {
    const int K = pose::layout_joints(l.layout);
    Tensor<double> t = Tensor<double>::full({1, K, 3}, -999.0);  // other joints must not be used
    for (int k = 0; k < 17; ++k)
      for (int c = 0; c < 3; ++c) t(0, l.coco_to[size_t(k)], c) = coco(0, k, c);
    const auto h = pose::to_h36m17(t, l.layout);
    for (int i = 0; i < 51; ++i) CHECK(h.data()[i] == doctest::Approx(ref.data()[i]));
  }
  CHECK_THROWS_AS(pose::to_h36m17(Tensor<double>({1, 18, 3}), pose::KeypointLayout::coco17), Error);
}

TEST_CASE("detector files: COCO results, MMPose, OpenPose, CSV, npz") {
  const fs::path d = temp_dir("readers");
  // COCO results with string image ids and two tracks
  {
    std::string j = "[";
    for (int f = 0; f < 4; ++f)
      for (int id : {3, 7}) {
        if (id == 7 && f == 2) continue;  // track 7 has 3 frames, track 3 has 4
        j += std::string(j.size() > 1 ? "," : "") + "{\"image_id\": \"frame_" + std::to_string(100 + f) +
             ".jpg\", \"track_id\": " + std::to_string(id) + ", \"score\": " + (id == 7 ? "0.99" : "0.5") + ", \"keypoints\": [";
        for (int k = 0; k < 17; ++k) j += std::string(k ? "," : "") + std::to_string(id * 100 + k) + ", " + std::to_string(f) + ", 0.8";
        j += "]}";
      }
    j += "]";
    io::write_file((d / "coco.json").string(), j);
    auto set = wild::read_detections((d / "coco.json").string());
    CHECK(set.layout == pose::KeypointLayout::coco17);
    CHECK(set.dets.size() == 7);
    auto tr = wild::select_person(set);
    CHECK(tr.track == 3);  // the longest track
    CHECK(tr.first_frame == 100);
    CHECK(tr.kp.size(0) == 4);
    CHECK(tr.kp(2, 5, 0) == 305);
    CHECK(tr.kp(2, 0, 1) == 2);
    auto t7 = wild::select_person(set, 7);
    CHECK(t7.missing_frames == 1);
    CHECK(t7.kp(2, 0, 2) == 0);  // the frame without a detection is empty
    CHECK_THROWS_WITH_AS(wild::select_person(set, 9), doctest::Contains("no track id 9"), Error);
    CHECK_THROWS_WITH_AS(wild::read_detections((d / "coco.json").string(), wild::InputFormat::halpe_json),
                         doctest::Contains("wrong joint count"), Error);
  }
  // MMPose predictions without ids: highest-scoring person per frame
  {
    std::string j = "{\"meta_info\": {}, \"instance_info\": [";
    for (int f = 0; f < 3; ++f) {
      j += std::string(f ? "," : "") + "{\"frame_id\": " + std::to_string(f) + ", \"instances\": [";
      for (int p = 0; p < 2; ++p) {
        j += std::string(p ? "," : "") + "{\"keypoints\": [";
        for (int k = 0; k < 17; ++k) j += std::string(k ? "," : "") + "[" + std::to_string(p * 1000 + k) + ", 1]";
        j += "], \"keypoint_scores\": [";
        for (int k = 0; k < 17; ++k) j += std::string(k ? "," : "") + (p == f % 2 ? "0.9" : "0.4");
        j += "]}";
      }
      j += "]}";
    }
    j += "]}";
    io::write_file((d / "mmpose.json").string(), j);
    auto tr = wild::select_person(wild::read_detections((d / "mmpose.json").string()));
    CHECK(tr.track == -1);
    CHECK(tr.kp(0, 3, 0) == 3);     // frame 0: person 0 scores higher
    CHECK(tr.kp(1, 3, 0) == 1003);  // frame 1: person 1
  }
  // OpenPose: a directory of per-frame files, BODY_25
  {
    fs::create_directories(d / "openpose");
    for (int f = 0; f < 3; ++f) {
      std::string j = "{\"version\": 1.3, \"people\": [{\"person_id\": [-1], \"pose_keypoints_2d\": [";
      for (int k = 0; k < 25; ++k) j += std::string(k ? "," : "") + std::to_string(k) + ", " + std::to_string(f) + ", 0.7";
      j += "]}]}";
      char name[64];
      std::snprintf(name, sizeof name, "clip_%012d_keypoints.json", f);
      io::write_file((d / "openpose" / name).string(), j);
    }
    auto set = wild::read_detections((d / "openpose").string());
    CHECK(set.layout == pose::KeypointLayout::openpose_body25);
    auto tr = wild::select_person(set);
    CHECK(tr.kp.size(0) == 3);
    CHECK(tr.kp(2, 0, 1) == 2);
    const auto h = pose::to_h36m17(tr.kp, set.layout);
    CHECK(h(0, 1, 0) == 9);  // right hip = BODY_25 joint 9
    CHECK_THROWS_WITH_AS(wild::read_detections((d / "openpose").string(), wild::InputFormat::coco_json),
                         doctest::Contains("wrong joint count"), Error);
  }
  // CSV with header and track column
  {
    std::string c = "frame,track";
    for (int k = 0; k < 17; ++k) c += ",x" + std::to_string(k) + ",y" + std::to_string(k) + ",s" + std::to_string(k);
    c += "\n";
    for (int f = 0; f < 2; ++f) {
      c += std::to_string(f) + ",0";
      for (int k = 0; k < 17; ++k) c += "," + std::to_string(k + f) + ",2,0.9";
      c += "\n";
    }
    io::write_file((d / "kp.csv").string(), c);
    auto tr = wild::select_person(wild::read_detections((d / "kp.csv").string()));
    CHECK(tr.kp(1, 4, 0) == 5);
    std::string bad = "0";
    for (int k = 0; k < 17; ++k) bad += k == 3 ? ",nan,1,1" : ",1,1,1";
    io::write_file((d / "nan.csv").string(), bad + "\n");
    CHECK_THROWS_WITH_AS(wild::read_detections((d / "nan.csv").string()), doctest::Contains("not a finite number"), Error);
    io::write_file((d / "cols.csv").string(), "0,1,2,3,4\n");
    CHECK_THROWS_WITH_AS(wild::read_detections((d / "cols.csv").string()), doctest::Contains("columns"), Error);
  }
  // npz: H36M order pixels + scores; NaN refused
  {
    io::NpzMap m;
    std::vector<float> kp(5 * 17 * 2, 3.f), sc(5 * 17, 1.f);
    m["keypoints_2d"] = io::from_vector(kp, {5, 17, 2});
    m["scores"] = io::from_vector(sc, {5, 17});
    io::save_npz((d / "kp.npz").string(), m);
    auto set = wild::read_detections((d / "kp.npz").string());
    CHECK(set.layout == pose::KeypointLayout::h36m17);
    CHECK(wild::select_person(set).kp.size(0) == 5);
    kp[7] = NAN;
    m["keypoints_2d"] = io::from_vector(kp, {5, 17, 2});
    io::save_npz((d / "nan.npz").string(), m);
    CHECK_THROWS_WITH_AS(wild::read_detections((d / "nan.npz").string()), doctest::Contains("not finite"), Error);
    m["scores"] = io::from_vector(std::vector<float>(5 * 16, 1.f), {5, 16});
    io::save_npz((d / "badscores.npz").string(), m);
    CHECK_THROWS_WITH_AS(wild::read_detections((d / "badscores.npz").string()), doctest::Contains("scores has shape"), Error);
  }
  // malformed and empty files
  io::write_file((d / "empty.json").string(), "[]");
  CHECK_THROWS_WITH_AS(wild::read_detections((d / "empty.json").string()), doctest::Contains("empty sequence"), Error);
  io::write_file((d / "broken.json").string(), "[{\"image_id\": 1, \"keypoints\": [1, 2");
  CHECK_THROWS_AS(wild::read_detections((d / "broken.json").string()), Error);
  io::write_file((d / "odd.json").string(), "[{\"image_id\": 1, \"keypoints\": [1, 2, 3, 4]}]");
  CHECK_THROWS_WITH_AS(wild::read_detections((d / "odd.json").string()), doctest::Contains("multiple of 3"), Error);
  io::write_file((d / "count.json").string(), "[{\"image_id\": 1, \"keypoints\": [1, 2, 3, 4, 5, 6]}]");
  CHECK_THROWS_WITH_AS(wild::read_detections((d / "count.json").string()), doctest::Contains("no known layout"), Error);
  io::write_file((d / "other.json").string(), "{\"hello\": 1}");
  CHECK_THROWS_AS(wild::read_detections((d / "other.json").string()), Error);
  CHECK_THROWS_AS(wild::read_detections((d / "missing.json").string()), Error);
  fs::remove_all(d);
}

TEST_CASE("gap filling interpolates low-confidence joints and reports them") {
  Tensor<double> kp = Tensor<double>::zeros({6, 2, 3});
  for (int f = 0; f < 6; ++f) kp(f, 0, 0) = 10.0 * f, kp(f, 0, 1) = 1, kp(f, 0, 2) = 0.9, kp(f, 1, 2) = 0.9, kp(f, 1, 0) = 7;
  kp(2, 0, 2) = 0.1, kp(2, 0, 0) = 999;  // a detector glitch at frame 2
  kp(3, 0, 2) = 0.0, kp(3, 0, 0) = 0;    // missing at frame 3
  kp(0, 1, 2) = 0.0, kp(5, 1, 2) = 0.2, kp(5, 1, 0) = -5;  // ends of joint 1
  auto r = wild::fill_gaps(kp, 0.3);
  CHECK(r.filled == 4);
  CHECK(r.filled_per_joint[0] == 2);
  CHECK(r.longest_gap == 2);
  CHECK(kp(2, 0, 0) == doctest::Approx(20));
  CHECK(kp(3, 0, 0) == doctest::Approx(30));
  CHECK(kp(5, 1, 0) == 7);  // held from the last confident frame
  CHECK(kp(0, 1, 0) == 7);
  Tensor<double> never = Tensor<double>::zeros({3, 1, 3});
  CHECK_THROWS_WITH_AS(wild::fill_gaps(never, 0.3, {"left_ankle"}), doctest::Contains("left_ankle"), Error);
}

TEST_CASE("windows cover every frame; short clips are padded") {
  for (int64_t F : {1, 5, 26, 27, 28, 40, 53, 54, 300, 1000}) {
    auto p = wild::plan_windows(F, 27, 6);
    std::vector<int> cover(size_t(F), 0);
    for (auto s : p.starts)
      for (int64_t t = s; t < std::min(F, s + 27); ++t) cover[size_t(t)]++;
    for (int64_t f = 0; f < F; ++f) CHECK(cover[size_t(f)] >= 1);
    if (F < 27) CHECK(p.pad_before + p.pad_after == 27 - F);
    else CHECK(p.pad_before + p.pad_after == 0);
    for (auto s : p.starts) CHECK((s >= 0 && (F < 27 || s + 27 <= F)));
  }
  CHECK(wild::window_weight(0, 27, 6) == doctest::Approx(1.0 / 7));
  CHECK(wild::window_weight(13, 27, 6) == 1);
  CHECK_THROWS_AS(wild::plan_windows(0, 27, 6), Error);
  CHECK_THROWS_AS(wild::plan_windows(10, 27, 27), Error);
}

TEST_CASE("procedural walk: rigid bones, correct handedness, COCO round trip") {
  wild::DemoWalkOptions o;
  o.frames = 200;
  const auto w = wild::make_demo_walk(o);
  // the ground truth is a rigid skeleton with the lengths it was built with
  const auto cv = wild::bone_length_variation(w.camera_mm);
  for (double v : cv) CHECK(v < 1e-9);
  const auto bones = pose::h36m17().bones();
  for (const auto& b : bones) {
    const double* a = w.camera_mm.data() + b.first * 3;
    const double* c = w.camera_mm.data() + b.second * 3;
    CHECK(std::sqrt((a[0] - c[0]) * (a[0] - c[0]) + (a[1] - c[1]) * (a[1] - c[1]) + (a[2] - c[2]) * (a[2] - c[2])) ==
          doctest::Approx(wild::demo_bone_length(b.first)).epsilon(1e-9));
  }
  CHECK(wild::chirality_fraction(w.camera_mm) == 1.0);
  // the mirror image (x -> -x) is the wrong-handed body the check must catch
  Tensor<double> mirror = w.camera_mm.clone();
  for (int64_t i = 0; i < mirror.numel(); i += 3) mirror.data()[i] = -mirror.data()[i];
  CHECK(wild::chirality_fraction(mirror) == 0.0);
  // the person stays in the picture and walks all the way round
  double xmin = 1e9, xmax = -1e9;
  for (int64_t i = 0; i < w.coco_px.numel(); i += 3) {
    xmin = std::min(xmin, w.coco_px.data()[i]), xmax = std::max(xmax, w.coco_px.data()[i]);
    CHECK((w.coco_px.data()[i + 1] > 0 && w.coco_px.data()[i + 1] < o.height));
  }
  CHECK(xmin > 0);
  CHECK(xmax < o.width);
  CHECK(xmax - xmin > 300);
  // COCO -> H36M recovers the projected H36M joints (up to jitter and the
  // perspective of midpoints)
  const auto h = pose::to_h36m17(w.coco_px, pose::KeypointLayout::coco17);
  const auto proj = pose::project_to_2d_linear(w.camera_mm, w.intrinsics);
  double worst = 0;
  for (int64_t f = 0; f < o.frames; ++f)
    for (int j = 0; j < 17; ++j)
      if (h(f, j, 2) > 0.3)
        for (int c = 0; c < 2; ++c) worst = std::max(worst, std::fabs(h(f, j, c) - proj(f, j, c)));
  CHECK(worst < 6);
  // and it reads back through the COCO reader
  const fs::path d = temp_dir("walk");
  io::write_file((d / "walk.json").string(), wild::demo_walk_coco_json(w));
  auto tr = wild::select_person(wild::read_detections((d / "walk.json").string()));
  CHECK(tr.kp.size(0) == o.frames);
  CHECK(tr.kp(17, 9, 0) == doctest::Approx(w.coco_px(17, 9, 0)).epsilon(1e-3));
  fs::remove_all(d);
}
