// Replays every saved fuzzer input (tests/fuzz/regressions/<target>/: past
// findings; tests/fuzz/seeds/<target>/: hand-written seeds) through the same
// target functions the libFuzzer programs run. Here they run in the ordinary
// build and, through tools/sanitize.sh, under ASan + UBSan + LeakSanitizer.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "fuzz/fuzz_targets.hpp"

namespace fs = std::filesystem;
using namespace finepose;

namespace {

std::size_t replay(const std::string& kind) {
  std::size_t n = 0;
  for (const auto& t : fuzz::all_targets()) {
    const fs::path dir = fs::path(FINEPOSE_SOURCE_DIR) / "tests" / "fuzz" / kind / t.name;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
    for (const auto& f : files) {
      INFO(t.name, ": ", f.string());
      const std::vector<std::uint8_t> bytes = io::read_file(f.string());
      t.run(bytes.data(), bytes.size());  // throws nothing, crashes nothing
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("fuzz regressions: every saved finding runs cleanly") {
  const std::size_t n = replay("regressions");
  MESSAGE("replayed ", n, " saved findings");
}

TEST_CASE("fuzz seeds: every hand-written seed runs cleanly") {
  CHECK(replay("seeds") > 0);
}

TEST_CASE("fuzz targets reject garbage with finepose::Error, not another exception") {
  // the targets swallow only finepose::Error: anything else escapes to here
  const std::vector<std::uint8_t> junk = {'P', 'K', 3, 4, 0x80, 2, '}', 'q', 0, 0xff, '{', '"'};
  for (std::size_t len = 0; len <= junk.size(); ++len)
    for (const auto& t : fuzz::all_targets()) CHECK_NOTHROW(t.run(junk.data(), len));
}
