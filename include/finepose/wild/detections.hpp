#pragma once
// Reading 2D detector output into per-person detections.
//
// Recognised inputs (chosen by content; --format only checks what was found):
//   coco-json / halpe-json  a JSON array of COCO-style results, one object per
//       person: {"image_id": 12 | "12.jpg", "keypoints": [x, y, s, ...],
//       "score": s, "track_id" | "idx" | "person_id": id}  (AlphaPose,
//       Detectron2, COCO results); {"annotations": [...]} likewise.
//       MMPose predictions: [{"frame_id": f, "instances": [{"keypoints":
//       [[x, y], ...], "keypoint_scores": [...], "bbox_score": s,
//       "track_id": id}]}] or {"instance_info": [...]}.
//   openpose-json  {"people": [{"person_id": [id], "pose_keypoints_2d":
//       [x, y, c, ...]}]} per frame: one file, an array of such frames, or a
//       directory of per-frame files (in natural order: frame_2 before
//       frame_10). BODY_25 or COCO-18.
//   csv  one row per person and frame: frame[, track], then x, y, score for
//       each joint (a header line is skipped). The joint count follows from
//       the column count (17, 18, 25 or 26 joints). A UTF-8 BOM is skipped.
// Frame numbers and track ids: whole numbers in 0..kMaxFrameIndex.
//   npz  keypoints_2d (F, J, 2) pixels (J = 17: Human3.6M order unless a
//       layout says otherwise), optional scores (F, J).
// Joint layout: from the joint count (17 -> COCO-17 for detector formats,
// 26 -> Halpe-26, 25 -> BODY_25, 18 -> COCO-18), unless given.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/stat.h>

#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/pose/keypoint_formats.hpp"

namespace finepose::wild {

using pose::KeypointLayout;

// Frame numbers are whole numbers in 0..kMaxFrameIndex (15 decimal digits: exact
// in a double, and frame arithmetic on them never overflows). Anything else in a
// file is refused with its location, never wrapped or truncated.
constexpr int64_t kMaxFrameIndex = 999999999999999;
// Image sides (--width/--height, image_size) are 1..kMaxImageSide pixels.
constexpr int64_t kMaxImageSide = 1000000;
// Detections one file may hold (people x frames): 4M, about 2 GB in memory. More is
// refused as soon as it is seen (a compressed npz of zeros cannot make millions).
constexpr int64_t kMaxDetections = int64_t(1) << 22;

enum class InputFormat { auto_detect, coco_json, openpose_json, halpe_json, csv, npz };

inline InputFormat input_format_from_name(const std::string& n) {
  if (n.empty() || n == "auto") return InputFormat::auto_detect;
  if (n == "coco-json") return InputFormat::coco_json;
  if (n == "openpose-json") return InputFormat::openpose_json;
  if (n == "halpe-json") return InputFormat::halpe_json;
  if (n == "csv") return InputFormat::csv;
  if (n == "npz") return InputFormat::npz;
  fail("unknown keypoint format '", n, "' (coco-json, openpose-json, halpe-json, csv, npz)");
}

// One person in one frame: K joints of (x, y, score) in pixels.
struct Detection {
  int64_t frame = 0;
  int64_t track = -1;  // -1: the format gave no id
  double score = -1;   // person score; < 0: none given (mean joint score is used)
  std::vector<double> kp;
};

struct DetectionSet {
  std::string source;
  int64_t max_detections = kMaxDetections;
  KeypointLayout layout = KeypointLayout::coco17;
  int joints = 0;
  std::vector<Detection> dets;
  int64_t image_width = 0, image_height = 0;  // when the file says (an npz's image_size); 0 = unknown
  void add(Detection&& d) {
    if (int64_t(dets.size()) >= max_detections)
      fail(source, ": more than ", max_detections, " detections (people x frames); split the file");
    dets.push_back(std::move(d));
  }
  bool has_track_ids() const {
    for (const auto& d : dets)
      if (d.track >= 0) return true;
    return false;
  }
};

namespace detail {

inline bool is_directory(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && std::equal(e.rbegin(), e.rend(), s.rbegin());
}

// Names in the order a person reads them: runs of digits compare by value
// ("frame_2.json" < "frame_10.json"), everything else byte by byte; equal
// values with different zero padding fall back to the plain comparison.
inline bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit((unsigned char)a[i]), db = std::isdigit((unsigned char)b[j]);
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit((unsigned char)a[ie])) ++ie;
      while (je < b.size() && std::isdigit((unsigned char)b[je])) ++je;
      size_t is = i, js = j;  // skip leading zeros, then longer = larger
      while (is + 1 < ie && a[is] == '0') ++is;
      while (js + 1 < je && b[js] == '0') ++js;
      if (ie - is != je - js) return ie - is < je - js;
      const int c = a.compare(is, ie - is, b, js, je - js);
      if (c != 0) return c < 0;
      i = ie, j = je;
    } else {
      if (a[i] != b[j]) return (unsigned char)a[i] < (unsigned char)b[j];
      ++i, ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return a.size() - i < b.size() - j;
  return a < b;
}

// Layout from a joint count (what detectors emit).
inline KeypointLayout layout_for_count(int64_t k, const std::string& where) {
  switch (k) {
    case 17: return KeypointLayout::coco17;
    case 26: return KeypointLayout::halpe26;
    case 25: return KeypointLayout::openpose_body25;
    case 18: return KeypointLayout::openpose_coco18;
    default: break;
  }
  fail(where, ": ", k, " joints per person is no known layout (COCO-17, Halpe-26, OpenPose BODY_25 or COCO-18)");
}

// A frame number or track id read as a double (JSON or CSV): a whole number in
// 0..kMaxFrameIndex, or an error naming `where` and `what`.
inline int64_t frame_number(double d, const std::string& where, const char* what = "frame") {
  if (!(std::isfinite(d) && std::trunc(d) == d && d >= 0 && d <= double(kMaxFrameIndex)))
    fail(where, ": ", what, " ", d, " is not a whole number in 0..", kMaxFrameIndex);
  return int64_t(d);
}

inline double finite_number(const json::Value& v, const std::string& where) {
  if (v.is_null()) return 0.0;  // some writers emit null for missing values
  if (!v.is_number()) fail(where, ": expected a number, got a ", json::type_name(v.type()));
  const double d = v.as_double();
  if (!std::isfinite(d)) fail(where, ": value is not finite");
  return d;
}

// Frame index from an image id: a whole number, or the last run of digits of a
// name ("frame_000123.jpg" -> 123). -1 when a name has no digits (such names
// are numbered in order of appearance). Out-of-range numbers are errors.
inline int64_t frame_from_id(const json::Value& v, const std::string& where) {
  if (v.is_number()) return frame_number(v.as_double(), where, "image/frame id");
  if (!v.is_string()) fail(where, ": image/frame id must be a number or a file name, got a ", json::type_name(v.type()));
  const std::string& s = v.as_string();
  size_t e = s.size();
  while (e > 0 && !std::isdigit((unsigned char)s[e - 1])) --e;
  if (e == 0) return -1;
  size_t b = e;
  while (b > 0 && std::isdigit((unsigned char)s[b - 1])) --b;
  while (b + 1 < e && s[b] == '0') ++b;  // leading zeros carry no value
  if (e - b > 15) fail(where, ": image id '", s, "': frame number ", s.substr(b, e - b), " has more than 15 digits");
  return std::stoll(s.substr(b, e - b));
}

inline int64_t track_from(const json::Value& obj) {
  for (const char* k : {"track_id", "idx", "person_id", "track"}) {
    const json::Value* v = obj.find(k);
    if (!v) continue;
    if (v->is_array() && v->size() > 0) v = &v->at(0);  // OpenPose: "person_id": [-1]
    if (v->is_number()) {
      const double d = v->as_double();
      if (std::trunc(d) == d && d >= 0 && d < 9e15) return int64_t(d);
    }
  }
  return -1;
}

// Flat [x, y, s, x, y, s, ...] -> Detection.kp; returns the joint count.
inline int64_t flat_keypoints(const json::Value& arr, Detection& d, const std::string& where) {
  if (!arr.is_array()) fail(where, ": keypoints must be an array");
  if (arr.size() % 3 != 0)
    fail(where, ": ", arr.size(), " keypoint values, not a multiple of 3 (x, y, score per joint)");
  d.kp.resize(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) d.kp[i] = finite_number(arr.at(i), where);
  return int64_t(arr.size() / 3);
}

// MMPose instance: keypoints [[x, y], ...] + keypoint_scores [...].
inline int64_t mmpose_keypoints(const json::Value& inst, Detection& d, const std::string& where) {
  const json::Value& k = inst.at("keypoints");
  if (!k.is_array()) fail(where, ": keypoints must be an array");
  if (k.size() > 0 && !k.at(0).is_array()) return flat_keypoints(k, d, where);
  const json::Value* sc = inst.find("keypoint_scores");
  if (sc && (!sc->is_array() || sc->size() != k.size()))
    fail(where, ": keypoint_scores has ", sc->is_array() ? sc->size() : 0, " entries for ", k.size(), " keypoints");
  d.kp.resize(k.size() * 3);
  for (size_t j = 0; j < k.size(); ++j) {
    const auto& p = k.at(j);
    if (!p.is_array() || p.size() < 2) fail(where, ": keypoint ", j, " is not [x, y]");
    d.kp[j * 3] = finite_number(p.at(0), where);
    d.kp[j * 3 + 1] = finite_number(p.at(1), where);
    d.kp[j * 3 + 2] = sc ? finite_number(sc->at(j), where) : (p.size() >= 3 ? finite_number(p.at(2), where) : 1.0);
  }
  if (const auto* bs = inst.find("bbox_score")) {
    if (bs->is_array() && bs->size() > 0) bs = &bs->at(0);
    if (bs->is_number()) d.score = finite_number(*bs, where + ".bbox_score");
  }
  return int64_t(k.size());
}

inline void read_openpose_frame(const json::Value& frame, int64_t f, DetectionSet& set, const std::string& where) {
  const json::Value* people = frame.find("people");
  if (!people || !people->is_array()) fail(where, ": an OpenPose frame needs a \"people\" array");
  for (size_t i = 0; i < people->size(); ++i) {
    const auto& p = people->at(i);
    const std::string w = where + ": people[" + std::to_string(i) + "]";
    const json::Value* k = p.find("pose_keypoints_2d");
    if (!k) fail(w, ": no pose_keypoints_2d");
    Detection d;
    d.frame = f;
    d.track = track_from(p);
    flat_keypoints(*k, d, w);
    set.add(std::move(d));
  }
}

// One element of a top-level detection array: a COCO-style detection, an
// MMPose frame or an OpenPose frame. Frame ids that are names without digits
// are numbered in order of appearance (name_frames).
inline void read_json_element(const json::Value& e, size_t i, DetectionSet& set, std::map<std::string, int64_t>& name_frames,
                              const std::string& where) {
  using json::Value;
  const std::string w = where + ": [" + std::to_string(i) + "]";
  if (!e.is_object()) fail(w, ": expected an object");
  if (e.contains("people")) {
    read_openpose_frame(e, int64_t(i), set, w);
  } else if (e.contains("instances")) {
    const int64_t f = e.contains("frame_id") ? frame_from_id(e.at("frame_id"), w + ".frame_id") : int64_t(i);
    if (f < 0) fail(w, ": frame_id '", e.at("frame_id").as_string(), "' has no frame number");
    const Value& inst = e.at("instances");
    if (!inst.is_array()) fail(w, ": instances must be an array");
    for (size_t k = 0; k < inst.size(); ++k) {
      Detection d;
      d.frame = f;
      d.track = track_from(inst.at(k));
      mmpose_keypoints(inst.at(k), d, w + ".instances[" + std::to_string(k) + "]");
      set.add(std::move(d));
    }
  } else if (e.contains("keypoints")) {
    Detection d;
    const Value* id = e.find("image_id");
    if (!id) id = e.find("frame_id");
    if (!id) id = e.find("frame");
    if (!id) fail(w, ": a detection needs image_id (or frame_id) to place it in time");
    d.frame = frame_from_id(*id, w);
    if (d.frame < 0) {
      const std::string key = id->is_string() ? id->as_string() : json::dump_compact(*id);
      auto it = name_frames.find(key);
      d.frame = it != name_frames.end() ? it->second : (name_frames[key] = int64_t(name_frames.size()));
    }
    d.track = track_from(e);
    if (const Value* s = e.find("score"); s && s->is_number()) d.score = finite_number(*s, w + ".score");
    const Value& k = e.at("keypoints");
    if (k.is_array() && k.size() > 0 && k.at(0).is_array()) mmpose_keypoints(e, d, w);
    else flat_keypoints(k, d, w);
    set.add(std::move(d));
  } else {
    fail(w, ": neither a detection (keypoints), an MMPose frame (instances) nor an OpenPose frame (people)");
  }
}

inline void read_json_value(const json::Value& root, DetectionSet& set, const std::string& where) {
  if (root.is_object() && root.contains("people")) {
    read_openpose_frame(root, 0, set, where);
    return;
  }
  if (root.is_object() && root.contains("instance_info")) return read_json_value(root.at("instance_info"), set, where);
  if (root.is_object() && root.contains("annotations")) return read_json_value(root.at("annotations"), set, where);
  if (!root.is_array()) fail(where, ": expected a JSON array of detections or frames (COCO results, MMPose predictions or OpenPose)");
  std::map<std::string, int64_t> name_frames;
  for (size_t i = 0; i < root.size(); ++i) read_json_element(root.at(i), i, set, name_frames, where);
}

// A detection file's text: a top-level array (the usual case: COCO results,
// MMPose, an array of OpenPose frames) is read element by element, so memory
// is the text plus the detections, not a tree of the whole file.
inline void read_json_text(const std::string& text, DetectionSet& set, const std::string& where) {
  std::map<std::string, int64_t> name_frames;
  const bool streamed = json::parse_array_elements(
      text, [&](json::Value&& e, size_t i) { read_json_element(e, i, set, name_frames, where); }, where);
  if (!streamed) read_json_value(json::parse(text, where), set, where);
}

// At most frame, track and 26 joints x 3 columns; a longer row is refused while it
// is split (a 100 MB line of commas must not become 100M strings).
constexpr size_t kMaxCsvColumns = 2 + 3 * 26;

inline std::vector<std::string> split_csv_line(const std::string& line, const std::string& where = "csv") {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',' || c == ';' || c == '\t') {
      if (out.size() >= kMaxCsvColumns) fail(where, ": more than ", kMaxCsvColumns, " columns");
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r' && c != ' ') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

inline void read_csv(const std::string& path, DetectionSet& set) {
  const std::string text = io::read_text_file(path);
  size_t pos = 0;
  // a UTF-8 byte order mark (spreadsheet exports) is not part of the first line
  if (text.size() >= 3 && std::uint8_t(text[0]) == 0xef && std::uint8_t(text[1]) == 0xbb && std::uint8_t(text[2]) == 0xbf) pos = 3;
  int64_t line_no = 0, cols = -1;
  bool with_track = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(line_no);
    const auto f = split_csv_line(line, where);
    bool numeric = true;
    std::vector<double> v(f.size());
    for (size_t i = 0; i < f.size() && numeric; ++i) {
      char* end = nullptr;
      v[i] = f[i].empty() ? 0.0 : std::strtod(f[i].c_str(), &end);
      if (!f[i].empty() && (end == f[i].c_str() || *end)) numeric = false;
    }
    if (!numeric) {
      if (set.dets.empty() && cols < 0) continue;  // header
      fail(where, ": not a row of numbers");
    }
    if (cols < 0) {
      cols = int64_t(f.size());
      bool ok = false;
      for (int k : {17, 26, 25, 18}) {
        if (cols == 3 * k + 2) ok = true, with_track = true;
        if (cols == 3 * k + 1) ok = true, with_track = false;
      }
      if (!ok)
        fail(where, ": ", cols, " columns; expected frame[, track] followed by x, y, score for 17, 18, 25 or 26 joints");
    } else if (int64_t(f.size()) != cols) {
      fail(where, ": ", f.size(), " columns, the first row had ", cols);
    }
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i])) fail(where, ": column ", i + 1, " is not a finite number (NaN/Inf); mark a missing joint with score 0");
    Detection d;
    d.frame = frame_number(v[0], where);
    const size_t off = with_track ? 2 : 1;
    if (with_track) d.track = v[1] < 0 ? -1 : frame_number(v[1], where, "track id");  // negative: no id
    d.kp.assign(v.begin() + long(off), v.end());
    set.add(std::move(d));
  }
}

inline void read_npz(const std::string& path, DetectionSet& set, std::optional<KeypointLayout> layout) {
  auto arrays = io::load_npz(path);
  auto it = arrays.find("keypoints_2d");
  if (it == arrays.end()) fail(path, ": npz has no array 'keypoints_2d' (F, 17, 2)");
  if (!it->second.shape.empty() && it->second.shape[0] > set.max_detections)  // before any conversion
    fail(path, ": keypoints_2d has ", it->second.shape[0], " frames, more than ", set.max_detections, "; split the file");
  const Tensor<double> kp = io::to_tensor<double>(it->second, path + ":keypoints_2d");
  if (kp.dim() != 3 || kp.size(2) != 2)
    fail(path, ": keypoints_2d has shape ", shape_str(kp.shape()), ", expected (F, J, 2)");
  const int64_t F = kp.size(0), J = kp.size(1);
  Tensor<double> sc;
  if (auto s = arrays.find("scores"); s != arrays.end()) {
    sc = io::to_tensor<double>(s->second, path + ":scores");
    if (sc.shape() != Shape{F, J}) fail(path, ": scores has shape ", shape_str(sc.shape()), ", expected (", F, ", ", J, ")");
  }
  set.layout = layout ? *layout : (J == 17 ? KeypointLayout::h36m17 : layout_for_count(J, path));
  if (auto is = arrays.find("image_size"); is != arrays.end()) {  // e.g. our own outputs
    const auto v = io::to_vector<double>(is->second, path + ":image_size");
    if (v.size() != 2) fail(path, ": image_size holds ", v.size(), " values, expected 2 (width, height)");
    for (double x : v)
      if (!(std::trunc(x) == x && x >= 1 && x <= double(kMaxImageSide)))
        fail(path, ": image_size ", x, " is not a whole number of pixels in 1..", kMaxImageSide);
    set.image_width = int64_t(v[0]), set.image_height = int64_t(v[1]);
  }
  for (int64_t f = 0; f < F; ++f) {
    Detection d;
    d.frame = f;
    d.kp.resize(size_t(J * 3));
    for (int64_t j = 0; j < J; ++j) {
      const double x = kp.data()[(f * J + j) * 2], y = kp.data()[(f * J + j) * 2 + 1];
      const double s = sc.defined() ? sc.data()[f * J + j] : 1.0;
      if (!std::isfinite(x) || !std::isfinite(y) || !std::isfinite(s))
        fail(path, ": keypoints_2d/scores frame ", f, " joint ", j, " is not finite (NaN/Inf); mark a missing joint with score 0");
      d.kp[size_t(j * 3)] = x, d.kp[size_t(j * 3 + 1)] = y, d.kp[size_t(j * 3 + 2)] = s;
    }
    set.add(std::move(d));
  }
}

}  // namespace detail

// Reads a keypoint file (or an OpenPose directory). `layout` overrides the
// joint layout implied by the joint count.
inline DetectionSet read_detections(const std::string& path, InputFormat format = InputFormat::auto_detect,
                                    std::optional<KeypointLayout> layout = std::nullopt, int64_t max_detections = kMaxDetections) {
  DetectionSet set;
  set.source = path;
  set.max_detections = max_detections;
  const InputFormat asked = format;
  if (format == InputFormat::auto_detect) {
    if (detail::is_directory(path)) format = InputFormat::openpose_json;
    else if (detail::ends_with(path, ".npz")) format = InputFormat::npz;
    else if (detail::ends_with(path, ".csv") || detail::ends_with(path, ".txt")) format = InputFormat::csv;
    else format = InputFormat::coco_json;  // any JSON; the content decides
  }
  if (format == InputFormat::npz) {
    detail::read_npz(path, set, layout);
  } else if (format == InputFormat::csv) {
    detail::read_csv(path, set);
  } else if (detail::is_directory(path)) {
    std::vector<std::string> files;
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (detail::ends_with(n, ".json")) files.push_back(n);
      }
      ::closedir(d);
    } else {
      fail_io("cannot open directory '", path, "'");
    }
    std::sort(files.begin(), files.end(), detail::natural_less);  // frame_2 before frame_10
    if (files.empty()) fail(path, ": directory has no .json files");
    for (size_t i = 0; i < files.size(); ++i) {
      const std::string p = path + "/" + files[i];
      detail::read_openpose_frame(json::parse(io::read_text_file(p), p), int64_t(i), set, p);
    }
  } else {
    detail::read_json_text(io::read_text_file(path), set, path);
  }
  if (set.dets.empty()) fail(path, ": no detections (empty sequence)");
  // all detections must agree on the joint count
  const size_t n = set.dets.front().kp.size();
  for (const auto& d : set.dets)
    if (d.kp.size() != n)
      fail(path, ": frame ", d.frame, " has ", d.kp.size() / 3, " joints, frame ", set.dets.front().frame, " has ", n / 3);
  set.joints = int(n / 3);
  if (format != InputFormat::npz) set.layout = layout ? *layout : detail::layout_for_count(set.joints, path);
  if (pose::layout_joints(set.layout) != set.joints)
    fail(path, ": layout ", pose::layout_name(set.layout), " has ", pose::layout_joints(set.layout), " joints, the file has ",
         set.joints, " per person");
  const char* want = nullptr;
  if (asked == InputFormat::coco_json && set.joints != 17) want = "17 (COCO-17; use --format halpe-json for 26, openpose-json for 25/18)";
  if (asked == InputFormat::halpe_json && set.joints != 26) want = "26 (Halpe-26)";
  if (asked == InputFormat::openpose_json && set.joints != 25 && set.joints != 18) want = "25 (BODY_25) or 18 (COCO-18)";
  if (want) fail(path, ": wrong joint count: ", set.joints, " joints per person, this format needs ", want);
  return set;
}

}  // namespace finepose::wild
