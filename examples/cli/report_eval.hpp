#pragma once
// What `finepose eval` and `finepose baseline` show of an evaluation: a progress
// bar while eval::run_protocol runs, then the tables (or the JSON) on stdout and
// DIR/eval_<dataset>.{csv,json}.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "finepose/eval/protocol.hpp"
#include "finepose/io/file.hpp"
#include "progress.hpp"

namespace finepose::cli {

// Runs the protocol with a progress bar; prints the tables (or the JSON) and
// writes DIR/eval_<dataset>.{csv,json} when out_dir is set.
// With a process group of several ranks (mpirun), every rank predicts its share of
// the clips and rank 0 alone shows progress and writes the report.
// The files --out-dir gets for a dataset: eval_<dataset>.csv and .json.
inline std::vector<std::string> eval_report_paths(const std::string& out_dir, const std::string& dataset) {
  return {out_dir + "/eval_" + dataset + ".csv", out_dir + "/eval_" + dataset + ".json"};
}

inline int run_and_report(const std::vector<data::EvalClip>& clips, const eval::ChunkPredictor& predict,
                          const eval::EvalRun& run, bool quiet, bool print_json, const std::string& out_dir,
                          io::Existing existing, dist::ProcessGroup* group = nullptr) {
  const bool root = !group || group->is_root();
  std::unique_ptr<Progress> bar;  // made at the first report, which knows this rank's share
  const eval::EvalReport rep = eval::run_protocol(clips, predict, run, [&](long long done, long long total) {
    if (!bar) bar = std::make_unique<Progress>("eval " + run.dataset, total, quiet || print_json || !root);
    bar->update(done);
  }, group);
  if (bar) bar->finish();
  if (!root) return 0;
  const std::string js = json::dump(eval::report_json(rep), 2) + "\n";
  if (!out_dir.empty()) {
    std::filesystem::create_directories(out_dir);
    const auto paths = eval_report_paths(out_dir, run.dataset);
    io::write_file(paths[0], eval::report_csv(rep), existing);
    io::write_file(paths[1], js, existing);
  }
  std::fputs(print_json ? js.c_str() : eval::report_text(rep).c_str(), stdout);
  return 0;
}

}  // namespace finepose::cli
