// Dataset readers: VideoPose3D's pickled npz (fixtures from
// tools/reference/make_eval_fixtures.py, expected values from its numpy
// re-implementation of the official preparation), MPI-INF-3DHP .mat (v5 via
// scipy, v7.3 via h5py), evaluation chunks, and the real HumanEva-I file.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "finepose/data/eval_clip.hpp"
#include "finepose/data/h36m.hpp"
#include "finepose/data/humaneva.hpp"
#include "finepose/data/mpi_inf_3dhp.hpp"
#include "finepose/data/videopose3d.hpp"
#include "finepose/io/npz.hpp"

using namespace finepose;

namespace {
const std::string kDir = std::string(FINEPOSE_FIXTURE_DIR) + "/eval/";

template <class A, class B>
double max_abs_diff(const Tensor<A>& a, const Tensor<B>& b) {
  REQUIRE(a.shape() == b.shape());
  const auto ca = a.contiguous();
  const auto cb = b.contiguous();
  double m = 0;
  for (std::int64_t i = 0; i < ca.numel(); ++i) m = std::max(m, std::abs(double(ca.data()[i]) - double(cb.data()[i])));
  return m;
}

TensorD expected(const std::string& file, const std::string& name) {
  return io::to_tensor<double>(io::load_npz_array(kDir + file, name));
}
}  // namespace

TEST_CASE("VideoPose3D positions_3d: pickled dict of dicts, metres -> mm") {
  const auto p3 = data::load_positions_3d(kDir + "data_3d_h36m.npz");
  REQUIRE(p3.size() == 3);
  REQUIRE(p3.count("S9") == 1);
  CHECK(p3.at("S9").size() == 2);
  const TensorF& w = p3.at("S9").at("Walking 1");
  CHECK(w.shape() == Shape{5, 32, 3});
  CHECK(p3.at("S9").at("Directions").shape() == Shape{3, 32, 3});
  // 0.9 m mean depth -> about 900 mm
  double mean_z = 0;
  for (std::int64_t f = 0; f < 5; ++f)
    for (int j = 0; j < 32; ++j) mean_z += w(f, j, 2) / 160.0;
  CHECK(mean_z > 500);
  CHECK(mean_z < 1300);
}

TEST_CASE("VideoPose3D positions_2d and metadata") {
  const auto k = data::load_keypoints_2d(kDir + "data_2d_h36m_gt.npz");
  CHECK(k.metadata.layout_name == "h36m");
  CHECK(k.metadata.num_joints == 17);
  CHECK(k.metadata.left == std::vector<int>{4, 5, 6, 11, 12, 13});
  CHECK(k.metadata.right == std::vector<int>{1, 2, 3, 14, 15, 16});
  REQUIRE(k.positions.at("S9").at("Walking 1").size() == 4);
  CHECK(k.positions.at("S9").at("Walking 1")[2].shape() == Shape{7, 17, 2});
}

TEST_CASE("Human3.6M test clips match a numpy re-implementation of the official preparation") {
  const auto p3 = data::load_positions_3d(kDir + "data_3d_h36m.npz");
  const auto k = data::load_keypoints_2d(kDir + "data_2d_h36m_gt.npz");
  const auto clips = data::h36m_eval_clips(p3, k);
  // S9: 2 actions, S11: 1 action, 4 cameras each; S1 (training subject) excluded
  REQUIRE(clips.size() == 12);
  const data::EvalClip* c = nullptr;
  for (const auto& x : clips)
    if (x.name == "S9/Walking 1/cam1") c = &x;
  REQUIRE(c != nullptr);
  CHECK(c->action == "Walking");
  CHECK(c->subject == "S9");
  CHECK(c->frames() == 5);  // 2D trimmed to the mocap length
  CHECK(max_abs_diff(c->target, expected("h36m_expected.npz", "target")) < 2e-3);
  CHECK(max_abs_diff(c->root, expected("h36m_expected.npz", "root")) < 2e-3);
  CHECK(max_abs_diff(c->keypoints_2d, expected("h36m_expected.npz", "keypoints_2d")) < 1e-6);
  // the normalised intrinsics project camera mm into the normalised keypoint space
  CHECK(c->intrinsics.fx == doctest::Approx(1149.6756591796875 / 1000 * 2));

  data::H36mSelection sel;
  sel.actions = {"Directions"};
  sel.cameras = {0};
  CHECK(data::h36m_eval_clips(p3, k, sel).size() == 1);
  sel.subjects = {"S5"};
  CHECK_THROWS_WITH_AS(data::h36m_eval_clips(p3, k, sel), doctest::Contains("S5"), Error);
}

TEST_CASE("npz object arrays: clear errors") {
  const io::ZipReader zip = io::ZipReader::open(kDir + "data_3d_h36m.npz");
  CHECK_THROWS_WITH_AS(data::npz_object(zip, "positions_2d"), doctest::Contains("no array 'positions_2d'"), Error);
  const io::ZipReader num = io::ZipReader::open(kDir + "metrics_pred.npz");
  CHECK_THROWS_WITH_AS(data::npz_object(num, "poses_3d"), doctest::Contains("not an object array"), Error);
  CHECK_THROWS_AS(data::load_positions_3d(kDir + "metrics_pred.npz"), Error);
  CHECK_THROWS_AS(data::npy_object_payload(std::vector<std::uint8_t>{1, 2, 3}, "x"), Error);
}

TEST_CASE("action names and joint removal") {
  CHECK(data::action_name_from_key("Walking 1") == "Walking");
  CHECK(data::action_name_from_key("Directions") == "Directions");
  CHECK(data::action_name_from_key("WalkDog 1") == "WalkDog");
  TensorF x({2, 32, 3});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data()[i] = float(i);
  const TensorF y = data::h36m_remove_static_joints(x);
  REQUIRE(y.shape() == Shape{2, 17, 3});
  // kept joints: 0 1 2 3 6 7 8 12 13 14 15 17 18 19 25 26 27
  CHECK(y(1, 4, 0) == x(1, 6, 0));
  CHECK(y(1, 7, 2) == x(1, 12, 2));
  CHECK(y(0, 16, 1) == x(0, 27, 1));
}

TEST_CASE("evaluation chunks as main.py's eval_data_prepare") {
  CHECK(data::eval_chunk_starts(5, 3) == std::vector<std::int64_t>{0, 2});  // last chunk = last 3 frames
  CHECK(data::eval_chunk_starts(6, 3) == std::vector<std::int64_t>{0, 3});
  CHECK(data::eval_chunk_starts(2, 3) == std::vector<std::int64_t>{0});
  CHECK(data::eval_chunk_starts(7, 3) == std::vector<std::int64_t>{0, 3, 4});
  TensorF x({2, 1, 1});
  x.data()[0] = 10, x.data()[1] = 20;
  const TensorF c = data::make_eval_chunks(x, 4);  // shorter than L: replicate the last frame
  REQUIRE(c.shape() == Shape{1, 4, 1, 1});
  CHECK(c.data()[0] == 10);
  CHECK(c.data()[1] == 20);
  CHECK(c.data()[2] == 20);
  CHECK(c.data()[3] == 20);
  TensorF y({5, 1});
  for (int i = 0; i < 5; ++i) y.data()[i] = float(i);
  const TensorF d = data::make_eval_chunks(y, 3);
  REQUIRE(d.shape() == Shape{2, 3, 1});
  const float want[6] = {0, 1, 2, 2, 3, 4};
  for (int i = 0; i < 6; ++i) CHECK(d.data()[i] == want[i]);
  CHECK(data::make_eval_chunks(std::vector<bool>{true, false}, 3) == std::vector<bool>{true, false, false});
  CHECK_THROWS_AS(data::eval_chunk_starts(0, 3), Error);
  CHECK_THROWS_AS(data::eval_chunk_starts(3, 0), Error);
}

TEST_CASE("MPI-INF-3DHP annot_data.mat, MATLAB v5 and v7.3") {
  if (!data::have_mat_reader()) {
    MESSAGE("skipped: built without libmatio (install libmatio-dev and reconfigure)");
    CHECK_THROWS_WITH_AS(data::load_mpi_inf_3dhp_annotations(kDir + "annot_data_v5.mat"),
                         doctest::Contains("libmatio"), Error);
    return;
  }
  for (const std::string file : {"annot_data_v5.mat", "annot_data_v73.mat"}) {
    CAPTURE(file);
    const auto a = data::load_mpi_inf_3dhp_annotations(kDir + file);
    REQUIRE(a.frames() == 6);
    CHECK(max_abs_diff(a.annot2, expected("annot_expected.npz", "annot2")) < 1e-3);
    CHECK(max_abs_diff(a.annot3, expected("annot_expected.npz", "annot3")) < 1e-3);
    CHECK(max_abs_diff(a.univ_annot3, expected("annot_expected.npz", "univ_annot3")) < 1e-3);
    CHECK(a.valid_frame == std::vector<bool>{true, true, false, true, false, true});
    CHECK(a.activity == std::vector<int>{1, 2, 2, 3, 7, 5});
  }
  CHECK_THROWS_WITH_AS(data::load_mpi_inf_3dhp_annotations(kDir + "metrics_pred.npz"), doctest::Contains("MATLAB"), Error);
  CHECK_THROWS_AS(data::load_mpi_inf_3dhp_annotations(kDir + "no_such.mat"), Error);
  CHECK(data::mpi_inf_3dhp_activity_name(5) == "On The Floor");
}

TEST_CASE("HumanEva-I (real data): Validate split, cameras, 2D normalisation") {
  const std::string path = std::string(FINEPOSE_SHARED_DIR) + "/data/humaneva_i_h36m17.npz";
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: ", path, " not found");
    return;
  }
  data::HumanEvaSelection all;
  all.actions.clear();
  const auto clips = data::humaneva_eval_clips(path, all);
  // README frame counts of the Validate split, per camera: S1 1514, S2 1855, S3 1479
  std::map<std::string, std::int64_t> frames;
  for (const auto& c : clips)
    if (c.camera == 0) frames[c.subject] += c.frames();
  CHECK(frames["S1"] == 1514);
  CHECK(frames["S2"] == 1855);
  CHECK(frames["S3"] == 1479);

  const auto eval = data::humaneva_eval_clips(path);
  REQUIRE(!eval.empty());
  const io::NpzMap m = io::load_npz(path);
  const auto cams = data::humaneva_cameras(m, path);
  for (const auto& c : eval) {
    CHECK((c.action == "Walking" || c.action == "Jog" || c.action == "Box"));
    CHECK(c.name.rfind("Validate/", 0) == 0);
    CHECK(c.target(0, 0, 0) == 0);
    CHECK(c.model_action == data::humaneva_default_model_action(c.action));
  }
  // The normalised intrinsics reproject the camera-frame 3D onto the normalised 2D
  // (the README's fitted cameras reproduce pose2d to <= 0.26 px; 1 px = 2/640 here).
  const data::EvalClip& c = eval[eval.size() / 2];
  TensorF abs3d = c.target.clone();
  for (std::int64_t f = 0; f < c.frames(); ++f)
    for (int j = 0; j < 17; ++j)
      for (int d = 0; d < 3; ++d) abs3d(f, j, d) += c.root(f, 0, d);
  const TensorF proj = pose::project_to_2d(abs3d, c.intrinsics);
  CHECK(max_abs_diff(proj, c.keypoints_2d) < 2.0 / 640);
  // pixels back from the normalised coordinates
  const TensorF px = pose::image_coordinates(c.keypoints_2d, 640, 480);
  CHECK(px(0, 0, 0) > 0);
  CHECK(px(0, 0, 0) < 640);
  CHECK(cams.size() == 3);
}
