#include <doctest/doctest.h>

#include <cmath>

#include "finepose/pose/camera.hpp"
#include "test_pose_reference.hpp"

using namespace finepose;
using namespace finepose::pose;

namespace {
void check_close(const TensorD& got, const pose_test::RefArray& want, double tol) {
  REQUIRE(got.shape() == want.shape);
  auto g = got.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - want.values[i]));
  CHECK(worst <= tol);
}
}  // namespace

TEST_CASE("hand-computed camera transforms") {
  CameraExtrinsics e;
  e.translation = {10, 20, 30};
  auto x = TensorD::from({1, 3}, {1, 2, 3});
  auto c = world_to_camera(x, e);
  CHECK(c(0, 0) == doctest::Approx(-9));
  CHECK(c(0, 1) == doctest::Approx(-18));
  CHECK(c(0, 2) == doctest::Approx(-27));
  // 90 degrees about z: x axis -> y axis
  e.orientation = {std::sqrt(0.5), 0, 0, std::sqrt(0.5)};
  e.translation = {0, 0, 0};
  auto r = camera_to_world(TensorD::from({1, 3}, {1, 0, 0}), e);
  CHECK(r(0, 0) == doctest::Approx(0).epsilon(1e-12));
  CHECK(r(0, 1) == doctest::Approx(1));
  CHECK(r(0, 2) == doctest::Approx(0).epsilon(1e-12));
  auto back = world_to_camera(r, e);
  CHECK(back(0, 0) == doctest::Approx(1));
  CHECK(std::abs(back(0, 1)) < 1e-12);

  CameraIntrinsics k;
  k.fx = 100, k.fy = 200, k.cx = 10, k.cy = 20;
  auto p = TensorD::from({1, 1, 3}, {0.5, -0.25, 2});
  auto uv = project_to_2d(p, k);
  CHECK(uv.shape() == Shape{1, 1, 2});
  CHECK(uv(0, 0, 0) == doctest::Approx(35));
  CHECK(uv(0, 0, 1) == doctest::Approx(-5));
  k.k1 = 0.1;  // r2 = 0.078125, radial = 1.0078125
  uv = project_to_2d(p, k);
  CHECK(uv(0, 0, 0) == doctest::Approx(100 * 0.25 * 1.0078125 + 10));
  CHECK(uv(0, 0, 1) == doctest::Approx(200 * -0.125 * 1.0078125 + 20));
  uv = project_to_2d_linear(p, k);  // ignores distortion
  CHECK(uv(0, 0, 0) == doctest::Approx(35));
  k.k1 = 0, k.p1 = 0.01, k.p2 = -0.02;  // tan = 0.0025 + 0.0025 = 0.005
  uv = project_to_2d(p, k);
  CHECK(uv(0, 0, 0) == doctest::Approx(100 * (0.25 * 1.005 + 0.01 * 0.078125) + 10));
  CHECK(uv(0, 0, 1) == doctest::Approx(200 * (-0.125 * 1.005 - 0.02 * 0.078125) + 20));

  // screen normalisation: the image centre goes to (0, 0), and back
  auto px = TensorF::from({2, 2}, {500, 501, 0, 1002});
  auto n = normalize_screen_coordinates(px, 1000, 1002);
  CHECK(n(0, 0) == doctest::Approx(0));
  CHECK(n(0, 1) == doctest::Approx(0).epsilon(1e-6));
  CHECK(n(1, 0) == doctest::Approx(-1));
  CHECK(n(1, 1) == doctest::Approx(1.002));
  auto px2 = image_coordinates(n, 1000, 1002);
  CHECK(px2(1, 1) == doctest::Approx(1002));
  CHECK(px2(0, 0) == doctest::Approx(500));

  CHECK_THROWS_AS(project_to_2d(TensorD::from({1, 2}, {1, 2}), k), Error);
  CHECK_THROWS_AS(normalize_screen_coordinates(TensorD::from({1, 3}, {1, 2, 3}), 10, 10), Error);
  CHECK_THROWS_AS(normalize_screen_coordinates(TensorD::from({1, 2}, {1, 2}), 0, 10), Error);
  CHECK_THROWS_AS(k.normalized(), Error);  // no image size
}

TEST_CASE("Human3.6M and 3DHP camera tables") {
  Camera c = h36m_camera("S9", 2);
  CHECK(c.id == "58860488");
  CHECK(c.intrinsics.res_w == 1000);
  CHECK(c.extrinsics.translation[2] == doctest::Approx(1528.387939453125));
  double qn = 0;
  for (double v : c.extrinsics.orientation) qn += v * v;
  CHECK(qn == doctest::Approx(1).epsilon(1e-6));
  for (const char* s : {"S1", "S5", "S6", "S7", "S8", "S9", "S11"})
    for (int i = 0; i < 4; ++i) CHECK_NOTHROW(h36m_camera(s, i));
  CHECK_THROWS_AS(h36m_camera("S2", 0), Error);
  CHECK_THROWS_AS(h36m_camera("S1", 4), Error);
  // 3DHP: 7.32506 mm focal length on a 10 mm, 2048 px sensor
  auto k = mpi_inf_3dhp_test_intrinsics(3);
  CHECK(k.fx == doctest::Approx(7.32506 * 204.8));
  CHECK(k.cx == doctest::Approx(-0.0322884 * 204.8 + 1024));
  auto k5 = mpi_inf_3dhp_test_intrinsics(5);
  CHECK(k5.res_w == 1920);
  CHECK(k5.fy == doctest::Approx(8.770747185 * 1080 / 5.625));
  CHECK(k5.cy == doctest::Approx(0.104899704 * 1080 / 5.625 + 540));
  CHECK_THROWS_AS(mpi_inf_3dhp_test_intrinsics(7), Error);
}

TEST_CASE("cameras against the numpy reference") {
  std::string why;
  auto ref = pose_test::reference(&why);
  if (!ref) {
    MESSAGE(why);
    return;
  }
  const auto& R = *ref;
  Camera c = h36m_camera("S1", 0);
  auto world = R.at("cam_world").tensor();
  auto cam = world_to_camera(world, c.extrinsics);
  check_close(cam, R.at("cam_camera"), 1e-6);
  check_close(camera_to_world(cam, c.extrinsics), R.at("cam_back"), 1e-6);
  // normalised intrinsics as h36m_dataset.py builds them
  auto kn = c.intrinsics.normalized().as_vector();
  for (int i = 0; i < 9; ++i) CHECK(kn[i] == doctest::Approx(R.at("cam_intr_norm")[i]).epsilon(1e-12));
  auto camera_pts = R.at("cam_camera").tensor();
  check_close(project_to_2d(camera_pts, c.intrinsics), R.at("cam_proj_px"), 1e-7);
  check_close(project_to_2d(camera_pts, c.intrinsics.normalized()), R.at("cam_proj_norm"), 1e-10);
  check_close(project_to_2d_linear(camera_pts, c.intrinsics), R.at("cam_proj_lin_px"), 1e-7);
  check_close(normalize_screen_coordinates(project_to_2d(camera_pts, c.intrinsics), 1000, 1002),
              R.at("cam_proj_norm_from_px"), 1e-10);
  check_close(project_to_2d(R.at("cam_wide").tensor(), c.intrinsics), R.at("cam_wide_proj"), 1e-7);
}
