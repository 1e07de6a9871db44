// Lifting sequences of any length: windows, padding, blending, units, root,
// streaming latency, J-Agg and trajectories, root fitting; the one-header API.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "finepose/finepose.hpp"
#include "finepose/wild/demo_walk.hpp"
#include "wild_test_model.hpp"

using namespace finepose;

namespace {

// Human3.6M-order pixel keypoints from the procedural walk (F, 17, 3).
Tensor<double> walk_h36m(int64_t frames) {
  wild::DemoWalkOptions o;
  o.frames = frames;
  o.dropout = 0;
  const auto w = wild::make_demo_walk(o);
  return pose::to_h36m17(w.coco_px, pose::KeypointLayout::coco17);
}

// What one window of the model gives for frames [start, start + n) of kp,
// padded to T by replicating the ends: (T, H, 17, 3) in mm, root at 0.
std::vector<double> direct_window(const FinePoseModel& m, const Tensor<double>& kp, int64_t start, int64_t n,
                                  int64_t pad_before, int w, int h, int64_t H, std::uint64_t seed) {
  const int64_t T = m.config().frames;
  TensorF x({1, T, 17, 2});
  for (int64_t t = 0; t < T; ++t) {
    const int64_t f = start + std::min(std::max<int64_t>(t - pad_before, 0), n - 1);
    for (int j = 0; j < 17; ++j) {
      x(0, t, j, 0) = float(kp(f, j, 0) / w * 2 - 1);
      x(0, t, j, 1) = float(kp(f, j, 1) / w * 2 - double(h) / w);
    }
  }
  SampleOptions so;
  so.hypotheses = H;
  so.seed = seed;
  const TensorF out = m.sample(x, {"Waiting"}, so);  // [1, 1, H, T, 17, 3] metres
  std::vector<double> r(size_t(T * H * 51));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t hh = 0; hh < H; ++hh)
      for (int j = 0; j < 17; ++j)
        for (int c = 0; c < 3; ++c)
          r[size_t(((t * H + hh) * 17 + j) * 3 + c)] = (double(out(0, 0, hh, t, j, c)) - double(out(0, 0, hh, t, 0, c))) * 1000;
  return r;
}

const std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

}  // namespace

TEST_CASE("one window: normalisation, metres -> mm, root at 0") {
  const FinePoseModel m = test::tiny_model();
  const auto kp = walk_h36m(9);
  wild::LiftOptions o;
  o.hypotheses = 2;
  o.keep_hypotheses = true;
  o.aggregation = wild::Aggregation::p_agg;
  o.seed = 11;
  const auto r = wild::lift_sequence(m, kp, 1000, 1000, o);
  REQUIRE(r.poses.shape() == Shape{9, 17, 3});
  REQUIRE(r.hypotheses.shape() == Shape{9, 2, 17, 3});
  CHECK(r.action == "Waiting");
  CHECK(!r.trajectory.defined());
  const auto d = direct_window(m, kp, 0, 9, 0, 1000, 1000, 2, 11);
  double maxerr = 0, mag = 0;
  for (int64_t i = 0; i < r.hypotheses.numel(); ++i) {
    maxerr = std::max(maxerr, std::fabs(double(r.hypotheses.data()[i]) - d[size_t(i)]));
    mag = std::max(mag, std::fabs(d[size_t(i)]));
  }
  CHECK(mag > 1);  // millimetres, not metres
  CHECK(maxerr < 1e-3 * mag);
  for (int64_t f = 0; f < 9; ++f) {
    for (int c = 0; c < 3; ++c) CHECK(r.poses(f, 0, c) == 0);
    for (int j = 0; j < 17; ++j)  // P-Agg = mean of the two hypotheses
      CHECK(r.poses(f, j, 1) == doctest::Approx((r.hypotheses(f, 0, j, 1) + r.hypotheses(f, 1, j, 1)) / 2).epsilon(1e-5));
  }
}

TEST_CASE("overlapping windows are blended with the trapezoid weights") {
  const FinePoseModel m = test::tiny_model();
  const auto kp = walk_h36m(16);  // T = 9, overlap 2: windows at 0 and 7
  wild::LiftOptions o;
  o.overlap = 2;
  o.keep_hypotheses = true;
  o.aggregation = wild::Aggregation::p_agg;
  o.seed = 3;
  const auto r = wild::lift_sequence(m, kp, 1000, 1000, o);
  const auto a = direct_window(m, kp, 0, 9, 0, 1000, 1000, 1, 3);
  const auto b = direct_window(m, kp, 7, 9, 0, 1000, 1000, 1, 3 + kGolden);
  for (int64_t f = 0; f < 16; ++f)
    for (int i = 0; i < 51; ++i) {
      double want;
      if (f < 7) want = a[size_t(f * 51 + i)];
      else if (f >= 9) want = b[size_t((f - 7) * 51 + i)];
      else {
        const double wa = wild::window_weight(f, 9, 2), wb = wild::window_weight(f - 7, 9, 2);
        want = (wa * a[size_t(f * 51 + i)] + wb * b[size_t((f - 7) * 51 + i)]) / (wa + wb);
      }
      CHECK(double(r.hypotheses.data()[f * 51 + i]) == doctest::Approx(want).epsilon(1e-4).scale(10));
    }
}

TEST_CASE("short clips are padded by replication; any length comes back whole") {
  const FinePoseModel m = test::tiny_model();
  const auto kp = walk_h36m(4);
  wild::LiftOptions o;
  o.aggregation = wild::Aggregation::p_agg;
  const auto r = wild::lift_sequence(m, kp, 1000, 1000, o);
  REQUIRE(r.poses.shape() == Shape{4, 17, 3});
  const auto d = direct_window(m, kp, 0, 4, 2, 1000, 1000, 1, 0);  // pad 2 before, 3 after
  for (int64_t f = 0; f < 4; ++f)
    for (int i = 0; i < 51; ++i) CHECK(double(r.poses.data()[f * 51 + i]) == doctest::Approx(d[size_t((f + 2) * 51 + i)]).epsilon(1e-4).scale(10));
  for (int64_t F : {1, 10, 17, 31}) {
    const auto rr = wild::lift_sequence(m, walk_h36m(F), 1000, 1000, o);
    CHECK(rr.poses.size(0) == F);
    for (int64_t i = 0; i < rr.poses.numel(); ++i) REQUIRE(std::isfinite(rr.poses.data()[i]));
  }
}

TEST_CASE("streaming: bounded latency, every frame once, in order") {
  const FinePoseModel m = test::tiny_model();
  const auto kp = walk_h36m(40);
  wild::LiftOptions o;
  o.aggregation = wild::Aggregation::p_agg;
  wild::StreamingLifter s(m, 1000, 1000, o);
  CHECK(s.latency_frames() == 8);
  std::vector<int64_t> got;
  float xy[34];
  for (int64_t f = 0; f < 40; ++f) {
    for (int j = 0; j < 17; ++j) xy[2 * j] = float(kp(f, j, 0)), xy[2 * j + 1] = float(kp(f, j, 1));
    for (const auto& lf : s.push(xy)) got.push_back(lf.index);
    // every frame pushed at least latency_frames() pushes ago is out
    if (f >= s.latency_frames()) CHECK(int64_t(got.size()) >= f - s.latency_frames() + 1);
  }
  for (const auto& lf : s.flush()) got.push_back(lf.index);
  REQUIRE(got.size() == 40);
  for (int64_t i = 0; i < 40; ++i) CHECK(got[size_t(i)] == i);
  CHECK_THROWS_AS(s.push(xy), Error);
  // the whole-sequence call gives the same numbers as streaming
  wild::StreamingLifter s2(m, 1000, 1000, o);
  std::vector<float> streamed;
  const Tensor<double> kpc = kp.contiguous();
  for (int64_t f = 0; f < 40; ++f)
    for (const auto& lf : s2.push_xys(kpc.data() + f * 51)) streamed.insert(streamed.end(), lf.pose.begin(), lf.pose.end());
  for (const auto& lf : s2.flush()) streamed.insert(streamed.end(), lf.pose.begin(), lf.pose.end());
  const auto whole = wild::lift_sequence(m, kp, 1000, 1000, o);
  for (int64_t i = 0; i < whole.poses.numel(); ++i) CHECK(whole.poses.data()[i] == streamed[size_t(i)]);
  // the float push is the double one on float-rounded pixels (scores 1)
  wild::StreamingLifter s3(m, 1000, 1000, o), s4(m, 1000, 1000, o);
  std::vector<float> a3, a4;
  double xys[51];
  for (int64_t f = 0; f < 40; ++f) {
    for (int j = 0; j < 17; ++j) {
      xy[2 * j] = float(kp(f, j, 0)), xy[2 * j + 1] = float(kp(f, j, 1));
      xys[3 * j] = xy[2 * j], xys[3 * j + 1] = xy[2 * j + 1], xys[3 * j + 2] = 1.0;
    }
    for (const auto& lf : s3.push(xy)) a3.insert(a3.end(), lf.pose.begin(), lf.pose.end());
    for (const auto& lf : s4.push_xys(xys)) a4.insert(a4.end(), lf.pose.begin(), lf.pose.end());
  }
  for (const auto& lf : s3.flush()) a3.insert(a3.end(), lf.pose.begin(), lf.pose.end());
  for (const auto& lf : s4.flush()) a4.insert(a4.end(), lf.pose.begin(), lf.pose.end());
  REQUIRE(a3.size() == a4.size());
  for (size_t i = 0; i < a3.size(); ++i) CHECK(a3[i] == a4[i]);
}

TEST_CASE("root fitting recovers the camera-space position of a projected pose") {
  wild::DemoWalkOptions o;
  o.frames = 30;
  const auto w = wild::make_demo_walk(o);
  for (int64_t f = 0; f < 30; f += 7) {
    double rel[51], px[34], T[3];
    for (int j = 0; j < 17; ++j) {
      for (int c = 0; c < 3; ++c) rel[j * 3 + c] = w.camera_mm(f, j, c) - w.camera_mm(f, 0, c);
      const double p[3] = {w.camera_mm(f, j, 0), w.camera_mm(f, j, 1), w.camera_mm(f, j, 2)};
      pose::project_point(w.intrinsics, pose::Projection::Linear, p, px + 2 * j);
    }
    wild::fit_root_translation(rel, px, nullptr, 17, w.intrinsics, 5000, T);
    for (int c = 0; c < 3; ++c) CHECK(T[c] == doctest::Approx(w.camera_mm(f, 0, c)).epsilon(1e-6));
  }
}

TEST_CASE("J-Agg picks hypothesis joints; trajectories only with intrinsics") {
  const FinePoseModel m = test::tiny_model();
  const auto kp = walk_h36m(12);
  wild::LiftOptions o;
  o.hypotheses = 4;
  o.keep_hypotheses = true;
  o.aggregation = wild::Aggregation::j_agg;
  const auto r = wild::lift_sequence(m, kp, 1000, 1000, o);
  bool assumed_note = false;
  for (const auto& n : r.notes) assumed_note |= n.find("assuming") != std::string::npos;
  CHECK(assumed_note);
  CHECK(!r.trajectory.defined());
  for (int64_t f = 0; f < 12; ++f)
    for (int j = 1; j < 17; ++j) {
      bool found = false;
      for (int h = 0; h < 4; ++h) {
        bool same = true;
        for (int c = 0; c < 3; ++c) same &= r.poses(f, j, c) == r.hypotheses(f, h, j, c);
        found |= same;
      }
      CHECK(found);
    }
  pose::CameraIntrinsics k;
  k.fx = k.fy = 1145, k.cx = k.cy = 500;
  o.intrinsics = k;
  const auto rt = wild::lift_sequence(m, kp, 1000, 1000, o);
  REQUIRE(rt.trajectory.shape() == Shape{12, 3});
  for (int64_t f = 0; f < 12; ++f) CHECK(rt.trajectory(f, 2) > 0);
}

TEST_CASE("bad input: NaN, empty, wrong shapes, bad sizes, unknown labels") {
  const FinePoseModel m = test::tiny_model();
  auto kp = walk_h36m(5);
  CHECK_THROWS_WITH_AS(wild::lift_sequence(m, kp, 0, 1000), doctest::Contains("image size"), Error);
  CHECK_THROWS_WITH_AS(wild::lift_sequence(m, Tensor<double>({0, 17, 3}), 1000, 1000), doctest::Contains("empty"), Error);
  CHECK_THROWS_AS(wild::lift_sequence(m, Tensor<double>::zeros({5, 16, 3}), 1000, 1000), Error);
  kp(2, 3, 0) = NAN;
  CHECK_THROWS_WITH_AS(wild::lift_sequence(m, kp, 1000, 1000), doctest::Contains("not finite"), Error);
  wild::LiftOptions o;
  o.action = "Juggling";
  CHECK_THROWS_WITH_AS(wild::lift_sequence(m, walk_h36m(5), 1000, 1000, o), doctest::Contains("Juggling"), Error);
  o.action = "Walking";
  o.overlap = 9;
  CHECK_THROWS_AS(wild::lift_sequence(m, walk_h36m(5), 1000, 1000, o), Error);
}

TEST_CASE("finepose.hpp: load, lift, release") {
  FinePoseModel tiny = test::tiny_model();
  const std::string path = (std::filesystem::temp_directory_path() / ("finepose_api_" + std::to_string(::getpid()) + ".safetensors")).string();
  save_model(path, tiny);
  finepose::Model model = finepose::load(path);
  std::vector<float> kp(20 * 34);
  const auto walk = walk_h36m(20);
  for (int64_t f = 0; f < 20; ++f)
    for (int j = 0; j < 17; ++j) kp[size_t(f * 34 + 2 * j)] = float(walk(f, j, 0)), kp[size_t(f * 34 + 2 * j + 1)] = float(walk(f, j, 1));
  finepose::Lifted r = model.lift(kp, 1000, 1000);
  CHECK(r.poses.shape() == Shape{20, 17, 3});
  CHECK_THROWS_AS(model.lift(std::vector<float>(33), 1000, 1000), Error);
  // the precision picked at load time reaches the denoiser: bf16 moves the poses a little
  CHECK(model.precision() == Precision::fp32);
  finepose::Model bf16 = finepose::load(path, "", Precision::bf16);
  CHECK(bf16.precision() == Precision::bf16);
  const finepose::Lifted rb = bf16.lift(kp, 1000, 1000);
  double num = 0, den = 0;
  for (int64_t i = 0; i < r.poses.numel(); ++i) {
    const double d = double(rb.poses.data()[i]) - double(r.poses.data()[i]);
    num += d * d;
    den += double(r.poses.data()[i]) * double(r.poses.data()[i]);
  }
  CHECK(num > 0);
  CHECK(std::sqrt(num / den) < 0.05);
  finepose::release(model);
  CHECK(!model.loaded());
  CHECK_THROWS_WITH_AS(model.lift(kp, 1000, 1000), doctest::Contains("no model loaded"), Error);
  std::remove(path.c_str());
}

TEST_CASE("--action auto: the model's declared generic prompt (label dropout), else Waiting; the config keeps it") {
  FinePoseConfig c = test::tiny_config();
  CHECK(config_from_json(config_to_json(c)).default_action.empty());
  CHECK(config_to_json(c).find("default_action") == std::string::npos);  // older files stay as they were
  c.default_action = "A person";
  CHECK(config_from_json(config_to_json(c)).default_action == "A person");
  FinePoseModel generic(c);
  FinePoseModel plain = test::tiny_model();
  wild::LiftOptions o;
  o.action = "auto";
  const wild::StreamingLifter a(generic, 1000, 1000, o), b(plain, 1000, 1000, o);
  CHECK(a.action() == "A person");
  CHECK(b.action() == "Waiting");
  o.action = "Walking";
  CHECK(wild::StreamingLifter(generic, 1000, 1000, o).action() == "Walking");
}
