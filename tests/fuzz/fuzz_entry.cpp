// libFuzzer entry point; FINEPOSE_FUZZ_TARGET names a target in
// fuzz_targets.hpp (one program per target, see CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace finepose::fuzz {
using Target = void (*)(const std::uint8_t*, std::size_t);
Target target_by_name(const char* name);
#ifdef FINEPOSE_FUZZ_CLI
Target cli_target_by_name(const char* name);  // fuzz_cli_targets.cpp
#endif
}  // namespace finepose::fuzz

#define FINEPOSE_STR2(x) #x
#define FINEPOSE_STR(x) FINEPOSE_STR2(x)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const finepose::fuzz::Target run = [] {
#ifdef FINEPOSE_FUZZ_CLI
    finepose::fuzz::Target t = finepose::fuzz::cli_target_by_name(FINEPOSE_STR(FINEPOSE_FUZZ_TARGET));
#else
    finepose::fuzz::Target t = finepose::fuzz::target_by_name(FINEPOSE_STR(FINEPOSE_FUZZ_TARGET));
#endif
    if (!t) {
      std::fprintf(stderr, "no fuzz target '%s'\n", FINEPOSE_STR(FINEPOSE_FUZZ_TARGET));
      std::abort();
    }
    return t;
  }();
  run(data, size);
  return 0;
}
