#pragma once
// The paper's test protocol, for any predictor of pose chunks:
//
//   1. test clips of the dataset (eval/test_clips.hpp);
//   2. each clip cut into chunks of the model's frame count as main.py's
//      eval_data_prepare (last chunk = last L frames; replicate padding when
//      the clip is shorter than L);
//   3. the predictor on `batch` chunks at a time (for FinePOSE: H hypotheses,
//      K DDIM steps, optional flip augmentation; model_predictor below);
//   4. for every step, the four settings (J-Agg, P-Agg, J-Best*, P-Best*) by
//      pose/metrics_report.hpp, frame-weighted per table row as main.py does
//      (every chunk frame counts, so overlapped/padded frames count as in the
//      official numbers; P-Best picks one hypothesis per batch of chunks);
//   5. tables per row (action; HumanEva: action x subject; 3DHP: sequence)
//      and the mean over rows: EvalReport, written as JSON, CSV or text.
// The Human3.6M variant predicts metres (VideoPose3D units), scaled to mm by
// EvalRun::to_mm; the 3DHP variant's sample() already returns mm.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "finepose/data/eval_clip.hpp"
#include "finepose/dist/process_group.hpp"
#include "finepose/eval/test_clips.hpp"
#include "finepose/io/json.hpp"
#include "finepose/model/finepose_model.hpp"
#include "finepose/pose/error_table.hpp"
#include "finepose/pose/metrics_report.hpp"

namespace finepose::eval {

// The four hypothesis settings, in table order, and their printed names.
inline const std::vector<std::string>& settings() {
  static const std::vector<std::string> s{"j_agg", "p_agg", "j_best", "p_best"};
  return s;
}
inline std::string setting_label(const std::string& s) {
  return s == "j_agg" ? "J-Agg" : s == "p_agg" ? "P-Agg" : s == "j_best" ? "J-Best*" : "P-Best*";
}

// One evaluation run: what the report's header says and how the tables are made.
struct EvalRun {
  std::string dataset;              // h36m, 3dhp, humaneva
  std::string checkpoint;           // the JSON's "checkpoint" (the model file)
  std::string keypoints = "gt";     // the JSON's "keypoints"
  std::int64_t hypotheses = 1;      // H (the JSON's; the predictor's output decides)
  int steps = 1;                    // K
  bool flip = false;
  std::int64_t frames = 0;          // L: chunk length
  std::int64_t batch = 4;           // chunks per predictor call and per P-Best choice
  double to_mm = 1000.0;            // predictor units -> mm
  std::vector<std::string> notes;   // printed under the tables
};

// Predicts [b, K, H, L, J, 3] (predictor units) for b chunks x2d [b, L, J, 2] of one clip.
using ChunkPredictor = std::function<TensorF(const TensorF& x2d, const data::EvalClip& clip)>;
// Called after each predictor call with (chunks done, chunks in all).
using EvalProgress = std::function<void(long long done, long long total)>;

struct EvalReport {
  EvalRun run;
  std::size_t clips = 0;
  long long frames = 0, chunks = 0;
  double seconds = 0;
  std::vector<std::string> protocols;  // mpjpe, p_mpjpe (3DHP: and pck, auc)
  // tables[setting][protocol]: rows x steps
  std::map<std::string, std::map<std::string, pose::ErrorTable>> tables;

  const pose::ErrorTable& table(const std::string& setting, const std::string& protocol) const {
    return tables.at(setting).at(protocol);
  }
  const std::vector<std::string>& rows() const { return table("p_agg", "mpjpe").rows(); }
  std::string average_label() const { return run.dataset == "3dhp" ? "All (mean)" : "Average"; }
  // The mean over rows at the last step.
  double average(const std::string& setting, const std::string& protocol) const {
    return table(setting, protocol).average_over_rows(run.steps - 1);
  }
};

namespace detail {
// One ErrorTable::add of the protocol, recorded: the tables are made by replaying
// the records in clip order, so a run split over processes (each rank a share of
// the clips) makes the very same additions in the same order as one process.
struct TableAdd {
  std::int32_t setting = 0, protocol = 0, step = 0;
  double value = 0, weight = 0;
};
struct ClipAdds {
  std::int64_t clip = 0;
  std::vector<TableAdd> adds;
};

inline void put_bytes(std::string& b, const void* p, std::size_t n) { b.append(static_cast<const char*>(p), n); }
inline std::string encode_clip_adds(const std::vector<ClipAdds>& all) {
  std::string b;
  for (const auto& c : all) {
    const std::int64_t n = std::int64_t(c.adds.size());
    put_bytes(b, &c.clip, 8);
    put_bytes(b, &n, 8);
    for (const auto& a : c.adds) {
      put_bytes(b, &a.setting, 4), put_bytes(b, &a.protocol, 4), put_bytes(b, &a.step, 4);
      put_bytes(b, &a.value, 8), put_bytes(b, &a.weight, 8);
    }
  }
  return b;
}
inline std::vector<ClipAdds> decode_clip_adds(const std::string& b) {
  std::vector<ClipAdds> out;
  std::size_t at = 0;
  auto get = [&](void* p, std::size_t n) {
    FINEPOSE_CHECK(at + n <= b.size(), "eval: a rank's results are truncated (", b.size(), " bytes)");
    std::memcpy(p, b.data() + at, n);
    at += n;
  };
  while (at < b.size()) {
    ClipAdds c;
    std::int64_t n = 0;
    get(&c.clip, 8), get(&n, 8);
    FINEPOSE_CHECK(n >= 0 && std::uint64_t(n) <= (b.size() - at) / 28, "eval: a rank's results are malformed");
    c.adds.resize(std::size_t(n));
    for (auto& a : c.adds) get(&a.setting, 4), get(&a.protocol, 4), get(&a.step, 4), get(&a.value, 8), get(&a.weight, 8);
    out.push_back(std::move(c));
  }
  return out;
}

// Steps 2 and 4 for one clip: its chunks through the predictor, the additions it makes.
inline std::vector<TableAdd> clip_table_adds(const data::EvalClip& clip, const ChunkPredictor& predict, const EvalRun& run,
                                             const std::vector<std::string>& protocols, long long& done, long long total,
                                             const EvalProgress& progress) {
  const std::int64_t L = run.frames, batch = run.batch, J = 17;
  const int K = run.steps;
  pose::MetricsOptions mopt;
  mopt.skeleton = run.dataset == "3dhp" ? "mpi-inf-3dhp-17" : "h36m-17";
  mopt.pose_best_group_frames = 0;  // each call below is one batch = one P-Best group
  std::vector<TableAdd> adds;
  const TensorF x2d = data::make_eval_chunks(clip.keypoints_2d, L);
  const TensorF tgt = data::make_eval_chunks(clip.target, L);
  const TensorF root = data::make_eval_chunks(clip.root, L);
  const std::vector<bool> valid = clip.valid.empty() ? std::vector<bool>() : data::make_eval_chunks(clip.valid, L);
  const std::int64_t C = x2d.size(0);
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
        if (progress) progress(done += b, total);
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
                  run.to_mm * out.data()[((((bi * K + k) * H + h) * L + f) * J * 3) + e];
      const pose::MetricsReport m = pose::compute_metrics(in, mopt);
      for (const auto& [name, v] : m.aggregations) {
        const auto& ss = settings();
        const std::int32_t si = std::int32_t(std::find(ss.begin(), ss.end(), name) - ss.begin());
        const double values[4] = {v.mpjpe, v.p_mpjpe, v.pck, v.auc};
        for (std::size_t p = 0; p < protocols.size(); ++p)
          adds.push_back({si, std::int32_t(p), std::int32_t(k), values[p], double(weight)});
      }
    }
    if (progress) progress(done += b, total);
  }
  return adds;
}
}  // namespace detail

// Steps 2 and 4 of the protocol: every clip through the predictor, into tables.
// With a process group of N ranks, rank r predicts clips r, r + N, ...; rank 0
// gathers every rank's additions and makes the tables from them in clip order:
// the one-process tables, bit for bit (the predictor draws the same noise for a
// chunk whichever rank runs it). Ranks other than 0 return a report with the
// run's header but no table rows.
inline EvalReport run_protocol(const std::vector<data::EvalClip>& clips, const ChunkPredictor& predict,
                               const EvalRun& run, const EvalProgress& progress = {},
                               dist::ProcessGroup* group = nullptr) {
  const std::int64_t L = run.frames, batch = run.batch;
  const bool is_3dhp = run.dataset == "3dhp";
  const int K = run.steps;
  if (L < 1 || batch < 1 || K < 1) fail("eval: chunk length, batch and steps must be >= 1");
  dist::SingleProcess single;
  dist::ProcessGroup& pg = group ? *group : single;
  const auto t0 = std::chrono::steady_clock::now();
  EvalReport rep;
  rep.run = run;
  rep.clips = clips.size();
  long long mine = 0;  // chunks this rank predicts (its progress total)
  for (std::size_t i = 0; i < clips.size(); ++i) {
    const long long c = data::eval_chunk_count(clips[i].frames(), L);
    rep.chunks += c, rep.frames += clips[i].frames();
    if (int(i % std::size_t(pg.size())) == pg.rank()) mine += c;
  }
  rep.protocols = is_3dhp ? std::vector<std::string>{"mpjpe", "p_mpjpe", "pck", "auc"}
                          : std::vector<std::string>{"mpjpe", "p_mpjpe"};
  for (const auto& s : settings())
    for (const auto& p : rep.protocols) rep.tables[s].emplace(p, pose::ErrorTable(K));

  long long done = 0;
  std::vector<detail::ClipAdds> local;
  for (std::size_t i = std::size_t(pg.rank()); i < clips.size(); i += std::size_t(pg.size()))
    local.push_back({std::int64_t(i), detail::clip_table_adds(clips[i], predict, run, rep.protocols, done, mine, progress)});
  std::vector<detail::ClipAdds> all;
  if (pg.size() == 1) {
    all = std::move(local);
  } else {
    for (const std::string& b : pg.gather_to_root(detail::encode_clip_adds(local)))
      for (auto& c : detail::decode_clip_adds(b)) all.push_back(std::move(c));
    std::sort(all.begin(), all.end(), [](const detail::ClipAdds& a, const detail::ClipAdds& b) { return a.clip < b.clip; });
    if (pg.is_root()) FINEPOSE_CHECK(all.size() == clips.size(), "eval: ", all.size(), " of ", clips.size(), " clips came back from the ranks");
  }
  for (const auto& c : all) {
    FINEPOSE_CHECK(c.clip >= 0 && std::size_t(c.clip) < clips.size(), "eval: a rank returned clip ", c.clip);
    const std::string row = table_row(run.dataset, clips[std::size_t(c.clip)]);
    for (const auto& a : c.adds) {
      FINEPOSE_CHECK(a.setting >= 0 && std::size_t(a.setting) < settings().size() && a.protocol >= 0 &&
                     std::size_t(a.protocol) < rep.protocols.size() && a.step >= 0 && a.step < K,
                     "eval: a rank returned a malformed table entry");
      rep.tables.at(settings()[std::size_t(a.setting)]).at(rep.protocols[std::size_t(a.protocol)]).add(row, a.value, a.weight, a.step);
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

// FinePOSE as a ChunkPredictor: sample() with each clip's text label.
inline ChunkPredictor model_predictor(const FinePoseModel& model, const SampleOptions& opt) {
  return [&model, opt](const TensorF& xb, const data::EvalClip& clip) {
    return model.sample(xb, {clip.model_action}, opt);  // [b, K, H, L, J, 3]
  };
}

namespace detail {
// A figure as the report gives it: 4 decimals; null where a table cell is not finite.
inline json::Value figure(double v) {
  if (!std::isfinite(v)) return json::Value();
  return json::Value(std::round(v * 1e4) / 1e4);
}
inline std::string figure_text(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}
inline std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string r = "\"";
  for (char ch : s) r += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return r + "\"";
}
}  // namespace detail

// The JSON report: the run's header, then settings.<s>.<protocol>.{average, rows,
// average_per_step} (the last step's figures; every step's average).
inline json::Value report_json(const EvalReport& r) {
  json::Value js = json::Value::object();
  js["dataset"] = r.run.dataset;
  js["checkpoint"] = r.run.checkpoint;
  js["keypoints"] = r.run.keypoints;
  js["hypotheses"] = json::Value(static_cast<long long>(r.run.hypotheses));
  js["steps"] = json::Value(static_cast<long long>(r.run.steps));
  js["flip"] = r.run.flip;
  js["model_frames"] = json::Value(static_cast<long long>(r.run.frames));
  js["clips"] = json::Value(static_cast<unsigned long long>(r.clips));
  js["frames"] = json::Value(r.frames);
  js["chunks"] = json::Value(r.chunks);
  js["seconds"] = detail::figure(r.seconds);
  js["oracle_settings"] = json::Value::array({json::Value("j_best"), json::Value("p_best")});
  json::Value& st = js["settings"] = json::Value::object();
  const int last = r.run.steps - 1;
  for (const auto& s : settings()) {
    json::Value& so = st[s] = json::Value::object();
    for (const auto& p : r.protocols) {
      const pose::ErrorTable& t = r.table(s, p);
      json::Value& po = so[p] = json::Value::object();
      po["average"] = detail::figure(t.average_over_rows(last));
      json::Value& rows = po["rows"] = json::Value::object();
      for (const auto& row : r.rows())
        if (t.has_row(row)) rows[row] = detail::figure(t.row_mean(row, last));
      json::Value& per = po["average_per_step"] = json::Value::array();
      for (int k = 0; k < r.run.steps; ++k) per.push_back(detail::figure(t.average_over_rows(k)));
    }
  }
  return js;
}

// CSV: row,setting,metric,step,value,frames for every row and step, and the average per step.
inline std::string report_csv(const EvalReport& r) {
  std::string csv = "row,setting,metric,step,value,frames\n";
  for (const auto& s : settings())
    for (const auto& p : r.protocols) {
      const pose::ErrorTable& t = r.table(s, p);
      for (int k = 0; k < r.run.steps; ++k) {
        for (const auto& row : r.rows())
          if (t.has_row(row))
            csv += detail::csv_field(row) + "," + setting_label(s) + "," + p + "," + std::to_string(k + 1) + "," +
                   detail::figure_text(t.row_mean(row, k)) + "," + detail::figure_text(t.at(row, k).weight) + "\n";
        csv += r.average_label() + "," + setting_label(s) + "," + p + "," + std::to_string(k + 1) + "," +
               detail::figure_text(t.average_over_rows(k)) + ",\n";
      }
    }
  return csv;
}

// The tables as printed by `finepose eval`: one per protocol, rows x settings, last step.
inline std::string report_text(const EvalReport& r) {
  std::string out;
  char b[512];
  const int K = r.run.steps, last = K - 1;
  std::snprintf(b, sizeof b, "%s: %zu clips, %lld frames in %lld chunks of %lld, H=%lld K=%d%s, %.1f s\n",
                r.run.dataset.c_str(), r.clips, r.frames, r.chunks, (long long)r.run.frames, (long long)r.run.hypotheses,
                K, r.run.flip ? " flip" : "", r.seconds);
  out += b;
  for (const auto& p : r.protocols) {
    const bool err = p == "mpjpe" || p == "p_mpjpe";
    std::snprintf(b, sizeof b, "\n%s (%s, step %d)\n",
                  p == "mpjpe" ? "Protocol #1: MPJPE" : p == "p_mpjpe" ? "Protocol #2: P-MPJPE" : p == "pck" ? "PCK@150mm" : "AUC",
                  err ? "mm" : "%", K);
    out += b;
    std::snprintf(b, sizeof b, "%-22s", "");
    out += b;
    for (const auto& s : settings()) std::snprintf(b, sizeof b, " %9s", setting_label(s).c_str()), out += b;
    out += "\n";
    for (const auto& row : r.rows()) {
      std::snprintf(b, sizeof b, "%-22s", row.c_str());
      out += b;
      for (const auto& s : settings()) std::snprintf(b, sizeof b, " %9.2f", r.table(s, p).row_mean(row, last)), out += b;
      out += "\n";
    }
    std::snprintf(b, sizeof b, "%-22s", r.average_label().c_str());
    out += b;
    for (const auto& s : settings()) std::snprintf(b, sizeof b, " %9.2f", r.table(s, p).average_over_rows(last)), out += b;
    out += "\n";
  }
  if (!r.run.notes.empty()) out += "\n";
  for (const auto& n : r.run.notes) out += n + "\n";
  return out;
}

}  // namespace finepose::eval
