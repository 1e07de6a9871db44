#pragma once
// finepose infer: a detector's 2D keypoints of any length -> root-relative 3D
// poses in millimetres (npz / JSON / CSV).
#include <cstdio>
#include <memory>
#include <optional>

#include "args.hpp"
#include "finepose/model/default_model.hpp"
#include "finepose/model/model_file.hpp"
#include "finepose/wild/keypoint_input.hpp"
#include "finepose/wild/output_files.hpp"
#include "progress.hpp"

namespace finepose::cli {

inline int cmd_infer(int argc, char** argv) {
  Args a("infer",
         "[--model FILE] --keypoints FILE [--format coco-json|openpose-json|halpe-json|csv|npz] --width W --height H "
         "[--action NAME|auto] [--hypotheses H --steps K --flip] [--aggregate j-agg|p-agg] [--keep-hypotheses] --out FILE.npz|.json|.csv",
         {{"model", "FILE", std::string("model: finepose .safetensors or official .bin/.pth checkpoint (default: the shipped ") +
                                kDefaultModelFile + ", found beside the binary, in the install prefix's share/finepose/models or the build's source tree; $FINEPOSE_MODEL overrides)"},
          {"keypoints", "FILE", "2D keypoints: COCO results / MMPose / AlphaPose JSON, OpenPose JSON (file or directory), CSV, npz"},
          {"format", "F", "coco-json, openpose-json, halpe-json, csv or npz (default: from the file name and content)"},
          {"layout", "L", "joint layout of the keypoints: coco17, halpe26, body25, coco18, h36m17 (default: from the joint count; 17 = coco17, npz: h36m17)"},
          {"track", "ID", "follow this track/person id (default: the longest track, or the best person per frame)"},
          {"width", "W", "image width in pixels (needed to normalise the keypoints as the model was trained)"},
          {"height", "H", "image height in pixels"},
          {"action", "NAME|auto", "Human3.6M action label for the text prompt (Walking, Sitting, ...); auto/none: \"Waiting\". "
                                  "The model was trained with the 15 Human3.6M labels; a wrong or default label lowers accuracy (text is conditioning), it does not fail"},
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
          {"vocab", "FILE", "CLIP bpe_simple_vocab_16e6.txt.gz, for labels other than the 15 Human3.6M actions"},
          {"config", "FILE", "JSON overriding what an official checkpoint cannot tell (heads, clip_heads, encoder_heads)"},
          {"max-gap", "N", "frames without the person that are bridged by interpolation (default 30); a longer gap splits the track and the longest part is lifted"},
          {"max-frames", "N", "refuse a track longer than N frames (default 2^20, 11.6 h at 25 fps)"},
          {"threads", "N", "CPU threads, 1..1024 (default: all)"},
          {"quiet", "", "no progress output"},
          {"json", "", "print a JSON summary on stdout"}});
  // Usage problems (unknown/missing/malformed options) exit with 2.
  std::string model_path, kp_path, out_path;
  wild::InputFormat format;
  std::optional<pose::KeypointLayout> layout;
  std::optional<int64_t> track;
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
    out_path = a.require("out");
    wild::output_format_of(out_path);
    format = wild::input_format_from_name(a.get("format"));
    if (a.has("layout")) layout = pose::layout_from_name(a.get("layout"));
    if (a.has("track")) track = a.get_int_in("track", -1, 0, wild::kMaxFrameIndex);
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
    a.apply_threads();
  } catch (const Error& e) {
    std::fprintf(stderr, "finepose infer: usage error: %s\n", e.what());
    return 2;
  }
  const bool quiet = a.has("quiet") || a.has("json");

  // keypoints first: a bad input file is reported before the model is loaded
  io::check_output_path("infer", out_path, {kp_path, model_path, a.get("vocab"), a.get("config")});
  wild::KeypointInput in = wild::read_keypoints(kp_path, format, layout, track, ro);
  // an npz may carry image_size (e.g. our own outputs)
  if (width <= 0) width = int(in.image_width);
  if (height <= 0) height = int(in.image_height);
  if (width <= 0 || height <= 0) {
    std::fprintf(stderr, "finepose infer: usage error: give --width and --height (the video's size in pixels): the model "
                         "expects keypoints normalised by the image width\n");
    return 2;
  }
  ModelFileOptions mo;
  if (a.has("config")) mo.overrides_json = io::read_text_file(a.get("config"));
  FinePoseModel model = load_model(model_path, mo);
  if (a.has("vocab")) set_tokenizer_from_vocab(model, a.get("vocab"));

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
  save_lifted(out_path, seq);
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
