#pragma once
// finepose eval: the paper's test protocol for a model (eval/protocol.hpp) on
// a benchmark's test clips (eval/test_clips.hpp); this file only parses the
// options, shows progress and writes what the library reports.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "args.hpp"
#include "finepose/eval/protocol.hpp"
#ifdef FINEPOSE_MPI
#include "finepose/dist/mpi_process_group.hpp"
#endif
#include "finepose/io/file.hpp"
#include "finepose/model/model_file.hpp"
#include "report_eval.hpp"

namespace finepose::cli {

// The command, on the ranks of `group` (nullptr: one process).
inline int cmd_eval_on(int argc, char** argv, dist::ProcessGroup* group) {
  Args a("eval",
         "--model FILE --dataset h36m|3dhp|humaneva --data DIR [--keypoints cpn|gt] [--hypotheses H --steps K --flip] "
         "[--out-dir DIR] [--json] [--quiet] [--max-clips N]",
         {{"model", "FILE", "model: official .bin/.pth checkpoint or finepose .safetensors"},
          alias("checkpoint", "FILE", "model"),
          {"dataset", "NAME", "h36m (S9, S11), 3dhp (TS1-TS6), humaneva (Validate, Walking/Jog/Box, C1-C3)"},
          {"data", "DIR", "h36m: data_3d_h36m.npz + data_2d_h36m_{cpn_ft_h36m_dbb,gt}.npz; 3dhp: TS*/annot_data.mat; "
                          "humaneva: humaneva_i_h36m17.npz (or its directory)"},
          {"keypoints", "cpn|gt", "Human3.6M 2D input (default cpn)"},
          {"hypotheses", "H", "hypotheses per chunk (default 1)"},
          {"steps", "K", "DDIM steps (default 1); tables use the last, JSON has every step"},
          {"flip", "", "flip test-time augmentation"},
          {"batch", "B", "chunks per forward pass and per P-Best choice (default 4, main.py -b 4)"},
          {"action", "NAME", "text label for every clip (default: the clip's Human3.6M action; HumanEva: closest H36M label)"},
          {"seed", "S", "noise seed (default 0)"},
          {"max-clips", "N", "evaluate only the first N clips (quick checks)"},
          {"out-dir", "DIR", "write eval_<dataset>.csv and eval_<dataset>.json here"},
          {"config", "FILE", "JSON overriding what an official checkpoint cannot tell (heads, clip_heads, ...)"},
          {"vocab", "FILE", "CLIP bpe_simple_vocab_16e6.txt.gz, for --action labels other than the 15 H36M actions"},
          {"threads", "N", "CPU threads (default: all)"},
          precision_option(),
          {"json", "", "print the JSON report instead of tables"},
          {"quiet", "", "no progress bar"}});
  for (auto& o : overwrite_options("the --out-dir files")) a.add(o);
  if (!a.parse(argc, argv)) return 0;
  a.apply_threads();
  const std::string dataset = a.require("dataset"), dir = a.require("data");
  if (a.has("out-dir"))
    for (const std::string& p : eval_report_paths(a.get("out-dir"), dataset)) check_output_free(a, "eval", p);
  const std::string keypoints = a.get("keypoints", "cpn");
  if (keypoints != "cpn" && keypoints != "gt") fail("eval: --keypoints must be cpn or gt, got '", keypoints, "'");
  ModelFileOptions mo;
  if (a.has("config")) mo.overrides_json = io::read_text_file(a.get("config"));
  const Precision precision = precision_of(a);
  FinePoseModel model = load_model(a.require("model"), mo);
  if (a.has("vocab")) set_tokenizer_from_vocab(model, a.get("vocab"));
  model.set_precision(precision);
  const FinePoseConfig& cfg = model.config();
  if (cfg.joints != 17 || cfg.in_chans != 2) fail("eval: the model takes ", cfg.joints, " joints x ", cfg.in_chans, " inputs; the test sets have 17 x 2");
  const bool is_3dhp = dataset == "3dhp";
  if (is_3dhp != (cfg.variant == PromptVariant::mpi3dhp))
    fail("eval: a ", is_3dhp ? "Human3.6M" : "MPI-INF-3DHP", "-variant model cannot be evaluated on --dataset ", dataset);

  SampleOptions so;
  so.hypotheses = a.get_int_in("hypotheses", 1, 1, 1000);
  so.steps = a.get_int_in("steps", 1, 1, 1000);
  so.flip = a.has("flip");
  so.seed = std::uint64_t(a.get_int("seed", 0));
  if (so.hypotheses < 1 || so.steps < 1) fail("eval: --hypotheses and --steps must be >= 1");
  const std::int64_t batch = a.get_int_in("batch", 4, 1, 4096);
  if (batch < 1) fail("eval: --batch must be >= 1");
  const std::int64_t L = cfg.frames;
  const double to_mm = 1000.0 / cfg.output_scale();

  std::vector<data::EvalClip> clips = eval::load_test_clips(dataset, dir, keypoints);
  const long long max_clips = a.get_int("max-clips", 0);
  if (max_clips < 0) fail("eval: --max-clips must be >= 0");
  if (max_clips > 0 && std::size_t(max_clips) < clips.size()) clips.resize(std::size_t(max_clips));
  if (a.has("action")) for (auto& c : clips) c.model_action = a.get("action");

  eval::EvalRun run;
  run.dataset = dataset;
  run.checkpoint = a.get("model");
  run.keypoints = dataset == "h36m" ? keypoints : "gt";
  run.hypotheses = so.hypotheses;
  run.steps = int(so.steps);
  run.flip = so.flip;
  run.frames = L;
  run.batch = batch;
  run.to_mm = to_mm;
  run.notes.push_back("* oracle settings: they pick hypotheses by looking at the ground truth; J-Agg and P-Agg are deployable.");
  if (dataset == "humaneva")
    run.notes.push_back("HumanEva: model text labels Walking/Jog -> \"Walking\", Box -> \"Directions\" unless --action is given.");
  return run_and_report(clips, eval::model_predictor(model, so), run, a.has("quiet"), a.has("json"),
                        a.has("out-dir") ? a.get("out-dir") : std::string(), existing_of(a), group);
}

inline int cmd_eval(int argc, char** argv) {
#ifdef FINEPOSE_MPI
  // under mpirun: the clips are shared out over the ranks (eval/protocol.hpp); on its own: one process
  if (dist::launched_by_mpi()) {
    dist::MpiProcessGroup mpi(&argc, &argv);
    try {
      return cmd_eval_on(argc, argv, &mpi);
    } catch (const std::exception& e) {
      // every rank reads the same files and flags, so most errors are every rank's; one that
      // is not (a disk, memory) must still end the others, which would wait for its results
      std::fprintf(stderr, "finepose eval: error (rank %d of %d): %s\n", mpi.rank(), mpi.size(), e.what());
      mpi.abort_all(1);
    }
  }
#endif
  return cmd_eval_on(argc, argv, nullptr);
}

}  // namespace finepose::cli
