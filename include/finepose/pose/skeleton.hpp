#pragma once
// Joint layouts used by FinePOSE: names, kinematic parents (-1 = root) and the
// left/right pairs used by flip augmentation. Each descriptor is plain data so
// the CLI, renderers and metrics all agree on one joint order.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose::pose {

struct SkeletonInfo {
  std::string name;
  std::vector<std::string> joint_names;
  std::vector<int> parents;       // parent index per joint, -1 for a root
  std::vector<int> joints_left;   // joints_left[i] mirrors joints_right[i]
  std::vector<int> joints_right;

  int num_joints() const { return int(joint_names.size()); }

  // (child, parent) pairs, one per non-root joint: what a renderer draws.
  std::vector<std::pair<int, int>> bones() const {
    std::vector<std::pair<int, int>> b;
    for (int j = 0; j < int(parents.size()); ++j)
      if (parents[j] >= 0) b.emplace_back(j, parents[j]);
    return b;
  }

  int index_of(const std::string& joint) const {
    auto it = std::find(joint_names.begin(), joint_names.end(), joint);
    if (it == joint_names.end()) fail("skeleton ", name, ": no joint named '", joint, "'");
    return int(it - joint_names.begin());
  }

  // Permutation p with p[j] = the joint that j becomes under a left/right
  // mirror (identity on centre joints).
  std::vector<int> flip_permutation() const {
    std::vector<int> p(joint_names.size());
    for (int j = 0; j < int(p.size()); ++j) p[j] = j;
    for (std::size_t i = 0; i < joints_left.size(); ++i) {
      p[joints_left[i]] = joints_right[i];
      p[joints_right[i]] = joints_left[i];
    }
    return p;
  }

  // Throws when the descriptor is inconsistent (used by tests and by code
  // that builds descriptors from files).
  void validate() const {
    const int n = num_joints();
    if (int(parents.size()) != n) fail("skeleton ", name, ": ", parents.size(), " parents for ", n, " joints");
    if (joints_left.size() != joints_right.size())
      fail("skeleton ", name, ": ", joints_left.size(), " left joints but ", joints_right.size(), " right joints");
    for (int j = 0; j < n; ++j)
      if (parents[j] < -1 || parents[j] >= n || parents[j] == j)
        fail("skeleton ", name, ": joint ", j, " has invalid parent ", parents[j]);
    for (int j = 0; j < n; ++j) {  // every chain must reach a root: no cycles
      int k = j, steps = 0;
      while (k >= 0 && steps <= n) k = parents[k], ++steps;
      if (k >= 0) fail("skeleton ", name, ": joint ", j, " is on a parent cycle");
    }
    std::vector<int> seen(n, 0);
    for (auto v : {&joints_left, &joints_right})
      for (int j : *v) {
        if (j < 0 || j >= n) fail("skeleton ", name, ": left/right joint ", j, " out of range");
        if (seen[j]++) fail("skeleton ", name, ": joint ", j, " listed twice in left/right");
      }
  }
};

// Human3.6M, the 17 joints kept by VideoPose3D-style pipelines (root = pelvis).
inline const SkeletonInfo& h36m17() {
  static const SkeletonInfo s{
      "h36m-17",
      {"pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "spine",
       "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
       "right_wrist"},
      {-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15},
      {4, 5, 6, 11, 12, 13},
      {1, 2, 3, 14, 15, 16}};
  return s;
}

// The full 32-joint Human3.6M mocap skeleton and the joints removed to obtain
// h36m17(): kept joints are those not listed, in increasing order.
inline const std::vector<int>& h36m32_parents() {
  static const std::vector<int> p{-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14,
                                  12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30};
  return p;
}
inline const std::vector<int>& h36m32_removed_joints() {
  static const std::vector<int> r{4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31};
  return r;
}
// Indices into the 32-joint layout of the 17 kept joints, in h36m17() order.
inline std::vector<int> h36m32_kept_joints() {
  std::vector<int> keep;
  const auto& rm = h36m32_removed_joints();
  for (int j = 0; j < 32; ++j)
    if (std::find(rm.begin(), rm.end(), j) == rm.end()) keep.push_back(j);
  return keep;
}

// COCO-17 keypoints (detector output). COCO has no pelvis; the tree hangs off
// the nose so that bones() gives the usual drawing.
inline const SkeletonInfo& coco17() {
  static const SkeletonInfo s{
      "coco-17",
      {"nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
       "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
       "right_ankle"},
      {-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14},
      {1, 3, 5, 7, 9, 11, 13, 15},
      {2, 4, 6, 8, 10, 12, 14, 16}};
  return s;
}

// Halpe-26 (AlphaPose): COCO-17 plus head, neck, hip and six foot points.
inline const SkeletonInfo& halpe26() {
  static const SkeletonInfo s{
      "halpe-26",
      {"nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
       "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
       "right_ankle", "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe",
       "left_heel", "right_heel"},
      {18, 0, 0, 1, 2, 18, 18, 5, 6, 7, 8, 19, 19, 11, 12, 13, 14, 18, 19, -1, 24, 25, 24, 25, 15, 16},
      {1, 3, 5, 7, 9, 11, 13, 15, 20, 22, 24},
      {2, 4, 6, 8, 10, 12, 14, 16, 21, 23, 25}};
  return s;
}

// MPI-INF-3DHP, the 17 "relevant" joints of the official test code
// (mpii_get_joints('relevant')), root = pelvis (index 14).
inline const SkeletonInfo& mpi_inf_3dhp17() {
  static const SkeletonInfo s{
      "mpi-inf-3dhp-17",
      {"head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
       "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "pelvis", "spine", "head"},
      {1, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1},
      {5, 6, 7, 11, 12, 13},
      {2, 3, 4, 8, 9, 10}};
  return s;
}

// Root joint used to make poses root-relative: h36m17 pelvis = 0, 3DHP pelvis = 14.
constexpr int kH36mRootJoint = 0;
constexpr int k3dhpRootJoint = 14;

inline const SkeletonInfo& skeleton_by_name(const std::string& name) {
  for (const SkeletonInfo* s : {&h36m17(), &coco17(), &halpe26(), &mpi_inf_3dhp17()})
    if (s->name == name) return *s;
  fail("unknown skeleton '", name, "' (known: h36m-17, coco-17, halpe-26, mpi-inf-3dhp-17)");
}

}  // namespace finepose::pose
