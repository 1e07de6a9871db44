#pragma once
// VideoPose3D's Human3.6M files (the ones FinePOSE, D3DP and MixSTE read):
//   data_3d_h36m.npz                    positions_3d: {subject: {action: (F, 32, 3) float32, metres, world}}
//   data_2d_h36m_cpn_ft_h36m_dbb.npz /
//   data_2d_h36m_gt.npz                 positions_2d: {subject: {action: [4 x (F, 17, 2) pixels]}}
//                                       metadata: {'layout_name', 'num_joints', 'keypoints_symmetry'}
// Each is a 0-d object array holding a pickled dict; see npz_object.hpp.
// Positions are converted to millimetres here, the unit of everything else in
// finepose (the Human3.6M cameras in pose/camera.hpp are in millimetres).
#include <map>
#include <string>
#include <vector>

#include "finepose/core/tensor.hpp"
#include "finepose/data/npz_object.hpp"
#include "finepose/io/ndarray.hpp"

namespace finepose::data {

// subject -> action -> value, in sorted order.
template <class T>
using SubjectActionMap = std::map<std::string, std::map<std::string, T>>;

struct KeypointMetadata {
  std::string layout_name;
  int num_joints = 0;
  std::vector<int> left, right;  // keypoints_symmetry
};

struct Keypoints2d {
  KeypointMetadata metadata;
  SubjectActionMap<std::vector<TensorF>> positions;  // one (F, J, 2) pixel array per camera
};

namespace vp3d_detail {

inline std::string key_string(const pickle::Value& k, const std::string& what) {
  if (k.is_string()) return k.as_string();
  if (k.is_bytes()) return k.as_bytes();
  fail(what, ": dict key is a ", k.describe(), ", expected a string");
}

inline TensorF float_array(const pickle::Value& v, const std::string& what, int rank, std::int64_t last) {
  TensorF t = io::to_tensor<float>(pickle::to_ndarray(v, what), what);
  if (t.dim() != rank || t.shape().back() != last)
    fail(what, ": shape ", shape_str(t.shape()), ", expected ", rank, " dimensions ending in ", last);
  return t;
}

template <class F>
void for_each_subject_action(const pickle::Value& top, const std::string& what, F&& f) {
  if (!top.is_dict()) fail(what, ": is a ", top.describe(), ", expected a dict of subjects");
  for (const auto& s : top.as_dict().entries) {
    const std::string subject = key_string(s.first, what);
    if (!s.second.is_dict()) fail(what, ": subject '", subject, "' is a ", s.second.describe(), ", expected a dict of actions");
    for (const auto& a : s.second.as_dict().entries) {
      const std::string action = key_string(a.first, what);
      f(subject, action, a.second, what + "[" + subject + "][" + action + "]");
    }
  }
}

inline std::vector<int> int_list(const pickle::Value& v, const std::string& what) {
  std::vector<int> out;
  if (pickle::is_ndarray(v)) {
    for (long long x : io::to_vector<long long>(pickle::to_ndarray(v, what), what)) out.push_back(int(x));
    return out;
  }
  for (const auto& x : v.items(what.c_str())) out.push_back(int(x.as_int(what.c_str())));
  return out;
}

}  // namespace vp3d_detail

// positions_3d of data_3d_h36m.npz, in millimetres: (F, 32, 3) per subject/action.
inline SubjectActionMap<TensorF> load_positions_3d(const std::string& path) {
  const io::ZipReader zip = io::ZipReader::open(path);
  const pickle::Value top = npz_object(zip, "positions_3d");
  SubjectActionMap<TensorF> out;
  vp3d_detail::for_each_subject_action(top, path + ": positions_3d", [&](const std::string& s, const std::string& a,
                                                                           const pickle::Value& v, const std::string& w) {
    TensorF t = vp3d_detail::float_array(v, w, 3, 3);
    float* p = t.data();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] *= 1000.0f;  // metres -> mm
    out[s][a] = std::move(t);
  });
  if (out.empty()) fail(path, ": positions_3d is empty");
  return out;
}

// positions_2d and metadata of data_2d_h36m_*.npz (pixels).
inline Keypoints2d load_keypoints_2d(const std::string& path) {
  const io::ZipReader zip = io::ZipReader::open(path);
  Keypoints2d k;
  const pickle::Value meta = npz_object(zip, "metadata");
  const std::string mw = path + ": metadata";
  if (!meta.is_dict()) fail(mw, ": is a ", meta.describe(), ", expected a dict");
  const pickle::Dict& md = meta.as_dict();
  if (md.has("layout_name")) k.metadata.layout_name = md.at("layout_name").as_string("layout_name");
  if (md.has("num_joints")) k.metadata.num_joints = int(md.at("num_joints").as_int("num_joints"));
  if (md.has("keypoints_symmetry")) {
    const auto& sym = md.at("keypoints_symmetry").items("keypoints_symmetry");
    if (sym.size() != 2) fail(mw, ": keypoints_symmetry has ", sym.size(), " entries, expected [left, right]");
    k.metadata.left = vp3d_detail::int_list(sym[0], mw + " left");
    k.metadata.right = vp3d_detail::int_list(sym[1], mw + " right");
  }
  const pickle::Value top = npz_object(zip, "positions_2d");
  vp3d_detail::for_each_subject_action(top, path + ": positions_2d", [&](const std::string& s, const std::string& a,
                                                                           const pickle::Value& v, const std::string& w) {
    std::vector<TensorF> cams;
    const auto& items = v.items(w.c_str());
    for (std::size_t c = 0; c < items.size(); ++c) {
      TensorF t = vp3d_detail::float_array(items[c], w + "[" + std::to_string(c) + "]", 3, 2);
      if (k.metadata.num_joints > 0 && t.size(1) != k.metadata.num_joints)
        fail(w, "[", c, "]: ", t.size(1), " joints, metadata says ", k.metadata.num_joints);
      cams.push_back(std::move(t));
    }
    k.positions[s][a] = std::move(cams);
  });
  if (k.positions.empty()) fail(path, ": positions_2d is empty");
  return k;
}

}  // namespace finepose::data
