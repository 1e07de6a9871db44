// Every model shipped under models/ with an evaluation record next to it
// (<name>.eval_humaneva.json, written by the `finepose eval` command quoted in
// models/README.md) must reproduce that record's figures when evaluated again
// here, from the repository as cloned: the model card's numbers are rerun in CI.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "cli_run.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"

using namespace finepose;
namespace fs = std::filesystem;

namespace {
double average(const json::Value& report, const char* setting, const char* metric) {
  return report.at("settings").at(setting).at(metric).at("average").as_double();
}
}  // namespace

TEST_CASE("shipped models reproduce the figures of their model cards (HumanEva-I Validate)") {
  const fs::path models = fs::path(FINEPOSE_SOURCE_DIR) / "models";
  const std::string data = std::string(FINEPOSE_SHARED_DIR) + "/data/humaneva_i_h36m17.npz";
  int checked = 0;
  for (const auto& e : fs::directory_iterator(models)) {
    const std::string name = e.path().filename().string();
    const std::string suffix = ".eval_humaneva.json";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const fs::path model = models / (name.substr(0, name.size() - suffix.size()) + ".safetensors");
    REQUIRE_MESSAGE(fs::exists(model), e.path().string(), " has no model file ", model.string());
    if (!fs::exists(data)) {
      MESSAGE("skipped: ", data, " is absent (the shared data), cannot rerun ", name);
      return;
    }
    if (!test::have_cli()) {
      MESSAGE("skipped: the finepose CLI was not built");
      return;
    }
    const json::Value card = json::parse(io::read_text_file(e.path().string()), e.path().string());
    const std::string out = (fs::temp_directory_path() / ("finepose_shipped_" + std::to_string(::getpid()))).string();
    std::string args = "eval --model " + model.string() + " --dataset humaneva --data " + data +
                       " --hypotheses " + std::to_string(card.at("hypotheses").as_int64()) + " --steps " +
                       std::to_string(card.at("steps").as_int64()) + (card.at("flip").as_bool() ? " --flip" : "") +
                       " --out-dir " + out + " --quiet";
    if (card.is_object() && card.contains("seed")) args += " --seed " + std::to_string(card.at("seed").as_int64());
    const test::CliRun r = test::run_cli(args);
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    const json::Value now = json::parse(io::read_text_file(out + "/eval_humaneva.json"), "eval_humaneva.json");
    CHECK(now.at("frames").as_int64() == card.at("frames").as_int64());
    for (const char* s : {"j_agg", "p_agg", "j_best", "p_best"})
      for (const char* m : {"mpjpe", "p_mpjpe"}) {
        const double want = average(card, s, m), got = average(now, s, m);
        // the card rounds to 1e-4 mm; threads may reorder float sums
        CHECK_MESSAGE(std::fabs(got - want) < 0.05, model.filename().string(), " ", s, " ", m, ": card ", want,
                      " mm, now ", got, " mm");
      }
    fs::remove_all(out);
    ++checked;
  }
  if (checked == 0) MESSAGE("skipped: no model under models/ has an eval_humaneva.json record");
}
