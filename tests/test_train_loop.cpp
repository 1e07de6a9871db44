// The training loop on a tiny config: it learns (loss falls on a small set),
// it is deterministic for a seed, and resuming from a checkpoint gives the
// same final weights as an uninterrupted run.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "finepose/train/init.hpp"
#include "finepose/train/trainer.hpp"
#include "parity_util.hpp"
#include "test_helpers.hpp"
#include "thread_group.hpp"

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

TEST_CASE("the moving average of the weights (--ema): validated and exported, resumed exactly, off by default") {
  const Dataset d = synthetic(3, 25, 4);
  TrainConfig tc = train_config();
  tc.ema = 0.9;
  Trainer full(tc, random_net(tc.model, 12), prompts());
  for (int e = 0; e < 3; ++e) full.train_epoch(d);
  const std::vector<float> raw = weights(full);
  // validate() scores the average, validate_current() the weights; both leave the weights as they were
  const double v_avg = full.validate(d), v_raw = full.validate_current(d);
  CHECK(std::isfinite(v_avg));
  CHECK(v_avg != v_raw);
  CHECK(weights(full) == raw);
  // the exported model is the average: between the weights' start and end, not the end
  const std::string dir = FINEPOSE_GENERATED_FIXTURES;
  REQUIRE(std::system(("mkdir -p '" + dir + "'").c_str()) == 0);
  const std::string m_avg = dir + "/train_ema_avg.safetensors", m_raw = dir + "/train_ema_raw.safetensors";
  full.export_model(m_avg);
  CHECK(weights(full) == raw);
  TrainConfig off = tc;
  off.ema = 0;
  Trainer plain(off, random_net(off.model, 12), prompts());
  for (int e = 0; e < 3; ++e) plain.train_epoch(d);
  CHECK(weights(plain) == raw);  // the average never feeds back into training
  plain.export_model(m_raw);
  CHECK(plain.validate(d) == v_raw);  // off: validate() is the weights'
  FinePoseModel avg = load_model(m_avg), cur = load_model(m_raw);
  std::vector<float> wa, wc;
  avg.visit([&](const std::string&, TensorF& p) { wa.insert(wa.end(), p.data(), p.data() + p.numel()); });
  cur.visit([&](const std::string&, TensorF& p) { wc.insert(wc.end(), p.data(), p.data() + p.numel()); });
  REQUIRE(wa.size() == wc.size());
  CHECK(wa != wc);
  // killed after 2 epochs and resumed: the same weights, the same average
  const std::string ck = dir + "/train_ema_resume.safetensors";
  {
    Trainer part(tc, random_net(tc.model, 12), prompts());
    part.train_epoch(d);
    part.train_epoch(d);
    part.save_checkpoint(ck);
  }
  Trainer resumed(tc, random_net(tc.model, 99), prompts());
  resumed.load_checkpoint(ck);
  resumed.train_epoch(d);
  CHECK(weights(resumed) == raw);
  CHECK(resumed.validate(d) == v_avg);
  for (const std::string& f : {m_avg, m_raw, ck}) std::remove(f.c_str());
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

// ---- data parallel (issue 18): the trainer on N ranks (threads here, MPI in test_cli_mpi)

namespace {
struct RankResult {
  std::vector<float> weights;
  std::vector<std::pair<std::string, std::vector<float>>> grads;  // after the last step
  double loss = 0, validate = 0;
};

// `epochs` epochs of d on N ranks; every rank's result (rank order).
std::vector<RankResult> train_on_ranks(const TrainConfig& tc, int N, const Dataset& d, int epochs, uint64_t init) {
  test::ThreadGroup group(N);
  std::vector<RankResult> out(static_cast<std::size_t>(N));
  std::vector<std::string> errors(static_cast<std::size_t>(N));
  std::vector<std::thread> th;
  for (int r = 0; r < N; ++r)
    th.emplace_back([&, r] {
      try {
        test::ThreadGroup::Rank rank(group, r);
        Trainer t(tc, random_net(tc.model, init), prompts());
        if (N > 1) t.set_process_group(&rank);
        RankResult& res = out[size_t(r)];
        for (int e = 0; e < epochs; ++e) res.loss = t.train_epoch(d);
        res.validate = t.validate(d, 2);
        res.weights = weights(t);
        for (auto& [n, p, g] : t.model().parameters()) res.grads.emplace_back(n, std::vector<float>(g->data(), g->data() + g->numel()));
      } catch (const std::exception& e) {
        errors[size_t(r)] = e.what();
        group.abandon();
      }
    });
  for (auto& t : th) t.join();
  for (auto& e : errors) REQUIRE_MESSAGE(e.empty(), e);
  return out;
}

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(a[i]) * a[i];
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}
}  // namespace

TEST_CASE("data parallel: one batch's gradients on 2 and 3 ranks are one process's, to float rounding") {
  const Dataset d = synthetic(4, 30, 3);
  TrainConfig tc = train_config();
  tc.batch_size = 6;
  tc.max_batches = 1;
  const auto one = train_on_ranks(tc, 1, d, 1, 11);
  for (int N : {2, 3}) {
    const auto many = train_on_ranks(tc, N, d, 1, 11);
    for (int r = 1; r < N; ++r) CHECK(many[size_t(r)].weights == many[0].weights);  // the ranks agree to the bit
    CHECK(many[0].loss == doctest::Approx(one[0].loss).epsilon(1e-6));
    for (std::size_t i = 0; i < one[0].grads.size(); ++i) {
      const double e = rel_l2(one[0].grads[i].second, many[0].grads[i].second);
      CHECK_MESSAGE(e <= 1e-5, N, " ranks: gradient of ", one[0].grads[i].first, " rel L2 ", e);
    }
  }
}

TEST_CASE("data parallel: epochs on 2 and 3 ranks end at one process's weights; the same N gives the same bits") {
  const Dataset d = synthetic(4, 30, 3);
  for (bool upstream : {false, true}) {
    TrainConfig tc = train_config();
    tc.batch_size = 5;  // 4 sequences x 4 chunks x 2 (flip) = 32 chunks: the last batch has 2 samples, fewer than 3 ranks
    tc.ctx_grad = !upstream;
    tc.loss_scaled_backward = upstream;
    const auto one = train_on_ranks(tc, 1, d, 4, 11);
    for (int N : {2, 3}) {
      const auto many = train_on_ranks(tc, N, d, 4, 11);
      for (int r = 1; r < N; ++r) CHECK(many[size_t(r)].weights == many[0].weights);
      const double e = rel_l2(one[0].weights, many[0].weights);
      MESSAGE(std::string(upstream ? "upstream" : "paper"), " mode, ", N, " ranks, 28 steps: weights rel L2 ", e);
      CHECK(e <= 1e-5);
      CHECK(many[0].loss == doctest::Approx(one[0].loss).epsilon(1e-5));
      CHECK(many[0].validate == doctest::Approx(one[0].validate).epsilon(1e-5));
      if (N == 2) CHECK(train_on_ranks(tc, 2, d, 4, 11)[0].weights == many[0].weights);  // no dependence on timing
    }
  }
}

TEST_CASE("a checkpoint saved within an epoch resumes to the uninterrupted run's weights, on any number of ranks") {
  const Dataset d = synthetic(3, 25, 4);
  TrainConfig tc = train_config();
  Trainer full(tc, random_net(tc.model, 12), prompts());
  for (int e = 0; e < 2; ++e) full.train_epoch(d);
  const std::string ck = std::string(FINEPOSE_GENERATED_FIXTURES) + "/train_mid_epoch_test.safetensors";
  REQUIRE(std::system(("mkdir -p '" + std::string(FINEPOSE_GENERATED_FIXTURES) + "'").c_str()) == 0);
  {
    Trainer part(tc, random_net(tc.model, 12), prompts());
    part.train_epoch(d);
    struct Stop {};
    try {  // "killed" after batch 3 of epoch 2, a checkpoint saved from the batch callback
      part.train_epoch(d, [&](int64_t done, int64_t, double) {
        if (done == 3) part.save_checkpoint(ck), throw Stop{};
      });
    } catch (Stop&) {
    }
  }
  Trainer resumed(tc, random_net(tc.model, 99), prompts());
  resumed.load_checkpoint(ck);
  CHECK(resumed.epoch() == 1);
  CHECK(resumed.batch() == 3);
  resumed.train_epoch(d);
  CHECK(weights(resumed) == weights(full));
  CHECK(resumed.epoch() == 2);
  CHECK(resumed.batch() == 0);
  // resumed on 2 ranks: the same weights to float rounding
  test::ThreadGroup group(2);
  std::vector<std::vector<float>> w(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> th;
  for (int r = 0; r < 2; ++r)
    th.emplace_back([&, r] {
      try {
        test::ThreadGroup::Rank rank(group, r);
        Trainer t(tc, random_net(tc.model, 99), prompts());
        t.set_process_group(&rank);
        t.load_checkpoint(ck);
        t.train_epoch(d);
        w[size_t(r)] = weights(t);
      } catch (const std::exception& e) {
        errors[size_t(r)] = e.what();
        group.abandon();
      }
    });
  for (auto& t : th) t.join();
  for (auto& e : errors) REQUIRE_MESSAGE(e.empty(), e);
  CHECK(w[0] == w[1]);
  CHECK(rel_l2(weights(full), w[0]) <= 1e-5);
  std::remove(ck.c_str());
}

TEST_CASE("init_model: attention projections start as torch's; every prompt's context vectors get a gradient") {
  TrainConfig tc = train_config();
  MixSTE2 net(tc.model);
  init_model(net, 3);
  int64_t in_proj = 0;
  net.visit("", [&](const std::string& n, TensorF& t) {
    if (n.find("in_proj_weight") == std::string::npos) return;
    ++in_proj;
    const double bound = std::sqrt(6.0 / double(t.size(0) + t.size(1)));
    double lo = 1e9, hi = -1e9;
    for (int64_t i = 0; i < t.numel(); ++i) lo = std::min(lo, double(t.data()[i])), hi = std::max(hi, double(t.data()[i]));
    CHECK_MESSAGE((lo >= -bound && hi <= bound && hi - lo > bound), n, " spans [", lo, ", ", hi, "], xavier bound ", bound);
  });
  CHECK(in_proj == tc.model.clip_layers + tc.model.encoder_layers);
  // one step: the gradient reaches every ctx tensor (with constant in_proj weights, only the
  // one under xf_proj's position did: no attention mixing in the text tower)
  tc.max_batches = 1;
  Trainer t(tc, std::move(net), prompts());
  t.train_epoch(synthetic(2, 30, 3));
  std::map<std::string, double> norm;
  for (auto& [n, p, g] : t.model().parameters())
    if (n.rfind("ctx_", 0) == 0) {
      double s = 0;
      for (int64_t i = 0; i < g->numel(); ++i) s += double(g->data()[i]) * g->data()[i];
      norm[n] = std::sqrt(s);
    }
  REQUIRE(norm.size() == 7);
  double most = 0;
  for (auto& [n, v] : norm) most = std::max(most, v);
  for (auto& [n, v] : norm) CHECK_MESSAGE(v > 1e-3 * most, n, " gradient norm ", v, " against the largest ", most);
}
