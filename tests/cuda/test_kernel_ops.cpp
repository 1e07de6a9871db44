// Every op registered with the kernel harness (tests/cuda/kernel_ops.hpp) on
// every storage type and test shape, against its CPU twin. Registrations:
// ops_glue.hpp (the device denoiser's layout, row-add, layer-norm-convert and
// sampler kernels), ops_pointwise.hpp (softmax, AdaLN, residual add, flip,
// timestep embedding, DDIM update and prediction, layer norm, bias + GELU),
// ops_backward.hpp (layer norm and AdaLN backward) and ops_attention.hpp.
// Built emulated, under TSan and for a GPU like every kernel test.
#include <doctest/doctest.h>

#include "tests/cuda/kernel_ops.hpp"
#include "tests/cuda/kernel_test_util.hpp"
#include "tests/cuda/ops_attention.hpp"
#include "tests/cuda/ops_backward.hpp"
#include "tests/cuda/ops_glue.hpp"
#include "tests/cuda/ops_pointwise.hpp"

TEST_CASE("kernel harness: every registered op matches its CPU twin on every storage type and shape") {
  const auto& ops = fpt::kernel_ops();
  REQUIRE(ops.size() >= 21);
  std::uint32_t seed = 1000;
  int runs = 0;
  for (const auto& op : ops) {
    const auto& shapes = fpt::small_problems() ? op.small : op.shapes;
    REQUIRE_MESSAGE(!shapes.empty(), op.name << " registers no test shapes");
    for (fpt::Storage st : op.storages)
      for (const auto& sh : shapes) {
        const std::string what = op.name + " " + fpt::storage_name(st) + " " + sh.label() + " (vs " + op.twin + ")";
        CAPTURE(what);
        fpt::Prepared p = op.prepare(sh, st, seed++);
        p.launch();
        fpt::check_close(p.result(), p.want, op.atol(st), op.rtol(st), what);
        ++runs;
      }
  }
  MESSAGE(ops.size(), " ops, ", runs, " op x storage x shape runs");
}

TEST_CASE("kernel harness: the glue launchers refuse bad shapes with the kernel's name") {
  namespace fk = finepose::kernels;
  float a[4] = {}, b[4] = {};
  CHECK_THROWS_WITH_AS(fk::swap_middle_axes<float>(a, a, 1, 2, 2, 1), doctest::Contains("swap_middle_axes"), finepose::Error);
  CHECK_THROWS_WITH_AS(fk::build_pose_input<float>(a, b, b, 1, 0, 1, 2), doctest::Contains("build_pose_input"), finepose::Error);
  CHECK_THROWS_WITH_AS(fk::add_row_embeddings<float>(a, 1, 4, b, 0, nullptr, 0), doctest::Contains("add_row_embeddings"),
                       finepose::Error);
  CHECK_THROWS_WITH_AS(fk::bias_residual_add(a, static_cast<const float*>(b), nullptr, 1, 0),
                       doctest::Contains("bias_residual_add"), finepose::Error);
  CHECK_THROWS_WITH_AS(fk::layer_norm_convert(a, static_cast<const float*>(b), nullptr, nullptr, 1, 0, 1e-5f),
                       doctest::Contains("layer_norm_convert"), finepose::Error);
  CHECK_THROWS_WITH_AS(fk::bias_to_float<float>(a, b, nullptr, -1, 4), doctest::Contains("bias_to_float"), finepose::Error);
  CHECK_THROWS_WITH_AS(fk::clamp_divide(a, b, 4, 1.f, -1.f, 1.f), doctest::Contains("clamp_divide"), finepose::Error);
  CHECK_THROWS_WITH_AS(fk::average_halves(a, b, -1), doctest::Contains("average_halves"), finepose::Error);
  CHECK_THROWS_WITH_AS(fk::scatter_step(a, b, 1, 4, 2, 2, 1.f), doctest::Contains("scatter_step"), finepose::Error);
  // empty inputs return at once, whatever the pointers
  fk::swap_middle_axes<float>(nullptr, nullptr, 0, 2, 2, 1);
  fk::clamp_divide(nullptr, nullptr, 0, -1.f, 1.f, 1.f);
}

#ifdef FINEPOSE_SOURCE_DIR
#include <filesystem>
#include <fstream>
#include <sstream>

// Adding a kernel means its .cuh plus one registration: a kernel header no
// registration file includes is a kernel nothing tests, times or instantiates.
TEST_CASE("kernel harness: every kernel header is included by a registration file") {
  namespace fs = std::filesystem;
  const fs::path src(FINEPOSE_SOURCE_DIR);
  std::string registrations;
  for (const auto& e : fs::directory_iterator(src / "tests" / "cuda")) {
    const std::string n = e.path().filename().string();
    if (n.rfind("ops_", 0) == 0 && e.path().extension() == ".hpp") {
      std::ifstream f(e.path());
      std::stringstream ss;
      ss << f.rdbuf();
      registrations += ss.str();
    }
  }
  REQUIRE(!registrations.empty());
  // the portability layer and shared helpers hold no launcher of their own
  const std::vector<std::string> infrastructure{"common.cuh", "reduce.cuh", "activation.cuh", "glue_common.cuh"};
  int kernels = 0;
  for (const auto& e : fs::directory_iterator(src / "kernels")) {
    const std::string n = e.path().filename().string();
    if (e.path().extension() != ".cuh" || std::find(infrastructure.begin(), infrastructure.end(), n) != infrastructure.end())
      continue;
    ++kernels;
    CHECK_MESSAGE(registrations.find("\"finepose/kernels/" + n + "\"") != std::string::npos,
                  "kernels/" << n << " is included by no tests/cuda/ops_*.hpp: register its launchers");
  }
  CHECK(kernels >= 14);
}
#endif
