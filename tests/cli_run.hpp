#pragma once
// Runs the built `finepose` CLI (FINEPOSE_CLI) with arguments and captures its
// exit code and combined stdout + stderr, for tests that check commands end to end.
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace finepose::test {

// True in an AddressSanitizer build (tools/sanitize.sh): a few tests run smaller inputs
// there (the Release ctest runs the full size), and memory limits do not apply (ASan
// reserves terabytes of address space).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizedBuild = true;
#else
constexpr bool kSanitizedBuild = false;
#endif
#else
constexpr bool kSanitizedBuild = false;
#endif

struct CliRun {
  int rc = -1;
  std::string out;
};

inline bool have_cli() { return std::string(FINEPOSE_CLI).size() > 0; }

// Runs a shell command line as given (stderr is the caller's to redirect).
inline CliRun run_command(const std::string& cmd) {
  CliRun r;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  const int st = pclose(f);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline CliRun run_cli(const std::string& args) { return run_command(std::string(FINEPOSE_CLI) + " " + args + " 2>&1"); }

}  // namespace finepose::test
