// finepose: the command-line tool. Each command is a thin layer over the
// library, in its own header beside this file.
#include <cstdio>
#include <cstring>
#include <string>

#include "finepose/version.hpp"
#include "cmd_convert.hpp"
#include "cmd_sample.hpp"

namespace {

struct Command {
  const char* name;
  const char* help;
  int (*run)(int, char**);
};

const Command kCommands[] = {
    {"sample", "multi-hypothesis DDIM sampling of 2D keypoints -> 3D poses (every step)", finepose::cli::cmd_sample},
    {"convert", "convert an official checkpoint to finepose's .safetensors", finepose::cli::cmd_convert},
};

void usage() {
  std::printf("finepose %s: FinePOSE 3D human pose estimation, no deep-learning framework\n\nusage: finepose COMMAND [options]\n\ncommands:\n", FINEPOSE_VERSION_STRING);
  for (const auto& c : kCommands) std::printf("  %-10s %s\n", c.name, c.help);
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
