#pragma once
// finepose smooth-study: every smoothing setting of the grid on whole lifted
// sequences (eval/smoothing_study.hpp); the held-out split chooses, HumanEva-I
// Validate is reported. The CLI only parses, calls and prints.
#include <cstdio>
#include <string>

#include "args.hpp"
#include "finepose/eval/protocol.hpp"
#include "finepose/eval/smoothing_study.hpp"
#include "finepose/io/json.hpp"
#include "finepose/model/default_model.hpp"
#include "finepose/model/model_file.hpp"
#include "progress.hpp"

namespace finepose::cli {

inline int cmd_smooth_study(int argc, char** argv) {
  Args a("smooth-study", "--data DIR [--model FILE] [--max-seqs N] [--out FILE.json]",
         {{"data", "DIR", "the shared data (cmu_mocap_h36m17.npz, bandai_namco_h36m17.npz, humaneva_i_h36m17.npz)"},
          {"model", "FILE", "model (default: the shipped default model)"},
          {"max-seqs", "N", "at most N sequences of each set (default: all)"},
          {"fps", "N", "frame rate the held-out clips are filmed at (default 50)"},
          {"out", "FILE", "also write the table as JSON"},
          {"threads", "N", "CPU threads, 1..1024 (default: all)"},
          {"quiet", "", "no progress output"}});
  for (auto& o : overwrite_options()) a.add(o);
  std::string model_path, data, out;
  int64_t max_seqs = -1;
  double fps = 50;
  try {
    if (!a.parse(argc, argv)) return 0;
    FINEPOSE_CHECK(a.positional().empty(), "smooth-study: unexpected argument '", a.positional().empty() ? "" : a.positional()[0], "'");
    data = a.require("data");
#ifdef FINEPOSE_SOURCE_MODELS_DIR
    model_path = a.has("model") ? a.get("model") : find_default_model(FINEPOSE_SOURCE_MODELS_DIR);
#else
    model_path = a.has("model") ? a.get("model") : find_default_model();
#endif
    max_seqs = a.get_int_in("max-seqs", -1, 1, 1 << 20);
    fps = a.get_double_in("fps", 50, 1, 1000);
    out = a.get("out");
    a.apply_threads();
  } catch (const Error& e) {
    std::fprintf(stderr, "finepose smooth-study: usage error: %s\n", e.what());
    return 2;
  }
  if (!out.empty()) io::check_output_path("smooth-study", out, {model_path}), check_output_free(a, "smooth-study", out);
  const bool quiet = a.has("quiet");
  const FinePoseModel model = load_model(model_path);
  const auto grid = eval::smoothing_grid();
  struct Set {
    const char* name;
    std::vector<eval::StudySequence> seqs;
    std::vector<eval::StudyRow> rows;
  };
  Set sets[2] = {{"held-out (CMU + Bandai elderly, held-out cameras, detector noise)", eval::heldout_sequences(data, fps, max_seqs), {}},
                 {"HumanEva-I Validate (test: reported, not chosen by)", eval::humaneva_validate_sequences(data, max_seqs), {}}};
  wild::LiftOptions lo;  // infer's defaults: H = 1, K = 1, no flip
  for (Set& s : sets) {
    Progress bar(std::string("lifting ") + s.name, int64_t(s.seqs.size()), quiet);
    s.rows = eval::study_smoothing(model, s.seqs, grid, lo, [&](int64_t d, int64_t) { bar.update(d); });
    bar.finish();
  }
  const size_t chosen = eval::choose_smoothing(sets[0].rows);
  std::printf("model %s; infer's settings (H=1, K=1, no flip, sliding windows); mm, accel in mm/frame^2\n", model_path.c_str());
  std::printf("one-euro MC/B: min cutoff MC Hz, beta B; savgol W/P: window W frames, order P\n");
  std::printf("%-22s | %-26s | %-26s\n", "", "held-out (chooses)", "HumanEva-I Validate (test)");
  std::printf("%-22s | %8s %8s %8s | %8s %8s %8s\n", "setting", "MPJPE", "P-MPJPE", "accel", "MPJPE", "P-MPJPE", "accel");
  json::Value rows = json::Value::array();
  auto figures = [](const eval::StudyRow& r) {
    json::Value o = json::Value::object();
    o["mpjpe"] = eval::detail::figure(r.mpjpe), o["p_mpjpe"] = eval::detail::figure(r.p_mpjpe), o["accel"] = eval::detail::figure(r.accel);
    return o;
  };
  for (size_t g = 0; g < grid.size(); ++g) {
    const auto& h = sets[0].rows[g];
    const auto& v = sets[1].rows[g];
    const std::string name = pose::smooth_label(grid[g]);
    std::printf("%-20s%s | %8.2f %8.2f %8.3f | %8.2f %8.2f %8.3f\n", name.c_str(), g == chosen ? " *" : "  ", h.mpjpe, h.p_mpjpe,
                h.accel, v.mpjpe, v.p_mpjpe, v.accel);
    json::Value r = json::Value::object();
    r["filter"] = pose::smoother_name(grid[g].kind);
    r["setting"] = pose::smooth_description(grid[g]);
    r["heldout"] = figures(h);
    r["humaneva_validate"] = figures(v);
    r["chosen"] = g == chosen;
    rows.push_back(std::move(r));
  }
  std::printf("* chosen on the held-out split: lowest MPJPE among the settings with less jitter than none (%zu + %zu sequences)\n",
              sets[0].seqs.size(), sets[1].seqs.size());
  if (!out.empty()) {
    json::Value doc = json::Value::object();
    doc["model"] = model_path;
    doc["heldout_sequences"] = static_cast<unsigned long long>(sets[0].seqs.size());
    doc["humaneva_sequences"] = static_cast<unsigned long long>(sets[1].seqs.size());
    doc["rows"] = std::move(rows);
    io::write_file(out, json::dump(doc, 2) + "\n", existing_of(a));
  }
  return 0;
}

}  // namespace finepose::cli
