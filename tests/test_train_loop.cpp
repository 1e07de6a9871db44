// The training loop on a tiny config: it learns (loss falls on a small set),
// it is deterministic for a seed, and resuming from a checkpoint gives the
// same final weights as an uninterrupted run.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "finepose/train/trainer.hpp"
#include "parity_util.hpp"
#include "test_helpers.hpp"

using namespace finepose;
using namespace finepose::train;

namespace {

FinePoseConfig tiny_config() { return test::tiny_train_config(9); }

MixSTE2 random_net(const FinePoseConfig& cfg, uint64_t seed) {
  MixSTE2 net(cfg);
  uint64_t k = 0;
  net.visit("", [&](const std::string& n, TensorF& t) {
    TensorF r = NormalStream(seed, ++k).normal(t.shape());
    const bool ln_weight = t.dim() == 1 && n.size() > 6 && n.compare(n.size() - 6, 6, "weight") == 0;
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = (ln_weight ? 1.f : 0.f) + 0.1f * r.data()[i];
  });
  return net;
}

std::vector<PromptTokens> prompts() {
  auto toks = [](std::vector<int32_t> h) {
    h.resize(77, 0);
    return h;
  };
  std::vector<PromptTokens> ps(2);
  for (int u = 0; u < 2; ++u) {
    for (int i = 0; i < 6; ++i) ps[u].fixed.push_back(toks({57, 10 + i, 58}));
    ps[u].action = toks({57, 30 + u, 58});
  }
  return ps;
}

// Smooth synthetic motion: a fixed skeleton swaying in time; 2D = orthographic x, y.
Dataset synthetic(int nseq, int64_t N, uint64_t seed) {
  Dataset d;
  d.labels = {"a", "b"};
  const int64_t J = 17;
  TensorF base = NormalStream(seed, 0).normal({J, 3});
  for (int s = 0; s < nseq; ++s) {
    Sequence q;
    q.name = "seq" + std::to_string(s);
    q.label = s % 2;
    q.x2d = TensorF({N, J, 2});
    q.x3d = TensorF({N, J, 3});
    for (int64_t f = 0; f < N; ++f) {
      const float a = 0.3f * std::sin(0.2f * float(f) + float(s));
      for (int64_t j = 0; j < J; ++j) {
        float x = 0.3f * base(j, 0), y = 0.3f * base(j, 1), z = 0.3f * base(j, 2);
        if (j == 0) x = y = z = 0;
        const float xr = std::cos(a) * x + std::sin(a) * z, zr = -std::sin(a) * x + std::cos(a) * z;
        q.x3d(f, j, 0) = xr;
        q.x3d(f, j, 1) = y;
        q.x3d(f, j, 2) = zr;
        q.x2d(f, j, 0) = xr;
        q.x2d(f, j, 1) = y;
      }
    }
    d.seqs.push_back(q);
  }
  return d;
}

TrainConfig train_config() {
  TrainConfig tc;
  tc.model = tiny_config();
  tc.batch_size = 4;
  tc.lr = 2e-3;
  tc.seed = 5;
  return tc;
}

std::vector<float> weights(Trainer& t) {
  std::vector<float> w;
  t.model().net.visit("", [&](const std::string&, TensorF& p) {
    w.insert(w.end(), p.data(), p.data() + p.numel());
  });
  return w;
}

}  // namespace

TEST_CASE("chunks follow upstream's bounds; mirror and permutation") {
  Dataset d;
  Sequence s;
  s.x2d = TensorF::zeros({20, 17, 2});
  s.x3d = TensorF::zeros({20, 17, 3});
  d.seqs.push_back(s);
  auto ch = make_chunks(d, 9, true);
  REQUIRE(ch.size() == 6);  // ceil(20/9) = 3 chunks, offset (27-20)/2 = 3, plus 3 mirrored
  CHECK(ch[0].start == -3);
  CHECK(ch[1].start == 6);
  CHECK(ch[2].start == 15);
  CHECK(ch[3].flip);
  auto p = permutation(100, 1, 2);
  std::vector<int> seen(100, 0);
  for (auto v : p) seen[size_t(v)]++;
  for (int v : seen) CHECK(v == 1);
  CHECK(p != permutation(100, 1, 3));
  float x[17 * 3] = {};
  x[1 * 3] = 1.f;  // rhip x
  mirror(x, 1, 17, 3, {4, 5, 6, 11, 12, 13}, {1, 2, 3, 14, 15, 16});
  CHECK(x[4 * 3] == -1.f);
  CHECK(x[1 * 3] == 0.f);
}

TEST_CASE("training a tiny model lowers the loss and is deterministic") {
  const Dataset d = synthetic(4, 30, 3);
  TrainConfig tc = train_config();
  Trainer a(tc, random_net(tc.model, 11), prompts());
  const double first = a.train_epoch(d);
  double last = first;
  for (int e = 0; e < 7; ++e) last = a.train_epoch(d);
  MESSAGE("tiny loop: epoch 1 loss " << first << ", epoch 8 loss " << last);
  CHECK(last < 0.7 * first);
  CHECK(a.epoch() == 8);
  CHECK(a.lr() == doctest::Approx(tc.lr * std::pow(tc.lr_decay, 8)));
  const double v = a.validate(d);
  CHECK(std::isfinite(v));
  CHECK(v > 0);

  Trainer b(tc, random_net(tc.model, 11), prompts());
  for (int e = 0; e < 8; ++e) b.train_epoch(d);
  CHECK(weights(a) == weights(b));
}

TEST_CASE("resuming from a checkpoint gives the same final weights") {
  const Dataset d = synthetic(3, 25, 4);
  for (bool ctx_grad : {true, false}) {
    TrainConfig tc = train_config();
    tc.ctx_grad = ctx_grad;
    tc.loss_scaled_backward = !ctx_grad;
    Trainer full(tc, random_net(tc.model, 12), prompts());
    for (int e = 0; e < 3; ++e) full.train_epoch(d);

    const std::string ck = std::string(FINEPOSE_GENERATED_FIXTURES) + "/train_resume_test.safetensors";
    {
      std::string dir = FINEPOSE_GENERATED_FIXTURES;
      std::string cmd = "mkdir -p '" + dir + "'";
      REQUIRE(std::system(cmd.c_str()) == 0);
    }
    {
      Trainer part(tc, random_net(tc.model, 12), prompts());
      part.train_epoch(d);
      part.train_epoch(d);
      part.save_checkpoint(ck);
    }  // "killed" here
    Trainer resumed(tc, random_net(tc.model, 99), prompts());  // other init: all state must come from the file
    resumed.load_checkpoint(ck);
    CHECK(resumed.epoch() == 2);
    resumed.train_epoch(d);
    CHECK(weights(resumed) == weights(full));
    CHECK(resumed.lr() == full.lr());

    // a checkpoint of another architecture is refused
    TrainConfig other = tc;
    other.model.depth = 3;
    Trainer wrong(other, random_net(other.model, 1), prompts());
    CHECK_THROWS_WITH_AS(wrong.load_checkpoint(ck), doctest::Contains("config differs"), finepose::Error);
    std::remove(ck.c_str());
  }
}
