// `finepose eval` end to end with a random-weights tiny model (written here as a
// finepose .safetensors file): Human3.6M on the VideoPose3D-format fixtures,
// HumanEva-I on the real data (first clips), report structure and invariants.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "finepose/core/philox.hpp"
#include "finepose/io/json.hpp"
#include "finepose/model/model_file.hpp"

#include "cli_run.hpp"

using namespace finepose;

namespace {
const std::string kDir = std::string(FINEPOSE_FIXTURE_DIR) + "/eval";

using Run = test::CliRun;
Run run(const std::string& args) { return test::run_cli("eval " + args); }

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("finepose_test_cli_eval_" + std::to_string(::getpid()) + "_" + name)).string();
}

// A tiny model (9 frames) with small deterministic random weights.
std::string write_tiny_model(const std::string& path, bool mpi3dhp = false) {
  FinePoseConfig cfg;
  cfg.variant = mpi3dhp ? PromptVariant::mpi3dhp : PromptVariant::h36m;
  cfg.depth = 2, cfg.frames = 9, cfg.dim = 48, cfg.heads = 4, cfg.mlp_hidden = 96, cfg.text_width = 16;
  cfg.clip_layers = 1, cfg.clip_heads = 2, cfg.encoder_layers = 1, cfg.encoder_heads = 2, cfg.encoder_ff = 32;
  if (mpi3dhp) {  // six prompts (no action) filling the 77-token context; 3DHP joint sides
    cfg.ctx_lengths = {3, 14, 6, 10, 10, 10};
    cfg.joints_left = {5, 6, 7, 11, 12, 13};
    cfg.joints_right = {2, 3, 4, 8, 9, 10};
  }
  FinePoseModel model(cfg);
  std::uint32_t s = 12345;
  model.visit([&](const std::string&, TensorF& t) {
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      s = s * 1664525u + 1013904223u;
      t.data()[i] = (float(s >> 8) / float(1 << 24) - 0.5f) * 0.1f;
    }
  });
  save_model(path, model);
  return path;
}

double num(const json::Value& v) { return v.is_null() ? NAN : v.as_double(); }
}  // namespace

TEST_CASE("finepose eval") {
  if (!test::have_cli()) {
    MESSAGE("skipped: the finepose CLI was not built (FINEPOSE_BUILD_EXAMPLES=ON, target finepose_cli)");
    return;
  }
  const std::string model = write_tiny_model(tmp("tiny.safetensors"));

  SUBCASE("Human3.6M, VideoPose3D-format files: clips, chunks, rows, CSV + JSON") {
    const std::string od = tmp("out_h36m");
    const Run r = run("--model " + model + " --dataset h36m --keypoints gt --data " + kDir +
                      " --hypotheses 1 --steps 2 --json --out-dir " + od);
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    const json::Value v = json::parse(r.out);
    // S9 {Walking 1: 5, Directions: 3} + S11 {Walking 1: 5} frames, 4 cameras; one 9-frame chunk each
    CHECK(v.at("clips").as_int64() == 12);
    CHECK(v.at("frames").as_int64() == 52);
    CHECK(v.at("chunks").as_int64() == 12);
    CHECK(v.at("model_frames").as_int64() == 9);
    const auto& pagg = v.at("settings").at("p_agg").at("mpjpe");
    CHECK(pagg.at("rows").size() == 2);
    CHECK(pagg.at("rows").contains("Walking"));
    CHECK(pagg.at("rows").contains("Directions"));
    CHECK(pagg.at("average_per_step").size() == 2);
    // Average = mean over the action rows
    CHECK(num(pagg.at("average")) ==
          doctest::Approx((num(pagg.at("rows").at("Walking")) + num(pagg.at("rows").at("Directions"))) / 2).epsilon(1e-3));
    // one hypothesis: the four settings coincide for MPJPE
    for (const std::string s : {"j_agg", "j_best", "p_best"})
      CHECK(num(v.at("settings").at(s).at("mpjpe").at("average")) == doctest::Approx(num(pagg.at("average"))).epsilon(1e-4));
    CHECK(num(pagg.at("average")) > 0);
    CHECK(std::filesystem::exists(od + "/eval_h36m.csv"));
    CHECK(std::filesystem::exists(od + "/eval_h36m.json"));
    CHECK(json::parse(io::read_text_file(od + "/eval_h36m.json")).at("clips").as_int64() == 12);
    // a rerun into the same directory keeps the report unless told (--overwrite)
    io::write_file(od + "/eval_h36m.csv", std::string("keep me"));
    const std::string again = "--model " + model + " --dataset h36m --keypoints gt --data " + kDir + " --hypotheses 1 --steps 2 --quiet --out-dir " + od;
    const Run kept = run(again);
    CHECK(kept.rc == 1);
    CHECK_MESSAGE(kept.out.find("eval_h36m.csv' exists; give --overwrite") != std::string::npos, kept.out);
    CHECK(io::read_text_file(od + "/eval_h36m.csv") == "keep me");
    REQUIRE(run(again + " --overwrite").rc == 0);
    CHECK(io::read_text_file(od + "/eval_h36m.csv") != "keep me");
    std::filesystem::remove_all(od);
  }

  SUBCASE("several hypotheses: oracle settings bound the deployable ones") {
    const Run r = run("--checkpoint " + model + " --dataset h36m --keypoints gt --data " + kDir +
                      " --hypotheses 3 --steps 1 --flip --json --max-clips 4");
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    const json::Value v = json::parse(r.out);
    CHECK(v.at("clips").as_int64() == 4);
    const auto avg = [&](const char* s, const char* p) { return num(v.at("settings").at(s).at(p).at("average")); };
    CHECK(avg("j_best", "mpjpe") <= avg("j_agg", "mpjpe") + 1e-6);
    CHECK(avg("j_best", "mpjpe") <= avg("p_best", "mpjpe") + 1e-6);
    CHECK(avg("j_best", "p_mpjpe") <= avg("p_best", "p_mpjpe") + 1e-6);
  }

  SUBCASE("HumanEva-I (real data), first clips, text tables") {
    const std::string data = std::string(FINEPOSE_SHARED_DIR) + "/data";
    if (!std::filesystem::exists(data + "/humaneva_i_h36m17.npz")) {
      MESSAGE("skipped: ", data, "/humaneva_i_h36m17.npz not found");
      return;
    }
    const Run r = run("--model " + model + " --dataset humaneva --data " + data + " --max-clips 3 --hypotheses 2 --quiet");
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    CHECK(r.out.find("Protocol #2: P-MPJPE") != std::string::npos);
    CHECK(r.out.find("J-Agg") != std::string::npos);
    CHECK(r.out.find(" S1") != std::string::npos);  // rows are action x subject
    CHECK(r.out.find("oracle") != std::string::npos);
  }

  SUBCASE("MPI-INF-3DHP: annot_data.mat sequences, valid frames, PCK/AUC") {
    const std::string dir = tmp("3dhp");
    std::filesystem::create_directories(dir + "/TS1");
    std::filesystem::create_directories(dir + "/TS5");
    std::filesystem::copy_file(kDir + "/annot_data_v5.mat", dir + "/TS1/annot_data.mat");
    std::filesystem::copy_file(kDir + "/annot_data_v73.mat", dir + "/TS5/annot_data.mat");
    const std::string m3 = write_tiny_model(tmp("tiny3dhp.safetensors"), true);
    const Run r = run("--checkpoint " + m3 + " --dataset 3dhp --data " + dir + " --hypotheses 2 --json");
    std::filesystem::remove_all(dir);
    std::filesystem::remove(m3);
    if (r.rc != 0 && r.out.find("libmatio") != std::string::npos) {
      MESSAGE("skipped: built without libmatio");
      return;
    }
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    const json::Value v = json::parse(r.out);
    CHECK(v.at("clips").as_int64() == 2);
    CHECK(v.at("frames").as_int64() == 12);
    const auto& pck = v.at("settings").at("p_agg").at("pck");
    CHECK(pck.at("rows").contains("TS1"));
    CHECK(pck.at("rows").contains("TS5"));
    CHECK(num(pck.at("average")) >= 0);
    CHECK(num(pck.at("average")) <= 100);
    CHECK(num(v.at("settings").at("j_best").at("auc").at("average")) >= 0);
  }

  SUBCASE("bad input") {
    Run r = run("--checkpoint " + model + " --dataset h36m --data /nonexistent_dir");
    CHECK(r.rc == 1);
    CHECK(r.out.find("data_3d_h36m.npz") != std::string::npos);
    r = run("--checkpoint " + model + " --dataset kitti --data " + kDir);
    CHECK(r.rc == 1);
    CHECK(r.out.find("--dataset") != std::string::npos);
    r = run("--checkpoint " + model + " --dataset 3dhp --data " + kDir);
    CHECK(r.rc == 1);  // a Human3.6M-variant model on 3DHP
    r = run("--checkpoint " + model + " --dataset h36m --keypoints gt --data " + kDir + " --hypotheses 0");
    CHECK(r.rc == 1);    // --checkpoint is the old name of --model: both at once is refused, naming both
    r = run("--model " + model + " --checkpoint " + model + " --dataset h36m --keypoints gt --data " + kDir);
    CHECK(r.rc == 1);
    CHECK(r.out.find("--checkpoint is another name for --model") != std::string::npos);
    r = run("--help");
    CHECK(r.out.find("--checkpoint FILE") != std::string::npos);
    CHECK(r.out.find("the same as --model") != std::string::npos);
  }
  std::filesystem::remove(model);
}
