#include <doctest/doctest.h>

#include <cmath>

#include "finepose/pose/aggregation.hpp"
#include "finepose/pose/metrics.hpp"
#include "finepose/pose/skeleton.hpp"
#include "test_pose_reference.hpp"

using namespace finepose;
using namespace finepose::pose;

TEST_CASE("P-Agg, J-Best and P-Best by hand") {
  // N = 1 frame, H = 2 hypotheses, J = 2 joints; target at the origin and (1,0,0)
  auto target = TensorD::from({1, 2, 3}, {0, 0, 0, 1, 0, 0});
  auto hyps = TensorD::from({1, 2, 2, 3}, {
                                              0.5, 0, 0, 1, 0, 0,  // hyp 0: joint 0 off by .5, joint 1 exact
                                              0.1, 0, 0, 3, 0, 0,  // hyp 1: joint 0 off by .1, joint 1 off by 2
                                          });
  auto mean = pose_aggregate(hyps);
  CHECK(mean.shape() == Shape{1, 2, 3});
  CHECK(mean(0, 0, 0) == doctest::Approx(0.3));
  CHECK(mean(0, 1, 0) == doctest::Approx(2));
  auto jb = oracle_joint_best_choice(hyps, target);
  CHECK(jb(0, 0) == 1);
  CHECK(jb(0, 1) == 0);
  auto jbp = oracle_joint_best(hyps, target);
  CHECK(jbp(0, 0, 0) == doctest::Approx(0.1));
  CHECK(jbp(0, 1, 0) == doctest::Approx(1));
  // P-Best: hyp 0 mean error .25, hyp 1 mean error 1.05
  CHECK(oracle_pose_best_choice(hyps, target)(0) == 0);
  CHECK(oracle_pose_best(hyps, target)(0, 0, 0) == doctest::Approx(0.5));
  auto e = hypothesis_joint_errors(hyps, target);
  CHECK(e.shape() == Shape{1, 2, 2});
  CHECK(joint_best_error(e) == doctest::Approx((0.1 + 0) / 2));
  CHECK(pose_best_error(e) == doctest::Approx(0.25));
  CHECK(mpjpe(oracle_joint_best(hyps, target), target) == doctest::Approx(joint_best_error(e)));
}

TEST_CASE("P-Best picks one index per group, as one official batch") {
  // 2 frames; hyp 0 is better on frame 0 (0 vs 1), hyp 1 on frame 1 (3 vs 0.5)
  auto target = TensorD::zeros({2, 1, 3});
  auto hyps = TensorD::from({2, 2, 1, 3}, {0, 0, 0, 1, 0, 0, 3, 0, 0, 0.5, 0, 0});
  auto whole = oracle_pose_best_choice(hyps, target);  // sums: hyp0 = 3, hyp1 = 1.5
  CHECK(whole(0) == 1);
  CHECK(whole(1) == 1);
  auto per_frame = oracle_pose_best_choice(hyps, target, 1);
  CHECK(per_frame(0) == 0);
  CHECK(per_frame(1) == 1);
  auto e = hypothesis_joint_errors(hyps, target);
  CHECK(pose_best_error(e) == doctest::Approx(0.75));
  CHECK(pose_best_error(e, 1) == doctest::Approx(0.25));
  CHECK_THROWS_AS(oracle_pose_best_choice(hyps, target, -1), Error);
}

TEST_CASE("J-Agg by hand: closest reprojection per joint") {
  CameraIntrinsics k;  // f = 1, c = 0, no distortion
  auto root = TensorD::from({1, 1, 3}, {0, 0, 10});
  // joint 0 = root (zeroed before projection and in the output), joint 1
  // candidates at x = 1 and x = 2 (project to 0.1 and 0.2), joint 2 candidates
  // at y = -1 and y = 1.
  auto hyps = TensorD::from({1, 2, 3, 3}, {
                                              5, 5, 5, 1, 0, 0, 0, -1, 0,  //
                                              7, 7, 7, 2, 0, 0, 0, 1, 0,   //
                                          });
  auto kp = TensorD::from({1, 3, 2}, {0, 0, 0.19, 0, 0, -0.08});
  auto choice = joint_aggregate_choice(hyps, kp, root, k, Projection::Linear, 0);
  CHECK(choice(0, 0) == 0);  // tie: all hypotheses share the root, first wins
  CHECK(choice(0, 1) == 1);
  CHECK(choice(0, 2) == 0);
  auto pose = joint_aggregate(hyps, kp, root, k, Projection::Linear, 0);
  CHECK(pose(0, 0, 0) == 0);  // root zeroed
  CHECK(pose(0, 1, 0) == 2);
  CHECK(pose(0, 2, 1) == -1);
  // root (N, 3) is accepted too; without root zeroing the root joint is projected as given
  auto root2 = TensorD::from({1, 3}, {0, 0, 10});
  auto kp_root = TensorD::from({1, 3, 2}, {0.69, 0.69, 0.19, 0, 0, -0.08});
  auto c2 = joint_aggregate_choice(hyps, kp_root, root2, k, Projection::Linear, -1);
  // hyp 0 root at (5,5,15) -> (0.333, 0.333); hyp 1 at (7,7,17) -> (0.412, 0.412): 0.69 is closer to hyp 1
  CHECK(c2(0, 0) == 1);
  // bad input is refused with a message
  CHECK_THROWS_AS(joint_aggregate_choice(hyps, TensorD::zeros({1, 4, 2}), root, k), Error);
  CHECK_THROWS_AS(joint_aggregate_choice(hyps, kp, TensorD::zeros({2, 1, 3}), k), Error);
  auto nan_kp = kp.clone();
  nan_kp(0, 1, 0) = std::nan("");
  CHECK_THROWS_AS(joint_aggregate_choice(hyps, nan_kp, root, k), Error);
  CHECK_THROWS_AS(gather_joints(hyps, IndexTensor::full({1, 3}, 2)), Error);
}

namespace {
void check_multi(const pose_test::RefMap& R, const std::string& p, const CameraIntrinsics& k, Projection proj,
                 int root_joint) {
  CAPTURE(p);
  auto hyps = R.at(p + "_hyps").tensor(), target = R.at(p + "_target").tensor();
  auto root = R.at(p + "_root").tensor(), kp = R.at(p + "_kp2d").tensor();
  const std::int64_t N = hyps.size(0), J = hyps.size(2);
  auto choice = joint_aggregate_choice(hyps, kp, root, k, proj, root_joint);
  auto jb = oracle_joint_best_choice(hyps, target);
  for (std::int64_t i = 0; i < N * J; ++i) {
    CHECK(choice.data()[i] == std::int64_t(R.at(p + "_jagg_choice")[std::size_t(i)]));
    CHECK(jb.data()[i] == std::int64_t(R.at(p + "_jbest_choice")[std::size_t(i)]));
  }
  CHECK(oracle_pose_best_choice(hyps, target)(0) == std::int64_t(R.at(p + "_pbest_index")[0]));
  auto pose = joint_aggregate(hyps, kp, root, k, proj, root_joint).to_vector();
  const auto& want = R.at(p + "_jagg_pose").values;
  for (std::size_t i = 0; i < pose.size(); ++i) CHECK(pose[i] == doctest::Approx(want[i]).epsilon(1e-12));

  // Protocol #1: J-Best, P-Best, P-Agg, J-Agg
  const auto& p1 = R.at(p + "_p1").values;
  auto e1 = hypothesis_joint_errors(hyps, target);
  CHECK(joint_best_error(e1) == doctest::Approx(p1[0]).epsilon(1e-12));
  CHECK(pose_best_error(e1) == doctest::Approx(p1[1]).epsilon(1e-12));
  CHECK(mpjpe(pose_aggregate(hyps), target) == doctest::Approx(p1[2]).epsilon(1e-12));
  CHECK(selected_joint_error(e1, choice) == doctest::Approx(p1[3]).epsilon(1e-12));
  // the aggregated poses give the same Protocol #1 numbers
  CHECK(mpjpe(oracle_joint_best(hyps, target), target) == doctest::Approx(p1[0]).epsilon(1e-12));
  CHECK(mpjpe(oracle_pose_best(hyps, target), target) == doctest::Approx(p1[1]).epsilon(1e-12));
  CHECK(mpjpe(joint_aggregate(hyps, kp, root, k, proj, root_joint), target) == doctest::Approx(p1[3]).epsilon(1e-12));
  // Protocol #2: every hypothesis aligned on its own, then the same reductions
  const auto& p2 = R.at(p + "_p2").values;
  auto e2 = hypothesis_joint_errors(hyps, target, true);
  CHECK(joint_best_error(e2) == doctest::Approx(p2[0]).epsilon(1e-10));
  CHECK(pose_best_error(e2) == doctest::Approx(p2[1]).epsilon(1e-10));
  CHECK(p_mpjpe(pose_aggregate(hyps), target) == doctest::Approx(p2[2]).epsilon(1e-10));
  CHECK(selected_joint_error(e2, choice) == doctest::Approx(p2[3]).epsilon(1e-10));
  // float hypotheses select the same joints here
  auto choice_f = joint_aggregate_choice(hyps.cast<float>(), kp.cast<float>(), root.cast<float>(), k, proj, root_joint);
  CHECK(choice_f.to_vector() == choice.to_vector());
}
}  // namespace

TEST_CASE("multi-hypothesis aggregation and official reductions against numpy") {
  std::string why;
  auto ref = pose_test::reference(&why);
  if (!ref) {
    MESSAGE(why);
    return;
  }
  const auto& R = *ref;
  // Human3.6M: metres, normalised screen coordinates, distorted projection, root 0
  CameraIntrinsics h36m = h36m_camera_intrinsics(0).intrinsics.normalized();
  check_multi(R, "h36m", h36m, Projection::Distorted, kH36mRootJoint);
  // MPI-INF-3DHP TS1-4: millimetres, pixels, linear projection, root 14
  CameraIntrinsics hp = mpi_inf_3dhp_test_intrinsics(1);
  for (int i = 0; i < 9; ++i) CHECK(hp.as_vector()[i] == doctest::Approx(R.at("hp_cam")[i]).epsilon(1e-12));
  check_multi(R, "hp", hp, Projection::Linear, k3dhpRootJoint);
}
