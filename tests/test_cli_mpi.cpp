// `mpirun -np N finepose eval` (issue 18): the clips shared out over N processes
// (eval/protocol.hpp, dist/mpi_process_group.hpp) give exactly the one-process
// report: the same JSON (but its wall time) and the same printed tables. Loopback
// only: shared memory between the ranks, the runtime's own traffic on lo.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "cli_run.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/safetensors.hpp"
#include "finepose/wild/demo_walk.hpp"

namespace fs = std::filesystem;

#ifdef FINEPOSE_MPIEXEC
namespace {
const std::string kMpirun = std::string(FINEPOSE_MPIEXEC) +
                            " --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none"
                            " --mca oob_tcp_if_include lo -x OMP_NUM_THREADS=1";

// rel L2 over every tensor of two model files
double model_rel_l2(const std::string& a, const std::string& b) {
  const auto ta = finepose::io::load_safetensors(a), tb = finepose::io::load_safetensors(b);
  double num = 0, den = 0;
  for (const auto& [name, arr] : ta.tensors) {
    const auto x = finepose::io::to_tensor<float>(arr, name), y = finepose::io::to_tensor<float>(tb.at(name), name);
    REQUIRE(x.numel() == y.numel());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double d = double(x.data()[i]) - double(y.data()[i]);
      num += d * d, den += double(x.data()[i]) * double(x.data()[i]);
    }
  }
  return std::sqrt(num / den);
}

// the PID of rank `rank` of the job whose command line contains `marker` (0: none yet)
pid_t find_rank(const std::string& marker, int rank) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cf(e.path() / "cmdline"), ef(e.path() / "environ");
    std::string cmd((std::istreambuf_iterator<char>(cf)), {}), env((std::istreambuf_iterator<char>(ef)), {});
    if (cmd.find(marker) == std::string::npos || cmd.rfind(FINEPOSE_CLI, 0) != 0) continue;
    if (env.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') != std::string::npos) return pid_t(std::stol(pid));
  }
  return 0;
}

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

TEST_CASE("mpirun -np 2 finepose train: one process's model to float rounding; a killed rank, --resume on 1 or 2 ranks") {
#ifndef FINEPOSE_MPIEXEC
  MESSAGE("skipped: finepose was built without MPI (cmake -DFINEPOSE_MPI=ON; apt-get install libopenmpi-dev openmpi-bin)");
#else
  const std::string data = std::string(FINEPOSE_SHARED_DIR) + "/data";
  if (!fs::exists(data + "/humaneva_i_h36m17.npz") || !finepose::test::have_cli()) {
    MESSAGE("skipped: needs the shared HumanEva-I data (", data, ") and the CLI");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("finepose_test_mpi_train_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // 300 steps of a tiny model, batch 8 (4 a rank)
  const std::string cfg = (dir / "tiny.json").string();
  finepose::io::write_file(cfg, std::string(R"({"model": {"depth": 1, "frames": 9, "dim": 16, "heads": 2, "mlp_hidden": 32,
    "text_width": 16, "clip_layers": 1, "clip_heads": 2, "encoder_layers": 1, "encoder_heads": 2, "encoder_ff": 16},
    "batch_size": 8, "max_batches": 100, "epochs": 3})"));
  auto args = [&](const std::string& out) {
    return " train --config " + cfg + " --data " + data + " --out " + out +
           " --mocap-frames -1 --validate-frames 300 --threads 1 --quiet --checkpoint-every 10";
  };
  const std::string two = (dir / "two").string(), again = (dir / "again").string();
  // paper mode (ctx vectors trained) and upstream's (frozen, gradients scaled by the loss)
  for (const char* mode : {"", " --upstream"}) {
    const std::string one = (dir / "one").string(), other = (dir / "two_mode").string();
    const std::string out2 = *mode ? two : other;
    auto r1 = finepose::test::run_command(std::string(FINEPOSE_CLI) + args(one) + mode + " --force 2>&1");
    REQUIRE_MESSAGE(r1.rc == 0, r1.out);
    auto r2 = finepose::test::run_command(kMpirun + " -np 2 " + FINEPOSE_CLI + args(out2) + mode + " 2>&1");
    REQUIRE_MESSAGE(r2.rc == 0, r2.out);
    CHECK_MESSAGE(r2.out.find("data parallel over 2 ranks") != std::string::npos, r2.out);
    const double e = model_rel_l2(one + "/model.safetensors", out2 + "/model.safetensors");
    MESSAGE("300 steps", std::string(*mode ? " upstream" : " paper"), " mode, 1 process vs 2 ranks: weights rel L2 ", e);
    CHECK(e <= 1e-5);
  }
  auto r3 = finepose::test::run_command(kMpirun + " -np 2 " + FINEPOSE_CLI + args(again) + " --upstream 2>&1");
  REQUIRE_MESSAGE(r3.rc == 0, r3.out);
  CHECK(finepose::io::read_file(two + "/model.safetensors") == finepose::io::read_file(again + "/model.safetensors"));
  CHECK(finepose::io::read_file(two + "/checkpoint.safetensors") == finepose::io::read_file(again + "/checkpoint.safetensors"));

  // a rank killed mid-epoch: the job ends with a message, the checkpoint is intact, --resume continues it
  for (int resume_np : {2, 1}) {
    const std::string k = (dir / ("killed" + std::to_string(resume_np))).string();
    const std::string log = k + ".log";
    const pid_t job = fork();
    if (job == 0) {
      const std::string cmd = kMpirun + " -np 2 " + FINEPOSE_CLI + args(k) + " --upstream > " + log + " 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
      _exit(127);
    }
    pid_t victim = 0;
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::minutes(2)) {
      if (fs::exists(k + "/checkpoint.safetensors") && (victim = find_rank(k, 1)) != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE_MESSAGE(victim != 0, "no checkpoint or no rank 1 to kill");
    kill(victim, SIGKILL);
    int st = 0;
    waitpid(job, &st, 0);
    const std::string out = finepose::io::read_text_file(log);
    CHECK_MESSAGE((WIFEXITED(st) && WEXITSTATUS(st) != 0), out);
    CHECK_MESSAGE(out.find("rank 1") != std::string::npos, out);  // mpirun names the rank that died
    const auto ck = finepose::io::load_safetensors(k + "/checkpoint.safetensors");  // intact: it parses
    const int64_t epoch = std::stoll(ck.metadata.at("train.epoch")), batch = std::stoll(ck.metadata.at("train.batch"));
    MESSAGE("rank 1 killed; the checkpoint is at epoch ", epoch + 1, " batch ", batch, "; resumed on ", resume_np, " rank(s)");
    REQUIRE(epoch * 100 + batch < 300);  // the kill came before the end
    const std::string cont = resume_np == 2 ? kMpirun + " -np 2 " + FINEPOSE_CLI : std::string(FINEPOSE_CLI);
    auto rr = finepose::test::run_command(cont + args(k) + " --upstream --resume 2>&1");
    REQUIRE_MESSAGE(rr.rc == 0, rr.out);
    if (resume_np == 2)
      CHECK_MESSAGE(finepose::io::read_file(k + "/model.safetensors") == finepose::io::read_file(two + "/model.safetensors"),
                    "resumed on 2 ranks: not the uninterrupted 2-rank model");
    else
      CHECK(model_rel_l2(k + "/model.safetensors", two + "/model.safetensors") <= 1e-5);
  }

  // ranks that do not agree on the data fail clearly (here: rank 1 is given another seed via its own argv)
  auto bad = finepose::test::run_command(kMpirun + " -np 1 " + FINEPOSE_CLI + args((dir / "bad").string()) + " : -np 1 " +
                                         FINEPOSE_CLI + args((dir / "bad").string()) + " --seed 7 2>&1");
  CHECK(bad.rc != 0);
  CHECK_MESSAGE(bad.out.find("rank 1 loaded different data or configuration") != std::string::npos, bad.out);
  fs::remove_all(dir);
#endif
}

TEST_CASE("mpirun -np 2 finepose infer --keypoints DIR --out-dir DIR: the files shared out, the one-process outputs") {
#ifndef FINEPOSE_MPIEXEC
  MESSAGE("skipped: finepose was built without MPI (cmake -DFINEPOSE_MPI=ON; apt-get install libopenmpi-dev openmpi-bin)");
#else
  const std::string model = std::string(FINEPOSE_SOURCE_DIR) + "/models/finepose_small_h36m17.safetensors";
  if (!fs::exists(model) || !finepose::test::have_cli()) {
    MESSAGE("skipped: needs the shipped model and the CLI");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("finepose_test_mpi_infer_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "in");
  for (int i = 0; i < 3; ++i) {
    finepose::wild::DemoWalkOptions o;
    o.frames = 40;
    o.seed = std::uint64_t(i + 1);
    finepose::io::write_file((dir / "in" / ("walk" + std::to_string(i) + ".json")).string(),
                             finepose::wild::demo_walk_coco_json(finepose::wild::make_demo_walk(o)));
  }
  const std::string flags = " infer --model " + model + " --keypoints " + (dir / "in").string() +
                            " --width 1920 --height 1080 --threads 1 --quiet --out-dir ";
  auto one = finepose::test::run_command(std::string(FINEPOSE_CLI) + flags + (dir / "one").string() + " 2>&1");
  REQUIRE_MESSAGE(one.rc == 0, one.out);
  auto two = finepose::test::run_command(kMpirun + " -np 2 " + FINEPOSE_CLI + flags + (dir / "two").string() + " 2>&1");
  REQUIRE_MESSAGE(two.rc == 0, two.out);
  for (int i = 0; i < 3; ++i) {
    const std::string n = "walk" + std::to_string(i) + ".npz";
    CHECK_MESSAGE(finepose::io::read_file((dir / "one" / n).string()) == finepose::io::read_file((dir / "two" / n).string()), n);
  }
  // one process under mpirun with --out: refused with a message (every rank would write the one file)
  auto bad = finepose::test::run_command(kMpirun + " -np 2 " + FINEPOSE_CLI + " infer --model " + model + " --keypoints " +
                                         (dir / "in" / "walk0.json").string() + " --width 1920 --height 1080 --out " +
                                         (dir / "x.npz").string() + " 2>&1");
  CHECK(bad.rc != 0);
  CHECK_MESSAGE(bad.out.find("--out-dir") != std::string::npos, bad.out);
  fs::remove_all(dir);
#endif
}
