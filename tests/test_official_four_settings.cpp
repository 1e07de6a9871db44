// The four FinePOSE evaluation settings (J-Agg, P-Agg, J-Best, P-Best) under
// Protocol #1 (MPJPE) and #2 (P-MPJPE) against the OFFICIAL test-time code's
// outputs on a small case (tests/fixtures/eval/official_four_settings.npz,
// written by tools/reference/official_eval_outputs.py, which runs the
// official common/loss.py and project_to_2d as main.py evaluate() calls them).
// Every step and setting must agree to 1e-4 mm. The official numbers are in
// metres; everything is compared in millimetres.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "finepose/io/npz.hpp"
#include "finepose/pose/aggregation.hpp"
#include "finepose/pose/camera.hpp"
#include "finepose/pose/metrics.hpp"
#include "finepose/pose/metrics_report.hpp"

using namespace finepose;
using namespace finepose::pose;

namespace {

constexpr double kTolMm = 1e-4;
const char* const kSettings[] = {"j_best", "p_best", "p_agg", "j_agg"};

struct Case {
  TensorD predicted;    // (B, K, H, F, J, 3) metres, root 0
  TensorD inputs_3d;    // (B, F, J, 3) metres, root 0
  TensorD inputs_traj;  // (B, F, 1, 3) metres
  TensorD inputs_2d;    // (B, F, J, 2) normalised
  TensorD reproject_2d; // (B, K, H, F, J, 2) official projection
  CameraIntrinsics cam;
  std::int64_t batch_size = 0;
  io::NpzMap npz;
  std::int64_t B = 0, K = 0, H = 0, F = 0, J = 0;
};

Case load_case() {
  const std::string path = std::string(FINEPOSE_FIXTURE_DIR) + "/eval/official_four_settings.npz";
  Case c;
  c.npz = io::load_npz(path);
  auto get = [&](const std::string& k) {
    auto it = c.npz.find(k);
    if (it == c.npz.end()) fail(path, ": no array '", k, "'");
    return io::to_tensor<double>(it->second, k);
  };
  c.predicted = get("predicted");
  c.inputs_3d = get("inputs_3d");
  c.inputs_traj = get("inputs_traj");
  c.inputs_2d = get("inputs_2d");
  c.reproject_2d = get("reproject_2d");
  const TensorD cam = get("cam");
  REQUIRE(cam.numel() == 9);
  std::array<double, 9> v{};
  for (int i = 0; i < 9; ++i) v[std::size_t(i)] = cam.data()[i];
  c.cam = CameraIntrinsics::from_vector(v);
  c.batch_size = io::to_tensor<std::int64_t>(c.npz.at("batch_size"), "batch_size").data()[0];
  REQUIRE(c.predicted.dim() == 6);
  c.B = c.predicted.size(0), c.K = c.predicted.size(1), c.H = c.predicted.size(2);
  c.F = c.predicted.size(3), c.J = c.predicted.size(4);
  REQUIRE(c.batch_size >= 1);
  return c;
}

// Clips [b0, b1) at step t, flattened to frames: hyps (N, H, J, 3), target
// (N, J, 3), 2D input (N, J, 2), root (N, 1, 3), with N = (b1 - b0) * F.
// `scale` converts metres (1000: millimetres).
struct Slice {
  TensorD hyps, target, kp, root;
};

Slice slice(const Case& c, std::int64_t b0, std::int64_t b1, std::int64_t t, double scale) {
  const std::int64_t N = (b1 - b0) * c.F, H = c.H, J = c.J;
  Slice s{TensorD({N, H, J, 3}), TensorD({N, J, 3}), TensorD({N, J, 2}), TensorD({N, 1, 3})};
  for (std::int64_t b = b0; b < b1; ++b)
    for (std::int64_t f = 0; f < c.F; ++f) {
      const std::int64_t n = (b - b0) * c.F + f;
      for (std::int64_t j = 0; j < J; ++j) {
        for (int d = 0; d < 3; ++d) {
          for (std::int64_t h = 0; h < H; ++h) s.hyps(n, h, j, d) = scale * c.predicted(b, t, h, f, j, d);
          s.target(n, j, d) = scale * c.inputs_3d(b, f, j, d);
        }
        for (int d = 0; d < 2; ++d) s.kp(n, j, d) = c.inputs_2d(b, f, j, d);
      }
      for (int d = 0; d < 3; ++d) s.root(n, 0, d) = scale * c.inputs_traj(b, f, 0, d);
    }
  return s;
}

double official(const Case& c, const std::string& key, std::int64_t row, std::int64_t col) {
  const TensorD a = io::to_tensor<double>(c.npz.at(key), key);
  return a.dim() == 1 ? a.data()[col] : a.data()[row * a.size(1) + col];
}

}  // namespace

TEST_CASE("official four settings: our camera projection equals the official project_to_2d") {
  const Case c = load_case();
  double worst = 0;
  for (std::int64_t b = 0; b < c.B; ++b)
    for (std::int64_t t = 0; t < c.K; ++t)
      for (std::int64_t h = 0; h < c.H; ++h)
        for (std::int64_t f = 0; f < c.F; ++f)
          for (std::int64_t j = 0; j < c.J; ++j) {
            double p[3], uv[2];
            for (int d = 0; d < 3; ++d) p[d] = c.predicted(b, t, h, f, j, d) + c.inputs_traj(b, f, 0, d);
            project_point(c.cam, Projection::Distorted, p, uv);
            for (int d = 0; d < 2; ++d) worst = std::max(worst, std::abs(uv[d] - c.reproject_2d(b, t, h, f, j, d)));
          }
  MESSAGE("largest |ours - official| reprojection difference (normalised units, official is float32): " << worst);
  CHECK(worst < 1e-6);
}

TEST_CASE("official four settings: each evaluation batch, each DDIM step, both protocols") {
  const Case c = load_case();
  const std::int64_t nb = (c.B + c.batch_size - 1) / c.batch_size;
  REQUIRE(io::to_tensor<double>(c.npz.at("official_p1_j_best")).size(0) == nb);
  double worst = 0;
  for (std::int64_t bc = 0; bc < nb; ++bc)
    for (std::int64_t t = 0; t < c.K; ++t) {
      const Slice s = slice(c, bc * c.batch_size, std::min(c.B, (bc + 1) * c.batch_size), t, 1.0);
      const TensorD e1 = hypothesis_joint_errors(s.hyps, s.target, false);
      const TensorD e2 = hypothesis_joint_errors(s.hyps, s.target, true);
      const IndexTensor jagg = joint_aggregate_choice(s.hyps, s.kp, s.root, c.cam, Projection::Distorted, 0);
      const TensorD mean_pose = pose_aggregate(s.hyps);
      const double ours[2][4] = {
          {joint_best_error(e1), pose_best_error(e1, 0), mpjpe(mean_pose, s.target), selected_joint_error(e1, jagg)},
          {joint_best_error(e2), pose_best_error(e2, 0), p_mpjpe(mean_pose, s.target), selected_joint_error(e2, jagg)},
      };
      for (int p = 0; p < 2; ++p)
        for (int k = 0; k < 4; ++k) {
          const std::string key = std::string("official_p") + char('1' + p) + "_" + kSettings[k];
          const double want_mm = 1000.0 * official(c, key, bc, t), got_mm = 1000.0 * ours[p][k];
          INFO("batch " << bc << " step " << t << " " << key << ": ours " << got_mm << " mm, official " << want_mm << " mm");
          CHECK(std::abs(got_mm - want_mm) <= kTolMm);
          worst = std::max(worst, std::abs(got_mm - want_mm));
        }
    }
  MESSAGE("largest |ours - official| over batches, steps, settings, protocols: " << worst << " mm");
}

TEST_CASE("official four settings: compute_metrics (mm) reproduces evaluate()'s totals per step") {
  const Case c = load_case();
  double worst = 0;
  for (std::int64_t t = 0; t < c.K; ++t) {
    const Slice s = slice(c, 0, c.B, t, 1000.0);  // millimetres, as the metrics command takes them
    MetricsInput in;
    in.pred = s.hyps;
    in.target = s.target;
    in.keypoints_2d = s.kp;
    in.intrinsics = c.cam;
    in.root = s.root;
    MetricsOptions opt;
    opt.pose_best_group_frames = c.batch_size * c.F;  // P-Best picks one hypothesis per evaluation batch
    const MetricsReport rep = compute_metrics(in, opt);
    for (int k = 0; k < 4; ++k) {
      const MetricValues& m = rep.at(kSettings[k]);
      const double got[2] = {m.mpjpe, m.p_mpjpe};
      for (int p = 0; p < 2; ++p) {
        const std::string key = std::string("evaluate_mm_p") + char('1' + p) + "_" + kSettings[k];
        const double want = official(c, key, 0, t);
        INFO("step " << t << " " << key << ": ours " << got[p] << " mm, official " << want << " mm");
        CHECK(std::abs(got[p] - want) <= kTolMm);
        worst = std::max(worst, std::abs(got[p] - want));
      }
    }
  }
  MESSAGE("largest |ours - official evaluate()| : " << worst << " mm");
}

TEST_CASE("official four settings: the check is sensitive (a wrong reduction is caught)") {
  // P-Best with one hypothesis per frame instead of per batch, and J-Agg with
  // the 3D-nearest choice, must both miss the official numbers by far more
  // than the tolerance, so agreement above is not an accident of the case.
  const Case c = load_case();
  const Slice s = slice(c, 0, std::min(c.B, c.batch_size), 0, 1.0);
  const TensorD e1 = hypothesis_joint_errors(s.hyps, s.target, false);
  CHECK(std::abs(1000.0 * pose_best_error(e1, 1) - 1000.0 * official(c, "official_p1_p_best", 0, 0)) > 1.0);
  CHECK(std::abs(1000.0 * selected_joint_error(e1, oracle_joint_best_choice(s.hyps, s.target)) -
                 1000.0 * official(c, "official_p1_j_agg", 0, 0)) > 1.0);
}
