#pragma once
// MPI-INF-3DHP test annotations (TS1..TS6/annot_data.mat; MATLAB v5 or v7.3,
// the official files are v7.3 = HDF5) read with libmatio, and the test clips
// the FinePOSE 3DHP evaluation builds from them.
//
// Optional: compiled when CMake finds matio (pkg-config), which defines
// FINEPOSE_HAVE_MATIO and links it. Without it the readers exist but throw a
// clear error (install libmatio-dev and reconfigure).
//
// MATLAB keeps arrays column-major: annot2 is 2 x 17 x 1 x F in MATLAB, which
// is exactly a row-major (F, 1, 17, 2) block, so no transposition is needed.
//   annot2       -> (F, 17, 2) pixels        annot3, univ_annot3 -> (F, 17, 3) mm
//   valid_frame  -> F flags                  activity_annotation -> F ids 1..7
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/data/eval_clip.hpp"
#include "finepose/data/h36m.hpp"
#include "finepose/pose/camera.hpp"
#include "finepose/pose/skeleton.hpp"

#ifdef FINEPOSE_HAVE_MATIO
#include <matio.h>
#endif

namespace finepose::data {

inline constexpr bool have_mat_reader() {
#ifdef FINEPOSE_HAVE_MATIO
  return true;
#else
  return false;
#endif
}

// A numeric MATLAB variable: MATLAB dims and the values in column-major order, as double.
struct MatArray {
  std::vector<std::size_t> dims;
  std::vector<double> values;
};

#ifdef FINEPOSE_HAVE_MATIO
namespace mat_detail {
template <class T>
void append(const void* p, std::size_t n, std::vector<double>& out) {
  const T* t = static_cast<const T*>(p);
  for (std::size_t i = 0; i < n; ++i) out.push_back(double(t[i]));
}
}  // namespace mat_detail
#endif

// Every named numeric variable of a .mat file (other variables, e.g. cells, are not touched).
inline std::vector<MatArray> read_mat_arrays(const std::string& path, const std::vector<std::string>& names) {
#ifdef FINEPOSE_HAVE_MATIO
  std::unique_ptr<mat_t, int (*)(mat_t*)> mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY), Mat_Close);
  if (!mat) fail(path, ": cannot open as a MATLAB .mat file (missing, or not MATLAB v4/v5/v7.3)");
  std::vector<MatArray> out;
  for (const auto& name : names) {
    std::unique_ptr<matvar_t, void (*)(matvar_t*)> v(Mat_VarRead(mat.get(), name.c_str()), Mat_VarFree);
    if (!v) fail(path, ": no variable '", name, "'");
    if (v->isComplex) fail(path, ": variable '", name, "' is complex");
    if (v->rank < 1 || !v->dims) fail(path, ": variable '", name, "' has no dimensions");
    MatArray a;
    std::size_t n = 1;
    for (int d = 0; d < v->rank; ++d) {
      a.dims.push_back(v->dims[d]);
      if (v->dims[d] && n > (std::size_t(1) << 40) / v->dims[d]) fail(path, ": variable '", name, "' is too large");
      n *= v->dims[d];
    }
    if (n && !v->data) fail(path, ": variable '", name, "' has no data");
    a.values.reserve(n);
    switch (v->class_type) {
      case MAT_C_DOUBLE: mat_detail::append<double>(v->data, n, a.values); break;
      case MAT_C_SINGLE: mat_detail::append<float>(v->data, n, a.values); break;
      case MAT_C_INT8: mat_detail::append<std::int8_t>(v->data, n, a.values); break;
      case MAT_C_UINT8: mat_detail::append<std::uint8_t>(v->data, n, a.values); break;
      case MAT_C_INT16: mat_detail::append<std::int16_t>(v->data, n, a.values); break;
      case MAT_C_UINT16: mat_detail::append<std::uint16_t>(v->data, n, a.values); break;
      case MAT_C_INT32: mat_detail::append<std::int32_t>(v->data, n, a.values); break;
      case MAT_C_UINT32: mat_detail::append<std::uint32_t>(v->data, n, a.values); break;
      case MAT_C_INT64: mat_detail::append<std::int64_t>(v->data, n, a.values); break;
      case MAT_C_UINT64: mat_detail::append<std::uint64_t>(v->data, n, a.values); break;
      default: fail(path, ": variable '", name, "' is not a numeric array (MATLAB class ", int(v->class_type), ")");
    }
    // v5 logical arrays are uint8 with the logical flag: the values are 0/1 either way.
    out.push_back(std::move(a));
  }
  return out;
#else
  (void)names;
  fail(path, ": this build has no MATLAB .mat reader (libmatio was not found when configuring; "
             "install libmatio-dev and re-run cmake)");
#endif
}

struct Mpi3dhpAnnotations {
  TensorF annot2;       // (F, 17, 2) pixels
  TensorF annot3;       // (F, 17, 3) mm, camera frame
  TensorF univ_annot3;  // (F, 17, 3) mm, scaled to the universal (H36M-height) skeleton
  std::vector<bool> valid_frame;
  std::vector<int> activity;  // 1..7, see mpi_inf_3dhp_activity_name
  std::int64_t frames() const { return annot2.defined() ? annot2.size(0) : 0; }
};

inline std::string mpi_inf_3dhp_activity_name(int id) {
  static const char* names[] = {"Standing/Walking", "Exercising", "Sitting", "Reaching/Crouching",
                                "On The Floor", "Sports", "Miscellaneous"};
  if (id < 1 || id > 7) fail("MPI-INF-3DHP activity id ", id, " outside 1..7");
  return names[id - 1];
}

namespace mat_detail {
// MATLAB C x 17 x [1 x] F -> (F, 17, C).
inline TensorF joints_array(const MatArray& a, std::size_t C, const std::string& what) {
  if (a.dims.size() < 3 || a.dims[0] != C || a.dims[1] != 17)
    fail(what, ": MATLAB dims ", shape_str(Shape(a.dims.begin(), a.dims.end())), ", expected ", C, " x 17 x [1 x] F");
  std::int64_t F = 1;
  for (std::size_t d = 2; d < a.dims.size(); ++d) F *= std::int64_t(a.dims[d]);
  if (a.dims.size() == 4 && a.dims[2] != 1) fail(what, ": third MATLAB dimension is ", a.dims[2], ", expected 1");
  TensorF t({F, 17, std::int64_t(C)});
  for (std::size_t i = 0; i < a.values.size(); ++i) t.data()[i] = float(a.values[i]);
  return t;
}
inline std::int64_t vector_length(const MatArray& a) {
  std::int64_t n = 1;
  for (auto d : a.dims) n *= std::int64_t(d);
  return n;
}
}  // namespace mat_detail

inline Mpi3dhpAnnotations load_mpi_inf_3dhp_annotations(const std::string& path) {
  const auto arr = read_mat_arrays(path, {"annot2", "annot3", "univ_annot3", "valid_frame", "activity_annotation"});
  Mpi3dhpAnnotations r;
  r.annot2 = mat_detail::joints_array(arr[0], 2, path + ": annot2");
  r.annot3 = mat_detail::joints_array(arr[1], 3, path + ": annot3");
  r.univ_annot3 = mat_detail::joints_array(arr[2], 3, path + ": univ_annot3");
  const std::int64_t F = r.annot2.size(0);
  if (r.annot3.size(0) != F || r.univ_annot3.size(0) != F)
    fail(path, ": annot2 / annot3 / univ_annot3 have ", F, " / ", r.annot3.size(0), " / ", r.univ_annot3.size(0), " frames");
  if (mat_detail::vector_length(arr[3]) != F) fail(path, ": valid_frame has ", arr[3].values.size(), " entries for ", F, " frames");
  if (mat_detail::vector_length(arr[4]) != F)
    fail(path, ": activity_annotation has ", arr[4].values.size(), " entries for ", F, " frames");
  for (double v : arr[3].values) r.valid_frame.push_back(v != 0);
  for (double v : arr[4].values) {
    if (v != double(int(v))) fail(path, ": activity_annotation holds a non-integer ", v);
    r.activity.push_back(int(v));
  }
  return r;
}

// Test sequences TS1..TS6 of DIR (DIR/TSn/annot_data.mat) -> one clip each, as
// main_3dhp.py: 2D = annot2 normalised with the sequence's image size, 3D =
// univ_annot3 made relative to the 3DHP root (joint 14), invalid frames kept in
// the clip (the model sees them) but masked from scoring.
// With no explicit list, the sequences present under DIR are used (at least one).
inline std::vector<EvalClip> mpi_inf_3dhp_eval_clips(const std::string& dir, std::vector<int> sequences = {}) {
  if (sequences.empty()) {
    for (int ts = 1; ts <= 6; ++ts)
      if (std::filesystem::exists(dir + "/TS" + std::to_string(ts) + "/annot_data.mat")) sequences.push_back(ts);
    if (sequences.empty()) fail("MPI-INF-3DHP: no TS1..TS6/annot_data.mat under '", dir, "'");
  }
  std::vector<EvalClip> clips;
  for (int ts : sequences) {
    const std::string path = dir + "/TS" + std::to_string(ts) + "/annot_data.mat";
    const Mpi3dhpAnnotations a = load_mpi_inf_3dhp_annotations(path);
    const pose::CameraIntrinsics k = pose::mpi_inf_3dhp_test_intrinsics(ts);
    EvalClip c;
    c.name = "TS" + std::to_string(ts);
    c.subject = c.name;
    c.action = c.name;  // 3DHP tables are per sequence
    c.camera = 0;
    c.keypoints_2d = pose::normalize_screen_coordinates(a.annot2, k.res_w, k.res_h);
    split_root(a.univ_annot3, c.target, c.root, pose::k3dhpRootJoint);
    c.intrinsics = k.normalized();
    c.valid = a.valid_frame;
    clips.push_back(std::move(c));
  }
  return clips;
}

}  // namespace finepose::data
