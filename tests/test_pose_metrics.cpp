#include <doctest/doctest.h>

#include <cmath>

#include "finepose/pose/metrics.hpp"
#include "finepose/pose/skeleton.hpp"
#include "test_pose_reference.hpp"

using namespace finepose;
using namespace finepose::pose;

namespace {
// A fixed, non-degenerate (N, J, 3) pose sequence.
TensorD sample_poses(std::int64_t N, std::int64_t J) {
  TensorD t({N, J, 3});
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 100 * std::sin(0.7 * double(i) + 0.3 * double(i % 7));
  return t;
}
}  // namespace

TEST_CASE("ground truth as prediction: zero error, PCK 100") {
  TensorD gt = sample_poses(5, 17);
  TensorF gtf = gt.cast<float>();
  CHECK(mpjpe(gt, gt) == 0);
  CHECK(p_mpjpe(gt, gt) < 1e-9);
  CHECK(n_mpjpe(gt, gt) < 1e-12);
  CHECK(mpjve(gt, gt) == 0);
  CHECK(mpjpe(gtf, gt) < 1e-4);  // mixed element types
  PckAccumulator acc;
  acc.add(joint_errors(gt, gt));
  PckResult r = acc.result();
  CHECK(r.pck == doctest::Approx(100));
  // the 0 mm threshold counts nothing (error < 0 never holds): AUC = 30/31
  CHECK(r.auc == doctest::Approx(100.0 * 30 / 31));
  CHECK(r.curve.size() == 31);
  CHECK(r.curve[0] == 0);
  CHECK(r.frames == 5);
}

TEST_CASE("hand-computed MPJPE, N-MPJPE, MPJVE") {
  TensorD gt = sample_poses(4, 3);
  TensorD shifted = gt.clone();
  for (std::int64_t n = 0; n < 4; ++n)
    for (int j = 0; j < 3; ++j) shifted(n, j, 0) += 3, shifted(n, j, 1) += 4;
  CHECK(mpjpe(shifted, gt) == doctest::Approx(5));
  CHECK(mpjve(shifted, gt) == doctest::Approx(0).epsilon(1e-12));  // constant offset: no velocity error
  CHECK(p_mpjpe(shifted, gt) < 1e-9);                              // translation is aligned away
  // offset growing by (1, 0, 0) per frame: every velocity is off by 1
  TensorD drift = gt.clone();
  for (std::int64_t n = 0; n < 4; ++n)
    for (int j = 0; j < 3; ++j) drift(n, j, 0) += double(n);
  CHECK(mpjve(drift, gt) == doctest::Approx(1));
  // with frame 2 invalid only the 0->1 velocity counts
  std::vector<bool> valid{true, true, false, true};
  CHECK(mpjve(drift, gt, &valid) == doctest::Approx(1));
  // N-MPJPE removes a global scale
  TensorD twice = gt.clone();
  for (std::int64_t i = 0; i < twice.numel(); ++i) twice.data()[i] *= 2;
  CHECK(n_mpjpe(twice, gt) < 1e-9);
  CHECK(mpjpe(twice, gt) > 1);
  // joint_errors per joint
  auto e = joint_errors(shifted, gt);
  CHECK(e.shape() == Shape{4, 3});
  CHECK(e(2, 1) == doctest::Approx(5));
  std::vector<bool> none(4, false);
  CHECK_THROWS_AS(mean_joint_error(e, &none), Error);
}

TEST_CASE("P-MPJPE: similarity transforms vanish, reflections do not") {
  // scaled, rotated, translated copy: error 0
  TensorD gt = sample_poses(3, 17);
  TensorD moved(gt.shape());
  const double c = std::cos(0.8), s = std::sin(0.8);
  for (std::int64_t n = 0; n < 3; ++n)
    for (int j = 0; j < 17; ++j) {
      const double x = gt(n, j, 0), y = gt(n, j, 1), z = gt(n, j, 2);
      moved(n, j, 0) = 1.7 * (c * x - s * z) + 5;
      moved(n, j, 1) = 1.7 * y - 7;
      moved(n, j, 2) = 1.7 * (s * x + c * z) + 11;
    }
  CHECK(p_mpjpe(moved, gt) < 1e-9);
  CHECK(mpjpe(moved, gt) > 10);

  // Octahedron with half-axes 1, 2, 3 and its mirror image in x. Allowing a
  // reflection would give 0. With R restricted to rotations the optimum is
  // R = I (the x axis has the smallest singular value) and scale
  // (2*4 + 2*9 - 2*1) / (2 + 8 + 18) = 6/7; errors: x joints 1 + 6/7,
  // y joints 2 (1 - 6/7), z joints 3 (1 - 6/7): mean = 6/7.
  auto oct = TensorD::from({1, 6, 3}, {1, 0, 0, -1, 0, 0, 0, 2, 0, 0, -2, 0, 0, 0, 3, 0, 0, -3});
  TensorD mirror = oct.clone();
  for (int j = 0; j < 6; ++j) mirror(0, j, 0) = -oct(0, j, 0);
  CHECK(p_mpjpe(mirror, oct) == doctest::Approx(6.0 / 7.0).epsilon(1e-12));
  auto aligned = procrustes_align(mirror, oct);
  CHECK(aligned(0, 0, 0) == doctest::Approx(-6.0 / 7.0));
  CHECK(aligned(0, 4, 2) == doctest::Approx(3 * 6.0 / 7.0));

  // a collapsed prediction maps onto the target centroid instead of NaN
  TensorD flat = TensorD::zeros({1, 6, 3});
  CHECK(p_mpjpe(flat, oct) == doctest::Approx((1 + 1 + 2 + 2 + 3 + 3) / 6.0));
  CHECK_THROWS_AS(p_mpjpe(TensorD::zeros({1, 5, 3}), oct), Error);
  CHECK_THROWS_AS(mpjpe(TensorD::zeros({1, 6, 2}), TensorD::zeros({1, 6, 2})), Error);
  CHECK_THROWS_AS(mpjve(oct, oct), Error);  // one frame has no velocity
}

TEST_CASE("hand-computed PCK and AUC on the 3DHP joint groups") {
  // one frame: the 14 PCK joints alternate 100 mm / 200 mm (7 each, one of
  // each pair per group), pelvis/spine/head are far off but do not count.
  TensorD e({1, 17});
  const auto groups = pck_joint_groups_3dhp();
  int k = 0;
  for (const auto& g : groups)
    for (int j : g.joints) e(0, j) = (k++ % 2 == 0) ? 100 : 200;
  e(0, 14) = e(0, 15) = e(0, 16) = 1000;
  PckAccumulator acc;
  acc.add(e);
  PckResult r = acc.result();
  CHECK(r.pck == doctest::Approx(50));
  // 100 mm is below 10 thresholds (105..150): AUC = (7 * 10 / 31) / 14
  CHECK(r.auc == doctest::Approx(100.0 * 5 / 31));
  CHECK(r.groups.size() == 8);
  CHECK(r.groups[0].name == "Head");
  CHECK(r.groups[0].pck == doctest::Approx(100));  // head_top: first joint, 100 mm
  CHECK(r.groups[1].pck == doctest::Approx(0));    // neck: 200 mm
  CHECK(r.groups[2].pck == doctest::Approx(50));   // shoulders: one of each
  // strict comparison: exactly 150 mm is not within 150 mm
  TensorD at = TensorD::full({1, 17}, 150);
  PckAccumulator acc2;
  acc2.add(at);
  CHECK(acc2.result().pck == 0);
  // H36M-ordered groups cover the same 14 joints
  int n = 0;
  for (const auto& g : pck_joint_groups_h36m()) n += int(g.joints.size());
  CHECK(n == 14);
  CHECK_THROWS_AS(PckAccumulator().result(), Error);
  CHECK_THROWS_AS(acc.add(TensorD::zeros({2, 10})), Error);  // group joint 13 out of range
}

TEST_CASE("error tables: per-action weighting and action-wise average") {
  ErrorTable t(2);
  t.add("Walking", 10, 100, 0);
  t.add("Walking", 20, 300, 0);  // frame-weighted: (1000 + 6000) / 400 = 17.5
  t.add("Eating", 40, 50, 0);
  CHECK(t.row_mean("Walking") == doctest::Approx(17.5));
  CHECK(t.average_over_rows(0) == doctest::Approx((17.5 + 40) / 2));  // not frame-weighted
  CHECK(t.pooled(0) == doctest::Approx((1000 + 6000 + 2000) / 450.0));
  t.add_steps("Walking", {1, 2}, 10);  // step 0 gets 1 x 10 more
  CHECK(t.row_mean("Walking") == doctest::Approx(7010 / 410.0));
  CHECK(t.row_mean("Walking", 1) == doctest::Approx(2));
  CHECK(t.average_over_rows(1) == doctest::Approx(2));  // Eating has no step-1 data
  CHECK(t.rows() == std::vector<std::string>{"Walking", "Eating"});
  CHECK_THROWS_AS(t.row_mean("Sitting"), Error);
  CHECK_THROWS_AS(t.add("Walking", 1, 1, 2), Error);
  StepCurve curve(3);
  curve.add_steps({3, 2, 1}, 10);
  curve.add_steps({5, 4, 3}, 30);
  CHECK(curve.curve() == std::vector<double>{4.5, 3.5, 2.5});
}

TEST_CASE("single-hypothesis metrics against numpy") {
  std::string why;
  auto ref = pose_test::reference(&why);
  if (!ref) {
    MESSAGE(why);
    return;
  }
  const auto& R = *ref;
  auto pred = R.at("single_pred").tensor(), target = R.at("single_target").tensor();
  CHECK(mpjpe(pred, target) == doctest::Approx(R.at("single_mpjpe")[0]).epsilon(1e-12));
  CHECK(p_mpjpe(pred, target) == doctest::Approx(R.at("single_p_mpjpe")[0]).epsilon(1e-10));
  CHECK(p_mpjpe(pred.slice(0, 2, 3), target.slice(0, 2, 3)) ==
        doctest::Approx(R.at("single_p_mpjpe_frame2")[0]).epsilon(1e-10));
  auto aligned = procrustes_align(pred, target).to_vector();
  const auto& want = R.at("single_p_aligned").values;
  double worst = 0;
  for (std::size_t i = 0; i < aligned.size(); ++i) worst = std::max(worst, std::abs(aligned[i] - want[i]));
  CHECK(worst < 1e-8);
  CHECK(n_mpjpe(pred, target) == doctest::Approx(R.at("single_n_mpjpe")[0]).epsilon(1e-12));
  CHECK(mpjve(pred, target) == doctest::Approx(R.at("single_mpjve")[0]).epsilon(1e-12));
  // float inputs agree to float precision
  CHECK(p_mpjpe(pred.cast<float>(), target.cast<float>()) == doctest::Approx(R.at("single_p_mpjpe")[0]).epsilon(1e-5));
}

TEST_CASE("PCK / AUC against a numpy re-implementation of the MATLAB code") {
  std::string why;
  auto ref = pose_test::reference(&why);
  if (!ref) {
    MESSAGE(why);
    return;
  }
  const auto& R = *ref;
  auto err = R.at("pck_errors").tensor();
  std::vector<bool> valid;
  for (double v : R.at("pck_valid").values) valid.push_back(v > 0);
  PckAccumulator acc;
  acc.add(err, &valid);
  PckResult r = acc.result();
  CHECK(r.pck == doctest::Approx(R.at("pck_result")[0]).epsilon(1e-12));
  CHECK(r.auc == doctest::Approx(R.at("pck_result")[1]).epsilon(1e-12));
  for (int g = 0; g < 8; ++g) {
    CHECK(r.groups[g].pck == doctest::Approx(R.at("pck_group_pck")[g]).epsilon(1e-12));
    CHECK(r.groups[g].auc == doctest::Approx(R.at("pck_group_auc")[g]).epsilon(1e-12));
  }
  for (int t = 0; t < 31; ++t) CHECK(r.curve[t] == doctest::Approx(R.at("pck_curve")[t]).epsilon(1e-12));
  // pooling a second sequence: frames are concatenated, not results averaged
  PckAccumulator b;
  b.add(R.at("pck_errors_b").tensor());
  acc.merge(b);
  r = acc.result();
  CHECK(r.pck == doctest::Approx(R.at("pck_pooled")[0]).epsilon(1e-12));
  CHECK(r.auc == doctest::Approx(R.at("pck_pooled")[1]).epsilon(1e-12));
  CHECK(r.pck != doctest::Approx((R.at("pck_result")[0] + b.result().pck) / 2));
  // the same through a per-sequence table
  PckTable table;
  table.add("TS1", err, &valid);
  table.add("TS2", R.at("pck_errors_b").tensor());
  CHECK(table.rows() == std::vector<std::string>{"TS1", "TS2"});
  CHECK(table.result("TS1").pck == doctest::Approx(R.at("pck_result")[0]).epsilon(1e-12));
  CHECK(table.pooled().auc == doctest::Approx(R.at("pck_pooled")[1]).epsilon(1e-12));
  CHECK_THROWS_AS(table.result("TS3"), Error);
}
