#pragma once
// The test clips of each benchmark, as `finepose eval --dataset` reads them:
//   h36m:     VideoPose3D's data_3d_h36m.npz + data_2d_h36m_{cpn_ft_h36m_dbb,gt}.npz (S9, S11)
//   humaneva: humaneva_i_h36m17.npz (Validate: Walking, Jog, Box x S1-S3 x C1-C3)
//   3dhp:     TS1-TS6/annot_data.mat
// and the table row each clip is counted in (action; HumanEva: action and subject).
#include <filesystem>
#include <string>
#include <vector>

#include "finepose/data/eval_clip.hpp"
#include "finepose/data/h36m.hpp"
#include "finepose/data/humaneva.hpp"
#include "finepose/data/mpi_inf_3dhp.hpp"
#include "finepose/data/videopose3d.hpp"

namespace finepose::eval {

// keypoints: "cpn" or "gt", the Human3.6M 2D input (the other datasets have ground-truth 2D).
inline std::vector<data::EvalClip> load_test_clips(const std::string& dataset, const std::string& dir,
                                                   const std::string& keypoints = "cpn") {
  namespace fs = std::filesystem;
  if (dataset == "h36m") {
    if (keypoints != "cpn" && keypoints != "gt") fail("eval: keypoints must be cpn or gt, got '", keypoints, "'");
    const std::string f3 = dir + "/data_3d_h36m.npz";
    const std::string f2 = dir + (keypoints == "gt" ? "/data_2d_h36m_gt.npz" : "/data_2d_h36m_cpn_ft_h36m_dbb.npz");
    for (const auto& f : {f3, f2})
      if (!fs::exists(f)) fail("eval: '", f, "' not found (--data must hold VideoPose3D's Human3.6M files, see README)");
    return data::h36m_eval_clips(data::load_positions_3d(f3), data::load_keypoints_2d(f2));
  }
  if (dataset == "humaneva") {
    const std::string f = fs::is_directory(dir) ? dir + "/humaneva_i_h36m17.npz" : dir;
    if (!fs::exists(f)) fail("eval: '", f, "' not found (--data: a directory with humaneva_i_h36m17.npz, or the file)");
    return data::humaneva_eval_clips(f);
  }
  if (dataset == "3dhp") return data::mpi_inf_3dhp_eval_clips(dir);
  fail("eval: --dataset must be h36m, 3dhp or humaneva, got '", dataset, "'");
}

inline std::string table_row(const std::string& dataset, const data::EvalClip& c) {
  return dataset == "humaneva" ? c.action + " " + c.subject : c.action;
}

}  // namespace finepose::eval
