#pragma once
// A detector file -> one person's keypoints in Human3.6M-17 order:
// read_detections, select_person, to_h36m17 in one call.
#include <optional>
#include <string>

#include "finepose/wild/person_track.hpp"

namespace finepose::wild {

struct KeypointInput {
  Tensor<double> kp;  // (F, 17, 3) x, y pixels, score; H36M-17 order
  int64_t first_frame = 0;
  int64_t missing_frames = 0;  // frames without a detection of the person
  KeypointLayout source_layout = KeypointLayout::coco17;
  std::string person;          // which person was followed, in words
  std::vector<std::string> notes;  // e.g. a track split at a long gap
  int64_t image_width = 0, image_height = 0;  // when the file says (an npz's image_size); 0 = unknown
};

// One person (select_person) of a detection set, in H36M-17 order.
inline KeypointInput keypoints_of_person(const DetectionSet& set, std::optional<int64_t> track = std::nullopt,
                                         const ReadOptions& opt = {}) {
  PersonTrack t = select_person(set, track, opt);
  KeypointInput in;
  in.kp = pose::to_h36m17(t.kp, set.layout);
  in.first_frame = t.first_frame;
  in.missing_frames = t.missing_frames;
  in.source_layout = set.layout;
  in.person = t.how;
  in.notes = t.notes;
  in.image_width = set.image_width, in.image_height = set.image_height;
  return in;
}

inline KeypointInput read_keypoints(const std::string& path, InputFormat format = InputFormat::auto_detect,
                                    std::optional<KeypointLayout> layout = std::nullopt,
                                    std::optional<int64_t> track = std::nullopt, const ReadOptions& opt = {}) {
  return keypoints_of_person(read_detections(path, format, layout), track, opt);
}

}  // namespace finepose::wild
