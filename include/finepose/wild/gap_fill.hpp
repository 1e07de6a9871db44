#pragma once
// Filling low-confidence or missing joints by temporal interpolation: a joint
// whose score is below a threshold is replaced by the straight line between
// its nearest confident frames before and after (or the nearest confident
// value at the ends of the sequence). What was filled is reported.
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::wild {

struct GapReport {
  int64_t frames = 0, joints = 0;
  int64_t filled = 0;                   // filled (frame, joint) entries in all
  std::vector<int64_t> filled_per_joint;
  int64_t longest_gap = 0;              // in frames
  double filled_fraction() const { return frames > 0 && joints > 0 ? double(filled) / double(frames * joints) : 0.0; }
};

// kp: (F, J, 3) x, y, score, edited in place (filled entries keep score 0 so a
// later reader can tell them apart). Throws when a joint is never confident.
inline GapReport fill_gaps(Tensor<double>& kp, double min_score, const std::vector<std::string>& joint_names = {}) {
  FINEPOSE_CHECK(kp.dim() == 3 && kp.size(2) == 3 && kp.is_contiguous(), "fill_gaps: keypoints must be contiguous (F, J, 3), got ",
                 shape_str(kp.shape()));
  const int64_t F = kp.size(0), J = kp.size(1);
  FINEPOSE_CHECK(F > 0, "fill_gaps: empty sequence (no frames)");
  GapReport r;
  r.frames = F, r.joints = J;
  r.filled_per_joint.assign(size_t(J), 0);
  double* p = kp.data();
  auto at = [&](int64_t f, int64_t j) { return p + (f * J + j) * 3; };
  for (int64_t j = 0; j < J; ++j) {
    std::vector<int64_t> good;
    for (int64_t f = 0; f < F; ++f)
      if (at(f, j)[2] >= min_score) good.push_back(f);
    if (good.empty()) {
      const std::string name = j < int64_t(joint_names.size()) ? " (" + joint_names[size_t(j)] + ")" : "";
      fail("joint ", j, name, " is never detected with score >= ", min_score, " in any of the ", F,
           " frames; nothing to fill it from (lower --min-score, or check the detector output)");
    }
    size_t k = 0;  // good[k] is the first confident frame at or after f
    for (int64_t f = 0; f < F; ++f) {
      while (k < good.size() && good[k] < f) ++k;
      if (k < good.size() && good[k] == f) continue;
      double* d = at(f, j);
      if (k == 0) {
        d[0] = at(good[0], j)[0], d[1] = at(good[0], j)[1];
      } else if (k == good.size()) {
        d[0] = at(good.back(), j)[0], d[1] = at(good.back(), j)[1];
      } else {
        const int64_t a = good[k - 1], b = good[k];
        const double t = double(f - a) / double(b - a);
        for (int c = 0; c < 2; ++c) d[c] = at(a, j)[c] * (1 - t) + at(b, j)[c] * t;
      }
      d[2] = 0;
      ++r.filled, ++r.filled_per_joint[size_t(j)];
    }
    int64_t prev = -1;
    for (int64_t g : good) r.longest_gap = std::max(r.longest_gap, g - prev - 1), prev = g;
    r.longest_gap = std::max(r.longest_gap, F - 1 - prev);
  }
  return r;
}

}  // namespace finepose::wild
