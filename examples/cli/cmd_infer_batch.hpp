#pragma once
// finepose infer --keypoints DIR --out-dir DIR: every keypoint file (.json, .csv,
// .npz) and every OpenPose directory in DIR lifted to DIR_OUT/NAME.<format>, with one
// model load. Under mpirun the files are shared out over the ranks (file i to rank
// i mod N) and rank 0 prints the summary. A file that fails is reported and the
// others go on; the exit status is 1 when any failed. Existing outputs are never
// replaced unless asked (--overwrite), or are left as they are (--skip-existing:
// a run that was stopped, continued).
// Included by cmd_infer.hpp after infer_file.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "finepose/dist/process_group.hpp"
#ifdef FINEPOSE_MPI
#include "finepose/dist/mpi_process_group.hpp"
#endif

namespace finepose::cli {

// --out-format (checked at parse time)
inline std::string batch_output_format(const Args& a) {
  const std::string f = a.get("out-format", "npz");
  FINEPOSE_CHECK(f == "npz" || f == "json" || f == "csv", "infer: --out-format must be npz, json or csv, not '", f, "'");
  FINEPOSE_CHECK(!(a.has("skip-existing") && a.has("overwrite")), "infer: give --skip-existing or --overwrite, not both");
  return f;
}

// a message or path on one line (the summary rank 0 gathers is one item a line)
inline std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

struct BatchItem {
  std::string in, out;
};

// The inputs of DIR in name order and their outputs; refuses what would go wrong
// (nothing to lift, two inputs writing one output, one OpenPose video given as many).
inline std::vector<BatchItem> batch_items(const std::string& dir, const std::string& out_dir, const std::string& fmt) {
  namespace fs = std::filesystem;
  FINEPOSE_CHECK(fs::is_directory(dir), "infer: --out-dir needs --keypoints to be a directory of keypoint files; '", dir,
                 "' is not a directory");
  std::error_code ec;
  const fs::path out_c = fs::weakly_canonical(out_dir, ec);
  std::vector<fs::path> entries;
  int64_t per_frame = 0, files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (e.is_directory()) {
      if (fs::weakly_canonical(e.path(), ec) == out_c) continue;  // the outputs live inside the input directory
      entries.push_back(e.path());
    } else if (e.is_regular_file()) {
      std::string ext = e.path().extension().string();
      for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
      if (ext != ".json" && ext != ".csv" && ext != ".npz") continue;
      entries.push_back(e.path());
      ++files;
      per_frame += name.size() > 15 && name.compare(name.size() - 15, 15, "_keypoints.json") == 0;
    }
  }
  std::sort(entries.begin(), entries.end());
  FINEPOSE_CHECK(!entries.empty(), "infer: no keypoint files (.json, .csv, .npz) or OpenPose directories in '", dir, "'");
  FINEPOSE_CHECK(files < 2 || per_frame < files, "infer: '", dir, "' holds OpenPose's per-frame files (*_keypoints.json): "
                 "that is one video; lift it with --keypoints ", dir, " --out FILE, or put each video's directory in DIR");
  std::map<std::string, std::string> by_out;
  std::vector<BatchItem> items;
  for (const auto& p : entries) {
    const std::string stem = fs::is_directory(p) ? p.filename().string() : p.stem().string();
    BatchItem it{p.string(), (fs::path(out_dir) / (stem + "." + fmt)).string()};
    auto [pos, fresh] = by_out.emplace(it.out, it.in);
    if (!fresh) fail("infer: '", pos->second, "' and '", it.in, "' would both be written to '", it.out, "' (rename one)");
    items.push_back(std::move(it));
  }
  return items;
}

inline int infer_batch_on(const Args& a, const std::string& dir, wild::InputFormat format,
                          std::optional<pose::KeypointLayout> layout, std::optional<int64_t> track, bool all_persons,
                          const wild::ReadOptions& ro, const std::string& model_path, int width, int height,
                          const wild::LiftOptions& opt, dist::ProcessGroup& group) {
  namespace fs = std::filesystem;
  const std::string out_dir = a.get("out-dir"), fmt = batch_output_format(a);
  FINEPOSE_CHECK(!out_dir.empty(), "infer: --out-dir is empty");
  std::vector<BatchItem> items = batch_items(dir, out_dir, fmt);
  const int64_t total = int64_t(items.size());
  int64_t skipped = 0;
  if (a.has("skip-existing")) {
    std::vector<BatchItem> todo;
    for (auto& it : items)
      if (fs::exists(it.out)) ++skipped;
      else todo.push_back(std::move(it));
    items = std::move(todo);
  } else if (!a.has("overwrite")) {
    int64_t n = 0;
    std::string first;
    for (const auto& it : items)
      if (fs::exists(it.out) && n++ == 0) first = it.out;
    if (n) fail("infer: ", n, " of the outputs exist already (first: '", first, "'); give --skip-existing to lift only the "
                "others or --overwrite to replace them");
  }
  if (group.is_root()) fs::create_directories(out_dir);
  group.barrier();  // the directory exists before any rank writes into it
  FINEPOSE_CHECK(fs::is_directory(out_dir), "infer: cannot create the output directory '", out_dir, "'");

  std::optional<FinePoseModel> model;
  std::string model_error;
  auto model_of = [&]() -> FinePoseModel& {
    if (!model) {
      try {
        model.emplace(infer_model(a, model_path));
      } catch (const std::exception& e) {
        model_error = e.what();
        throw;
      }
    }
    return *model;
  };
  std::string failures;  // this rank's failed inputs, one a line
  int64_t lifted = 0;
  for (std::size_t i = std::size_t(group.rank()); i < items.size() && model_error.empty(); i += std::size_t(group.size())) {
    const BatchItem& it = items[i];
    std::string err;
    try {
      if (infer_file(a, it.in, it.out, format, layout, track, all_persons, ro, model_path, model_of, width, height, opt) == 0)
        ++lifted;
      else
        err = "not lifted (see the message above)";
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (!err.empty() && model_error.empty()) {
      std::fprintf(stderr, "finepose infer: %s: error: %s\n", it.in.c_str(), err.c_str());
      failures += one_line(it.in) + "\n";
    }
  }
  // rank 0 sums up; every rank returns the same status. Sent as lines: the count, the
  // model's error ("-" for none), then the failed inputs (newlines in them made spaces)
  std::string mine = std::to_string(lifted) + "\n" + (model_error.empty() ? "-" : "!" + one_line(model_error)) + "\n" + failures;
  const auto all = group.gather_to_root(mine);
  std::string verdict;
  if (group.is_root()) {
    int64_t done = 0;
    std::vector<std::string> failed;
    std::string fatal;
    for (const auto& r : all) {
      std::vector<std::string> lines;
      for (std::size_t q = 0; q < r.size();) {
        const std::size_t e = r.find('\n', q);
        lines.push_back(r.substr(q, e - q));
        q = e + 1;
      }
      FINEPOSE_CHECK(lines.size() >= 2, "infer: a rank's summary is malformed");
      done += std::stoll(lines[0]);
      if (lines[1] != "-") fatal = lines[1].substr(1);
      failed.insert(failed.end(), lines.begin() + 2, lines.end());
    }
    std::sort(failed.begin(), failed.end());
    if (!fatal.empty()) {
      std::fprintf(stderr, "finepose infer: error: %s\n", fatal.c_str());
      verdict = "1";
    } else {
      verdict = failed.empty() ? "0" : "1";
      if (a.has("json")) {
        json::Value s = json::Value::object();
        s["out_dir"] = out_dir;
        s["files"] = total;
        s["lifted"] = done;
        s["skipped"] = skipped;
        json::Value f = json::Value::array();
        for (const auto& x : failed) f.push_back(x);
        s["failed"] = f;
        s["ranks"] = group.size();
        std::printf("%s\n", json::dump(s).c_str());
      }
      if (!a.has("quiet") || !failed.empty()) {
        std::fprintf(stderr, "lifted %lld of %lld files into %s", (long long)done, (long long)total, out_dir.c_str());
        if (skipped) std::fprintf(stderr, " (%lld skipped: their outputs exist)", (long long)skipped);
        if (group.size() > 1) std::fprintf(stderr, " on %d ranks", group.size());
        std::fprintf(stderr, "\n");
        if (!failed.empty()) {
          std::fprintf(stderr, "finepose infer: %zu file(s) failed:\n", failed.size());
          for (const auto& x : failed) std::fprintf(stderr, "  %s\n", x.c_str());
        }
      }
    }
  }
  group.broadcast(verdict);
  return verdict == "0" ? 0 : 1;
}

inline int infer_batch(const Args& a, const std::string& dir, wild::InputFormat format,
                       std::optional<pose::KeypointLayout> layout, std::optional<int64_t> track, bool all_persons,
                       const wild::ReadOptions& ro, const std::string& model_path, int width, int height,
                       const wild::LiftOptions& opt) {
#ifdef FINEPOSE_MPI
  if (dist::launched_by_mpi()) {
    dist::MpiProcessGroup mpi(nullptr, nullptr);
    try {
      return infer_batch_on(a, dir, format, layout, track, all_persons, ro, model_path, width, height, opt, mpi);
    } catch (const std::exception& e) {  // an error outside a file's lifting is every rank's: end them all
      std::fprintf(stderr, "finepose infer: error (rank %d of %d): %s\n", mpi.rank(), mpi.size(), e.what());
      mpi.abort_all(1);
    }
  }
#endif
  dist::SingleProcess one;
  return infer_batch_on(a, dir, format, layout, track, all_persons, ro, model_path, width, height, opt, one);
}

}  // namespace finepose::cli
