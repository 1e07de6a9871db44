#pragma once
// finepose infer: a detector's 2D keypoints of any length -> root-relative 3D
// poses in millimetres (npz / JSON / CSV).
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

#include "args.hpp"
#include "finepose/model/default_model.hpp"
#include "finepose/model/model_file.hpp"
#include "finepose/wild/keypoint_input.hpp"
#include "finepose/wild/multi_person.hpp"
#include "finepose/wild/output_files.hpp"
#include "progress.hpp"
#ifdef FINEPOSE_MPI
#include "finepose/dist/mpi_process_group.hpp"
#endif

namespace finepose::cli {

inline bool quiet_of(const Args& a) { return a.has("quiet") || a.has("json"); }

// The keypoints are normalised by the image width: without a size (flags or file) nothing can be lifted.
inline bool image_size_given(int width, int height) {
  if (width > 0 && height > 0) return true;
  std::fprintf(stderr, "finepose infer: usage error: give --width and --height (the video's size in pixels): the model "
                       "expects keypoints normalised by the image width\n");
  return false;
}

// --smooth and its parameters (pose/smoothing.hpp), checked.
inline pose::SmoothOptions smooth_options_of(const Args& a) {
  pose::SmoothOptions o = pose::default_smooth_options();
  if (a.has("smooth")) o.kind = pose::parse_smoother(a.get("smooth"));
  o.window = a.get_int_in("smooth-window", o.window, 3, 1001);
  o.order = a.get_int_in("smooth-order", o.order, 0, 6);
  o.min_cutoff = a.get_double_in("min-cutoff", o.min_cutoff, 1e-6, 1e6);
  o.beta = a.get_double_in("beta", o.beta, 0, 1e6);
  o.fps = a.get_double_in("fps", 30, 0.01, 10000);
  const bool savgol_flags = a.has("smooth-window") || a.has("smooth-order");
  const bool euro_flags = a.has("min-cutoff") || a.has("beta");
  FINEPOSE_CHECK(!savgol_flags || o.kind == pose::Smoother::savgol, "infer: --smooth-window/--smooth-order are savgol's (give --smooth savgol)");
  FINEPOSE_CHECK(!euro_flags || o.kind == pose::Smoother::one_euro, "infer: --min-cutoff/--beta are one-euro's (give --smooth one-euro)");
  pose::check_smooth_options(o);
  return o;
}

// The model of an infer run: --model (or the default), --config overrides, --vocab.
inline FinePoseModel infer_model(const Args& a, const std::string& model_path) {
  ModelFileOptions mo;
  if (a.has("config")) mo.overrides_json = io::read_text_file(a.get("config"));
  FinePoseModel model = load_model(model_path, mo);
  if (a.has("vocab")) set_tokenizer_from_vocab(model, a.get("vocab"));
  model.set_precision(precision_of(a));
  return model;
}

// infer --persons all: every track lifted in shared batched calls, one file.
inline int infer_all_persons(const Args& a, const std::string& kp_path, wild::InputFormat format,
                             std::optional<pose::KeypointLayout> layout, const wild::ReadOptions& ro, const std::string& model_path,
                             const std::function<FinePoseModel&()>& model_of, const std::string& out_path, int width,
                             int height, wild::LiftOptions opt, bool quiet) {
  wild::PersonsOptions po;
  po.read = ro;
  po.retrack = a.has("retrack");
  po.tracker.min_score = opt.min_score;
  const wild::PersonsInput in = wild::read_persons(kp_path, format, layout, po);
  if (width <= 0) width = int(in.image_width);
  if (height <= 0) height = int(in.image_height);
  if (!image_size_given(width, height)) return 2;
  FinePoseModel& model = model_of();
  Progress clock("lifting", 0, true);
  std::unique_ptr<Progress> bar;
  opt.on_window = [&](int64_t done, int64_t total) {
    if (!bar) bar = std::make_unique<Progress>("lifting windows (all persons)", total, quiet);
    bar->update(done);
  };
  const wild::MultiLifted m = wild::lift_persons(model, in, width, height, opt);
  if (bar) bar->finish();
  std::vector<std::string> notes = in.notes;
  for (size_t p = 0; p < m.persons.size(); ++p) {
    const std::string who = "person " + std::to_string(m.track_ids[p]) + ": ";
    if (in.persons[p].missing_frames)
      notes.push_back(who + std::to_string(in.persons[p].missing_frames) + " frames without a detection were interpolated");
    for (const auto& n : in.persons[p].notes) notes.push_back(who + n);
  }
  // the lifter's own notes (label, J-Agg camera) are the same for everybody: once
  for (const auto& n : m.persons[0].notes)
    if (n.rfind("filled ", 0) != 0) notes.push_back(n);
  int64_t filled = 0;
  for (const auto& l : m.persons) filled += l.gaps.filled;
  if (filled) notes.push_back("filled " + std::to_string(filled) + " low-confidence joint positions by temporal interpolation");
  wild::save_multi_lifted(out_path, m, width, height, m.persons[0].action, notes, existing_of(a));
  const int64_t P = int64_t(m.track_ids.size());
  if (a.has("json")) {
    json::Value s = json::Value::object();
    s["out"] = out_path;
    s["model"] = model_path;
    s["persons"] = P;
    json::Value ids = json::Value::array(), fr = json::Value::array();
    for (size_t p = 0; p < m.track_ids.size(); ++p) ids.push_back(m.track_ids[p]), fr.push_back(m.persons[p].poses.size(0));
    s["track_ids"] = ids;
    s["person_frames"] = fr;
    s["frames"] = m.frames;
    s["tracked"] = in.tracked;
    if (in.tracked) {
      json::Value t = json::Value::object();
      t["tracks"] = in.tracking.tracks;
      t["reassociations"] = in.tracking.reassociations;
      t["frames_bridged"] = in.tracking.frames_bridged;
      t["duplicates_suppressed"] = in.tracking.duplicates_suppressed;
      t["blips_dropped"] = in.tracking.blips_dropped;
      t["short_tracks_dropped"] = in.tracking.short_tracks_dropped;
      s["tracking"] = t;
    }
    s["source_layout"] = pose::layout_name(in.source_layout);
    s["action"] = m.persons[0].action;
    s["filled_joints"] = filled;
    s["seconds"] = clock.elapsed();
    json::Value jn = json::Value::array();
    for (const auto& n : notes) jn.push_back(n);
    s["notes"] = jn;
    std::printf("%s\n", json::dump(s).c_str());
  } else if (!a.has("quiet")) {
    std::fprintf(stderr, "persons: %lld (%s), frames %lld..%lld (%s keypoints)\n", (long long)P,
                 in.tracked ? "tracked" : "the file's track ids", (long long)m.first_frame, (long long)(m.first_frame + m.frames - 1),
                 pose::layout_name(in.source_layout));
    for (const auto& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    std::fprintf(stderr, "wrote %s in %.1f s\n", out_path.c_str(), clock.elapsed());
  }
  return 0;
}

// One keypoint file (or OpenPose directory) lifted to out_path; the model is loaded on first use.
inline int infer_file(const Args& a, const std::string& kp_path, const std::string& out_path, wild::InputFormat format,
                      std::optional<pose::KeypointLayout> layout, std::optional<int64_t> track, bool all_persons,
                      const wild::ReadOptions& ro, const std::string& model_path,
                      const std::function<FinePoseModel&()>& model_of, int width, int height, wild::LiftOptions opt) {
  const bool quiet = quiet_of(a);
  // keypoints first: a bad input file is reported before the model is loaded
  io::check_output_path("infer", out_path, {kp_path, model_path, a.get("vocab"), a.get("config")});
  check_output_free(a, "infer", out_path);  // before the work; the write refuses again, atomically
  if (all_persons) return infer_all_persons(a, kp_path, format, layout, ro, model_path, model_of, out_path, width, height, opt, quiet_of(a));
  const wild::DetectionSet file_set = wild::read_detections(kp_path, format, layout);
  wild::KeypointInput in = wild::keypoints_of_person(file_set, track, ro);
  // an npz may carry image_size (e.g. our own outputs)
  if (width <= 0) width = int(in.image_width);
  if (height <= 0) height = int(in.image_height);
  if (!image_size_given(width, height)) return 2;
  FinePoseModel& model = model_of();

  Progress clock("lifting", 0, true);  // for the elapsed time
  std::unique_ptr<Progress> bar;        // made at the first window, when the count is known
  opt.on_window = [&](int64_t done, int64_t total) {
    if (!bar) bar = std::make_unique<Progress>("lifting windows", total, quiet);
    bar->update(done);
  };
  wild::LiftedSequence seq;
  seq.lifted = wild::lift_sequence(model, in.kp, width, height, opt);
  if (bar) bar->finish();
  seq.keypoints = std::move(seq.lifted.keypoints);  // the 2D that was lifted: gap-filled, H36M order
  seq.first_frame = in.first_frame;
  seq.width = width, seq.height = height;
  seq.model_variant = model.config().variant == PromptVariant::h36m ? "h36m" : "mpi3dhp";
  if (in.missing_frames)
    seq.lifted.notes.push_back(std::to_string(in.missing_frames) + " frames had no detection of the person and were interpolated");
  for (const auto& n : in.notes) seq.lifted.notes.push_back(n);
  if (!track) {
    // a file with several people: say so, and how to lift them all
    const int64_t tracks = file_set.has_track_ids() ? int64_t(wild::tracks_by_first_appearance(file_set).size()) : 0;
    const int64_t most = wild::max_people_per_frame(file_set);
    if (tracks > 1)
      seq.lifted.notes.push_back("the file holds " + std::to_string(tracks) + " tracks; lifted one (" + in.person +
                                 "); --persons all lifts every person");
    else if (most > 1)
      seq.lifted.notes.push_back("the file has several people in a frame (up to " + std::to_string(most) +
                                 " detections) and no track ids; lifted the best one per frame; --persons all tracks and lifts every person");
  }
  save_lifted(out_path, seq, existing_of(a));
  const int64_t F = seq.lifted.poses.size(0);
  if (a.has("json")) {
    json::Value s = json::Value::object();
    s["out"] = out_path;
    s["model"] = model_path;
    s["frames"] = F;
    s["person"] = in.person;
    s["source_layout"] = pose::layout_name(in.source_layout);
    s["action"] = seq.lifted.action;
    s["filled_joints"] = seq.lifted.gaps.filled;
    s["seconds"] = clock.elapsed();
    json::Value notes = json::Value::array();
    for (const auto& n : seq.lifted.notes) notes.push_back(n);
    s["notes"] = notes;
    std::printf("%s\n", json::dump(s).c_str());
  } else if (!a.has("quiet")) {
    std::fprintf(stderr, "person: %s; %lld frames (%s keypoints)\n", in.person.c_str(), (long long)F,
                 pose::layout_name(in.source_layout));
    for (const auto& n : seq.lifted.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    std::fprintf(stderr, "wrote %s in %.1f s\n", out_path.c_str(), clock.elapsed());
  }
  return 0;
}

}  // namespace finepose::cli

#include "cmd_infer_batch.hpp"  // --keypoints DIR --out-dir DIR: many files (uses infer_file above)

namespace finepose::cli {

inline int cmd_infer(int argc, char** argv) {
  Args a("infer",
         "[--model FILE] --keypoints FILE [--format coco-json|openpose-json|halpe-json|csv|npz] --width W --height H [--persons longest|all|ID] "
         "[--action NAME|auto] [--hypotheses H --steps K --flip] [--aggregate j-agg|p-agg] [--keep-hypotheses] --out FILE.npz|.json|.csv "
         "| --keypoints DIR --out-dir DIR [--out-format npz|json|csv]",
         {{"model", "FILE", std::string("model: finepose .safetensors or official .bin/.pth checkpoint (default: the shipped ") +
                                kDefaultModelFile + ", found beside the binary, in the install prefix's share/finepose/models or the build's source tree; $FINEPOSE_MODEL overrides)"},
          {"keypoints", "FILE", "2D keypoints: COCO results / MMPose / AlphaPose JSON, OpenPose JSON (file or directory), CSV, npz"},
          {"format", "F", "coco-json, openpose-json, halpe-json, csv or npz (default: from the file name and content)"},
          {"layout", "L", "joint layout of the keypoints: coco17, halpe26, body25, coco18, h36m17 (default: from the joint count; 17 = coco17, npz: h36m17)"},
          {"persons", "longest|all|ID", "who is lifted: longest (default: the longest track, or the best person per frame when "
                                         "the file has no ids), all (every person: tracked when the file has no ids; npz poses_3d (P,F,17,3), "
                                         "present (P,F), track_ids (P,), root_3d (P,F,3) with --intrinsics; JSON/CSV rows carry a person id), "
                                         "or one track id"},
          {"track", "ID", "the same as --persons ID (kept for older scripts)"},
          {"retrack", "", "with --persons all: track people even when the file has ids (ids that switch between people)"},
          {"width", "W", "image width in pixels (needed to normalise the keypoints as the model was trained)"},
          {"height", "H", "image height in pixels"},
          {"action", "NAME|auto", "Human3.6M action label for the text prompt (Walking, Sitting, ...); auto/none (default): the model's generic prompt (\"A person\" for the default model, trained with label dropout), \"Waiting\" for a model without one (official checkpoints, the small model). "
                                  "Official models were trained with the 15 Human3.6M labels, the shipped ones with a few (models/README.md); a wrong label can lower accuracy (text is conditioning), it does not fail"},
          {"hypotheses", "H", "number of hypotheses (default 1)"},
          {"steps", "K", "DDIM steps (default 1)"},
          {"flip", "", "flip test-time augmentation"},
          {"aggregate", "A", "j-agg (per joint, best reprojection; default) or p-agg (mean of hypotheses)"},
          {"intrinsics", "FX,FY,CX,CY", "pixel intrinsics of the camera: used by J-Agg and enables camera-space trajectories. "
                                        "Without them J-Agg assumes focal 1.145 x width, centred, and no trajectory is written"},
          {"min-score", "S", "joints with a lower score are missing and filled by interpolation (default 0.3)"},
          {"overlap", "N", "frames shared by consecutive windows (default: a quarter of the model's window)"},
          {"seed", "S", "noise seed (default 0)"},
          {"keep-hypotheses", "", "also write all hypotheses (npz: hypotheses (F,H,17,3))"},
          {"out", "FILE", "output: .npz (poses_3d (F,17,3) mm, ...), .json or .csv (root-relative mm, H36M joint names)"},
          {"out-dir", "DIR", "batch: --keypoints is a directory whose every keypoint file (.json .csv .npz) or OpenPose "
                             "directory is lifted to DIR/NAME.npz; under mpirun the files are shared out over the ranks"},
          {"out-format", "npz|json|csv", "batch: the outputs' format (default npz)"},
          {"skip-existing", "", "batch: leave inputs whose output exists (a run continued)"},
          {"vocab", "FILE", "CLIP bpe_simple_vocab_16e6.txt.gz, for labels other than the 15 Human3.6M actions"},
          {"config", "FILE", "JSON overriding what an official checkpoint cannot tell (heads, clip_heads, encoder_heads)"},
          {"max-gap", "N", "frames without the person that are bridged by interpolation (default 30); a longer gap splits the track and the longest part is lifted"},
          {"max-frames", "N", "refuse a track longer than N frames (default 2^20, 11.6 h at 25 fps)"},
          {"smooth", "none|one-euro|savgol", "temporal smoothing of the lifted poses (and trajectory); default: " +
                                             pose::smoother_name(pose::default_smooth_options().kind) +
                                             " (the measured best, README \"Smoothing\")"},
          {"smooth-window", "N", "savgol: frames in the fitted window, odd (default " +
                                     std::to_string(pose::default_smooth_options().window) + ")"},
          {"smooth-order", "N", "savgol: polynomial order (default " + std::to_string(pose::default_smooth_options().order) + ")"},
          {"min-cutoff", "HZ", "one-euro: cutoff at rest in Hz (default 1)"},
          {"beta", "B", "one-euro: cutoff increase per mm/s of speed (default 0.01)"},
          {"fps", "N", "frames per second of the video, for one-euro (default 30)"},
          {"threads", "N", "CPU threads, 1..1024 (default: all)"},
          precision_option(),
          {"quiet", "", "no progress output"},
          {"json", "", "print a JSON summary on stdout"}});
  for (auto& o : overwrite_options("--out FILE, or in batch existing outputs,")) a.add(o);
  // Usage problems (unknown/missing/malformed options) exit with 2.
  std::string model_path, kp_path, out_path;
  wild::InputFormat format;
  std::optional<pose::KeypointLayout> layout;
  std::optional<int64_t> track;
  bool all_persons = false;
  wild::LiftOptions opt;
  wild::ReadOptions ro;
  int width = 0, height = 0;
  try {
    if (!a.parse(argc, argv)) return 0;
    FINEPOSE_CHECK(a.positional().empty(), "infer: unexpected argument '", a.positional().empty() ? "" : a.positional()[0], "'");
#ifdef FINEPOSE_SOURCE_MODELS_DIR
    model_path = a.has("model") ? a.get("model") : find_default_model(FINEPOSE_SOURCE_MODELS_DIR);
#else
    model_path = a.has("model") ? a.get("model") : find_default_model();
#endif
    kp_path = a.require("keypoints");
    if (a.has("out-dir")) {
      FINEPOSE_CHECK(!a.has("out"), "infer: give --out FILE (one input) or --out-dir DIR (a directory of inputs), not both");
      batch_output_format(a);
    } else {
      FINEPOSE_CHECK(!a.has("out-format") && !a.has("skip-existing"), "infer: --out-format and --skip-existing go with --out-dir");
      out_path = a.require("out");
      wild::output_format_of(out_path);
    }
    format = wild::input_format_from_name(a.get("format"));
    if (a.has("layout")) layout = pose::layout_from_name(a.get("layout"));
    if (a.has("track")) track = a.get_int_in("track", -1, 0, wild::kMaxFrameIndex);
    if (a.has("persons")) {
      const std::string p = a.get("persons");
      FINEPOSE_CHECK(!(a.has("track") && p != a.get("track")), "infer: --track ", a.get("track"), " and --persons ", p,
                     " disagree (--track ID is --persons ID)");
      if (p == "all") all_persons = true;
      else if (p != "longest") track = a.get_int_in("persons", -1, 0, wild::kMaxFrameIndex);
    }
    FINEPOSE_CHECK(!a.has("retrack") || all_persons, "infer: --retrack needs --persons all");
    FINEPOSE_CHECK(!(all_persons && a.has("keep-hypotheses")), "infer: --keep-hypotheses is for one person; "
                   "with --persons all lift a person alone (--persons ID) to keep its hypotheses");
    width = int(a.get_int_in("width", 0, 1, wild::kMaxImageSide));
    height = int(a.get_int_in("height", 0, 1, wild::kMaxImageSide));
    opt.action = a.get("action", "auto");
    opt.hypotheses = a.get_int_in("hypotheses", 1, 1, 1000);
    opt.steps = a.get_int_in("steps", 1, 1, 1000);
    opt.flip = a.has("flip");
    opt.seed = std::uint64_t(a.get_int("seed", 0));
    opt.aggregation = wild::aggregation_from_name(a.get("aggregate", "j-agg"));
    opt.keep_hypotheses = a.has("keep-hypotheses");
    opt.min_score = a.get_double_in("min-score", 0.3, 0, 1);
    opt.overlap = a.get_int_in("overlap", -1, 0, 1 << 20);  // the model's window bounds it (checked at load)
    ro.max_gap = a.get_int_in("max-gap", ro.max_gap, 0, 1 << 20);
    ro.max_frames = a.get_int_in("max-frames", ro.max_frames, 1, wild::kMaxFrameIndex);
    if (a.has("intrinsics")) {
      const auto v = split_commas(a.get("intrinsics"));
      FINEPOSE_CHECK(v.size() == 4, "infer: --intrinsics needs FX,FY,CX,CY (4 numbers), got ", v.size());
      double k[4];
      for (int i = 0; i < 4; ++i) {
        char* end = nullptr;
        k[i] = std::strtod(v[size_t(i)].c_str(), &end);
        FINEPOSE_CHECK(!v[size_t(i)].empty() && !*end && std::isfinite(k[i]), "infer: --intrinsics value '", v[size_t(i)], "' is not a number");
      }
      FINEPOSE_CHECK(k[0] > 0 && k[1] > 0, "infer: --intrinsics focal lengths must be positive");
      pose::CameraIntrinsics ci;
      ci.fx = k[0], ci.fy = k[1], ci.cx = k[2], ci.cy = k[3];
      opt.intrinsics = ci;
    }
    opt.smooth = smooth_options_of(a);
    (void)precision_of(a);  // a bad --precision is a usage error before any file is read
    a.apply_threads();
  } catch (const Error& e) {
    std::fprintf(stderr, "finepose infer: usage error: %s\n", e.what());
    return 2;
  }
  if (a.has("out-dir")) return infer_batch(a, kp_path, format, layout, track, all_persons, ro, model_path, width, height, opt);
#ifdef FINEPOSE_MPI
  FINEPOSE_CHECK(!dist::launched_by_mpi(), "infer: under mpirun, give --keypoints DIR --out-dir DIR (the files are shared "
                 "out over the ranks); one file is lifted by one process");
#endif
  std::optional<FinePoseModel> model;
  auto model_of = [&]() -> FinePoseModel& {
    if (!model) model.emplace(infer_model(a, model_path));
    return *model;
  };
  return infer_file(a, kp_path, out_path, format, layout, track, all_persons, ro, model_path, model_of, width, height, opt);
}

}  // namespace finepose::cli

