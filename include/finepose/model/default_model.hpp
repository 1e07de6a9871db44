#pragma once
// The model finepose uses when none is named (`finepose infer` without
// --model): kDefaultModelFile, looked up in this order:
//   1. $FINEPOSE_MODEL (a file)
//   2. $FINEPOSE_MODEL_DIR/kDefaultModelFile
//   3. <prefix>/share/finepose/models/ beside the running binary's <prefix>/bin
//      (what `cmake --install` lays out)
//   4. the binary's own directory, and models/ there
//   5. the source tree's models/ that the binary was built from (a build tree)
// The first that exists is used; none found is an error listing where it looked.
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "finepose/core/error.hpp"

namespace finepose {

// FinePOSE base (depth 4, width 128, 81 frames) trained on all the shared mocap through
// virtual cameras (models/README.md); finepose_small_h36m17 stays beside it for tests.
inline constexpr const char* kDefaultModelFile = "finepose_base_h36m17.safetensors";

namespace default_model_detail {
inline bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
inline std::string dir_of(const std::string& p) {
  const auto s = p.find_last_of('/');
  return s == std::string::npos ? "." : s == 0 ? "/" : p.substr(0, s);
}
// the running program's path (Linux), or "" when it cannot be told
inline std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}
}  // namespace default_model_detail

// Where the default model would be looked for, in order (for messages and tests).
// `source_models_dir`: the source tree's models/ known at build time ("" if none).
inline std::vector<std::string> default_model_candidates(const std::string& source_models_dir = "") {
  using namespace default_model_detail;
  std::vector<std::string> c;
  if (const char* f = std::getenv("FINEPOSE_MODEL"); f && *f) c.push_back(f);
  if (const char* d = std::getenv("FINEPOSE_MODEL_DIR"); d && *d) c.push_back(std::string(d) + "/" + kDefaultModelFile);
  const std::string exe = self_exe();
  if (!exe.empty()) {
    const std::string bin = dir_of(exe);
    c.push_back(dir_of(bin) + "/share/finepose/models/" + kDefaultModelFile);
    c.push_back(bin + "/" + kDefaultModelFile);
    c.push_back(bin + "/models/" + kDefaultModelFile);
  }
  if (!source_models_dir.empty()) c.push_back(source_models_dir + "/" + kDefaultModelFile);
  return c;
}

inline std::string find_default_model(const std::string& source_models_dir = "") {
  const auto c = default_model_candidates(source_models_dir);
  for (const auto& p : c)
    if (default_model_detail::is_file(p)) return p;
  std::string where;
  for (const auto& p : c) where += "\n  " + p;
  fail("no --model given and the default model (", kDefaultModelFile, ") is in none of:", where,
       "\n(give --model FILE, or set FINEPOSE_MODEL)");
}

}  // namespace finepose
