#pragma once
// One person's keypoints over time, out of a frame-by-frame detection set:
// by track id where the format has ids (the longest track, or the one asked
// for), else the highest-scoring person in each frame.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "finepose/wild/detections.hpp"

namespace finepose::wild {

struct PersonTrack {
  Tensor<double> kp;         // (F, K, 3) x, y, score in the set's layout; frames without a detection: all 0
  int64_t first_frame = 0;   // file frame index of kp[0]
  int64_t track = -1;        // chosen track id, -1 when chosen per frame
  int64_t missing_frames = 0;  // frames inside the range with no detection of this person
  std::string how;           // what was chosen, for the report
};

namespace detail {
inline double person_score(const Detection& d) {
  if (d.score >= 0) return d.score;
  double s = 0;
  const size_t k = d.kp.size() / 3;
  for (size_t j = 0; j < k; ++j) s += d.kp[j * 3 + 2];
  return k ? s / double(k) : 0.0;
}
}  // namespace detail

// track: a specific id to follow; without one the id with most frames is
// used (ties: higher mean score), or, with no ids, the best person per frame.
inline PersonTrack select_person(const DetectionSet& set, std::optional<int64_t> track = std::nullopt,
                                 int64_t max_frames = int64_t(1) << 24) {
  FINEPOSE_CHECK(!set.dets.empty(), set.source, ": no detections (empty sequence)");
  PersonTrack out;
  const bool ids = set.has_track_ids();
  if (track && !ids) fail(set.source, ": --track ", *track, " asked for, but the file has no track ids");
  int64_t chosen = -1;
  if (ids) {
    std::map<int64_t, std::pair<int64_t, double>> stats;  // id -> (frames, score sum)
    for (const auto& d : set.dets)
      if (d.track >= 0) {
        auto& s = stats[d.track];
        s.first += 1;
        s.second += detail::person_score(d);
      }
    if (track) {
      if (!stats.count(*track)) {
        std::string known;
        for (const auto& kv : stats) known += (known.empty() ? "" : ", ") + std::to_string(kv.first);
        fail(set.source, ": no track id ", *track, " (ids in the file: ", known, ")");
      }
      chosen = *track;
    } else {
      double best_n = -1, best_s = -1;
      for (const auto& kv : stats) {
        const double n = double(kv.second.first), s = kv.second.second / n;
        if (n > best_n || (n == best_n && s > best_s)) best_n = n, best_s = s, chosen = kv.first;
      }
    }
    out.track = chosen;
    out.how = "track id " + std::to_string(chosen) + " (" + std::to_string(stats[chosen].first) + " detections, " +
              std::to_string(stats.size()) + " tracks in the file)";
  } else {
    out.how = "highest-scoring person per frame (the file has no track ids)";
  }
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& d : set.dets)
    if (!ids || d.track == chosen) lo = std::min(lo, d.frame), hi = std::max(hi, d.frame);
  FINEPOSE_CHECK(hi >= lo, set.source, ": the chosen person has no detections");
  const int64_t F = hi - lo + 1;
  FINEPOSE_CHECK(F <= max_frames, set.source, ": frames ", lo, "..", hi, " span ", F, " frames, more than the limit ",
                 max_frames);
  const int64_t K = set.joints;
  out.first_frame = lo;
  out.kp = Tensor<double>::zeros({F, K, 3});
  std::vector<double> best(size_t(F), -1.0);
  for (const auto& d : set.dets) {
    if (ids && d.track != chosen) continue;
    const int64_t f = d.frame - lo;
    const double s = detail::person_score(d);
    if (s <= best[size_t(f)]) continue;  // several people (or duplicates) in a frame: keep the best
    best[size_t(f)] = s;
    std::copy(d.kp.begin(), d.kp.end(), out.kp.data() + f * K * 3);
  }
  for (double b : best) out.missing_frames += b < 0;
  return out;
}

}  // namespace finepose::wild
