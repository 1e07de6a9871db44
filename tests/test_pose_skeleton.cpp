#include <doctest/doctest.h>

#include <algorithm>

#include "finepose/pose/skeleton.hpp"

using namespace finepose;
using namespace finepose::pose;

TEST_CASE("skeleton descriptors are consistent") {
  for (const SkeletonInfo* s : {&h36m17(), &coco17(), &halpe26(), &mpi_inf_3dhp17()}) {
    CAPTURE(s->name);
    CHECK_NOTHROW(s->validate());
    CHECK(&skeleton_by_name(s->name) == s);
    // every left joint's name starts with left_, every right with right_
    for (std::size_t i = 0; i < s->joints_left.size(); ++i) {
      CHECK(s->joint_names[s->joints_left[i]].rfind("left_", 0) == 0);
      CHECK(s->joint_names[s->joints_right[i]].rfind("right_", 0) == 0);
      // and they are mirror images of each other
      CHECK(s->joint_names[s->joints_left[i]].substr(5) == s->joint_names[s->joints_right[i]].substr(6));
    }
    // joints not in a pair have no side
    for (int j = 0; j < s->num_joints(); ++j) {
      bool paired = std::count(s->joints_left.begin(), s->joints_left.end(), j) +
                    std::count(s->joints_right.begin(), s->joints_right.end(), j);
      if (!paired) CHECK(s->joint_names[j].find("left") == std::string::npos);
      if (!paired) CHECK(s->joint_names[j].find("right") == std::string::npos);
    }
    auto p = s->flip_permutation();
    for (int j = 0; j < s->num_joints(); ++j) CHECK(p[p[j]] == j);
    CHECK(int(s->bones().size()) == s->num_joints() - 1);  // one tree
  }
  CHECK(h36m17().num_joints() == 17);
  CHECK(coco17().num_joints() == 17);
  CHECK(halpe26().num_joints() == 26);
  CHECK(mpi_inf_3dhp17().num_joints() == 17);
  CHECK(h36m17().joints_left == std::vector<int>{4, 5, 6, 11, 12, 13});
  CHECK(h36m17().joints_right == std::vector<int>{1, 2, 3, 14, 15, 16});
  CHECK(mpi_inf_3dhp17().joints_left == std::vector<int>{5, 6, 7, 11, 12, 13});
  CHECK(mpi_inf_3dhp17().joints_right == std::vector<int>{2, 3, 4, 8, 9, 10});
  CHECK(mpi_inf_3dhp17().parents[k3dhpRootJoint] == -1);
  CHECK(h36m17().parents[kH36mRootJoint] == -1);
  CHECK_THROWS_AS(skeleton_by_name("smpl"), Error);
  CHECK_THROWS_AS(h36m17().index_of("tail"), Error);
  CHECK(h36m17().index_of("left_wrist") == 13);
}

TEST_CASE("removing the static joints of the 32-joint H36M skeleton gives h36m-17") {
  // Re-derive the reduced skeleton: climb each kept joint's parent chain past
  // removed joints, renumber, then re-attach both shoulders to the thorax.
  const auto& p32 = h36m32_parents();
  const auto keep = h36m32_kept_joints();
  REQUIRE(keep.size() == 17);
  CHECK(keep == std::vector<int>{0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27});
  const auto& rm = h36m32_removed_joints();
  std::vector<int> parents;
  for (int j : keep) {
    int q = p32[j];
    while (q >= 0 && std::count(rm.begin(), rm.end(), q)) q = p32[q];
    parents.push_back(q < 0 ? -1 : int(std::find(keep.begin(), keep.end(), q) - keep.begin()));
  }
  parents[11] = 8;
  parents[14] = 8;
  CHECK(parents == h36m17().parents);
}

TEST_CASE("invalid descriptors are refused") {
  SkeletonInfo s = h36m17();
  s.parents[3] = 3;
  CHECK_THROWS_AS(s.validate(), Error);
  s = h36m17();
  s.parents[1] = 2;  // 1 -> 2 -> 1 cycle
  CHECK_THROWS_AS(s.validate(), Error);
  s = h36m17();
  s.joints_left.push_back(0);
  CHECK_THROWS_AS(s.validate(), Error);
  s = h36m17();
  s.joints_right[0] = 40;
  CHECK_THROWS_AS(s.validate(), Error);
}
