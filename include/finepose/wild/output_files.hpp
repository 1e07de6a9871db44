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

inline void save_lifted(const std::string& path, const LiftedSequence& s) {
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
    io::save_npz(path, m);
    return;
  }
  // JSON and CSV are written frame by frame into a temporary file (renamed into
  // place at the end): memory stays bounded by a chunk, whatever the length.
  io::AtomicFile file(path);
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

}  // namespace finepose::wild
