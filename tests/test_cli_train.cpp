// `finepose train` end to end on the shared HumanEva-I data with a tiny model:
// a run killed (SIGKILL) in the middle of an epoch and continued with --resume
// ends with the same model file, byte for byte, as a run that was never stopped.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_run.hpp"
#include "finepose/io/file.hpp"

namespace fs = std::filesystem;

namespace {
const char* kTinyConfig = R"({"model": {"depth": 1, "frames": 9, "dim": 16, "heads": 2, "mlp_hidden": 32,
  "text_width": 16, "clip_layers": 1, "clip_heads": 2, "encoder_layers": 1, "encoder_heads": 2, "encoder_ff": 16},
  "batch_size": 4, "max_batches": 12, "epochs": 3})";

std::vector<std::string> train_args(const std::string& cfg, const std::string& out) {
  return {FINEPOSE_CLI, "train", "--config", cfg, "--data", std::string(FINEPOSE_SHARED_DIR) + "/data", "--out", out,
          "--mocap-frames", "-1", "--validate-frames", "1500", "--quiet"};
}

pid_t spawn(std::vector<std::string> args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (!freopen("/dev/null", "w", stdout)) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int log_lines(const std::string& path) {
  std::ifstream f(path);
  int n = 0;
  for (std::string l; std::getline(f, l);) ++n;
  return n;
}
}  // namespace

TEST_CASE("finepose train: killed mid-epoch and resumed == uninterrupted (same model bytes)") {
  const std::string data = std::string(FINEPOSE_SHARED_DIR) + "/data/humaneva_i_h36m17.npz";
  if (!fs::exists(data)) {
    MESSAGE("skipped: ", data, " is absent (the shared data)");
    return;
  }
  if (!finepose::test::have_cli()) {
    MESSAGE("skipped: the finepose CLI was not built");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("finepose_test_cli_train_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string cfg = (dir / "tiny.json").string();
  finepose::io::write_file(cfg, std::string(kTinyConfig));
  const std::string a = (dir / "a").string(), b = (dir / "b").string();

  REQUIRE(wait_exit(spawn(train_args(cfg, a))) == 0);
  CHECK(log_lines(a + "/log.tsv") == 4);  // header + 3 epochs

  // the same run, killed once the first epoch's checkpoint is written
  const pid_t pid = spawn(train_args(cfg, b));
  const auto t0 = std::chrono::steady_clock::now();
  while (log_lines(b + "/log.tsv") < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::minutes(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a Release epoch takes ~0.1 s
  REQUIRE(log_lines(b + "/log.tsv") >= 2);
  kill(pid, SIGKILL);
  wait_exit(pid);
  const int done = log_lines(b + "/log.tsv") - 1;
  MESSAGE("killed after ", done, " of 3 epochs");
  REQUIRE(done < 3);  // otherwise the kill came too late to test anything

  std::vector<std::string> resume = train_args(cfg, b);
  resume.push_back("--resume");
  REQUIRE(wait_exit(spawn(resume)) == 0);
  CHECK(log_lines(b + "/log.tsv") == 4);
  const auto ma = finepose::io::read_file(a + "/model.safetensors"), mb = finepose::io::read_file(b + "/model.safetensors");
  CHECK(ma.size() == mb.size());
  CHECK_MESSAGE(ma == mb, "the resumed run's model differs from the uninterrupted one");
  const auto ca = finepose::io::read_file(a + "/checkpoint.safetensors"), cb = finepose::io::read_file(b + "/checkpoint.safetensors");
  CHECK(ca == cb);
  fs::remove_all(dir);
}
