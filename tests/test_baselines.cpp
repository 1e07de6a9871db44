// Baselines for 3D pose lifting (include/finepose/baselines/): the mean pose and
// Martinez et al.'s MLP lifter (gradients, fitting, files) and `finepose baseline`.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "finepose/baselines/mean_pose.hpp"
#include "finepose/baselines/mlp_lifter.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/train/datasets.hpp"

#include "cli_run.hpp"

using namespace finepose;
using baselines::MlpLifter;
using baselines::MlpLifterConfig;

namespace {

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("finepose_test_baselines_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TensorF randn(Shape s, uint64_t seed, float scale = 1.f) {
  TensorF t = NormalStream(seed, 0).normal(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] *= scale;
  return t;
}

// A small lifting problem: J joints, poses = base + 3 latent directions, turned by
// up to +-60 degrees about the vertical axis, seen by a pinhole camera 5 m away.
train::Dataset synthetic_lifting(int64_t J, int64_t frames, uint64_t seed) {
  const TensorF base = randn({J, 3}, 100, 0.4f), basis = randn({3, J, 3}, 101, 0.15f);
  train::Dataset d;
  train::Sequence s;
  s.name = "synthetic";
  s.x2d = TensorF({frames, J, 2});
  s.x3d = TensorF({frames, J, 3});
  const TensorF z = randn({frames, 4}, seed);
  for (int64_t f = 0; f < frames; ++f) {
    const double a = std::tanh(double(z(f, 3))) * 1.047;
    for (int64_t j = 0; j < J; ++j) {
      double p[3];
      for (int k = 0; k < 3; ++k) {
        p[k] = base(j, k);
        for (int b = 0; b < 3; ++b) p[k] += double(z(f, b)) * basis(b, j, k);
      }
      const double x = std::cos(a) * p[0] + std::sin(a) * p[2], y = p[1], zz = -std::sin(a) * p[0] + std::cos(a) * p[2];
      s.x3d(f, j, 0) = float(x), s.x3d(f, j, 1) = float(y), s.x3d(f, j, 2) = float(zz);
      s.x2d(f, j, 0) = float(x / (zz + 5.0)), s.x2d(f, j, 1) = float(y / (zz + 5.0));
    }
  }
  train::to_root_relative(s.x3d.data(), frames, J);
  d.seqs.push_back(std::move(s));
  return d;
}

double mpjpe(const TensorF& a, const TensorF& b) {
  const int64_t n = a.numel() / 3;
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    double e = 0;
    for (int k = 0; k < 3; ++k) e += std::pow(double(a.data()[3 * i + k]) - double(b.data()[3 * i + k]), 2);
    s += std::sqrt(e);
  }
  return s / double(n);
}

}  // namespace

TEST_CASE("mean pose: the exact mean of every training frame, for every input frame") {
  train::Dataset d;
  train::Sequence a, b;
  a.name = "a", b.name = "b";
  a.x2d = TensorF::zeros({2, 2, 2});
  a.x3d = TensorF::from({2, 2, 3}, {0, 0, 0, 1, 2, 3,  /**/ 0, 0, 0, 3, -2, 6});
  b.x2d = TensorF::zeros({1, 2, 2});
  b.x3d = TensorF::from({1, 2, 3}, {0, 0, 0, -1, 3, 0});
  d.seqs = {a, b};
  const auto m = baselines::MeanPose::fit(d);
  // joint 1: ((1 + 3 - 1) / 3, (2 - 2 + 3) / 3, (3 + 6 + 0) / 3) = (1, 1, 3)
  REQUIRE(m.pose.shape() == Shape{2, 3});
  const float want[6] = {0, 0, 0, 1, 1, 3};
  for (int i = 0; i < 6; ++i) CHECK(m.pose.data()[i] == doctest::Approx(want[i]).epsilon(1e-7));
  const TensorF p = m.predict(randn({4, 5, 2, 2}, 3));
  REQUIRE(p.shape() == Shape{4, 5, 2, 3});
  for (int64_t f = 0; f < 20; ++f)
    for (int i = 0; i < 6; ++i) CHECK(p.data()[f * 6 + i] == m.pose.data()[i]);
  CHECK_THROWS_AS(m.predict(TensorF::zeros({3, 4, 2})), Error);  // wrong joint count

  const std::string f = tmp("mean.safetensors");
  m.save(f);
  const auto back = baselines::MeanPose::load(f);
  CHECK(back.pose.to_vector() == m.pose.to_vector());
  CHECK_THROWS_AS(MlpLifter::load(f), Error);  // a mean file is no MLP file
  std::filesystem::remove(f);
}

TEST_CASE("mlp lifter: backward (BatchNorm, ReLU, dropout, residual blocks) matches finite differences") {
  MlpLifterConfig c;
  c.joints = 4, c.width = 8, c.blocks = 2, c.dropout = 0.25f;
  MlpLifter m(c);
  m.init_weights(7);
  const train::Dataset d = synthetic_lifting(4, 32, 5);
  m.set_normalisation(baselines::lifting_frames(d, true, {1}, {2}));
  for (auto& st : m.stages) {  // non-trivial BatchNorm affine parameters
    st.bn_weight = randn({c.width}, 11 + uint64_t(&st - &m.stages[0]), 0.3f);
    for (int64_t i = 0; i < c.width; ++i) st.bn_weight.data()[i] += 1.f;
    st.bn_bias = randn({c.width}, 31 + uint64_t(&st - &m.stages[0]), 0.2f);
  }
  const TensorF x = randn({6, 4, 2}, 9, 0.1f), R = randn({6, 4, 3}, 10);
  auto loss = [&]() {  // sum(pred * R), dropout masks of step 3
    baselines::MlpCache cache;
    const TensorF p = m.forward_train(x, cache, 42, 3);
    double s = 0;
    for (int64_t i = 0; i < p.numel(); ++i) s += double(p.data()[i]) * double(R.data()[i]);
    return s;
  };
  baselines::MlpCache cache;
  m.forward_train(x, cache, 42, 3);
  std::vector<TensorF> grads;
  for (auto* p : m.params()) grads.push_back(TensorF::zeros(p->shape()));
  m.backward(cache, R, grads);

  const double eps = 1e-3;
  auto params = m.params();
  int checked = 0, dropped = 0;
  for (std::size_t t = 0; t < params.size(); ++t) {
    TensorF& p = *params[t];
    for (int64_t i = 0; i < p.numel(); i += 1 + p.numel() / 12) {
      const float keep = p.data()[i];
      p.data()[i] = float(keep + eps);
      const double up = loss();
      p.data()[i] = float(keep - eps);
      const double down = loss();
      p.data()[i] = keep;
      const double fd = (up - down) / (2 * eps), an = grads[t].data()[i];
      INFO("parameter tensor ", t, " element ", i);
      CHECK(std::abs(fd - an) <= 2e-3 + 2e-2 * std::max(std::abs(fd), std::abs(an)));
      ++checked;
      dropped += an == 0.0;
    }
  }
  CHECK(checked > 100);
  CHECK(dropped < checked / 2);  // the check saw real gradients, not just dead units
}

TEST_CASE("mlp lifter: fits a small synthetic lifting problem far better than the mean pose") {
  const int64_t J = 5;
  const train::Dataset tr = synthetic_lifting(J, 3000, 1), te = synthetic_lifting(J, 500, 2);
  MlpLifterConfig c;
  c.joints = J, c.width = 64, c.blocks = 1, c.dropout = 0.1f;
  MlpLifter m(c);
  m.init_weights(3);
  const auto frames = baselines::lifting_frames(tr, false, {}, {});
  m.set_normalisation(frames);
  baselines::MlpTrainOptions o;
  o.batch_size = 64;
  o.lr = 3e-3;
  o.lr_decay = 0.85;
  baselines::MlpTrainer trainer(m, o);
  double first = 0, last = 0;
  for (int e = 0; e < 12; ++e) {
    last = trainer.train_epoch(frames);
    if (e == 0) first = last;
  }
  const double mean_err = mpjpe(baselines::MeanPose::fit(tr).predict(te.seqs[0].x2d), te.seqs[0].x3d);
  const double mlp_err = mpjpe(m.predict(te.seqs[0].x2d), te.seqs[0].x3d);
  MESSAGE("synthetic lifting: mean pose ", mean_err, " m, mlp ", mlp_err, " m (train loss ", first, " -> ", last, ")");
  CHECK(last < first);
  CHECK(mlp_err < 0.3 * mean_err);
  // root joint stays exactly at the origin
  const TensorF p = m.predict(te.seqs[0].x2d);
  for (int64_t f = 0; f < 500; ++f)
    for (int k = 0; k < 3; ++k) CHECK(p(f, 0, k) == 0.f);

  SUBCASE("save / load round trip") {
    const std::string f = tmp("mlp.safetensors");
    m.save(f);
    const MlpLifter back = MlpLifter::load(f);
    CHECK(back.cfg.width == 64);
    CHECK(back.cfg.blocks == 1);
    CHECK(back.cfg.joints == J);
    CHECK(back.predict(te.seqs[0].x2d).to_vector() == p.to_vector());
    CHECK_THROWS_AS(baselines::MeanPose::load(f), Error);
    io::write_file(f, std::string("not a safetensors file"));
    CHECK_THROWS_AS(MlpLifter::load(f), Error);
    std::filesystem::remove(f);
  }
}

TEST_CASE("mlp lifter: reproducible from the seed, bad input refused") {
  MlpLifterConfig c;
  c.joints = 3, c.width = 16, c.blocks = 1;
  MlpLifter a(c), b(c);
  a.init_weights(5);
  b.init_weights(5);
  const TensorF x = randn({4, 3, 2}, 1);
  baselines::MlpCache ca, cb;
  CHECK(a.forward_train(x, ca, 1, 0).to_vector() == b.forward_train(x, cb, 1, 0).to_vector());
  CHECK_THROWS_AS(a.forward_train(TensorF::zeros({1, 3, 2}), ca, 1, 0), Error);  // BatchNorm needs 2 frames
  CHECK_THROWS_AS(a.predict(TensorF::zeros({4, 2, 2})), Error);
  c.width = 0;
  CHECK_THROWS_AS(MlpLifter{c}, Error);
}

TEST_CASE("finepose baseline on the shared data (tiny settings)") {
  const std::string data = std::string(FINEPOSE_SHARED_DIR) + "/data";
  if (!test::have_cli()) {
    MESSAGE("skipped: the finepose CLI was not built (FINEPOSE_BUILD_EXAMPLES=ON, target finepose_cli)");
    return;
  }
  if (!std::filesystem::exists(data + "/humaneva_i_h36m17.npz")) {
    MESSAGE("skipped: no ", data, "/humaneva_i_h36m17.npz");
    return;
  }
  auto run = [&](const std::string& kind, const std::string& extra) {
    const std::string od = tmp("out_" + kind);
    const test::CliRun r = test::run_cli("baseline --kind " + kind + " --data " + data + " --out " + od +
                                         " --mocap-frames -1 --quiet " + extra);
    REQUIRE_MESSAGE(r.rc == 0, r.out);
    CHECK(std::filesystem::exists(od + "/baseline_" + kind + ".safetensors"));
    CHECK(std::filesystem::exists(od + "/eval_humaneva.csv"));
    const json::Value v = json::parse(io::read_text_file(od + "/eval_humaneva.json"));
    std::filesystem::remove_all(od);
    return v;
  };
  const json::Value mean = run("mean", ""), mlp = run("mlp", "--epochs 1 --width 64");
  for (const json::Value* v : {&mean, &mlp}) {
    CHECK(v->at("dataset").as_string() == "humaneva");
    CHECK(v->at("model_frames").as_int64() == 27);
    CHECK(v->at("hypotheses").as_int64() == 1);
    CHECK(v->at("clips").as_int64() == 72);  // Validate: Walking/Jog/Box x S1-S3 chunks x 3 cameras
    const auto& s = v->at("settings");
    const double m = s.at("j_agg").at("mpjpe").at("average").as_double();
    const double p = s.at("j_agg").at("p_mpjpe").at("average").as_double();
    CHECK(p < m);
    CHECK(m < 1000);
    CHECK(s.at("j_agg").at("mpjpe").at("rows").keys().size() == 9);  // action x subject
    for (const char* k : {"p_agg", "j_best", "p_best"})  // one hypothesis: the settings coincide
      CHECK(s.at(k).at("mpjpe").at("average").as_double() == doctest::Approx(m).epsilon(1e-9));
  }
  const double mean_mpjpe = mean.at("settings").at("j_agg").at("mpjpe").at("average").as_double();
  const double mlp_mpjpe = mlp.at("settings").at("j_agg").at("mpjpe").at("average").as_double();
  MESSAGE("HumanEva Validate MPJPE: mean pose ", mean_mpjpe, " mm, mlp (1 epoch, width 64, HumanEva only) ", mlp_mpjpe, " mm");
  CHECK(mlp_mpjpe < mean_mpjpe);
}
