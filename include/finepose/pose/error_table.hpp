#pragma once
// Accumulating an error over many batches, per named row (action, sequence)
// and per sampling step (FinePOSE reports every one of the K DDIM steps).
//
// The Human3.6M protocol weights each batch's mean error by its frame count
// within an action, then reports the plain mean over actions
// ("action-wise average"): average_over_rows(). pooled() is the frame-weighted
// mean over everything instead.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose::pose {

struct ErrorAccumulator {
  double sum = 0;    // sum of error * weight
  double weight = 0; // e.g. number of frames
  void add(double mean_error, double w) {
    if (!(w >= 0)) fail("ErrorAccumulator: negative or NaN weight ", w);
    sum += mean_error * w;
    weight += w;
  }
  double mean() const {
    if (!(weight > 0)) fail("ErrorAccumulator: nothing accumulated");
    return sum / weight;
  }
};

// Rows by name (kept in first-seen order), each with one accumulator per step.
class ErrorTable {
 public:
  explicit ErrorTable(int num_steps = 1) : steps_(num_steps) {
    if (num_steps < 1) fail("ErrorTable: num_steps must be >= 1, got ", num_steps);
  }
  int num_steps() const { return steps_; }

  void add(const std::string& row, double mean_error, double weight, int step = 0) {
    check_step(step);
    auto it = index_.find(row);
    if (it == index_.end()) {
      it = index_.emplace(row, names_.size()).first;
      names_.push_back(row);
      rows_.emplace_back(std::size_t(steps_));
    }
    rows_[it->second][std::size_t(step)].add(mean_error, weight);
  }
  // All steps at once: errors[k] is the batch's mean error at step k.
  void add_steps(const std::string& row, const std::vector<double>& errors, double weight) {
    if (int(errors.size()) != steps_) fail("ErrorTable::add_steps: ", errors.size(), " values for ", steps_, " steps");
    for (int k = 0; k < steps_; ++k) add(row, errors[std::size_t(k)], weight, k);
  }

  const std::vector<std::string>& rows() const { return names_; }
  bool has_row(const std::string& row) const { return index_.count(row) != 0; }

  const ErrorAccumulator& at(const std::string& row, int step = 0) const {
    check_step(step);
    auto it = index_.find(row);
    if (it == index_.end()) fail("ErrorTable: no row named '", row, "'");
    return rows_[it->second][std::size_t(step)];
  }
  double row_mean(const std::string& row, int step = 0) const { return at(row, step).mean(); }

  // Unweighted mean of the row means (rows with no weight at this step skipped).
  double average_over_rows(int step = 0) const {
    check_step(step);
    double s = 0;
    int n = 0;
    for (const auto& r : rows_)
      if (r[std::size_t(step)].weight > 0) s += r[std::size_t(step)].mean(), ++n;
    if (n == 0) fail("ErrorTable: no row has data at step ", step);
    return s / n;
  }
  // Weight-pooled mean over all rows.
  double pooled(int step = 0) const {
    check_step(step);
    ErrorAccumulator all;
    for (const auto& r : rows_) all.sum += r[std::size_t(step)].sum, all.weight += r[std::size_t(step)].weight;
    return all.mean();
  }
  // Per-step curves.
  std::vector<double> average_over_rows_curve() const {
    std::vector<double> c;
    for (int k = 0; k < steps_; ++k) c.push_back(average_over_rows(k));
    return c;
  }
  std::vector<double> pooled_curve() const {
    std::vector<double> c;
    for (int k = 0; k < steps_; ++k) c.push_back(pooled(k));
    return c;
  }

 private:
  void check_step(int step) const {
    if (step < 0 || step >= steps_) fail("ErrorTable: step ", step, " outside 0..", steps_ - 1);
  }
  int steps_;
  std::vector<std::string> names_;
  std::map<std::string, std::size_t> index_;
  std::vector<std::vector<ErrorAccumulator>> rows_;
};

// Convenience: a per-step curve is a table with one row.
class StepCurve {
 public:
  explicit StepCurve(int num_steps) : table_(num_steps) {}
  void add(int step, double mean_error, double weight) { table_.add("all", mean_error, weight, step); }
  void add_steps(const std::vector<double>& errors, double weight) { table_.add_steps("all", errors, weight); }
  double at(int step) const { return table_.row_mean("all", step); }
  std::vector<double> curve() const { return table_.pooled_curve(); }
  int num_steps() const { return table_.num_steps(); }

 private:
  ErrorTable table_;
};

}  // namespace finepose::pose
