// `finepose bench --json` end to end: the keys other tools read (issue: denoiser_s,
// sampling_s, gflops, peak_rss_mb; plus the GEMM and FMA peaks), their consistency
// with the model's FLOP count, and bad arguments. Timings are not asserted.
#include <doctest/doctest.h>

#include <string>

#include "finepose/io/json.hpp"
#include "finepose/model/flop_count.hpp"

#include "cli_run.hpp"

using namespace finepose;

TEST_CASE("finepose bench --json") {
  if (!test::have_cli()) {
    MESSAGE("skipped: the finepose CLI was not built (FINEPOSE_BUILD_EXAMPLES=ON, target finepose_cli)");
    return;
  }
  const test::CliRun r = test::run_cli(
      "bench --depth 1 --frames 9 --dim 64 --heads 4 --hypotheses 2 --steps 2 --flip --repeats 1 "
      "--gemm 64 --threads 1 --json");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  const json::Value v = json::parse(r.out);
  for (const char* k : {"denoiser_s", "sampling_s", "gflops", "peak_rss_mb", "denoiser_gflop", "gemm_gflops",
                        "fma_peak_gflops", "peak_fraction", "rss_before_sampling_mb", "rss_after_sampling_mb"}) {
    INFO(k);
    REQUIRE(v.contains(k));
    CHECK(v.at(k).is_number());
    CHECK(v.at(k).as_double() >= 0.0);
  }
  CHECK(v.at("denoiser_s").as_double() > 0.0);
  CHECK(v.at("sampling_s").as_double() > 0.0);
  CHECK(v.at("peak_rss_mb").as_double() > 0.0);
  CHECK(v.at("threads").as_int64() == 1);
  CHECK(v.at("steps").as_int64() == 2);

  // the FLOP count is the model's, for the flipped batch (2 sequences) x 2 hypotheses
  FinePoseConfig cfg;
  cfg.depth = 1;
  cfg.frames = 9;
  cfg.dim = 64;
  cfg.heads = 4;
  cfg.mlp_hidden = 128;
  const FlopCount fc = model_flops(cfg, 2, 2);
  CHECK(v.at("denoiser_gflop").as_double() == doctest::Approx(fc.pose / 1e9).epsilon(1e-3));
  CHECK(v.at("gflops").as_double() ==
        doctest::Approx(v.at("denoiser_gflop").as_double() / v.at("denoiser_s").as_double()).epsilon(1e-2));
  const double fma = v.at("fma_peak_gflops").as_double();
  if (fma > 0) CHECK(v.at("peak_fraction").as_double() == doctest::Approx(v.at("gflops").as_double() / fma).epsilon(1e-2));
  else MESSAGE("this build has no FMA instructions: fma_peak_gflops is 0 (not measured)");

  SUBCASE("--precision: the kernel named, the error against fp32 measured (not 0, not large)") {
    for (const char* p : {"bf16", "int8"}) {
      INFO(p);
      // stdout only: a build without the precision's SIMD kernel warns on stderr
      const test::CliRun q = test::run_command(std::string(FINEPOSE_CLI) +
                                               " bench --depth 1 --frames 9 --dim 64 --heads 4 --hypotheses 2 --steps 1 "
                                               "--repeats 1 --gemm 0 --threads 1 --json --precision " + p + " 2>/dev/null");
      REQUIRE_MESSAGE(q.rc == 0, q.out);
      const json::Value w = json::parse(q.out);
      CHECK(w.at("precision").as_string() == p);
      CHECK(!w.at("kernel").as_string().empty());
      const double rel = w.at("denoiser_rel_l2_vs_fp32").as_double();
      CHECK(rel > 0.0);  // the fp32 reference call is a different computation
      CHECK(rel < 0.1);
    }
  }

  SUBCASE("bad arguments: clear error, non-zero exit") {
    for (const char* bad : {"--threads 0", "--steps -1", "--hypotheses 0", "--gemm 99999", "--depth 0", "--precision fp16"}) {
      INFO(bad);
      const test::CliRun e = test::run_cli(std::string("bench --json ") + bad);
      CHECK(e.rc != 0);
      CHECK(e.out.find("error") != std::string::npos);
    }
  }
}
