#pragma once
// A multi-person test scene of our own, and its score.
//
// make_walker_scene: walkers (demo_walk.hpp: procedural, or moving as mocap
// people from ../shared/data, mocap_body.hpp) on different circles in front of
// one camera, so that their paths cross in the picture; one enters late, one
// leaves early. Written as a detector without tracking
// would write it: no ids, detections shuffled within each frame, joints of a
// person hidden behind a nearer one reported with a low score (most of them
// hidden: no detection at all), joints outside the picture not reported,
// pixel jitter, and false-positive blips (1-2 frame detections of nobody).
//
// score_scene: each true person's frames are matched to the lifted track
// whose 2D input is that person (mean joint distance below a threshold);
// coverage (frames of its main track / its detected frames), identity
// switches (changes of the matched track along the person's frames),
// MPJPE / P-MPJPE of the main track against the truth, and root error in
// camera space relative to the true distance.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <map>
#include <vector>

#include "finepose/core/philox.hpp"
#include "finepose/pose/metrics.hpp"
#include "finepose/wild/demo_walk.hpp"
#include "finepose/wild/detections.hpp"
#include "finepose/wild/multi_person.hpp"

namespace finepose::wild {

struct WalkerSceneOptions {
  int64_t frames = 300;
  int width = 1920, height = 1080;
  double focal = 1400;            // pixels
  int64_t persons = 4;            // 3 or 4 walkers
  double blip_rate = 0.03;        // false-positive detections per frame
  std::uint64_t seed = 7;
  // Real people: person p moves as bodies[p] (a captured motion in the body
  // frame, (frames+, 17, 3), mocap_body.hpp) along its path instead of the
  // procedural gait; persons beyond bodies.size() are procedural walkers.
  std::vector<Tensor<double>> bodies;
};

struct ScenePerson {
  Tensor<double> camera_mm;  // (F, 17, 3) H36M-17 in camera space, every frame of the scene
  Tensor<double> coco_px;    // (F, 17, 3) what the detector reported (after occlusion), COCO-17
  std::vector<char> detected;  // (F) the person has a detection in the frame
  int64_t enter = 0, leave = 0;  // in the scene for frames [enter, leave)
};

struct WalkerScene {
  std::vector<ScenePerson> persons;
  DetectionSet detections;         // no ids, shuffled per frame, with blips
  std::vector<int64_t> truth;      // per detection: the true person, -1 for a blip
  pose::CameraIntrinsics intrinsics;
  WalkerSceneOptions opt;
};

inline WalkerScene make_walker_scene(const WalkerSceneOptions& o = {}) {
  FINEPOSE_CHECK(o.persons >= 1 && o.persons <= 4, "walker scene: 1..4 persons");
  FINEPOSE_CHECK(o.frames >= 30 && o.frames <= 100000, "walker scene: frames out of range");
  WalkerScene sc;
  sc.opt = o;
  const int64_t F = o.frames;
  struct Path {
    double radius, cx, cz, start, dir, enter, leave;  // enter/leave as fractions of F
  };
  // two walkers on nested circles in opposite senses (their paths cross in the
  // picture, the nearer one hiding the other), one entering late, one leaving early
  const Path paths[4] = {{1500, 0, 0, 0.0, 1, 0.0, 1.0},
                         {2300, 0, 0, M_PI, -1, 0.0, 1.0},
                         {1000, 2600, 2500, 0.5, 1, 0.25, 0.85},
                         {1200, -2600, 1800, 2.0, -1, 0.0, 0.6}};
  for (int64_t p = 0; p < o.persons; ++p) {
    DemoWalkOptions w;
    w.frames = F;
    w.width = o.width, w.height = o.height;
    w.focal = o.focal;
    w.radius_mm = paths[p].radius;
    w.centre_x_mm = paths[p].cx, w.centre_z_mm = paths[p].cz;
    w.start_angle = paths[p].start, w.direction = paths[p].dir;
    w.stride_phase = 1.3 * double(p);
    w.camera_distance_mm = 6000;
    w.camera_height_mm = 1600;
    w.seed = o.seed * 31 + std::uint64_t(p);
    if (size_t(p) < o.bodies.size()) w.body_mm = o.bodies[size_t(p)];
    const DemoWalk dw = make_demo_walk(w);
    ScenePerson sp;
    sp.camera_mm = dw.camera_mm;
    sp.coco_px = dw.coco_px.clone();
    sp.enter = int64_t(paths[p].enter * double(F)), sp.leave = int64_t(paths[p].leave * double(F));
    sp.detected.assign(size_t(F), 0);
    sc.intrinsics = dw.intrinsics;
    sc.persons.push_back(std::move(sp));
  }
  const int64_t P = o.persons;
  // occlusion: a joint inside a nearer person's box is hidden (low score); a person mostly hidden is not detected
  for (int64_t f = 0; f < F; ++f) {
    std::vector<detail::Box> box(static_cast<size_t>(P));
    std::vector<double> depth(static_cast<size_t>(P));
    for (int64_t p = 0; p < P; ++p) {
      box[size_t(p)] = detail::keypoint_box(sc.persons[size_t(p)].coco_px.data() + f * 51, 17, -1.0);
      depth[size_t(p)] = sc.persons[size_t(p)].camera_mm(f, 0, 2);
    }
    for (int64_t p = 0; p < P; ++p) {
      ScenePerson& sp = sc.persons[size_t(p)];
      if (f < sp.enter || f >= sp.leave) continue;
      double* kp = sp.coco_px.data() + f * 51;
      int64_t hidden = 0, visible = 0;
      for (int j = 0; j < 17; ++j) {
        const double x = kp[3 * j], y = kp[3 * j + 1];
        bool h = false;
        for (int64_t q = 0; q < P; ++q) {
          const ScenePerson& sq = sc.persons[size_t(q)];
          if (q == p || f < sq.enter || f >= sq.leave || depth[size_t(q)] >= depth[size_t(p)]) continue;
          const detail::Box& b = box[size_t(q)];
          const double mx = 0.1 * (b.x1 - b.x0);
          h = h || (x > b.x0 - mx && x < b.x1 + mx && y > b.y0 && y < b.y1);
        }
        if (x < 0 || y < 0 || x >= o.width || y >= o.height) kp[3 * j + 2] = 0;  // outside the picture
        else if (h) kp[3 * j + 2] = 0.1, ++hidden;
        if (kp[3 * j + 2] >= 0.3) ++visible;
      }
      sp.detected[size_t(f)] = hidden <= 12 && visible >= 5;
    }
  }
  // the detector's output: shuffled per frame, blips added
  DetectionSet& ds = sc.detections;
  ds.source = "walker scene";
  ds.layout = KeypointLayout::coco17;
  ds.joints = 17;
  ds.image_width = o.width, ds.image_height = o.height;
  std::vector<Detection> carry;  // a two-frame blip's second frame
  for (int64_t f = 0; f < F; ++f) {
    std::vector<std::pair<double, size_t>> order;  // (random key, index into frame list)
    std::vector<Detection> frame;
    std::vector<int64_t> who;
    for (auto& d : carry) frame.push_back(std::move(d)), who.push_back(-1);
    carry.clear();
    for (int64_t p = 0; p < P; ++p) {
      if (!sc.persons[size_t(p)].detected[size_t(f)]) continue;
      Detection d;
      d.frame = f;
      d.kp.assign(sc.persons[size_t(p)].coco_px.data() + f * 51, sc.persons[size_t(p)].coco_px.data() + f * 51 + 51);
      frame.push_back(std::move(d));
      who.push_back(p);
    }
    // NormalStream is counter-based (the same draws for the same stream): one stream per frame
    const TensorF u = NormalStream(o.seed, 1000 + std::uint64_t(f) * 2).normal({4});
    if (0.5 * (1 + std::erf(u.data()[0] / std::sqrt(2.0))) < o.blip_rate) {
      // a false positive: a small figure somewhere (a poster, a reflection), for one or two frames
      const double cx = o.width * (0.5 + 0.4 * std::tanh(u.data()[1])), cy = o.height * (0.5 + 0.3 * std::tanh(u.data()[2]));
      const int64_t len = u.data()[3] > 0 ? 2 : 1;
      for (int64_t k = 0; k < len && f + k < F; ++k) {
        Detection d;
        d.frame = f + k;
        const double* src = sc.persons[0].coco_px.data() + f * 51;
        for (int j = 0; j < 17; ++j) {
          d.kp.push_back(cx + 0.4 * (src[3 * j] - src[0]));
          d.kp.push_back(cy + 0.4 * (src[3 * j + 1] - src[1]));
          d.kp.push_back(0.6);
        }
        if (k == 0) frame.push_back(std::move(d)), who.push_back(-1);
        else carry.push_back(std::move(d));
      }
    }
    const TensorF keys = NormalStream(o.seed, 1001 + std::uint64_t(f) * 2).normal({int64_t(frame.size()) + 1});
    for (size_t i = 0; i < frame.size(); ++i) order.push_back({keys.data()[i], i});
    std::sort(order.begin(), order.end());
    for (const auto& [k, i] : order) ds.dets.push_back(std::move(frame[i])), sc.truth.push_back(who[i]);
  }
  return sc;
}

struct ScenePersonScore {
  int64_t detected_frames = 0;  // frames the detector reported the person
  int64_t main_track = -1;      // index into the result's persons
  int64_t covered = 0;          // detected frames matched to the main track
  int64_t switches = 0;         // changes of the matched track along the person's frames
  double coverage = 0;          // covered / detected_frames
  double mpjpe = 0, p_mpjpe = 0;  // main track vs truth, mm, over covered frames
  double root_rel_error = -1;   // mean |root - true root| / |true root| (with roots), else -1
};

// The result's lifted 2D (H36M-17) of track p at shared frame f, against the
// person's true keypoints: mean pixel distance over the confident joints.
inline std::vector<ScenePersonScore> score_scene(const WalkerScene& sc, const MultiLifted& m, double match_px = 25) {
  std::vector<ScenePersonScore> out;
  const int64_t P = int64_t(m.track_ids.size()), F = sc.opt.frames;
  for (const ScenePerson& sp : sc.persons) {
    ScenePersonScore s;
    const Tensor<double> truth2d = pose::to_h36m17(sp.coco_px, KeypointLayout::coco17);
    std::vector<int64_t> match(size_t(F), -1);
    std::map<int64_t, int64_t> count;
    int64_t last = -1;
    for (int64_t f = 0; f < F; ++f) {
      if (!sp.detected[size_t(f)]) continue;
      ++s.detected_frames;
      const int64_t fm = f - m.first_frame;
      if (fm < 0 || fm >= m.frames) continue;
      double best = match_px;
      for (int64_t p = 0; p < P; ++p) {
        if (!m.present.data()[p * m.frames + fm]) continue;
        double d = 0;
        int64_t n = 0;
        for (int j = 0; j < 17; ++j) {
          if (truth2d(f, j, 2) < 0.3) continue;
          const double* k = m.keypoints.data() + ((p * m.frames + fm) * 17 + j) * 3;
          d += std::hypot(k[0] - truth2d(f, j, 0), k[1] - truth2d(f, j, 1));
          ++n;
        }
        if (n && d / double(n) < best) best = d / double(n), match[size_t(f)] = p;
      }
      if (match[size_t(f)] >= 0) {
        ++count[match[size_t(f)]];
        if (last >= 0 && match[size_t(f)] != last) ++s.switches;
        last = match[size_t(f)];
      }
    }
    for (const auto& kv : count)
      if (kv.second > s.covered) s.covered = kv.second, s.main_track = kv.first;
    s.coverage = s.detected_frames ? double(s.covered) / double(s.detected_frames) : 0;
    if (s.main_track >= 0) {
      TensorD pred({s.covered, 17, 3}), gt({s.covered, 17, 3});
      double root_err = 0;
      int64_t i = 0;
      for (int64_t f = 0; f < F; ++f) {
        if (match[size_t(f)] != s.main_track) continue;
        const int64_t fm = f - m.first_frame;
        for (int j = 0; j < 17; ++j)
          for (int c = 0; c < 3; ++c) {
            pred(i, j, c) = m.poses.data()[((s.main_track * m.frames + fm) * 17 + j) * 3 + c];
            gt(i, j, c) = sp.camera_mm(f, j, c) - sp.camera_mm(f, 0, c);
          }
        if (m.root.defined()) {
          const float* r = m.root.data() + (s.main_track * m.frames + fm) * 3;
          const double* t = sp.camera_mm.data() + f * 51;
          root_err += std::sqrt((r[0] - t[0]) * (r[0] - t[0]) + (r[1] - t[1]) * (r[1] - t[1]) + (r[2] - t[2]) * (r[2] - t[2])) /
                      std::sqrt(t[0] * t[0] + t[1] * t[1] + t[2] * t[2]);
        }
        ++i;
      }
      s.mpjpe = pose::mpjpe(pred, gt);
      s.p_mpjpe = pose::p_mpjpe(pred, gt);
      if (m.root.defined()) s.root_rel_error = root_err / double(s.covered);
    }
    out.push_back(s);
  }
  return out;
}

// The scene's detections of one true person alone, as a single-person file would hold them.
inline DetectionSet scene_person_detections(const WalkerScene& sc, int64_t person) {
  DetectionSet d;
  d.source = "walker scene, person " + std::to_string(person);
  d.layout = sc.detections.layout;
  d.joints = sc.detections.joints;
  d.image_width = sc.detections.image_width, d.image_height = sc.detections.image_height;
  for (size_t i = 0; i < sc.detections.dets.size(); ++i)
    if (sc.truth[i] == person) d.dets.push_back(sc.detections.dets[i]);
  return d;
}


// COCO results JSON of a detection set, as a detector without tracking writes
// it (image ids "000123.jpg"; a track_id only where the set has one).
inline std::string detections_coco_json(const DetectionSet& set) {
  std::string out = "[\n";
  char buf[64];
  for (size_t i = 0; i < set.dets.size(); ++i) {
    const Detection& d = set.dets[i];
    std::snprintf(buf, sizeof buf, "%06lld.jpg", (long long)d.frame);
    out += "{\"image_id\": \"" + std::string(buf) + "\", \"category_id\": 1, ";
    if (d.track >= 0) out += "\"track_id\": " + std::to_string(d.track) + ", ";
    out += "\"keypoints\": [";
    for (int64_t k = 0; k < set.joints; ++k) {
      std::snprintf(buf, sizeof buf, "%s%.2f, %.2f, %.3f", k ? ", " : "", d.kp[size_t(3 * k)], d.kp[size_t(3 * k + 1)],
                    d.kp[size_t(3 * k + 2)]);
      out += buf;
    }
    out += i + 1 < set.dets.size() ? "]},\n" : "]}\n";
  }
  return out + "]\n";
}

}  // namespace finepose::wild
