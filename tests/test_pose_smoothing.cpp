// Temporal smoothing (pose/smoothing.hpp), the acceleration error
// (pose/metrics.hpp) and the smoothing study's plumbing (eval/smoothing_study.hpp).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "finepose/core/philox.hpp"
#include "finepose/eval/smoothing_study.hpp"
#include "finepose/pose/metrics.hpp"
#include "finepose/pose/smoothing.hpp"
#include "finepose/io/json.hpp"
#include "finepose/wild/lifter.hpp"
#include "cli_run.hpp"
#include "wild_test_model.hpp"

using namespace finepose;

namespace {
pose::SmoothOptions savgol(int64_t w, int64_t p) {
  pose::SmoothOptions o;
  o.kind = pose::Smoother::savgol, o.window = w, o.order = p;
  return o;
}
pose::SmoothOptions euro(double mc, double beta, double fps = 50) {
  pose::SmoothOptions o;
  o.kind = pose::Smoother::one_euro, o.min_cutoff = mc, o.beta = beta, o.fps = fps;
  return o;
}
// (F, 17, 3): a smooth motion (sines of different frequencies per coordinate), mm
TensorF smooth_motion(int64_t F) {
  TensorF t({F, 17, 3});
  for (int64_t f = 0; f < F; ++f)
    for (int64_t k = 0; k < 51; ++k) t.data()[f * 51 + k] = float(100 * std::sin(0.03 * double(f) * (1 + double(k % 7)) + double(k)));
  return t;
}
}  // namespace

TEST_CASE("savgol: the classic 5-point quadratic weights; polynomials up to the order pass unchanged, ends included") {
  const auto w = pose::detail::savgol_weights(5, 2, 2);
  const double ref[5] = {-3, 12, 17, 12, -3};
  for (int k = 0; k < 5; ++k) CHECK(w[size_t(k)] == doctest::Approx(ref[k] / 35).epsilon(1e-12));
  for (int64_t order : {0, 1, 2, 3}) {
    std::vector<float> x(40);
    for (int i = 0; i < 40; ++i) x[size_t(i)] = float(std::pow(0.1 * i - 1.3, order) * 50 + 3);
    std::vector<float> y = x;
    pose::savgol_series(y.data(), 40, 1, savgol(9, std::max<int64_t>(order, 1)));
    for (int i = 0; i < 40; ++i) CHECK(y[size_t(i)] == doctest::Approx(x[size_t(i)]).epsilon(1e-4));
  }
  // a series shorter than the window: the largest odd window it holds
  std::vector<float> s = {0, 10, 0, 10};
  pose::savgol_series(s.data(), 4, 1, savgol(9, 2));
  CHECK(std::isfinite(s[0]));
  std::vector<float> two = {1, 5};
  pose::savgol_series(two.data(), 2, 1, savgol(9, 2));
  CHECK(two == std::vector<float>{1, 5});  // fewer than 3 frames: left as they are
}

TEST_CASE("one-euro: a constant passes, beta 0 is an exponential filter at the min cutoff, it follows a step") {
  std::vector<float> c(50, 7.5f);
  pose::one_euro_series(c.data(), 50, 1, euro(1, 0.01));
  for (float v : c) CHECK(v == doctest::Approx(7.5));
  std::vector<float> x(100), y;
  for (int i = 0; i < 100; ++i) x[size_t(i)] = float(std::sin(0.3 * i) * 20 + (i > 50 ? 40 : 0));
  y = x;
  pose::one_euro_series(y.data(), 100, 1, euro(2, 0, 50));
  const double tau = 1 / (2 * M_PI * 2), a = 1 / (1 + tau * 50);
  double prev = x[0];
  for (int i = 1; i < 100; ++i) {
    prev = a * x[size_t(i)] + (1 - a) * prev;
    CHECK(y[size_t(i)] == doctest::Approx(prev).epsilon(1e-5));
  }
  // a step: the output gets there (causal, so with lag)
  std::vector<float> st(200, 0.f);
  for (int i = 20; i < 200; ++i) st[size_t(i)] = 100;
  pose::one_euro_series(st.data(), 200, 1, euro(1, 0.01));
  CHECK(st[19] == 0);
  CHECK(st[199] == doctest::Approx(100).epsilon(1e-3));
}

TEST_CASE("acceleration error: a known quadratic offset, the valid mask, bad shapes") {
  TensorF t = smooth_motion(20), p = t.clone();
  // pred = target + 0.5 c n^2 on one coordinate of one joint: its acceleration differs by c
  for (int64_t f = 0; f < 20; ++f) p.data()[f * 51 + 3 * 4 + 1] += float(0.5 * 3.0 * double(f * f));
  CHECK(pose::acceleration_error(p, t) == doctest::Approx(3.0 / 17).epsilon(1e-4));
  CHECK(pose::acceleration_error(t, t) == doctest::Approx(0));
  std::vector<bool> valid(20, true);
  valid[5] = false;
  CHECK(pose::acceleration_error(p, t, &valid) == doctest::Approx(3.0 / 17).epsilon(1e-4));
  CHECK_THROWS_AS(pose::acceleration_error(p.slice(0, 0, 2).contiguous(), t.slice(0, 0, 2).contiguous()), Error);
  std::vector<bool> none(20, false);
  CHECK_THROWS_AS(pose::acceleration_error(p, t, &none), Error);
}

TEST_CASE("smoothing a noisy sequence lowers the acceleration error; every coordinate is its own series") {
  const int64_t F = 200;
  const TensorF truth = smooth_motion(F);
  TensorF noisy = truth.clone();
  const TensorF n = NormalStream(3, 1).normal({F, 17, 3});
  for (int64_t i = 0; i < noisy.numel(); ++i) noisy.data()[i] += 4 * n.data()[i];
  const double a0 = pose::acceleration_error(noisy, truth), m0 = pose::mpjpe(noisy, truth);
  for (const auto& o : {savgol(9, 2), euro(1, 0.002)}) {
    TensorF s = noisy.clone();
    pose::smooth_sequence(s, o);
    const double a = pose::acceleration_error(s, truth), m = pose::mpjpe(s, truth);
    MESSAGE(pose::smooth_description(o), ": accel ", a0, " -> ", a, ", MPJPE ", m0, " -> ", m);
    CHECK(a < 0.5 * a0);
    if (o.kind == pose::Smoother::savgol) CHECK(m < m0);
    // coordinate 7 smoothed alone is the same series
    std::vector<float> one(static_cast<size_t>(F));
    for (int64_t f = 0; f < F; ++f) one[size_t(f)] = noisy.data()[f * 51 + 7];
    if (o.kind == pose::Smoother::savgol) pose::savgol_series(one.data(), F, 1, o);
    else pose::one_euro_series(one.data(), F, 1, o);
    for (int64_t f = 0; f < F; ++f) CHECK(one[size_t(f)] == s.data()[f * 51 + 7]);
  }
  TensorF s = noisy.clone();
  pose::smooth_sequence(s, {});
  CHECK(s.to_vector() == noisy.to_vector());  // none
}

TEST_CASE("smoothing options: bad values are refused by name") {
  CHECK_THROWS_WITH_AS(pose::parse_smoother("kalman"), doctest::Contains("unknown filter 'kalman'"), Error);
  CHECK(pose::parse_smoother("one-euro") == pose::Smoother::one_euro);
  CHECK(pose::parse_smoother("savgol") == pose::Smoother::savgol);
  TensorF t = smooth_motion(30);
  CHECK_THROWS_WITH_AS(pose::smooth_sequence(t, savgol(8, 2)), doctest::Contains("window must be odd"), Error);
  CHECK_THROWS_WITH_AS(pose::smooth_sequence(t, savgol(5, 5)), doctest::Contains("order"), Error);
  CHECK_THROWS_WITH_AS(pose::smooth_sequence(t, euro(0, 0.01)), doctest::Contains("min cutoff"), Error);
  CHECK_THROWS_WITH_AS(pose::smooth_sequence(t, euro(1, -1)), doctest::Contains("beta"), Error);
  CHECK_THROWS_WITH_AS(pose::smooth_sequence(t, euro(1, 0, std::nan(""))), doctest::Contains("fps"), Error);
}

TEST_CASE("the lifter's smoothing is smooth_sequence on its output; the study scores the same thing") {
  const FinePoseModel m = test::tiny_model();
  const int64_t F = 40;
  Tensor<double> kp({F, 17, 3});
  const TensorF n = NormalStream(9, 2).normal({F, 17, 2});
  for (int64_t f = 0; f < F; ++f)
    for (int j = 0; j < 17; ++j) {
      kp(f, j, 0) = 500 + 3 * j + 2 * double(f) + 2 * n.data()[(f * 17 + j) * 2];
      kp(f, j, 1) = 400 + 10 * j + 2 * n.data()[(f * 17 + j) * 2 + 1];
      kp(f, j, 2) = 0.9;
    }
  wild::LiftOptions o;
  const wild::Lifted raw = wild::lift_sequence(m, kp, 1000, 1000, o);
  o.smooth = savgol(7, 2);
  const wild::Lifted sm = wild::lift_sequence(m, kp, 1000, 1000, o);
  TensorF ref = raw.poses.clone();
  pose::smooth_sequence(ref, o.smooth);
  CHECK(sm.poses.to_vector() == ref.to_vector());
  CHECK(sm.notes.back().find("smoothed over time: savgol (window 7, order 2)") != std::string::npos);
  // the study: the lifted sequence scored against itself is 0 for none; rows in grid order
  eval::StudySequence s;
  s.name = "self";
  s.keypoints = kp;
  s.target = raw.poses.clone();
  const auto grid = std::vector<pose::SmoothOptions>{{}, savgol(7, 2)};
  const auto rows = eval::study_smoothing(m, {s}, grid, wild::LiftOptions{});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].mpjpe == doctest::Approx(0).epsilon(1e-9));
  CHECK(rows[0].accel == doctest::Approx(0).epsilon(1e-9));
  CHECK(rows[1].mpjpe == doctest::Approx(pose::mpjpe(ref, raw.poses)).epsilon(1e-6));
  CHECK(rows[1].accel == doctest::Approx(pose::acceleration_error(ref, raw.poses)).epsilon(1e-6));
  CHECK(eval::choose_smoothing(rows) == 0);  // nothing beats the truth itself
}

TEST_CASE("finepose smooth-study on a few sequences: every grid row, one choice, JSON as printed") {
  const std::string data = std::string(FINEPOSE_SHARED_DIR) + "/data";
  if (!test::have_cli() || !std::filesystem::exists(FINEPOSE_CLI) || !std::filesystem::exists(data + "/humaneva_i_h36m17.npz")) {
    MESSAGE("skipped: needs the finepose CLI and the shared data (", data, ")");
    return;
  }
  const auto out = std::filesystem::temp_directory_path() / ("finepose_smooth_study_" + std::to_string(::getpid()) + ".json");
  const test::CliRun r = test::run_cli("smooth-study --data " + data + " --max-seqs 2 --quiet --out " + out.string());
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  CHECK(r.out.find("savgol 9/2") != std::string::npos);
  const json::Value js = json::parse(io::read_text_file(out.string()));
  std::filesystem::remove(out);
  CHECK(js.at("heldout_sequences").as_int64() == 2);
  CHECK(js.at("humaneva_sequences").as_int64() == 2);
  const auto grid = eval::smoothing_grid();
  REQUIRE(js.at("rows").size() == grid.size());
  int chosen = 0;
  for (size_t g = 0; g < grid.size(); ++g) {
    const json::Value& row = js.at("rows").at(g);
    CHECK(row.at("filter").as_string() == pose::smoother_name(grid[g].kind));
    CHECK(row.at("heldout").at("mpjpe").as_double() > 0);
    chosen += row.at("chosen").as_bool();
  }
  CHECK(chosen == 1);
  CHECK(js.at("rows").at(0).at("filter").as_string() == "none");
  // usage errors
  CHECK(test::run_cli("smooth-study --max-seqs 2").rc == 2);  // no --data
  CHECK(test::run_cli("smooth-study --data " + data + " --max-seqs 0").rc == 2);
}
