// `mpirun -np N finepose eval` (issue 18): the clips shared out over N processes
// (eval/protocol.hpp, dist/mpi_process_group.hpp) give exactly the one-process
// report: the same JSON (but its wall time) and the same printed tables. Loopback
// only: shared memory between the ranks, the runtime's own traffic on lo.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "cli_run.hpp"

namespace fs = std::filesystem;

#ifdef FINEPOSE_MPIEXEC
namespace {
// the run's wall time is the one figure that may differ
std::string without_seconds(const std::string& s) {
  std::string r = std::regex_replace(s, std::regex("\"seconds\": [0-9.eE+-]+"), "\"seconds\": _");
  return std::regex_replace(r, std::regex(", [0-9.]+ s\n"), ", _ s\n");
}
}  // namespace
#endif

TEST_CASE("mpirun -np 2 and 3 finepose eval --dataset humaneva: the one-process report exactly") {
#ifndef FINEPOSE_MPIEXEC
  MESSAGE("skipped: finepose was built without MPI (cmake -DFINEPOSE_MPI=ON; apt-get install libopenmpi-dev openmpi-bin)");
#else
  const std::string data = std::string(FINEPOSE_SHARED_DIR) + "/data/humaneva_i_h36m17.npz";
  const std::string model = std::string(FINEPOSE_SOURCE_DIR) + "/models/finepose_small_h36m17.safetensors";
  if (!fs::exists(data) || !fs::exists(model) || !finepose::test::have_cli()) {
    MESSAGE("skipped: needs the shared HumanEva-I data (", data, "), the shipped model and the CLI");
    return;
  }
  // one thread per rank, and for the reference too: the numbers must not depend on the thread count
  const std::string args = " eval --model " + model + " --dataset humaneva --data " + data +
                           " --max-clips 32 --hypotheses 2 --steps 2 --threads 1 --quiet";  // 32 clips: rows Box S1-S3
  const std::string mpirun = std::string(FINEPOSE_MPIEXEC) +
                             " --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none"
                             " --mca oob_tcp_if_include lo -x OMP_NUM_THREADS=1";
  for (const char* how : {" --json", ""}) {
    const auto one = finepose::test::run_command(std::string(FINEPOSE_CLI) + args + how + " 2>&1");
    REQUIRE_MESSAGE(one.rc == 0, one.out);
    for (int np : {2, 3}) {
      const auto many = finepose::test::run_command(mpirun + " -np " + std::to_string(np) + " " + FINEPOSE_CLI + args + how + " 2>&1");
      REQUIRE_MESSAGE(many.rc == 0, many.out);
      CHECK_MESSAGE(without_seconds(many.out) == without_seconds(one.out), np, " ranks:\n", many.out, "\none process:\n", one.out);
    }
  }
  // an error ends every rank with a message and a non-zero exit (no rank left waiting)
  const auto bad = finepose::test::run_command(mpirun + " -np 2 " + FINEPOSE_CLI + " eval --model " + model +
                                               ".missing --dataset humaneva --data " + data + " --quiet 2>&1");
  CHECK(bad.rc != 0);
  CHECK_MESSAGE(bad.out.find("cannot open") != std::string::npos, bad.out);
#endif
}
