// One training step against PyTorch (tools/reference/make_train_fixtures.py, committed
// fixture tests/fixtures/train/one_step.npz): q_sample, the parameter gradients of the
// whole model (relative L2 <= 1e-4 per tensor) and the parameters after one AdamW step,
// for the upstream quirks (ctx vectors frozen, loss-scaled backward) and the paper's intent.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "finepose/io/npz.hpp"
#include "finepose/train/adamw.hpp"
#include "finepose/train/loss.hpp"
#include "finepose/train/mixste_grad.hpp"
#include "finepose/train/q_sample.hpp"
#include "parity_util.hpp"
#include "test_helpers.hpp"

using namespace finepose;
using namespace finepose::train;

namespace {

FinePoseConfig tiny_config() { return test::tiny_train_config(5); }

struct Fixture {
  io::NpzMap arrays;
  TensorF get(const std::string& k) const {
    auto it = arrays.find(k);
    REQUIRE_MESSAGE(it != arrays.end(), "fixture has no array " << k);
    return io::to_tensor<float>(it->second, k);
  }
  std::vector<int64_t> ints(const std::string& k) const {
    auto it = arrays.find(k);
    REQUIRE_MESSAGE(it != arrays.end(), "fixture has no array " << k);
    auto t = io::to_tensor<int64_t>(it->second, k);
    return t.to_vector();
  }
};

// Elements whose gradient is zero by construction: a key bias adds the same amount to
// every score of a query, which softmax ignores (cross-attention key.bias, the K third of a
// fused q|k|v bias). Both sides hold rounding noise there, which AdamW's normalised step
// turns into +-lr: those elements are checked for being ~0 and left out of the comparisons.
std::vector<bool> zero_by_construction(const std::string& name, int64_t n) {
  std::vector<bool> m(size_t(n), false);
  auto ends = [&](const std::string& s) { return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
  if (ends("key.bias")) m.assign(size_t(n), true);
  if (ends("qkv.bias") || ends("in_proj_bias"))
    for (int64_t i = n / 3; i < 2 * n / 3; ++i) m[size_t(i)] = true;
  return m;
}

TensorF masked(const TensorF& t, const std::vector<bool>& m) {
  TensorF o = t.clone();
  for (int64_t i = 0; i < o.numel(); ++i)
    if (m[size_t(i)]) o.data()[i] = 0.f;
  return o;
}

std::vector<int32_t> row(const std::vector<int64_t>& v, int64_t r) {
  return std::vector<int32_t>(v.begin() + r * 77, v.begin() + (r + 1) * 77);
}

}  // namespace

TEST_CASE("one training step matches PyTorch (gradients and AdamW update)") {
  const std::string path = std::string(FINEPOSE_FIXTURE_DIR) + "/train/one_step.npz";
  if (!test::file_exists(path)) {
    MESSAGE("skipped: " << path << " is missing (tools/reference/make_train_fixtures.py writes it)");
    return;
  }
  Fixture fx{io::load_npz(path)};
  const FinePoseConfig cfg = tiny_config();
  const CosineSchedule sched(cfg.timesteps);

  TensorF x2d = fx.get("x2d"), target = fx.get("target"), noise = fx.get("noise"), xt_ref = fx.get("x_t");
  const auto t = fx.ints("t");
  const auto labels = fx.ints("labels");
  const int64_t B = x2d.size(0), per = cfg.frames * cfg.joints * 3;

  // q_sample in float64, rounded once: the same float32 values as torch
  TensorF xt(target.shape());
  for (int64_t b = 0; b < B; ++b)
    q_sample_clamped(xt.data() + b * per, target.data() + b * per, noise.data() + b * per, per, t[size_t(b)], sched,
                     cfg.scale);
  CHECK(test::rel_l2(xt, xt_ref) < 1e-7);

  const auto act = fx.ints("action_tokens"), pre = fx.ints("pre_tokens");
  std::vector<PromptTokens> prompts(2);
  for (int u = 0; u < 2; ++u) {
    prompts[u].action = row(act, u);
    for (int i = 0; i < 6; ++i) prompts[u].fixed.push_back(row(pre, i));
  }
  std::vector<const PromptTokens*> pp = {&prompts[0], &prompts[1]};

  for (const std::string mode : {"upstream", "paper"}) {
    CAPTURE(mode);
    MixSTE2 net(cfg);
    int64_t loaded = 0;
    net.visit("", [&](const std::string& n, TensorF& p) {
      TensorF v = fx.get("param/" + n);
      REQUIRE_MESSAGE(v.numel() == p.numel(), n);
      std::copy(v.data(), v.data() + v.numel(), p.data());
      ++loaded;
    });
    TrainableMixSTE tm(net, /*ctx_grad=*/mode == "paper");
    TrainBatch b{x2d, xt_ref, t, labels};
    MixSTECache c;
    TensorF pred = tm.forward(b, pp, c);
    TensorF dpred;
    const double loss = mpjpe_loss(pred, target, &dpred);
    const double loss_ref = double(fx.get("loss_" + mode).data()[0]);
    CHECK(loss == doctest::Approx(loss_ref).epsilon(1e-5));
    if (mode == "upstream")  // main.py: loss.backward(loss)
      for (int64_t i = 0; i < dpred.numel(); ++i) dpred.data()[i] *= float(loss);
    tm.backward(c, dpred);

    auto params = tm.parameters();
    int64_t compared = 0;
    double worst = 0;
    std::string worst_name;
    std::vector<TensorF*> ps;
    std::vector<const TensorF*> gs;
    for (auto& [name, p, g] : params) {
      const std::string key = "grad_" + mode + "/" + name;
      REQUIRE_MESSAGE(fx.arrays.count(key), "PyTorch trains no parameter " << key);
      TensorF gref = fx.get(key).reshape(g->shape());
      const auto zero = zero_by_construction(name, g->numel());
      for (int64_t i = 0; i < g->numel(); ++i)
        if (zero[size_t(i)]) {
          CHECK_MESSAGE(std::abs(g->data()[i]) <= 1e-6f, name << "[" << i << "] should be ~0: " << g->data()[i]);
          CHECK_MESSAGE(std::abs(gref.data()[i]) <= 1e-6f, name << "[" << i << "] (torch) should be ~0");
        }
      const double e = test::rel_l2(masked(*g, zero), masked(gref, zero));
      if (e > worst) worst = e, worst_name = name;
      CHECK_MESSAGE(e <= 1e-4, name << " gradient rel L2 " << e);
      ++compared;
      ps.push_back(p);
      gs.push_back(g);
    }
    // both sides train the same set of tensors
    int64_t ref_count = 0;
    for (auto& [k, v] : fx.arrays) ref_count += k.rfind("grad_" + mode + "/", 0) == 0;
    CHECK(compared == ref_count);
    MESSAGE(mode << ": " << compared << " gradients, worst rel L2 " << worst << " (" << worst_name << ")");

    // one AdamW step: compare the parameter change
    std::vector<TensorF> before;
    for (auto* p : ps) before.push_back(p->clone());
    AdamWState st;
    adamw_step(ps, gs, st, AdamWConfig{});
    double worst_step = 0;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      const std::string& name = std::get<0>(params[i]);
      TensorF nref = fx.get("new_" + mode + "/" + name).reshape(ps[i]->shape());
      TensorF d(ps[i]->shape()), dref(ps[i]->shape());
      for (int64_t k = 0; k < d.numel(); ++k) {
        d.data()[k] = ps[i]->data()[k] - before[i].data()[k];
        dref.data()[k] = nref.data()[k] - before[i].data()[k];
      }
      const auto zero = zero_by_construction(name, d.numel());
      if (std::all_of(zero.begin(), zero.end(), [](bool z) { return z; })) continue;
      const double e = test::rel_l2(masked(d, zero), masked(dref, zero));
      worst_step = std::max(worst_step, e);
      CHECK_MESSAGE(e <= 1e-3, name << " update rel L2 " << e);
      CHECK(test::rel_l2(masked(*ps[i], zero), masked(nref, zero)) <= 1e-6);
    }
    MESSAGE(mode << ": worst AdamW update rel L2 " << worst_step);
  }
}
