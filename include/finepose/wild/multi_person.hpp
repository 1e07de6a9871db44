#pragma once
// Every person in a detection file: tracks (the file's ids, or the tracker's
// when it has none, tracker.hpp), each person's keypoints in Human3.6M-17
// order, all of them lifted in shared batched denoiser calls.
//
//   read_persons  file -> one KeypointInput per track, ordered by first appearance
//   lift_persons  those -> one Lifted per track, on one frame axis
//                 (MultiLifted: poses (P, F, 17, 3), present (P, F), ...)
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "finepose/wild/keypoint_input.hpp"
#include "finepose/wild/lifter.hpp"
#include "finepose/wild/tracker.hpp"

namespace finepose::wild {

struct PersonsOptions {
  ReadOptions read;
  TrackerOptions tracker;
  bool retrack = false;  // track even when the file has ids (ids that switch, for example)
};

struct PersonsInput {
  std::vector<KeypointInput> persons;  // ordered by first appearance
  std::vector<int64_t> track_ids;      // the file's ids, or the tracker's (0..P-1)
  bool tracked = false;                // ids made by the tracker
  TrackingReport tracking;             // what the tracker did (tracked)
  KeypointLayout source_layout = KeypointLayout::coco17;
  int64_t image_width = 0, image_height = 0;
  std::vector<std::string> notes;
};

// Tracks of a set that has ids (made or read), ordered by first appearance (ties: smaller id).
inline std::vector<int64_t> tracks_by_first_appearance(const DetectionSet& set) {
  std::map<int64_t, int64_t> first;  // id -> first frame
  for (const auto& d : set.dets)
    if (d.track >= 0) {
      auto it = first.find(d.track);
      if (it == first.end() || d.frame < it->second) first[d.track] = d.frame;
    }
  std::vector<int64_t> ids;
  for (const auto& kv : first) ids.push_back(kv.first);
  std::stable_sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) { return first[a] < first[b]; });
  return ids;
}

// The most people a file shows in one frame (detections with enough confident joints).
inline int64_t max_people_per_frame(const DetectionSet& set, const TrackerOptions& t = {}) {
  std::map<int64_t, int64_t> n;
  int64_t best = 0;
  for (const auto& d : set.dets) {
    int64_t c = 0;
    detail::keypoint_box(d.kp.data(), set.joints, t.min_score, &c);
    if (c >= t.min_joints) best = std::max(best, ++n[d.frame]);
  }
  return best;
}

inline PersonsInput persons_from_set(const DetectionSet& file_set, const PersonsOptions& opt = {}) {
  FINEPOSE_CHECK(!file_set.dets.empty(), file_set.source, ": no detections (empty sequence)");
  PersonsInput r;
  r.source_layout = file_set.layout;
  r.image_width = file_set.image_width, r.image_height = file_set.image_height;
  DetectionSet tracked;
  const DetectionSet* set = &file_set;
  if (opt.retrack || !file_set.has_track_ids()) {
    TrackerOptions to = opt.tracker;
    to.max_gap = opt.read.max_gap;
    tracked = track_people(file_set, to, &r.tracking);
    set = &tracked;
    r.tracked = true;
    r.notes.push_back(std::string(opt.retrack && file_set.has_track_ids() ? "re-tracked (the file's ids ignored): "
                                                                           : "the file has no track ids; tracked: ") +
                      r.tracking.summary());
    FINEPOSE_CHECK(!tracked.dets.empty(), file_set.source, ": no person could be tracked (", r.tracking.summary(),
                   "); a track needs ", to.confirm_frames, " consecutive frames and ", to.min_track_frames, " detections");
  }
  for (int64_t id : tracks_by_first_appearance(*set)) {
    KeypointInput in = keypoints_of_person(*set, id, opt.read);
    if (r.tracked) in.person = "tracked person " + std::to_string(id);
    r.persons.push_back(std::move(in));
    r.track_ids.push_back(id);
  }
  return r;
}

inline PersonsInput read_persons(const std::string& path, InputFormat format = InputFormat::auto_detect,
                                 std::optional<KeypointLayout> layout = std::nullopt, const PersonsOptions& opt = {}) {
  return persons_from_set(read_detections(path, format, layout), opt);
}

// Everybody on one frame axis: frames first_frame .. first_frame + F - 1 of the file.
struct MultiLifted {
  std::vector<Lifted> persons;    // each on its own frames (persons[p].poses: (F_p, 17, 3))
  std::vector<int64_t> track_ids;  // (P,)
  std::vector<int64_t> first_frames;  // file frame of persons[p]'s frame 0
  int64_t first_frame = 0, frames = 0;  // the shared axis
  TensorF poses;        // (P, F, 17, 3) mm root-relative; 0 where absent
  Tensor<uint8_t> present;  // (P, F) 1 where the person's track covers the frame
  TensorF root;         // (P, F, 3) camera-space root in mm (intrinsics given); 0 where absent
  Tensor<double> keypoints;  // (P, F, 17, 3) the lifted 2D (pixels, score), 0 where absent
};

inline MultiLifted lift_persons(const FinePoseModel& model, const PersonsInput& in, int width, int height,
                                const LiftOptions& opt = {}) {
  FINEPOSE_CHECK(!in.persons.empty(), "lift: no persons to lift");
  std::vector<const Tensor<double>*> kps;
  for (const auto& p : in.persons) kps.push_back(&p.kp);
  MultiLifted m;
  m.persons = lift_sequences(model, kps, width, height, opt);
  m.track_ids = in.track_ids;
  int64_t lo = in.persons[0].first_frame, hi = lo;
  for (const auto& p : in.persons) {
    m.first_frames.push_back(p.first_frame);
    lo = std::min(lo, p.first_frame);
    hi = std::max(hi, p.first_frame + p.kp.size(0));
  }
  const int64_t P = int64_t(in.persons.size()), F = hi - lo;
  // P x F x 17 x 3 floats on the shared axis: a few persons far apart in time must not ask for terabytes
  FINEPOSE_CHECK(F <= int64_t(1) << 24 && P * F <= int64_t(1) << 23, "lift: ", P, " persons over frames ", lo, "..", hi - 1,
                 " would be ", P, " x ", F, " poses on one axis, more than 2^23; lift one person (--persons ID) or a part of the file");
  m.first_frame = lo, m.frames = F;
  m.poses = TensorF::zeros({P, F, 17, 3});
  m.present = Tensor<uint8_t>::zeros({P, F});
  m.keypoints = Tensor<double>::zeros({P, F, 17, 3});
  if (opt.intrinsics) m.root = TensorF::zeros({P, F, 3});
  for (int64_t p = 0; p < P; ++p) {
    const Lifted& l = m.persons[size_t(p)];
    const int64_t off = m.first_frames[size_t(p)] - lo, Fp = l.poses.size(0);
    std::copy(l.poses.data(), l.poses.data() + Fp * 51, m.poses.data() + (p * F + off) * 51);
    std::copy(l.keypoints.data(), l.keypoints.data() + Fp * 51, m.keypoints.data() + (p * F + off) * 51);
    for (int64_t f = 0; f < Fp; ++f) m.present.data()[p * F + off + f] = 1;
    if (opt.intrinsics) std::copy(l.trajectory.data(), l.trajectory.data() + Fp * 3, m.root.data() + (p * F + off) * 3);
  }
  return m;
}

}  // namespace finepose::wild
