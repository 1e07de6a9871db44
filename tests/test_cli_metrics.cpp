// `finepose metrics` end to end through the built binary: ground truth as the
// prediction, a case scored in numpy (tools/reference/make_eval_fixtures.py),
// hand-built multi-hypothesis and masked cases, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "finepose/io/json.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/pose/camera.hpp"

#include "cli_run.hpp"

using namespace finepose;

namespace {
const std::string kDir = std::string(FINEPOSE_FIXTURE_DIR) + "/eval/";

using Run = test::CliRun;
Run run(const std::string& args) { return test::run_cli("metrics " + args); }

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("finepose_test_cli_metrics_" + std::to_string(::getpid()) + "_" + name)).string();
}

TensorF load(const std::string& path) { return io::to_tensor<float>(io::load_npz_array(path, "poses_3d")); }

void save(const std::string& path, const io::NpzMap& m) { io::save_npz(path, m); }
}  // namespace

TEST_CASE("finepose metrics") {
  if (!test::have_cli()) {
    MESSAGE("skipped: the finepose CLI was not built (FINEPOSE_BUILD_EXAMPLES=ON, target finepose_cli)");
    return;
  }

  SUBCASE("ground truth as the prediction: every error 0, PCK 100") {
    const Run r = run("--pred " + kDir + "metrics_target.npz --target " + kDir + "metrics_target.npz --json");
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    const json::Value v = json::parse(r.out);
    for (const char* k : {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"}) CHECK(std::abs(v.at(k).as_double()) < 1e-5);
    CHECK(v.at("pck").as_double() == 100.0);
    // AUC: 30 of the 31 thresholds (all but 0 mm, strict '<') are passed
    CHECK(v.at("auc").as_double() == doctest::Approx(3000.0 / 31).epsilon(1e-6));
  }

  SUBCASE("a numpy-scored case") {
    const Run r = run("--pred " + kDir + "metrics_pred.npz --target " + kDir + "metrics_target.npz --json");
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    const json::Value v = json::parse(r.out);
    const json::Value want = json::parse(io::read_text_file(kDir + "metrics_expected.json"));
    for (const std::string k : {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck", "auc"}) {
      CAPTURE(k);
      CHECK(v.at(k).as_double() == doctest::Approx(want.at(k).as_double()).epsilon(0).scale(1).epsilon(2e-6));
    }
    const Run text = run("--pred " + kDir + "metrics_pred.npz --target " + kDir + "metrics_target.npz");
    CHECK(text.rc == 0);
    CHECK(text.out.find("MPJPE") != std::string::npos);
  }

  SUBCASE("multi-hypothesis: the four settings, J-Agg from pixels") {
    const TensorF target = load(kDir + "metrics_target.npz");
    const std::int64_t N = target.size(0), J = 17, H = 3;
    // hypothesis 1 is the truth, 0 and 2 are offset by +-d: P-Agg, J-Best, P-Best and J-Agg are all exact.
    TensorF hyp({N, H, J, 3});
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t j = 0; j < J; ++j)
          for (int d = 0; d < 3; ++d) hyp(n, h, j, d) = target(n, j, d) + (j == 0 ? 0.f : float(h - 1) * (d == 0 ? 80.f : 30.f));
    TensorF root({N, 1, 3});
    for (std::int64_t n = 0; n < N; ++n) root(n, 0, 0) = 100, root(n, 0, 1) = -50, root(n, 0, 2) = 5000;
    pose::CameraIntrinsics k;
    k.fx = 1145, k.fy = 1144, k.cx = 512, k.cy = 515;
    TensorF abs3d = target.clone();
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t j = 0; j < J; ++j)
        for (int d = 0; d < 3; ++d) abs3d(n, j, d) += root(n, 0, d);
    const TensorF kp = pose::project_to_2d(abs3d, k);
    TensorF intr({4});
    intr.data()[0] = float(k.fx), intr.data()[1] = float(k.fy), intr.data()[2] = float(k.cx), intr.data()[3] = float(k.cy);
    const std::string pred = tmp("multi.npz");
    save(pred, {{"poses_3d", io::from_tensor(hyp)}, {"keypoints_2d", io::from_tensor(kp)}, {"root", io::from_tensor(root)},
                {"intrinsics", io::from_tensor(intr)}});
    const Run r = run("--pred " + pred + " --target " + kDir + "metrics_target.npz --json");
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    const json::Value v = json::parse(r.out);
    for (const std::string s : {"j_agg", "p_agg", "j_best", "p_best"}) {
      CAPTURE(s);
      REQUIRE(v.contains(s));
      CHECK(std::abs(v.at(s).at("mpjpe").as_double()) < 1e-4);
      // J-Agg's P-MPJPE aligns each hypothesis before the per-joint choice (main.py); the root
      // joint is a 2D tie that argmin resolves to hypothesis 0, whose aligned root is not exact.
      if (s != "j_agg") CHECK(std::abs(v.at(s).at("p_mpjpe").as_double()) < 1e-4);
      CHECK(v.at(s).at("pck").as_double() == 100.0);
    }
    // Without the 2D data there is no J-Agg, and the text output says why.
    const std::string pred2 = tmp("multi_no2d.npz");
    save(pred2, {{"poses_3d", io::from_tensor(hyp)}});
    const Run r2 = run("--pred " + pred2 + " --target " + kDir + "metrics_target.npz --json");
    REQUIRE_MESSAGE(r2.rc == 0, r2.out);
    CHECK(!json::parse(r2.out).contains("j_agg"));
    // the oracles still find the truth; the mean of +d, 0, -d is the truth too
    CHECK(std::abs(json::parse(r2.out).at("j_best").at("mpjpe").as_double()) < 1e-4);
    const Run t2 = run("--pred " + pred2 + " --target " + kDir + "metrics_target.npz");
    CHECK(t2.out.find("oracle") != std::string::npos);
    std::filesystem::remove(pred);
    std::filesystem::remove(pred2);
  }

  SUBCASE("--valid drops frames") {
    const TensorF target = load(kDir + "metrics_target.npz");
    TensorF pred = target.clone();
    for (std::int64_t j = 1; j < 17; ++j) pred(0, j, 0) += 100;  // frame 0 wrong by 100 mm on 16 of 17 joints
    const std::string pp = tmp("valid_pred.npz"), vp = tmp("valid_mask.npz");
    save(pp, {{"poses_3d", io::from_tensor(pred)}});
    TensorF mask({target.size(0)});
    for (std::int64_t n = 0; n < mask.numel(); ++n) mask.data()[n] = n == 0 ? 0.f : 1.f;
    save(vp, {{"valid", io::from_tensor(mask)}});
    const Run all = run("--pred " + pp + " --target " + kDir + "metrics_target.npz --json");
    REQUIRE_MESSAGE(all.rc == 0, all.out);
    CHECK(json::parse(all.out).at("mpjpe").as_double() == doctest::Approx(100.0 * 16 / 17 / double(target.size(0))).epsilon(1e-5));
    const Run masked = run("--pred " + pp + " --target " + kDir + "metrics_target.npz --valid " + vp + " --json");
    REQUIRE_MESSAGE(masked.rc == 0, masked.out);
    CHECK(std::abs(json::parse(masked.out).at("mpjpe").as_double()) < 1e-4);
    std::filesystem::remove(pp);
    std::filesystem::remove(vp);
  }

  SUBCASE("bad input is an error that names the problem") {
    Run r = run("--pred " + kDir + "annot_expected.npz --target " + kDir + "metrics_target.npz");
    CHECK(r.rc == 1);
    CHECK(r.out.find("poses_3d") != std::string::npos);
    r = run("--pred " + kDir + "metrics_pred.npz");
    CHECK(r.rc == 1);
    CHECK(r.out.find("--target") != std::string::npos);
    r = run("--pred " + kDir + "metrics_pred.npz --target " + kDir + "no_such_file.npz");
    CHECK(r.rc == 1);
    r = run("--pred " + kDir + "metrics_pred.npz --target " + kDir + "metrics_target.npz --skeleton coco17");
    CHECK(r.rc == 1);
  }
}
