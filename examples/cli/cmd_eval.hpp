#pragma once
// finepose eval: the paper's test protocol for a checkpoint.
//
//   1. test clips of the dataset (data/h36m.hpp, data/humaneva.hpp, data/mpi_inf_3dhp.hpp);
//   2. each clip cut into chunks of the model's frame count as main.py's
//      eval_data_prepare (last chunk = last L frames; replicate padding when
//      the clip is shorter than L);
//   3. FinePoseModel::sample on --batch chunks at a time (H hypotheses, K DDIM
//      steps, optional flip augmentation);
//   4. for every step, the four settings (J-Agg, P-Agg, J-Best*, P-Best*) by
//      pose/metrics_report.hpp, frame-weighted per table row as main.py does
//      (every chunk frame counts, so overlapped/padded frames count as in the
//      official numbers; P-Best picks one hypothesis per batch of chunks);
//   5. tables per row (action; HumanEva: action x subject; 3DHP: sequence),
//      the mean over rows, printed and written as CSV + JSON.
// The Human3.6M variant predicts metres (VideoPose3D units) and is scaled to mm
// here; the 3DHP variant's sample() already returns mm (config output_scale).
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "args.hpp"
#include "finepose/data/eval_clip.hpp"
#include "finepose/data/h36m.hpp"
#include "finepose/data/humaneva.hpp"
#include "finepose/data/mpi_inf_3dhp.hpp"
#include "finepose/data/videopose3d.hpp"
#include "finepose/io/file.hpp"
#include "finepose/model/model_file.hpp"
#include "finepose/pose/error_table.hpp"
#include "finepose/pose/metrics_report.hpp"
#include "progress.hpp"

namespace finepose::cli {

namespace eval_detail {

inline const std::vector<std::string>& settings() {
  static const std::vector<std::string> s{"j_agg", "p_agg", "j_best", "p_best"};
  return s;
}
inline std::string setting_label(const std::string& s) {
  return s == "j_agg" ? "J-Agg" : s == "p_agg" ? "P-Agg" : s == "j_best" ? "J-Best*" : "P-Best*";
}

inline std::vector<data::EvalClip> load_clips(const std::string& dataset, const std::string& dir,
                                              const std::string& keypoints) {
  namespace fs = std::filesystem;
  if (dataset == "h36m") {
    const std::string f3 = dir + "/data_3d_h36m.npz";
    const std::string f2 = dir + (keypoints == "gt" ? "/data_2d_h36m_gt.npz" : "/data_2d_h36m_cpn_ft_h36m_dbb.npz");
    for (const auto& f : {f3, f2})
      if (!fs::exists(f)) fail("eval: '", f, "' not found (--data must hold VideoPose3D's Human3.6M files, see README)");
    return data::h36m_eval_clips(data::load_positions_3d(f3), data::load_keypoints_2d(f2));
  }
  if (dataset == "humaneva") {
    const std::string f = fs::is_directory(dir) ? dir + "/humaneva_i_h36m17.npz" : dir;
    if (!fs::exists(f)) fail("eval: '", f, "' not found (--data: a directory with humaneva_i_h36m17.npz, or the file)");
    return data::humaneva_eval_clips(f);
  }
  if (dataset == "3dhp") return data::mpi_inf_3dhp_eval_clips(dir);
  fail("eval: --dataset must be h36m, 3dhp or humaneva, got '", dataset, "'");
}

inline std::string row_of(const std::string& dataset, const data::EvalClip& c) {
  return dataset == "humaneva" ? c.action + " " + c.subject : c.action;
}

inline std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string r = "\"";
  for (char ch : s) r += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return r + "\"";
}

inline std::string json_string(const std::string& s) {
  std::string r = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') r += '\\', r += ch;
    else if (static_cast<unsigned char>(ch) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", ch);
      r += b;
    } else r += ch;
  }
  return r + "\"";
}

inline std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

// One evaluation run: what the JSON header reports and how the tables are made.
struct EvalRun {
  std::string dataset;              // h36m, 3dhp, humaneva
  std::string checkpoint;           // the JSON's "checkpoint"
  std::string keypoints = "gt";     // the JSON's "keypoints"
  std::int64_t hypotheses = 1;      // H (the JSON's; the predictor's output decides)
  int steps = 1;                    // K
  bool flip = false;
  std::int64_t frames = 0;          // L: chunk length
  std::int64_t batch = 4;           // chunks per predictor call and per P-Best choice
  double to_mm = 1000.0;            // predictor units -> mm
  bool quiet = false, print_json = false;
  std::string out_dir;              // CSV + JSON written here when set
  std::vector<std::string> notes;   // printed under the tables
};

// Predicts [b, K, H, L, J, 3] (predictor units) for b chunks x2d [b, L, J, 2] of one clip.
using ChunkPredictor = std::function<TensorF(const TensorF& x2d, const data::EvalClip& clip)>;

// Steps 2, 4 and 5 of the protocol above for any predictor: chunks, frame-weighted
// tables per row and setting, printed (or JSON on stdout) and written as CSV + JSON.
inline int run_eval_protocol(const std::vector<data::EvalClip>& clips, const ChunkPredictor& predict, const EvalRun& run) {
  const std::string& dataset = run.dataset;
  const std::int64_t L = run.frames, batch = run.batch;
  const double to_mm = run.to_mm;
  const bool is_3dhp = dataset == "3dhp";
  const int K = run.steps;
  if (L < 1 || batch < 1 || K < 1) fail("eval: chunk length, batch and steps must be >= 1");
  long long total_chunks = 0, total_frames = 0;
  for (const auto& c : clips) total_chunks += data::eval_chunk_count(c.frames(), L), total_frames += c.frames();
  // tables[setting][protocol] : rows x steps; pck/auc only for 3DHP.
  std::map<std::string, std::map<std::string, pose::ErrorTable>> tables;
  const std::vector<std::string> protocols = is_3dhp ? std::vector<std::string>{"mpjpe", "p_mpjpe", "pck", "auc"}
                                                      : std::vector<std::string>{"mpjpe", "p_mpjpe"};
  for (const auto& s : settings())
    for (const auto& p : protocols) tables[s].emplace(p, pose::ErrorTable(K));

  pose::MetricsOptions mopt;
  mopt.skeleton = is_3dhp ? "mpi-inf-3dhp-17" : "h36m-17";
  mopt.pose_best_group_frames = 0;  // each call below is one batch = one P-Best group
  const bool quiet = run.quiet;
  Progress bar("eval " + dataset, total_chunks, quiet);
  long long done = 0;
  const std::int64_t J = 17;

  for (const auto& clip : clips) {
    const TensorF x2d = data::make_eval_chunks(clip.keypoints_2d, L);
    const TensorF tgt = data::make_eval_chunks(clip.target, L);
    const TensorF root = data::make_eval_chunks(clip.root, L);
    const std::vector<bool> valid = clip.valid.empty() ? std::vector<bool>() : data::make_eval_chunks(clip.valid, L);
    const std::int64_t C = x2d.size(0);
    const std::string row = row_of(dataset, clip);
    for (std::int64_t c0 = 0; c0 < C; c0 += batch) {
      const std::int64_t b = std::min(batch, C - c0), N = b * L;
      const TensorF xb = x2d.slice(0, c0, c0 + b).contiguous();
      const TensorF out = predict(xb, clip);  // [b, K, H, L, J, 3]
      if (out.dim() != 6 || out.size(0) != b || out.size(1) != K || out.size(3) != L || out.size(4) != J || out.size(5) != 3)
        fail("eval: the predictor returned ", shape_str(out.shape()), " for ", b, " chunks of ", L, " frames, expected [", b,
             ", ", K, ", H, ", L, ", ", J, ", 3]");
      const std::int64_t H = out.size(2);
      pose::MetricsInput in;
      in.target = TensorD({N, J, 3});
      in.keypoints_2d = TensorD({N, J, 2});
      in.root = TensorD({N, 1, 3});
      for (std::int64_t i = 0; i < N * J * 3; ++i) in.target.data()[i] = tgt.data()[c0 * L * J * 3 + i];
      for (std::int64_t i = 0; i < N * J * 2; ++i) in.keypoints_2d.data()[i] = xb.data()[i];
      for (std::int64_t i = 0; i < N * 3; ++i) in.root.data()[i] = root.data()[c0 * L * 3 + i];
      in.intrinsics = clip.intrinsics;
      std::int64_t weight = N;
      if (!valid.empty()) {
        in.valid.assign(valid.begin() + c0 * L, valid.begin() + (c0 + b) * L);
        weight = 0;
        for (bool v : in.valid) weight += v;
        if (weight == 0) {
          bar.update(done += b);
          continue;
        }
      }
      for (int k = 0; k < K; ++k) {
        in.pred = TensorD({N, H, J, 3});
        for (std::int64_t bi = 0; bi < b; ++bi)
          for (std::int64_t h = 0; h < H; ++h)
            for (std::int64_t f = 0; f < L; ++f)
              for (std::int64_t e = 0; e < J * 3; ++e)
                in.pred.data()[(((bi * L + f) * H + h) * J * 3) + e] =
                    to_mm * out.data()[((((bi * K + k) * H + h) * L + f) * J * 3) + e];
        const pose::MetricsReport rep = pose::compute_metrics(in, mopt);
        for (const auto& [name, m] : rep.aggregations) {
          auto& t = tables.at(name);
          t.at("mpjpe").add(row, m.mpjpe, double(weight), k);
          t.at("p_mpjpe").add(row, m.p_mpjpe, double(weight), k);
          if (is_3dhp) {
            t.at("pck").add(row, m.pck, double(weight), k);
            t.at("auc").add(row, m.auc, double(weight), k);
          }
        }
      }
      bar.update(done += b);
    }
  }
  bar.finish();
  const double seconds = bar.elapsed();

  // ---- report ---------------------------------------------------------------
  const int last = K - 1;
  const auto& rows = tables.at("p_agg").at("mpjpe").rows();
  const std::string avg_label = dataset == "3dhp" ? "All (mean)" : "Average";

  std::string csv = "row,setting,metric,step,value,frames\n";
  for (const auto& s : settings())
    for (const auto& p : protocols) {
      const auto& t = tables.at(s).at(p);
      for (int k = 0; k < K; ++k) {
        for (const auto& r : rows)
          if (t.has_row(r))
            csv += csv_escape(r) + "," + setting_label(s) + "," + p + "," + std::to_string(k + 1) + "," +
                   num(t.row_mean(r, k)) + "," + num(t.at(r, k).weight) + "\n";
        csv += avg_label + "," + setting_label(s) + "," + p + "," + std::to_string(k + 1) + "," +
               num(t.average_over_rows(k)) + ",\n";
      }
    }

  std::string js = "{\n  \"dataset\": " + json_string(dataset) + ",\n  \"checkpoint\": " + json_string(run.checkpoint) +
                   ",\n  \"keypoints\": " + json_string(run.keypoints) +
                   ",\n  \"hypotheses\": " + std::to_string(run.hypotheses) + ",\n  \"steps\": " + std::to_string(K) +
                   ",\n  \"flip\": " + (run.flip ? "true" : "false") + ",\n  \"model_frames\": " + std::to_string(L) +
                   ",\n  \"clips\": " + std::to_string(clips.size()) + ",\n  \"frames\": " + std::to_string(total_frames) +
                   ",\n  \"chunks\": " + std::to_string(total_chunks) + ",\n  \"seconds\": " + num(seconds) +
                   ",\n  \"oracle_settings\": [\"j_best\", \"p_best\"],\n  \"settings\": {\n";
  for (std::size_t si = 0; si < settings().size(); ++si) {
    const std::string& s = settings()[si];
    js += "    " + json_string(s) + ": {\n";
    for (std::size_t pi = 0; pi < protocols.size(); ++pi) {
      const auto& t = tables.at(s).at(protocols[pi]);
      js += "      " + json_string(protocols[pi]) + ": {\"average\": " + num(t.average_over_rows(last)) + ", \"rows\": {";
      bool first = true;
      for (const auto& r : rows)
        if (t.has_row(r)) js += std::string(first ? "" : ", ") + json_string(r) + ": " + num(t.row_mean(r, last)), first = false;
      js += "}, \"average_per_step\": [";
      for (int k = 0; k < K; ++k) js += std::string(k ? ", " : "") + num(t.average_over_rows(k));
      js += "]}" + std::string(pi + 1 < protocols.size() ? ",\n" : "\n");
    }
    js += "    }" + std::string(si + 1 < settings().size() ? ",\n" : "\n");
  }
  js += "  }\n}\n";

  if (!run.out_dir.empty()) {
    const std::string od = run.out_dir;
    std::filesystem::create_directories(od);
    io::write_file(od + "/eval_" + dataset + ".csv", csv);
    io::write_file(od + "/eval_" + dataset + ".json", js);
  }
  if (run.print_json) {
    std::fputs(js.c_str(), stdout);
    return 0;
  }

  std::printf("%s: %zu clips, %lld frames in %lld chunks of %lld, H=%lld K=%d%s, %.1f s\n", dataset.c_str(), clips.size(),
              total_frames, total_chunks, (long long)L, (long long)run.hypotheses, K, run.flip ? " flip" : "", seconds);
  for (const auto& p : protocols) {
    const bool err = p == "mpjpe" || p == "p_mpjpe";
    std::printf("\n%s (%s, step %d)\n", p == "mpjpe" ? "Protocol #1: MPJPE" : p == "p_mpjpe" ? "Protocol #2: P-MPJPE"
                                       : p == "pck" ? "PCK@150mm" : "AUC", err ? "mm" : "%", K);
    std::printf("%-22s", "");
    for (const auto& s : settings()) std::printf(" %9s", setting_label(s).c_str());
    std::printf("\n");
    for (const auto& r : rows) {
      std::printf("%-22s", r.c_str());
      for (const auto& s : settings()) std::printf(" %9.2f", tables.at(s).at(p).row_mean(r, last));
      std::printf("\n");
    }
    std::printf("%-22s", avg_label.c_str());
    for (const auto& s : settings()) std::printf(" %9.2f", tables.at(s).at(p).average_over_rows(last));
    std::printf("\n");
  }
  if (!run.notes.empty()) std::printf("\n");
  for (const auto& n : run.notes) std::printf("%s\n", n.c_str());
  return 0;
}

}  // namespace eval_detail

inline int cmd_eval(int argc, char** argv) {
  using namespace eval_detail;
  Args a("eval",
         "--checkpoint FILE --dataset h36m|3dhp|humaneva --data DIR [--keypoints cpn|gt] [--hypotheses H --steps K --flip] "
         "[--out-dir DIR] [--json] [--quiet] [--max-clips N]",
         {{"checkpoint", "FILE", "model: official .bin/.pth checkpoint or finepose .safetensors"},
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
          {"json", "", "print the JSON report instead of tables"},
          {"quiet", "", "no progress bar"}});
  if (!a.parse(argc, argv)) return 0;
  a.apply_threads();
  const std::string dataset = a.require("dataset"), dir = a.require("data");
  const std::string keypoints = a.get("keypoints", "cpn");
  if (keypoints != "cpn" && keypoints != "gt") fail("eval: --keypoints must be cpn or gt, got '", keypoints, "'");
  ModelFileOptions mo;
  if (a.has("config")) mo.overrides_json = io::read_text_file(a.get("config"));
  FinePoseModel model = load_model(a.require("checkpoint"), mo);
  if (a.has("vocab")) set_tokenizer_from_vocab(model, a.get("vocab"));
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

  std::vector<data::EvalClip> clips = load_clips(dataset, dir, keypoints);
  const long long max_clips = a.get_int("max-clips", 0);
  if (max_clips < 0) fail("eval: --max-clips must be >= 0");
  if (max_clips > 0 && std::size_t(max_clips) < clips.size()) clips.resize(std::size_t(max_clips));
  if (a.has("action")) for (auto& c : clips) c.model_action = a.get("action");

  EvalRun run;
  run.dataset = dataset;
  run.checkpoint = a.get("checkpoint");
  run.keypoints = dataset == "h36m" ? keypoints : "gt";
  run.hypotheses = so.hypotheses;
  run.steps = int(so.steps);
  run.flip = so.flip;
  run.frames = L;
  run.batch = batch;
  run.to_mm = to_mm;
  run.quiet = a.has("quiet") || a.has("json");
  run.print_json = a.has("json");
  if (a.has("out-dir")) run.out_dir = a.get("out-dir");
  run.notes.push_back("* oracle settings: they pick hypotheses by looking at the ground truth; J-Agg and P-Agg are deployable.");
  if (dataset == "humaneva")
    run.notes.push_back("HumanEva: model text labels Walking/Jog -> \"Walking\", Box -> \"Directions\" unless --action is given.");
  return run_eval_protocol(clips, [&](const TensorF& xb, const data::EvalClip& clip) {
    return model.sample(xb, {clip.model_action}, so);  // [b, K, H, L, J, 3]
  }, run);
}

}  // namespace finepose::cli
