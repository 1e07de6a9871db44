#pragma once
// Writing lifted sequences: npz (poses_3d (F, 17, 3) float32 mm; with
// hypotheses (F, H, 17, 3); trajectory (F, 3) when intrinsics were given;
// keypoints_2d (F, 17, 2) / scores (F, 17): the H36M-order 2D input after
// gap filling; frame_index (F,) the file's frame numbers), JSON and CSV
// (root-relative millimetres, Human3.6M joint names). The format follows the
// file extension.
#include <cmath>
#include <cstdio>
#include <string>

#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/pose/skeleton.hpp"
#include "finepose/wild/lifter.hpp"
#include "finepose/wild/multi_person.hpp"

namespace finepose::wild {

struct LiftedSequence {
  Lifted lifted;
  Tensor<double> keypoints;   // (F, 17, 3) H36M-order pixels + score (after gap filling)
  int64_t first_frame = 0;    // file frame number of frame 0
  int width = 0, height = 0;
  std::string model_variant;  // "h36m" / "mpi3dhp"
};

inline std::string output_format_of(const std::string& path) {
  auto dot = path.find_last_of('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "npz" || ext == "json" || ext == "csv") return ext;
  fail("output '", path, "': unknown extension (use .npz, .json or .csv)");
}

inline void save_lifted(const std::string& path, const LiftedSequence& s, io::Existing existing = io::Existing::replace) {
  const std::string fmt = output_format_of(path);
  const Lifted& r = s.lifted;
  const int64_t F = r.poses.size(0);
  const auto& names = pose::h36m17().joint_names;
  // a result is numbers: NaN/Inf (not even JSON) is never written as one
  auto finite = [&](const TensorF& t, const char* what) {
    if (!t.defined()) return;
    for (int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(t.data()[i])) fail("save '", path, "': ", what, " element ", i, " is not finite; nothing written");
  };
  finite(r.poses, "poses_3d");
  finite(r.hypotheses, "hypotheses");
  finite(r.trajectory, "trajectory");
  if (fmt == "npz") {
    io::NpzMap m;
    m["poses_3d"] = io::from_tensor(r.poses);
    if (r.hypotheses.defined()) m["hypotheses"] = io::from_tensor(r.hypotheses);
    if (r.trajectory.defined()) m["trajectory"] = io::from_tensor(r.trajectory);
    if (s.keypoints.defined()) {
      TensorF kp({F, 17, 2}), sc({F, 17});
      for (int64_t i = 0; i < F * 17; ++i) {
        kp.data()[2 * i] = float(s.keypoints.data()[3 * i]);
        kp.data()[2 * i + 1] = float(s.keypoints.data()[3 * i + 1]);
        sc.data()[i] = float(s.keypoints.data()[3 * i + 2]);
      }
      m["keypoints_2d"] = io::from_tensor(kp);
      m["scores"] = io::from_tensor(sc);
    }
    std::vector<int64_t> idx(static_cast<size_t>(F));
    for (int64_t f = 0; f < F; ++f) idx[size_t(f)] = s.first_frame + f;
    m["frame_index"] = io::from_vector(idx);
    m["image_size"] = io::from_vector(std::vector<int64_t>{s.width, s.height});
    io::save_npz(path, m, false, existing);
    return;
  }
  // JSON and CSV are written frame by frame into a temporary file (renamed into
  // place at the end): memory stays bounded by a chunk, whatever the length.
  io::AtomicFile file(path, existing);
  std::string out;
  char buf[48];
  auto number = [&](double v) {  // 2 decimals, as the poses are given (mm)
    std::snprintf(buf, sizeof buf, "%.2f", v);
    out += buf;
  };
  auto flush_chunk = [&](bool force) {
    if (force || out.size() > (1u << 20)) file.write(out), out.clear();
  };
  if (fmt == "json") {
    json::Value root = json::Value::object();
    root["units"] = "mm";
    root["root_relative"] = true;
    root["skeleton"] = "h36m-17";
    json::Value jn = json::Value::array();
    for (const auto& n : names) jn.push_back(n);
    root["joint_names"] = jn;
    root["action"] = r.action;
    root["image_size"] = json::Value::array({s.width, s.height});
    json::Value notes = json::Value::array();
    for (const auto& n : r.notes) notes.push_back(n);
    root["notes"] = notes;
    root["filled_joints"] = r.gaps.filled;
    root["frames"] = json::Value::array();
    std::string head = json::dump(root);  // compact: one line per file, poses are long
    FINEPOSE_CHECK(head.size() > 3 && head.compare(head.size() - 3, 3, "[]}") == 0, "save_lifted: internal error in the JSON header");
    out = head.substr(0, head.size() - 2);  // ... "frames": [
    for (int64_t f = 0; f < F; ++f) {
      out += f ? ", {\"frame\": " : "{\"frame\": ";
      out += std::to_string(s.first_frame + f);
      out += ", \"pose\": [";
      for (int j = 0; j < 17; ++j) {
        const float* q = r.poses.data() + (f * 17 + j) * 3;
        out += j ? ", [" : "[";
        for (int c = 0; c < 3; ++c) {
          if (c) out += ", ";
          number(double(q[c]));
        }
        out += "]";
      }
      out += "]";
      if (r.trajectory.defined()) {
        const float* t = r.trajectory.data() + f * 3;
        out += ", \"trajectory\": [";
        for (int c = 0; c < 3; ++c) {
          if (c) out += ", ";
          out += json::detail::format_double(double(t[c]));
        }
        out += "]";
      }
      out += "}";
      flush_chunk(false);
    }
    out += "]}\n";
    flush_chunk(true);
    file.commit();
    return;
  }
  out = "frame";
  for (const auto& n : names) out += "," + n + "_x," + n + "_y," + n + "_z";
  if (r.trajectory.defined()) out += ",root_camera_x,root_camera_y,root_camera_z";
  out += "\n";
  for (int64_t f = 0; f < F; ++f) {
    out += std::to_string(s.first_frame + f);
    for (int i = 0; i < 51; ++i) out += ',', number(double(r.poses.data()[f * 51 + i]));
    if (r.trajectory.defined())
      for (int c = 0; c < 3; ++c) out += ',', number(double(r.trajectory.data()[f * 3 + c]));
    out += "\n";
    flush_chunk(false);
  }
  flush_chunk(true);
  file.commit();
}


// Several persons on one frame axis (infer --persons all). npz: poses_3d (P, F,
// 17, 3) mm root-relative, present (P, F) bool, track_ids (P,) int64,
// frame_index (F,), root_3d (P, F, 3) camera-space mm (with intrinsics),
// keypoints_2d (P, F, 17, 2) / scores (P, F, 17) the lifted 2D, image_size;
// absent frames hold zeros. JSON and CSV: one row per person and frame where
// the person is present, ordered by frame, then person, with its track id.
inline void save_multi_lifted(const std::string& path, const MultiLifted& m, int width, int height, const std::string& action,
                              const std::vector<std::string>& notes, io::Existing existing = io::Existing::replace) {
  const std::string fmt = output_format_of(path);
  const int64_t P = int64_t(m.track_ids.size()), F = m.frames;
  const auto& names = pose::h36m17().joint_names;
  for (int64_t i = 0; i < m.poses.numel(); ++i)
    if (!std::isfinite(m.poses.data()[i])) fail("save '", path, "': poses_3d element ", i, " is not finite; nothing written");
  if (m.root.defined())
    for (int64_t i = 0; i < m.root.numel(); ++i)
      if (!std::isfinite(m.root.data()[i])) fail("save '", path, "': root_3d element ", i, " is not finite; nothing written");
  if (fmt == "npz") {
    io::NpzMap z;
    z["poses_3d"] = io::from_tensor(m.poses);
    io::NdArray pres = io::from_tensor(m.present);
    pres.dtype = io::DType::boolean;
    z["present"] = pres;
    z["track_ids"] = io::from_vector(m.track_ids);
    std::vector<int64_t> idx(static_cast<size_t>(F));
    for (int64_t f = 0; f < F; ++f) idx[size_t(f)] = m.first_frame + f;
    z["frame_index"] = io::from_vector(idx);
    if (m.root.defined()) z["root_3d"] = io::from_tensor(m.root);
    TensorF kp({P, F, 17, 2}), sc({P, F, 17});
    for (int64_t i = 0; i < P * F * 17; ++i) {
      kp.data()[2 * i] = float(m.keypoints.data()[3 * i]);
      kp.data()[2 * i + 1] = float(m.keypoints.data()[3 * i + 1]);
      sc.data()[i] = float(m.keypoints.data()[3 * i + 2]);
    }
    z["keypoints_2d"] = io::from_tensor(kp);
    z["scores"] = io::from_tensor(sc);
    z["image_size"] = io::from_vector(std::vector<int64_t>{width, height});
    io::save_npz(path, z, false, existing);
    return;
  }
  io::AtomicFile file(path, existing);
  std::string out;
  char buf[48];
  auto number = [&](double v) {
    std::snprintf(buf, sizeof buf, "%.2f", v);
    out += buf;
  };
  auto flush_chunk = [&](bool force) {
    if (force || out.size() > (1u << 20)) file.write(out), out.clear();
  };
  if (fmt == "json") {
    json::Value root = json::Value::object();
    root["units"] = "mm";
    root["root_relative"] = true;
    root["skeleton"] = "h36m-17";
    json::Value jn = json::Value::array();
    for (const auto& n : names) jn.push_back(n);
    root["joint_names"] = jn;
    root["action"] = action;
    root["image_size"] = json::Value::array({width, height});
    json::Value ids = json::Value::array();
    for (int64_t id : m.track_ids) ids.push_back(id);
    root["track_ids"] = ids;
    json::Value jnotes = json::Value::array();
    for (const auto& n : notes) jnotes.push_back(n);
    root["notes"] = jnotes;
    root["frames"] = json::Value::array();
    std::string head = json::dump(root);
    FINEPOSE_CHECK(head.size() > 3 && head.compare(head.size() - 3, 3, "[]}") == 0, "save_multi_lifted: internal error in the JSON header");
    out = head.substr(0, head.size() - 2);
    bool first = true;
    for (int64_t f = 0; f < F; ++f)
      for (int64_t p = 0; p < P; ++p) {
        if (!m.present.data()[p * F + f]) continue;
        out += first ? "{\"frame\": " : ", {\"frame\": ";
        first = false;
        out += std::to_string(m.first_frame + f) + ", \"person\": " + std::to_string(m.track_ids[size_t(p)]) + ", \"pose\": [";
        for (int j = 0; j < 17; ++j) {
          const float* q = m.poses.data() + ((p * F + f) * 17 + j) * 3;
          out += j ? ", [" : "[";
          for (int c = 0; c < 3; ++c) {
            if (c) out += ", ";
            number(double(q[c]));
          }
          out += "]";
        }
        out += "]";
        if (m.root.defined()) {
          const float* t = m.root.data() + (p * F + f) * 3;
          out += ", \"root_3d\": [";
          for (int c = 0; c < 3; ++c) {
            if (c) out += ", ";
            out += json::detail::format_double(double(t[c]));
          }
          out += "]";
        }
        out += "}";
        flush_chunk(false);
      }
    out += "]}\n";
    flush_chunk(true);
    file.commit();
    return;
  }
  out = "frame,person";
  for (const auto& n : names) out += "," + n + "_x," + n + "_y," + n + "_z";
  if (m.root.defined()) out += ",root_camera_x,root_camera_y,root_camera_z";
  out += "\n";
  for (int64_t f = 0; f < F; ++f)
    for (int64_t p = 0; p < P; ++p) {
      if (!m.present.data()[p * F + f]) continue;
      out += std::to_string(m.first_frame + f) + "," + std::to_string(m.track_ids[size_t(p)]);
      for (int i = 0; i < 51; ++i) out += ',', number(double(m.poses.data()[(p * F + f) * 51 + i]));
      if (m.root.defined())
        for (int c = 0; c < 3; ++c) out += ',', number(double(m.root.data()[(p * F + f) * 3 + c]));
      out += "\n";
      flush_chunk(false);
    }
  flush_chunk(true);
  file.commit();
}

}  // namespace finepose::wild
