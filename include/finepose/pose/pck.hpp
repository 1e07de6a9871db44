#pragma once
// 3D PCK and AUC as the official MPI-INF-3DHP test code computes them
// (mpii_compute_3d_pck.m with mpii_get_pck_auc_joint_groups.m):
//   - errors are per-joint Euclidean distances in millimetres;
//   - only the 14 joints of the eight groups count (Head, Neck, Shoulder,
//     Elbow, Wrist, Hip, Knee, Ankle); pelvis, spine and head (nose) do not;
//   - a joint is correct when its error is strictly below the threshold;
//   - PCK uses 150 mm; AUC is the mean of the PCK curve over thresholds
//     0, 5, ..., 150 mm (31 values, the 0 mm one is always 0);
//   - the total is the group results weighted by group size, i.e. the
//     fraction over all frames x 14 joints;
//   - frames are pooled: a table row over several sequences (the "All" row
//     reported in papers) counts every valid frame of every sequence once;
//     it is not a mean of per-sequence values.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/pose/arrays.hpp"

namespace finepose::pose {

struct JointGroup {
  std::string name;
  std::vector<int> joints;
};

// The official groups, joint indices in MPI-INF-3DHP "relevant" order
// (pose::mpi_inf_3dhp17()).
inline std::vector<JointGroup> pck_joint_groups_3dhp() {
  return {{"Head", {0}},      {"Neck", {1}}, {"Shou", {2, 5}},  {"Elbow", {3, 6}},
          {"Wrist", {4, 7}},  {"Hip", {8, 11}}, {"Knee", {9, 12}}, {"Ankle", {10, 13}}};
}

// The same joints for poses in Human3.6M-17 order (head_top = head 10,
// neck = thorax 8). Not part of the official protocol; for evaluating
// H36M-ordered predictions on the same joint set.
inline std::vector<JointGroup> pck_joint_groups_h36m() {
  return {{"Head", {10}},      {"Neck", {8}},    {"Shou", {14, 11}}, {"Elbow", {15, 12}},
          {"Wrist", {16, 13}}, {"Hip", {1, 4}}, {"Knee", {2, 5}},   {"Ankle", {3, 6}}};
}

inline std::vector<double> pck_auc_thresholds() {
  std::vector<double> t;
  for (int mm = 0; mm <= 150; mm += 5) t.push_back(mm);
  return t;
}

struct PckGroupResult {
  std::string name;
  double pck = 0;              // percent at the PCK threshold
  double auc = 0;              // percent, mean of the curve
  std::vector<double> curve;   // fraction (0..1) per threshold
};

struct PckResult {
  double pck = 0, auc = 0;     // "Total" column, percent
  std::vector<double> curve;   // total curve, fractions per threshold
  std::vector<double> thresholds;
  std::vector<PckGroupResult> groups;
  std::int64_t frames = 0;
};

// Counts below each threshold, per group, over any number of add() calls.
class PckAccumulator {
 public:
  explicit PckAccumulator(std::vector<JointGroup> groups = pck_joint_groups_3dhp(),
                          std::vector<double> thresholds = pck_auc_thresholds(), double pck_threshold = 150)
      : groups_(std::move(groups)), thresholds_(std::move(thresholds)), pck_threshold_(pck_threshold) {
    if (groups_.empty()) fail("PckAccumulator: no joint groups");
    if (thresholds_.empty()) fail("PckAccumulator: no thresholds");
    for (const auto& g : groups_)
      if (g.joints.empty()) fail("PckAccumulator: joint group '", g.name, "' is empty");
    below_.assign(groups_.size(), std::vector<std::int64_t>(thresholds_.size(), 0));
    below_pck_.assign(groups_.size(), 0);
  }

  // joint_errors (N, J) in millimetres; valid (optional, N entries) selects frames.
  template <class T>
  void add(const Tensor<T>& joint_errors, const std::vector<bool>* valid = nullptr) {
    detail::check_shape(joint_errors, "PckAccumulator::add", "joint_errors", {-1, -1});
    const std::int64_t N = joint_errors.size(0), J = joint_errors.size(1);
    if (valid && std::int64_t(valid->size()) != N)
      fail("PckAccumulator::add: valid mask has ", valid->size(), " entries for ", N, " frames");
    for (const auto& g : groups_)
      for (int j : g.joints)
        if (j < 0 || j >= J) fail("PckAccumulator::add: group '", g.name, "' joint ", j, " outside 0..", J - 1);
    const detail::Flat<T> e(joint_errors);
    for (std::int64_t n = 0; n < N; ++n) {
      if (valid && !(*valid)[std::size_t(n)]) continue;
      ++frames_;
      for (std::size_t g = 0; g < groups_.size(); ++g)
        for (int j : groups_[g].joints) {
          const double x = e[n * J + j];
          if (std::isnan(x)) fail("PckAccumulator::add: NaN error at frame ", n, " joint ", j);
          for (std::size_t t = 0; t < thresholds_.size(); ++t) below_[g][t] += x < thresholds_[t];
          below_pck_[g] += x < pck_threshold_;
        }
    }
  }

  // Pool another accumulator's counts into this one (same groups/thresholds).
  void merge(const PckAccumulator& o) {
    if (o.groups_.size() != groups_.size() || o.thresholds_ != thresholds_ || o.pck_threshold_ != pck_threshold_)
      fail("PckAccumulator::merge: accumulators use different groups or thresholds");
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      for (std::size_t t = 0; t < thresholds_.size(); ++t) below_[g][t] += o.below_[g][t];
      below_pck_[g] += o.below_pck_[g];
    }
    frames_ += o.frames_;
  }

  std::int64_t frames() const { return frames_; }

  PckResult result() const {
    if (frames_ == 0) fail("PckAccumulator: no frames were added");
    PckResult r;
    r.thresholds = thresholds_;
    r.frames = frames_;
    r.curve.assign(thresholds_.size(), 0.0);
    const double nt = double(thresholds_.size());
    double pck_weighted = 0;
    std::int64_t joint_count = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      PckGroupResult gr;
      gr.name = groups_[g].name;
      const double denom = double(groups_[g].joints.size()) * double(frames_);
      double sum = 0;
      for (std::size_t t = 0; t < thresholds_.size(); ++t) {
        gr.curve.push_back(double(below_[g][t]) / denom);
        sum += gr.curve.back();
      }
      gr.auc = 100 * sum / nt;
      gr.pck = 100 * double(below_pck_[g]) / denom;
      const double w = double(groups_[g].joints.size());
      for (std::size_t t = 0; t < thresholds_.size(); ++t) r.curve[t] += gr.curve[t] * w;
      pck_weighted += gr.pck * w;
      joint_count += std::int64_t(groups_[g].joints.size());
      r.groups.push_back(std::move(gr));
    }
    double sum = 0;
    for (auto& c : r.curve) sum += (c /= double(joint_count));
    r.pck = pck_weighted / double(joint_count);
    r.auc = 100 * sum / nt;
    return r;
  }

 private:
  std::vector<JointGroup> groups_;
  std::vector<double> thresholds_;
  double pck_threshold_;
  std::vector<std::vector<std::int64_t>> below_;
  std::vector<std::int64_t> below_pck_;
  std::int64_t frames_ = 0;
};

// PCK/AUC per named row (test sequence or activity) plus the pooled "All"
// row, as mpii_evaluate_errors.m builds its sequence-wise and activity-wise
// tables. Rows keep first-seen order.
class PckTable {
 public:
  explicit PckTable(std::vector<JointGroup> groups = pck_joint_groups_3dhp()) : groups_(std::move(groups)) {}

  template <class T>
  void add(const std::string& row, const Tensor<T>& joint_errors, const std::vector<bool>* valid = nullptr) {
    auto it = index_.find(row);
    if (it == index_.end()) {
      it = index_.emplace(row, rows_.size()).first;
      names_.push_back(row);
      rows_.emplace_back(groups_);
    }
    rows_[it->second].add(joint_errors, valid);
  }
  const std::vector<std::string>& rows() const { return names_; }
  PckResult result(const std::string& row) const {
    auto it = index_.find(row);
    if (it == index_.end()) fail("PckTable: no row named '", row, "'");
    return rows_[it->second].result();
  }
  // Every frame of every row counted once (the "All" row).
  PckResult pooled() const {
    PckAccumulator all(groups_);
    for (const auto& r : rows_) all.merge(r);
    return all.result();
  }

 private:
  std::vector<JointGroup> groups_;
  std::vector<std::string> names_;
  std::map<std::string, std::size_t> index_;
  std::vector<PckAccumulator> rows_;
};

}  // namespace finepose::pose
