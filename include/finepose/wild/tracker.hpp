#pragma once
// Tracking people through a detection set without ids: frame by frame, each
// live track predicts where its person is now (constant velocity per joint),
// the frame's detections are scored against the predictions (keypoint
// similarity, OKS, and box overlap, IoU), and tracks and detections are
// paired by optimal assignment (assignment.hpp) with a gate. A detection no
// track takes starts a tentative track; it is confirmed after `confirm_frames`
// consecutive matches (a false-positive blip never is) and dies after `max_gap`
// frames unmatched; a confirmed track unmatched for a few frames keeps
// predicting and takes its person back when it reappears (re-association).
// Near-identical detections in one frame (a detector's duplicates) are
// suppressed first, keeping the higher-scoring one.
//
// The result is the same set with a track id on every kept detection (ids
// 0..N-1 in order of first appearance), so everything downstream
// (select_person, the lifter) treats it like a file that came with ids.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "finepose/wild/assignment.hpp"
#include "finepose/wild/person_track.hpp"

namespace finepose::wild {

struct TrackerOptions {
  double min_score = 0.3;       // joints below this score are not used for matching
  int64_t min_joints = 4;       // a detection with fewer confident joints is not a person
  int64_t confirm_frames = 3;   // consecutive matches that turn a tentative track into a person
  int64_t max_gap = 30;         // frames a confirmed track survives unmatched
  int64_t min_track_frames = 10;  // shorter confirmed tracks are dropped (false positives)
  double min_similarity = 0.2;  // gate: a pair scoring less is never matched
  double duplicate_oks = 0.75;  // two detections in one frame this similar are one person
  int64_t max_people_per_frame = 256;  // more candidates in one frame is refused (the assignment is cubic)
  int64_t max_live_tracks = 2048;      // tracks alive at once (confirmed ones live max_gap frames unmatched)
  double kappa = 0.08;          // OKS falloff per joint, relative to the person's size (COCO's sigmas are 0.025..0.107 x 2)
};

struct TrackingReport {
  int64_t tracks = 0;               // people found (track_people: confirmed tracks kept; online: confirmed so far)
  int64_t detections_assigned = 0;  // detections carrying a track id
  int64_t duplicates_suppressed = 0;
  int64_t blips_dropped = 0;        // detections of tentative tracks never confirmed
  int64_t short_tracks_dropped = 0; // confirmed tracks shorter than min_track_frames
  int64_t reassociations = 0;       // a track took its person back after missing frames
  int64_t frames_bridged = 0;       // frames inside tracks without a detection (filled downstream)
  std::string summary() const {
    return std::to_string(tracks) + " tracks; " + std::to_string(reassociations) + " re-associated after a gap, " +
           std::to_string(frames_bridged) + " frames bridged, " + std::to_string(duplicates_suppressed) +
           " duplicate detections suppressed, " + std::to_string(blips_dropped) + " unconfirmed detections and " +
           std::to_string(short_tracks_dropped) + " short tracks dropped";
  }
};

namespace detail {

struct Box {
  double x0, y0, x1, y1;
  double area() const { return std::max(0.0, x1 - x0) * std::max(0.0, y1 - y0); }
};

// kp: K x (x, y, score). Box of the confident joints; empty (0 area) if fewer than 2.
inline Box keypoint_box(const double* kp, int64_t K, double min_score, int64_t* confident = nullptr) {
  Box b{1e300, 1e300, -1e300, -1e300};
  int64_t n = 0;
  for (int64_t j = 0; j < K; ++j) {
    if (kp[3 * j + 2] < min_score) continue;
    b.x0 = std::min(b.x0, kp[3 * j]), b.x1 = std::max(b.x1, kp[3 * j]);
    b.y0 = std::min(b.y0, kp[3 * j + 1]), b.y1 = std::max(b.y1, kp[3 * j + 1]);
    ++n;
  }
  if (confident) *confident = n;
  if (n < 2) return {0, 0, 0, 0};
  return b;
}

inline double box_iou(const Box& a, const Box& b) {
  const Box i{std::max(a.x0, b.x0), std::max(a.y0, b.y0), std::min(a.x1, b.x1), std::min(a.y1, b.y1)};
  const double in = i.area(), un = a.area() + b.area() - in;
  return un > 0 ? in / un : 0.0;
}

// Object keypoint similarity over the joints confident in both, with the
// scale from a's box (COCO: s^2 = area): mean of exp(-d^2 / (2 s^2 k^2)).
inline double keypoint_similarity(const double* a, const double* b, int64_t K, double min_score, double kappa) {
  const Box ba = keypoint_box(a, K, min_score);
  const double s2 = std::max(ba.area(), 1.0);
  double sum = 0;
  int64_t n = 0;
  for (int64_t j = 0; j < K; ++j) {
    if (a[3 * j + 2] < min_score || b[3 * j + 2] < min_score) continue;
    const double dx = a[3 * j] - b[3 * j], dy = a[3 * j + 1] - b[3 * j + 1];
    sum += std::exp(-(dx * dx + dy * dy) / (2 * s2 * kappa * kappa));
    ++n;
  }
  return n ? sum / double(n) : 0.0;
}

struct LiveTrack {
  int64_t serial = 0;        // the tracker's own number (order of birth)
  std::vector<double> kp;    // last matched keypoints (K x 3)
  std::vector<double> vel;   // per-joint pixel velocity (K x 2), per frame
  std::vector<char> known;   // joint seen confidently at least once
  int64_t last_frame = 0, first_frame = 0;
  int64_t hits = 0;          // matched frames
  bool confirmed = false;
};

}  // namespace detail

// The tracker, one frame at a time (frames strictly increasing). step()
// returns each detection's track serial (-1: not a person, or a duplicate);
// a serial is a person once confirmed(serial). Tracks that ended (unmatched
// for too long; a tentative track after one miss) are reported by retired().
class OnlineTracker {
 public:
  OnlineTracker(int64_t joints, const TrackerOptions& opt = {}) : K_(joints), opt_(opt) {
    FINEPOSE_CHECK(joints >= 1, "tracker: joints must be >= 1");
    FINEPOSE_CHECK(opt.confirm_frames >= 1 && opt.max_gap >= 0 && opt.min_track_frames >= 1 && opt.kappa > 0,
                   "tracker: confirm_frames, min_track_frames >= 1, max_gap >= 0, kappa > 0");
  }

  std::vector<int64_t> step(int64_t frame, const std::vector<const Detection*>& dets) {
    using namespace detail;
    FINEPOSE_CHECK(frame > last_frame_, "tracker: frame ", frame, " after frame ", last_frame_, " (frames must increase)");
    last_frame_ = frame;
    retired_.clear();
    std::vector<int64_t> out(dets.size(), -1);
    // 1. candidates: enough confident joints; duplicates suppressed (best score first)
    std::vector<size_t> idx(dets.size());
    for (size_t i = 0; i < idx.size(); ++i) {
      FINEPOSE_CHECK(int64_t(dets[i]->kp.size()) == 3 * K_, "tracker: a detection has ", dets[i]->kp.size() / 3, " joints, not ", K_);
      idx[i] = i;
    }
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      const double sa = person_score(*dets[a]), sb = person_score(*dets[b]);
      return sa != sb ? sa > sb : a < b;
    });
    std::vector<size_t> cand;
    for (size_t i : idx) {
      int64_t n = 0;
      keypoint_box(dets[i]->kp.data(), K_, opt_.min_score, &n);
      if (n < opt_.min_joints) continue;
      bool dup = false;
      for (size_t c : cand)
        if (keypoint_similarity(dets[c]->kp.data(), dets[i]->kp.data(), K_, opt_.min_score, opt_.kappa) > opt_.duplicate_oks) {
          dup = true;
          break;
        }
      if (dup) ++report_.duplicates_suppressed;
      else cand.push_back(i);
    }
    FINEPOSE_CHECK(int64_t(cand.size()) <= opt_.max_people_per_frame, "tracker: frame ", frame, " has ", cand.size(),
                   " people, more than the ", opt_.max_people_per_frame, " one frame may hold");
    // 2. retire tracks unmatched too long (tentative ones after one miss)
    for (size_t t = 0; t < live_.size();) {
      const int64_t gap = frame - live_[t].last_frame - 1;
      if ((live_[t].confirmed && gap > opt_.max_gap) || (!live_[t].confirmed && gap > 0)) {
        retired_.push_back({live_[t].serial, live_[t].confirmed});
        live_.erase(live_.begin() + std::ptrdiff_t(t));
      } else {
        ++t;
      }
    }
    // 3. each live track's prediction, the similarity of every pair, the assignment
    const int64_t R = int64_t(live_.size()), C = int64_t(cand.size());
    std::vector<std::vector<double>> pred(static_cast<size_t>(R));
    for (int64_t t = 0; t < R; ++t) {
      const LiveTrack& lt = live_[size_t(t)];
      const double dt = double(frame - lt.last_frame);
      pred[size_t(t)] = lt.kp;
      for (int64_t j = 0; j < K_; ++j) {
        if (!lt.known[size_t(j)]) continue;
        pred[size_t(t)][size_t(3 * j)] += lt.vel[size_t(2 * j)] * dt;
        pred[size_t(t)][size_t(3 * j + 1)] += lt.vel[size_t(2 * j + 1)] * dt;
        pred[size_t(t)][size_t(3 * j + 2)] = 1.0;  // a predicted joint is as good as known
      }
    }
    std::vector<double> sim(size_t(R * C)), cost(size_t(R * C));
    for (int64_t t = 0; t < R; ++t)
      for (int64_t c = 0; c < C; ++c) {
        const double* d = dets[cand[size_t(c)]]->kp.data();
        const double* p = pred[size_t(t)].data();
        const double sv = 0.5 * keypoint_similarity(p, d, K_, opt_.min_score, opt_.kappa) +
                          0.5 * box_iou(keypoint_box(p, K_, opt_.min_score), keypoint_box(d, K_, opt_.min_score));
        sim[size_t(t * C + c)] = sv;
        // confirmed tracks win ties against tentative ones
        cost[size_t(t * C + c)] = (sv < opt_.min_similarity ? 10.0 : 1.0 - sv) + (live_[size_t(t)].confirmed ? 0.0 : 0.01);
      }
    const std::vector<int64_t> match = hungarian_assign(cost, R, C);
    std::vector<char> taken(size_t(C), 0);
    for (int64_t t = 0; t < R; ++t) {
      const int64_t c = match[size_t(t)];
      if (c < 0 || sim[size_t(t * C + c)] < opt_.min_similarity) continue;
      taken[size_t(c)] = 1;
      LiveTrack& lt = live_[size_t(t)];
      const double* d = dets[cand[size_t(c)]]->kp.data();
      const double dt = double(frame - lt.last_frame);
      if (lt.confirmed && dt > 1) ++report_.reassociations, report_.frames_bridged += int64_t(dt) - 1;
      for (int64_t j = 0; j < K_; ++j) {
        if (d[3 * j + 2] < opt_.min_score) continue;  // keep the old position and velocity of an unseen joint
        if (lt.known[size_t(j)]) {
          for (int q = 0; q < 2; ++q) {
            const double v = (d[3 * j + q] - lt.kp[size_t(3 * j + q)]) / dt;
            lt.vel[size_t(2 * j + q)] = 0.5 * lt.vel[size_t(2 * j + q)] + 0.5 * v;  // smoothed against detector noise
          }
        }
        lt.kp[size_t(3 * j)] = d[3 * j], lt.kp[size_t(3 * j + 1)] = d[3 * j + 1], lt.kp[size_t(3 * j + 2)] = d[3 * j + 2];
        lt.known[size_t(j)] = 1;
      }
      lt.last_frame = frame;
      ++lt.hits;
      if (!lt.confirmed && lt.hits >= opt_.confirm_frames) lt.confirmed = true, ++report_.tracks;
      out[cand[size_t(c)]] = lt.serial;
    }
    // 4. births
    for (int64_t c = 0; c < C; ++c) {
      if (taken[size_t(c)]) continue;
      FINEPOSE_CHECK(int64_t(live_.size()) < opt_.max_live_tracks, "tracker: more than ", opt_.max_live_tracks,
                     " tracks alive at frame ", frame, " (a file of noise rather than people?)");
      LiveTrack lt;
      lt.serial = next_serial_++;
      lt.kp = dets[cand[size_t(c)]]->kp;
      lt.vel.assign(size_t(2 * K_), 0.0);
      lt.known.assign(size_t(K_), 0);
      for (int64_t j = 0; j < K_; ++j) lt.known[size_t(j)] = lt.kp[size_t(3 * j + 2)] >= opt_.min_score;
      lt.first_frame = lt.last_frame = frame;
      lt.hits = 1;
      lt.confirmed = opt_.confirm_frames <= 1;
      report_.tracks += lt.confirmed;
      out[cand[size_t(c)]] = lt.serial;
      live_.push_back(std::move(lt));
    }
    return out;
  }

  // Ends every live track (the sequence is over); they are in retired().
  void finish() {
    retired_.clear();
    for (const auto& lt : live_) retired_.push_back({lt.serial, lt.confirmed});
    live_.clear();
  }

  bool confirmed(int64_t serial) const {
    for (const auto& lt : live_)
      if (lt.serial == serial) return lt.confirmed;
    return false;
  }
  // (serial, was confirmed) of the tracks that ended in the last step() or finish()
  const std::vector<std::pair<int64_t, bool>>& retired() const { return retired_; }
  const TrackingReport& report() const { return report_; }
  const TrackerOptions& options() const { return opt_; }

 private:
  int64_t K_;
  TrackerOptions opt_;
  std::vector<detail::LiveTrack> live_;
  std::vector<std::pair<int64_t, bool>> retired_;
  int64_t next_serial_ = 0, last_frame_ = std::numeric_limits<int64_t>::min();
  TrackingReport report_;
};

// Returns a copy of `set` whose detections carry track ids 0..N-1 (first
// appearance order); detections that belong to no kept track are removed.
// Ids the file had are ignored (this is re-tracking).
inline DetectionSet track_people(const DetectionSet& set, const TrackerOptions& opt = {}, TrackingReport* report = nullptr) {
  OnlineTracker tracker(set.joints, opt);
  std::map<int64_t, std::vector<size_t>> by_frame;
  for (size_t i = 0; i < set.dets.size(); ++i) by_frame[set.dets[i].frame].push_back(i);
  std::map<int64_t, std::vector<size_t>> dets_of;  // serial -> detections
  std::vector<int64_t> kept;                        // serials of kept tracks, in birth order
  int64_t blips = 0, short_tracks = 0;
  auto retire = [&]() {
    for (const auto& [serial, confirmed] : tracker.retired()) {
      const auto& d = dets_of[serial];
      if (!confirmed) blips += int64_t(d.size());
      else if (int64_t(d.size()) < opt.min_track_frames) ++short_tracks;
      else kept.push_back(serial);
    }
  };
  for (const auto& [frame, idx] : by_frame) {
    std::vector<const Detection*> dets;
    for (size_t i : idx) dets.push_back(&set.dets[i]);
    const std::vector<int64_t> serial = tracker.step(frame, dets);
    retire();
    for (size_t k = 0; k < idx.size(); ++k)
      if (serial[k] >= 0) dets_of[serial[k]].push_back(idx[k]);
  }
  tracker.finish();
  retire();
  // ids by first appearance (a serial is born at its first detection: birth order is that order)
  std::sort(kept.begin(), kept.end());
  DetectionSet out;
  out.source = set.source;
  out.max_detections = set.max_detections;
  out.layout = set.layout;
  out.joints = set.joints;
  out.image_width = set.image_width, out.image_height = set.image_height;
  for (size_t id = 0; id < kept.size(); ++id)
    for (size_t di : dets_of[kept[id]]) {
      Detection d = set.dets[di];
      d.track = int64_t(id);
      out.dets.push_back(std::move(d));
    }
  std::stable_sort(out.dets.begin(), out.dets.end(), [](const Detection& a, const Detection& b) { return a.frame < b.frame; });
  TrackingReport rep = tracker.report();
  rep.blips_dropped = blips;
  rep.short_tracks_dropped = short_tracks;
  rep.tracks = int64_t(kept.size());
  rep.detections_assigned = int64_t(out.dets.size());
  if (report) *report = rep;
  return out;
}

}  // namespace finepose::wild
