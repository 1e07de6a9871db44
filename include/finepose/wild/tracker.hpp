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
  double kappa = 0.08;          // OKS falloff per joint, relative to the person's size (COCO's sigmas are 0.025..0.107 x 2)
};

struct TrackingReport {
  int64_t tracks = 0;               // people found (confirmed tracks kept)
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
  std::vector<double> kp;    // last matched keypoints (K x 3)
  std::vector<double> vel;   // per-joint pixel velocity (K x 2), per frame
  std::vector<char> known;   // joint seen confidently at least once
  int64_t last_frame = 0, first_frame = 0;
  int64_t hits = 0;          // consecutive matches while tentative; total while confirmed
  bool confirmed = false;
  std::vector<size_t> dets;  // indices into the set
};

}  // namespace detail

// Returns a copy of `set` whose detections carry track ids 0..N-1 (first
// appearance order); detections that belong to no kept track are removed.
// Ids the file had are ignored (this is re-tracking).
inline DetectionSet track_people(const DetectionSet& set, const TrackerOptions& opt = {}, TrackingReport* report = nullptr) {
  using namespace detail;
  FINEPOSE_CHECK(opt.confirm_frames >= 1 && opt.max_gap >= 0 && opt.min_track_frames >= 1 && opt.kappa > 0,
                 "track_people: confirm_frames, min_track_frames >= 1, max_gap >= 0, kappa > 0");
  const int64_t K = set.joints;
  TrackingReport rep;
  // frames in order, detections per frame
  std::map<int64_t, std::vector<size_t>> by_frame;
  for (size_t i = 0; i < set.dets.size(); ++i) by_frame[set.dets[i].frame].push_back(i);

  std::vector<LiveTrack> live, done;
  for (auto& [frame, idx] : by_frame) {
    // 1. candidates: enough confident joints; duplicates suppressed (best score first)
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      const double sa = person_score(set.dets[a]), sb = person_score(set.dets[b]);
      return sa != sb ? sa > sb : a < b;
    });
    std::vector<size_t> cand;
    for (size_t i : idx) {
      int64_t n = 0;
      keypoint_box(set.dets[i].kp.data(), K, opt.min_score, &n);
      if (n < opt.min_joints) continue;
      bool dup = false;
      for (size_t c : cand)
        if (keypoint_similarity(set.dets[c].kp.data(), set.dets[i].kp.data(), K, opt.min_score, opt.kappa) > opt.duplicate_oks) {
          dup = true;
          break;
        }
      if (dup) ++rep.duplicates_suppressed;
      else cand.push_back(i);
    }
    // 2. retire tracks that have been unmatched too long (tentative ones after one miss)
    for (size_t t = 0; t < live.size();) {
      const int64_t gap = frame - live[t].last_frame - 1;
      if ((live[t].confirmed && gap > opt.max_gap) || (!live[t].confirmed && gap > 0)) {
        done.push_back(std::move(live[t]));
        live.erase(live.begin() + std::ptrdiff_t(t));
      } else {
        ++t;
      }
    }
    // 3. predicted keypoints of every live track, then the cost of each pair
    const int64_t R = int64_t(live.size()), C = int64_t(cand.size());
    std::vector<std::vector<double>> pred(static_cast<size_t>(R));
    for (int64_t t = 0; t < R; ++t) {
      const LiveTrack& lt = live[size_t(t)];
      const double dt = double(frame - lt.last_frame);
      pred[size_t(t)] = lt.kp;
      for (int64_t j = 0; j < K; ++j) {
        if (!lt.known[size_t(j)]) continue;
        pred[size_t(t)][size_t(3 * j)] += lt.vel[size_t(2 * j)] * dt;
        pred[size_t(t)][size_t(3 * j + 1)] += lt.vel[size_t(2 * j + 1)] * dt;
        pred[size_t(t)][size_t(3 * j + 2)] = 1.0;  // a predicted joint is as good as known
      }
    }
    std::vector<double> sim(size_t(R * C)), cost(size_t(R * C));
    for (int64_t t = 0; t < R; ++t)
      for (int64_t c = 0; c < C; ++c) {
        const double* d = set.dets[cand[size_t(c)]].kp.data();
        const double* p = pred[size_t(t)].data();
        const double s = 0.5 * keypoint_similarity(p, d, K, opt.min_score, opt.kappa) +
                         0.5 * box_iou(keypoint_box(p, K, opt.min_score), keypoint_box(d, K, opt.min_score));
        sim[size_t(t * C + c)] = s;
        // confirmed tracks win ties against tentative ones
        cost[size_t(t * C + c)] = (s < opt.min_similarity ? 10.0 : 1.0 - s) + (live[size_t(t)].confirmed ? 0.0 : 0.01);
      }
    const std::vector<int64_t> match = hungarian_assign(cost, R, C);
    std::vector<char> taken(size_t(C), 0);
    for (int64_t t = 0; t < R; ++t) {
      const int64_t c = match[size_t(t)];
      if (c < 0 || sim[size_t(t * C + c)] < opt.min_similarity) continue;
      taken[size_t(c)] = 1;
      LiveTrack& lt = live[size_t(t)];
      const size_t di = cand[size_t(c)];
      const double* d = set.dets[di].kp.data();
      const double dt = double(frame - lt.last_frame);
      if (lt.confirmed && dt > 1) ++rep.reassociations, rep.frames_bridged += int64_t(dt) - 1;
      for (int64_t j = 0; j < K; ++j) {
        if (d[3 * j + 2] < opt.min_score) continue;  // keep the old position and velocity of an unseen joint
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
      lt.dets.push_back(di);
      ++lt.hits;
      if (!lt.confirmed && lt.hits >= opt.confirm_frames) lt.confirmed = true;
    }
    // 4. births
    for (int64_t c = 0; c < C; ++c) {
      if (taken[size_t(c)]) continue;
      LiveTrack lt;
      const size_t di = cand[size_t(c)];
      lt.kp = set.dets[di].kp;
      lt.vel.assign(size_t(2 * K), 0.0);
      lt.known.assign(size_t(K), 0);
      for (int64_t j = 0; j < K; ++j) lt.known[size_t(j)] = lt.kp[size_t(3 * j + 2)] >= opt.min_score;
      lt.first_frame = lt.last_frame = frame;
      lt.hits = 1;
      lt.confirmed = opt.confirm_frames <= 1;
      lt.dets.push_back(di);
      live.push_back(std::move(lt));
    }
  }
  for (auto& lt : live) done.push_back(std::move(lt));

  // keep confirmed tracks long enough; ids by first appearance
  std::vector<LiveTrack*> kept;
  for (auto& lt : done) {
    if (!lt.confirmed) {
      rep.blips_dropped += int64_t(lt.dets.size());
    } else if (int64_t(lt.dets.size()) < opt.min_track_frames) {
      ++rep.short_tracks_dropped;
    } else {
      kept.push_back(&lt);
    }
  }
  std::stable_sort(kept.begin(), kept.end(), [](const LiveTrack* a, const LiveTrack* b) {
    return a->first_frame != b->first_frame ? a->first_frame < b->first_frame : a->dets.front() < b->dets.front();
  });
  DetectionSet out;
  out.source = set.source;
  out.max_detections = set.max_detections;
  out.layout = set.layout;
  out.joints = set.joints;
  out.image_width = set.image_width, out.image_height = set.image_height;
  for (size_t id = 0; id < kept.size(); ++id)
    for (size_t di : kept[id]->dets) {
      Detection d = set.dets[di];
      d.track = int64_t(id);
      out.dets.push_back(std::move(d));
    }
  std::stable_sort(out.dets.begin(), out.dets.end(), [](const Detection& a, const Detection& b) { return a.frame < b.frame; });
  rep.tracks = int64_t(kept.size());
  rep.detections_assigned = int64_t(out.dets.size());
  if (report) *report = rep;
  return out;
}

}  // namespace finepose::wild
