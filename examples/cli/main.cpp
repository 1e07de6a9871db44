// finepose: the command-line tool. Each command is a thin layer over the
// library, in its own header beside this file.
#include <cstdio>
#include <cstring>
#include <string>

#include "finepose/version.hpp"
#include "cmd_convert.hpp"
#include "cmd_sample.hpp"
// Further commands live in their own headers; each is compiled in when present.
#if __has_include("cmd_metrics.hpp")
#include "cmd_metrics.hpp"
#define FINEPOSE_CLI_METRICS 1
#endif
#if __has_include("cmd_eval.hpp")
#include "cmd_eval.hpp"
#define FINEPOSE_CLI_EVAL 1
#endif
#if __has_include("cmd_train.hpp")
#include "cmd_train.hpp"
#define FINEPOSE_CLI_TRAIN 1
#endif
#if __has_include("cmd_infer.hpp")
#include "cmd_infer.hpp"
#define FINEPOSE_CLI_INFER 1
#endif
#if __has_include("cmd_render.hpp")
#include "cmd_render.hpp"
#define FINEPOSE_CLI_RENDER 1
#endif
#if __has_include("cmd_bench.hpp")
#include "cmd_bench.hpp"
#define FINEPOSE_CLI_BENCH 1
#endif
#if __has_include("cmd_export.hpp")
#include "cmd_export.hpp"
#define FINEPOSE_CLI_EXPORT 1
#endif
#if __has_include("cmd_smooth_study.hpp")
#include "cmd_smooth_study.hpp"
#define FINEPOSE_CLI_SMOOTH_STUDY 1
#endif
#if __has_include("cmd_baseline.hpp")
#include "cmd_baseline.hpp"
#define FINEPOSE_CLI_BASELINE 1
#endif

namespace {

struct Command {
  const char* name;
  const char* help;
  int (*run)(int, char**);
};

const Command kCommands[] = {
    {"sample", "multi-hypothesis DDIM sampling of 2D keypoints -> 3D poses (every step)", finepose::cli::cmd_sample},
    {"convert", "convert an official checkpoint to finepose's .safetensors", finepose::cli::cmd_convert},
#ifdef FINEPOSE_CLI_METRICS
    {"metrics", "score 3D predictions against ground truth (MPJPE, P-MPJPE, PCK, AUC; four aggregations)", finepose::cli::cmd_metrics},
#endif
#ifdef FINEPOSE_CLI_EVAL
    {"eval", "evaluate a model on Human3.6M, MPI-INF-3DHP or HumanEva-I (paper tables)", finepose::cli::cmd_eval},
#endif
#ifdef FINEPOSE_CLI_TRAIN
    {"train", "train a FinePOSE model", finepose::cli::cmd_train},
#endif
#ifdef FINEPOSE_CLI_INFER
    {"infer", "lift a detector's 2D keypoints (COCO/OpenPose/Halpe JSON, CSV, npz) to 3D", finepose::cli::cmd_infer},
#endif
#ifdef FINEPOSE_CLI_RENDER
    {"render", "draw 2D input and 3D poses to PNG frames / GIF / MP4", finepose::cli::cmd_render},
#endif
#ifdef FINEPOSE_CLI_BENCH
    {"bench", "time the denoiser and full sampling, report GFLOP/s and memory", finepose::cli::cmd_bench},
#endif
#ifdef FINEPOSE_CLI_EXPORT
    {"export", "write a lifted sequence as a BVH animation (Blender, MotionBuilder, Unity)", finepose::cli::cmd_export},
#endif
#ifdef FINEPOSE_CLI_SMOOTH_STUDY
    {"smooth-study", "score temporal smoothing settings on held-out data and HumanEva-I Validate (infer --smooth)",
     finepose::cli::cmd_smooth_study},
#endif
#ifdef FINEPOSE_CLI_BASELINE
    {"baseline", "fit a mean-pose or MLP-lifter baseline on train's data, score it as eval does (HumanEva-I)", finepose::cli::cmd_baseline},
#endif
};

void usage() {
  std::printf("finepose %s: FinePOSE 3D human pose estimation, no deep-learning framework\n\nusage: finepose COMMAND [options]\n\ncommands:\n", FINEPOSE_VERSION_STRING);
  for (const auto& c : kCommands) std::printf("  %-13s %s\n", c.name, c.help);
  std::printf("\n'finepose COMMAND --help' describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("finepose %s\n", FINEPOSE_VERSION_STRING);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (argv[1] == std::string(c.name)) {
      try {
        return c.run(argc - 2, argv + 2);
      } catch (const finepose::Error& e) {
        std::fprintf(stderr, "finepose %s: error: %s\n", c.name, e.what());
        return 1;
      } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "finepose %s: error: out of memory\n", c.name);
        return 1;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "finepose %s: error: %s\n", c.name, e.what());
        return 1;
      }
    }
  }
  std::fprintf(stderr, "finepose: unknown command '%s'\n", argv[1]);
  usage();
  return 2;
}
