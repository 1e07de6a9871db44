#include <doctest/doctest.h>

#include <cmath>

#include "finepose/pose/metrics_report.hpp"
#include "test_pose_reference.hpp"

using namespace finepose;
using namespace finepose::pose;

namespace {
TensorD sample_poses(std::int64_t N, std::int64_t J, double phase) {
  TensorD t({N, J, 3});
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 200 * std::sin(0.37 * double(i) + phase);
  for (std::int64_t n = 0; n < N; ++n)
    for (int d = 0; d < 3; ++d) t(n, 0, d) = 0;  // root-relative, root 0
  return t;
}
}  // namespace

TEST_CASE("metrics report: single hypothesis") {
  MetricsInput in;
  in.target = sample_poses(6, 17, 0.0);
  in.pred = in.target.clone();
  MetricsReport r = compute_metrics(in);
  CHECK(!r.multi_hypothesis);
  CHECK(r.frames == 6);
  CHECK(r.single.mpjpe == 0);
  CHECK(r.single.p_mpjpe < 1e-9);
  CHECK(r.single.mpjve == 0);
  CHECK(r.single.pck == doctest::Approx(100));
  CHECK(r.single.auc == doctest::Approx(100.0 * 30 / 31));
  const std::string js = r.to_json();
  for (const char* k : {"\"mpjpe\"", "\"p_mpjpe\"", "\"n_mpjpe\"", "\"mpjve\"", "\"pck\"", "\"auc\""})
    CHECK(js.find(k) != std::string::npos);

  in.pred = sample_poses(6, 17, 0.4);
  r = compute_metrics(in);
  CHECK(r.single.mpjpe == doctest::Approx(mpjpe(in.pred, in.target)));
  CHECK(r.single.p_mpjpe == doctest::Approx(p_mpjpe(in.pred, in.target)));
  CHECK(r.single.n_mpjpe == doctest::Approx(n_mpjpe(in.pred, in.target)));
  CHECK(r.single.mpjve == doctest::Approx(mpjve(in.pred, in.target)));
  // a valid mask equals scoring the kept frames (mpjve aside)
  in.valid = {true, false, true, true, false, true};
  MetricsReport rv = compute_metrics(in);
  CHECK(rv.frames == 4);
  MetricsInput kept;
  kept.pred = select_frames(in.pred, in.valid);
  kept.target = select_frames(in.target, in.valid);
  MetricsReport rk = compute_metrics(kept);
  CHECK(rv.single.mpjpe == doctest::Approx(rk.single.mpjpe));
  CHECK(rv.single.p_mpjpe == doctest::Approx(rk.single.p_mpjpe));
  CHECK(rv.single.pck == doctest::Approx(rk.single.pck));
  CHECK(rv.single.auc == doctest::Approx(rk.single.auc));
  // only frames 2->3 are consecutive valid frames
  TensorD p23 = in.pred.slice(0, 2, 4), t23 = in.target.slice(0, 2, 4);
  CHECK(rv.single.mpjve == doctest::Approx(mpjve(p23, t23)));

  // a predicted root is zeroed as in the official evaluation
  MetricsInput shifted;
  shifted.target = in.target;
  shifted.pred = in.target.clone();
  for (std::int64_t n = 0; n < 6; ++n) shifted.pred(n, 0, 2) = 50;
  CHECK(compute_metrics(shifted).single.mpjpe == 0);

  in.valid = std::vector<bool>(6, false);
  CHECK_THROWS_AS(compute_metrics(in), Error);
  in.valid = {true};
  CHECK_THROWS_AS(compute_metrics(in), Error);
  in.valid.clear();
  in.pred = TensorD::zeros({6, 16, 3});
  CHECK_THROWS_AS(compute_metrics(in), Error);
  MetricsOptions bad;
  bad.skeleton = "coco-17";
  in.pred = in.target;
  CHECK_THROWS_AS(compute_metrics(in, bad), Error);
}

TEST_CASE("metrics report: multiple hypotheses against the numpy official reductions") {
  std::string why;
  auto ref = pose_test::reference(&why);
  if (!ref) {
    MESSAGE(why);
    return;
  }
  const auto& R = *ref;
  MetricsInput in;
  in.pred = R.at("hp_hyps").tensor();
  in.target = R.at("hp_target").tensor();
  in.keypoints_2d = R.at("hp_kp2d").tensor();
  in.root = R.at("hp_root").tensor();
  in.intrinsics = mpi_inf_3dhp_test_intrinsics(2);
  MetricsOptions opt;
  opt.skeleton = "mpi-inf-3dhp-17";
  opt.projection = Projection::Linear;
  opt.pose_best_group_frames = 0;
  MetricsReport r = compute_metrics(in, opt);
  REQUIRE(r.multi_hypothesis);
  REQUIRE(r.aggregations.size() == 4);
  CHECK(r.aggregations[0].first == "j_agg");
  const auto& p1 = R.at("hp_p1").values;
  const auto& p2 = R.at("hp_p2").values;
  CHECK(r.at("j_best").mpjpe == doctest::Approx(p1[0]).epsilon(1e-12));
  CHECK(r.at("p_best").mpjpe == doctest::Approx(p1[1]).epsilon(1e-12));
  CHECK(r.at("p_agg").mpjpe == doctest::Approx(p1[2]).epsilon(1e-12));
  CHECK(r.at("j_agg").mpjpe == doctest::Approx(p1[3]).epsilon(1e-12));
  CHECK(r.at("j_best").p_mpjpe == doctest::Approx(p2[0]).epsilon(1e-10));
  CHECK(r.at("p_best").p_mpjpe == doctest::Approx(p2[1]).epsilon(1e-10));
  CHECK(r.at("p_agg").p_mpjpe == doctest::Approx(p2[2]).epsilon(1e-10));
  CHECK(r.at("j_agg").p_mpjpe == doctest::Approx(p2[3]).epsilon(1e-10));
  // PCK of J-Agg is the PCK of the J-Agg pose (numpy-built) on the official groups
  PckAccumulator acc;
  acc.add(joint_errors(R.at("hp_jagg_pose").tensor(), in.target));
  CHECK(r.at("j_agg").pck == doctest::Approx(acc.result().pck));
  CHECK(r.at("j_agg").auc == doctest::Approx(acc.result().auc));
  // oracles are at least as good as the 2D-based choice
  CHECK(r.at("j_best").mpjpe <= r.at("j_agg").mpjpe);
  CHECK(r.at("j_best").pck >= r.at("j_agg").pck);
  const std::string js = r.to_json();
  for (const char* k : {"\"j_agg\"", "\"p_agg\"", "\"j_best\"", "\"p_best\"", "\"auc\""})
    CHECK(js.find(k) != std::string::npos);
  // without 2D input J-Agg is left out; partial J-Agg input is an error
  MetricsInput no2d = in;
  no2d.keypoints_2d = TensorD();
  no2d.root = TensorD();
  no2d.intrinsics.reset();
  CHECK(compute_metrics(no2d, opt).aggregations.size() == 3);
  no2d.root = in.root;
  CHECK_THROWS_AS(compute_metrics(no2d, opt), Error);
}
