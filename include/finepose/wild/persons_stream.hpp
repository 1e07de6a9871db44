#pragma once
// Live multi-person lifting: detections frame by frame (no ids needed), the
// online tracker (tracker.hpp) and one StreamingLifter per person. Tracks
// appear and disappear: a person starts when its track is confirmed (its
// first confirm_frames - 1 frames are held until then and lifted too), a
// short gap is bridged by linear interpolation once the person is seen again
// (so a frame inside a gap comes out late by the gap's length), and a person
// whose track ends (unmatched for more than max_gap frames) is flushed: all
// its frames come out. Latency otherwise: the lifter's (window - 1 frames).
//
// Unlike read_persons + lift_persons (whole file), nothing is known about the
// future here: min_track_frames is not applied (a false positive that lasts
// confirm_frames frames becomes a short person), low-confidence joints hold
// their last confident position (causal) instead of being interpolated, and
// each person's windows run as they fill (no batching across persons).
#include <map>
#include <memory>
#include <vector>

#include "finepose/pose/keypoint_formats.hpp"
#include "finepose/wild/lifter.hpp"
#include "finepose/wild/tracker.hpp"

namespace finepose::wild {

struct PersonFrame {
  int64_t person = 0;  // the person's id: 0, 1, ... in order of confirmation
  int64_t frame = 0;   // the input's frame number
  LiftedFrame lifted;  // lifted.index: the frame's index within the person's own sequence
};

class PersonsStream {
 public:
  // layout: the joint layout of the detections pushed (converted to H36M-17 here).
  PersonsStream(const FinePoseModel& model, int width, int height, KeypointLayout layout, LiftOptions opt = {},
                TrackerOptions topt = {})
      : model_(model), w_(width), h_(height), layout_(layout), opt_(std::move(opt)),
        tracker_(pose::layout_joints(layout), [&] {
          topt.min_score = opt_.min_score;
          return topt;
        }()) {
    StreamingLifter probe(model, width, height, opt_);  // checks the model, the size and the options now
  }

  // One frame's detections (any order, no ids needed); frame numbers increase.
  std::vector<PersonFrame> push(int64_t frame, const std::vector<Detection>& dets) {
    std::vector<const Detection*> ptrs;
    for (const auto& d : dets) ptrs.push_back(&d);
    const std::vector<int64_t> serial = tracker_.step(frame, ptrs);
    std::vector<PersonFrame> out;
    for (const auto& [s, confirmed] : tracker_.retired()) end_track(s, out);
    last_ids_.assign(dets.size(), -1);
    for (size_t i = 0; i < dets.size(); ++i) {
      const int64_t s = serial[i];
      if (s < 0) continue;
      std::vector<double> kp = to_h36m(dets[i]);
      if (!tracker_.confirmed(s)) {
        held_[s].push_back({frame, std::move(kp)});
        continue;
      }
      auto it = persons_.find(s);
      if (it == persons_.end()) {
        Person p;
        p.id = next_id_++;
        p.lifter = std::make_unique<StreamingLifter>(model_, w_, h_, opt_);
        auto held = held_.find(s);
        if (held != held_.end()) {
          p.first_frame = held->second.front().first;
          p.next_frame = p.first_frame;
          for (auto& [f, k] : held->second) feed(p, f, k, out);
          held_.erase(held);
        } else {
          p.first_frame = p.next_frame = frame;
        }
        it = persons_.emplace(s, std::move(p)).first;
      }
      Person& p = it->second;
      if (frame > p.next_frame) {  // a gap: interpolated between the last detection and this one
        const int64_t gap = frame - p.next_frame;
        for (int64_t g = 1; g <= gap; ++g) {
          const double t = double(g) / double(gap + 1);
          std::vector<double> k(51);
          for (int j = 0; j < 17; ++j) {
            for (int c = 0; c < 2; ++c) k[size_t(3 * j + c)] = (1 - t) * p.last[size_t(3 * j + c)] + t * kp[size_t(3 * j + c)];
            k[size_t(3 * j + 2)] = std::min(p.last[size_t(3 * j + 2)], kp[size_t(3 * j + 2)]);
          }
          feed(p, p.next_frame, k, out);
        }
      }
      feed(p, frame, kp, out);
      last_ids_[i] = p.id;
    }
    return out;
  }

  // The sequence is over: every person's remaining frames.
  std::vector<PersonFrame> flush() {
    tracker_.finish();
    std::vector<PersonFrame> out;
    for (const auto& [s, confirmed] : tracker_.retired()) end_track(s, out);
    return out;
  }

  // The person id of each detection of the last push (-1: not (yet) a person).
  const std::vector<int64_t>& last_ids() const { return last_ids_; }
  int64_t persons_seen() const { return next_id_; }
  int64_t persons_active() const { return int64_t(persons_.size()); }
  const TrackingReport& tracking() const { return tracker_.report(); }

 private:
  struct Person {
    int64_t id = 0, first_frame = 0, next_frame = 0;
    std::unique_ptr<StreamingLifter> lifter;
    std::vector<double> last;  // the last keypoints pushed (51)
  };

  std::vector<double> to_h36m(const Detection& d) const {
    const int64_t K = pose::layout_joints(layout_);
    Tensor<double> t({1, K, 3});
    std::copy(d.kp.begin(), d.kp.end(), t.data());
    const Tensor<double> h = pose::to_h36m17(t, layout_).contiguous();
    return std::vector<double>(h.data(), h.data() + 51);
  }

  void feed(Person& p, int64_t frame, const std::vector<double>& kp, std::vector<PersonFrame>& out) {
    for (auto& lf : p.lifter->push_xys(kp.data())) out.push_back({p.id, p.first_frame + lf.index, std::move(lf)});
    p.last = kp;
    p.next_frame = frame + 1;
  }

  void end_track(int64_t serial, std::vector<PersonFrame>& out) {
    held_.erase(serial);
    auto it = persons_.find(serial);
    if (it == persons_.end()) return;
    Person& p = it->second;
    for (auto& lf : p.lifter->flush()) out.push_back({p.id, p.first_frame + lf.index, std::move(lf)});
    persons_.erase(it);
  }

  const FinePoseModel& model_;
  int w_, h_;
  KeypointLayout layout_;
  LiftOptions opt_;
  OnlineTracker tracker_;
  std::map<int64_t, Person> persons_;  // live, by tracker serial
  std::map<int64_t, std::vector<std::pair<int64_t, std::vector<double>>>> held_;  // tentative tracks' frames
  std::vector<int64_t> last_ids_;
  int64_t next_id_ = 0;
};

}  // namespace finepose::wild
