#pragma once
// One person's keypoints over time, out of a frame-by-frame detection set:
// by track id where the format has ids (the longest track, or the one asked
// for), else the highest-scoring person in each frame.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "finepose/wild/detections.hpp"

namespace finepose::wild {

struct PersonTrack {
  Tensor<double> kp;         // (F, K, 3) x, y, score in the set's layout; frames without a detection: all 0
  int64_t first_frame = 0;   // file frame index of kp[0]
  int64_t track = -1;        // chosen track id, -1 when chosen per frame
  int64_t missing_frames = 0;  // frames inside the range with no detection of this person
  int64_t segments = 1;      // parts of the track separated by gaps longer than max_gap
  std::string how;           // what was chosen, for the report
  std::vector<std::string> notes;  // what a user should know (a split track)
};

// Limits on what a detection file can make the lifter do. A person unseen for
// more than max_gap frames is not interpolated across the gap: the track is
// split there and the part with the most detections is used (so two
// detections a million frames apart are two 1-frame parts, not a million
// interpolated frames). Every output frame is then within max_gap of a
// detection: frames <= detections x (max_gap + 1).
struct ReadOptions {
  int64_t max_gap = 30;               // frames; 1.2 s at 25 fps
  int64_t max_frames = int64_t(1) << 20;  // a longer part is refused (11.6 h at 25 fps)
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
                                 const ReadOptions& opt = {}) {
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
  // the person's detection frames, in order; split at gaps longer than max_gap
  FINEPOSE_CHECK(opt.max_gap >= 0 && opt.max_frames >= 1, "select_person: max_gap must be >= 0 and max_frames >= 1");
  std::vector<int64_t> fr;
  for (const auto& d : set.dets)
    if (!ids || d.track == chosen) fr.push_back(d.frame);
  FINEPOSE_CHECK(!fr.empty(), set.source, ": the chosen person has no detections");
  std::sort(fr.begin(), fr.end());
  fr.erase(std::unique(fr.begin(), fr.end()), fr.end());
  // frames are 0..kMaxFrameIndex (detections.hpp), so differences cannot overflow
  int64_t lo = fr[0], hi = fr[0], best_n = 0, seg_lo = fr[0], seg_n = 0;
  std::vector<std::pair<int64_t, int64_t>> parts;
  for (size_t i = 0; i <= fr.size(); ++i) {
    if (i == fr.size() || (i > 0 && fr[i] - fr[i - 1] - 1 > opt.max_gap)) {
      parts.push_back({seg_lo, fr[i - 1]});
      if (seg_n > best_n) best_n = seg_n, lo = seg_lo, hi = fr[i - 1];
      if (i == fr.size()) break;
      seg_lo = fr[i], seg_n = 0;
    }
    ++seg_n;
  }
  out.segments = int64_t(parts.size());
  if (parts.size() > 1) {
    std::string list;
    for (size_t i = 0; i < parts.size() && i < 8; ++i)
      list += (i ? ", " : "") + std::to_string(parts[i].first) + ".." + std::to_string(parts[i].second);
    if (parts.size() > 8) list += ", ...";
    out.notes.push_back("the person is missing for more than " + std::to_string(opt.max_gap) + " frames in places: the track has " +
                        std::to_string(parts.size()) + " parts (" + list + "); lifted the one with the most detections, frames " +
                        std::to_string(lo) + ".." + std::to_string(hi) + " (--max-gap N bridges longer gaps)");
  }
  const int64_t F = hi - lo + 1;
  FINEPOSE_CHECK(F <= opt.max_frames, set.source, ": frames ", lo, "..", hi, " are ", F, " frames, more than the limit of ",
                 opt.max_frames, " (--max-frames)");
  const int64_t K = set.joints;
  out.first_frame = lo;
  out.kp = Tensor<double>::zeros({F, K, 3});
  std::vector<double> best(size_t(F), -1.0);
  for (const auto& d : set.dets) {
    if (ids && d.track != chosen) continue;
    if (d.frame < lo || d.frame > hi) continue;  // another part of a split track
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
