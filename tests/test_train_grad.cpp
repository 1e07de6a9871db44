// Backward of every module the denoiser uses, checked against central finite
// differences. The ops are float32, so each check is a directional derivative
// along a random direction per tensor (many elements at once keep the float
// rounding of the loss small against the change it measures), loss summed in double.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>

#include "finepose/core/philox.hpp"
#include "finepose/train/mixste_grad.hpp"
#include "finepose/train/loss.hpp"
#include "test_helpers.hpp"

using namespace finepose;
using namespace finepose::train;

namespace {

TensorF randn(const Shape& s, uint64_t seed, float scale = 1.f) {
  TensorF t = NormalStream(seed, 7).normal(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] *= scale;
  return t;
}

double dot(const TensorF& a, const TensorF& b) {
  REQUIRE(a.numel() == b.numel());
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += double(a.data()[i]) * double(b.data()[i]);
  return s;
}

// d loss along v for tensor p: analytic <g, v> against (L(p + e v) - L(p - e v)) / 2e.
void check_direction(const std::string& name, const std::function<double()>& loss, TensorF& p, const TensorF& g,
                     uint64_t seed, double eps = 1e-2, double tol = 2e-2, bool may_vanish = false) {
  REQUIRE_MESSAGE(g.defined(), name);
  REQUIRE_MESSAGE(g.shape() == p.shape(), name);
  TensorF v = randn(p.shape(), seed);
  const TensorF orig = p.clone();
  auto set = [&](double s) {
    for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] = float(double(orig.data()[i]) + s * double(v.data()[i]));
  };
  set(eps);
  const double lp = loss();
  set(-eps);
  const double lm = loss();
  p.copy_from(orig);
  const double numeric = (lp - lm) / (2 * eps);
  const double analytic = dot(g, v);
  INFO(name, ": analytic ", analytic, " numeric ", numeric);
  CHECK(std::abs(analytic - numeric) <= tol * std::max(std::abs(numeric), std::abs(analytic)) + 1e-3);
  // the direction must actually move the loss, except where the gradient is zero by
  // construction (a key bias shifts every score of a query equally: softmax ignores it)
  if (!may_vanish) CHECK(std::abs(analytic) > 1e-6);
}

// loss = sum(out * R) for a fixed random R
double weighted(const TensorF& out, const TensorF& R) { return dot(out, R); }

template <class M>
void randomize(M& m, uint64_t seed, float scale = 0.3f) {
  uint64_t k = 0;
  m.visit("", [&](const std::string& n, TensorF& t) {
    if (!t.defined()) return;
    TensorF r = randn(t.shape(), seed + 1000 * (++k), scale);
    const bool ln_weight = n.size() >= 6 && n.compare(n.size() - 6, 6, "weight") == 0 && t.dim() == 1;
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = (ln_weight ? 1.f : 0.f) + r.data()[i];
  });
}

// Check every parameter of module m (gradients in g) and the input x.
template <class M>
void check_module(const std::string& what, M& m, M& g, TensorF& x, const TensorF& dx,
                  const std::function<double()>& loss, uint64_t seed) {
  std::vector<std::pair<std::string, TensorF*>> ps, gs;
  m.visit("", [&](const std::string& n, TensorF& t) { ps.emplace_back(n, &t); });
  g.visit("", [&](const std::string& n, TensorF& t) { gs.emplace_back(n, &t); });
  REQUIRE(ps.size() == gs.size());
  for (std::size_t i = 0; i < ps.size(); ++i)
    check_direction(what + "." + ps[i].first, loss, *ps[i].second, *gs[i].second, seed + i, 1e-2, 2e-2,
                    ps[i].first.find("key.bias") != std::string::npos);
  if (x.defined()) check_direction(what + ".input", loss, x, dx, seed + 999);
}

}  // namespace

TEST_CASE("linear and layer norm backward") {
  nn::Linear lin(6, 5), glin(6, 5);
  randomize(lin, 1);
  zero_params(glin);
  TensorF x = randn({4, 3, 6}, 2), R = randn({4, 3, 5}, 3);
  TensorF dx = linear_bwd(lin, &glin, x, R);
  check_module("linear", lin, glin, x, dx, [&] { return weighted(lin.forward(x), R); }, 10);

  nn::LayerNorm ln(8, 1e-5f), gln(8);
  randomize(ln, 4);
  zero_params(gln);
  TensorF y = randn({5, 8}, 5, 2.f), Ry = randn({5, 8}, 6);
  LayerNormCache c;
  layer_norm_fwd(ln, y, c);
  TensorF dy = layer_norm_bwd(ln, &gln, c, Ry);
  check_module("layer_norm", ln, gln, y, dy, [&] { return weighted(ln.forward(y), Ry); }, 20);
}

TEST_CASE("self-attention backward (plain and causal) and MLP") {
  for (bool causal : {false, true}) {
    nn::SelfAttention a(8, 2, nn::SelfAttention::Naming::timm), g(8, 2, nn::SelfAttention::Naming::timm);
    randomize(a, 30);
    zero_params(g);
    TensorF x = randn({3, 5, 8}, 31), R = randn({3, 5, 8}, 32);
    SelfAttentionCache c;
    TensorF out = self_attention_fwd(a, x, causal, c);
    CHECK(out.numel() == a.forward(x, causal).numel());
    TensorF dx = self_attention_bwd(a, &g, c, R);
    check_module(causal ? "causal_attention" : "attention", a, g, x, dx,
                 [&] { return weighted(a.forward(x, causal), R); }, 40);
  }
  nn::Mlp m(6, 10), gm(6, 10);
  randomize(m, 50);
  zero_params(gm);
  TensorF x = randn({7, 6}, 51), R = randn({7, 6}, 52);
  MlpCache c;
  mlp_fwd(m, x, c);
  TensorF dx = mlp_bwd(m, &gm, c, R);
  check_module("mlp", m, gm, x, dx, [&] { return weighted(m.forward(x), R); }, 60);
}

TEST_CASE("transformer blocks backward: MixSTE block with drop-path, encoder layer, CLIP block") {
  nn::Block b(8, 2, 16, 1e-6f), gb(8, 2, 16, 1e-6f);
  randomize(b, 70);
  zero_params(gb);
  TensorF x = randn({3, 4, 8}, 71), R = randn({3, 4, 8}, 72);
  const std::vector<float> k1 = {1.25f, 0.f, 1.25f}, k2 = {0.f, 1.25f, 1.25f};
  BlockCache c;
  TensorF out = block_fwd(b, x, c, k1, k2);
  TensorF dx = block_bwd(b, &gb, c, R);
  check_module("block", b, gb, x, dx, [&] { BlockCache cc; return weighted(block_fwd(b, x, cc, k1, k2), R); }, 80);
  // without drop-path the training forward is the inference forward
  BlockCache c0;
  TensorF o0 = block_fwd(b, x, c0);
  TensorF ref = b.forward(x.clone());
  for (int64_t i = 0; i < ref.numel(); ++i) CHECK(o0.data()[i] == doctest::Approx(ref.data()[i]).epsilon(1e-5));

  nn::TransformerEncoderLayer e(8, 2, 12), ge(8, 2, 12);
  randomize(e, 90);
  zero_params(ge);
  EncoderLayerCache ec;
  encoder_layer_fwd(e, x, ec);
  TensorF dxe = encoder_layer_bwd(e, &ge, ec, R);
  check_module("encoder_layer", e, ge, x, dxe, [&] { return weighted(e.forward(x.clone()), R); }, 100);

  nn::ClipResidualBlock cb(8, 2);
  randomize(cb, 110);
  ClipBlockCache cc;
  clip_block_fwd(cb, x, cc);
  TensorF dxc = clip_block_bwd(cb, cc, R);
  check_direction("clip_block.input", [&] { return weighted(cb.forward(x.clone()), R); }, x, dxc, 111);
}

TEST_CASE("stylization block and cross-attention backward") {
  nn::StylizationBlock s(8, 6), gs(8, 6);
  randomize(s, 120);
  zero_params(gs);
  TensorF h = randn({2, 5, 8}, 121), emb = randn({2, 6}, 122), R = randn({2, 5, 8}, 123);
  StylizationCache c;
  stylization_fwd(s, h, emb, c);
  TensorF demb;
  TensorF dh = stylization_bwd(s, &gs, c, R, demb);
  auto loss = [&] { return weighted(s.forward(h, emb), R); };
  check_module("stylization", s, gs, h, dh, loss, 130);
  check_direction("stylization.emb", loss, emb, demb, 131);

  nn::TemporalCrossAttention ca(8, 6, 2, 8), gca(8, 6, 2, 8);
  randomize(ca, 140);
  zero_params(gca);
  TensorF x = randn({2, 7, 8}, 141), xf = randn({2, 4, 6}, 142), e = randn({2, 8}, 143), Rx = randn({2, 7, 8}, 144);
  CrossAttentionCache cc;
  cross_attention_fwd(ca, x, xf, e, cc);
  TensorF dxf, de;
  TensorF dx = cross_attention_bwd(ca, &gca, cc, Rx, dxf, de);
  auto closs = [&] {
    auto kv = ca.text_keys_values(xf);
    return weighted(ca.forward(x, kv.first, kv.second, e), Rx);
  };
  check_module("cross_attention", ca, gca, x, dx, closs, 150);
  check_direction("cross_attention.text", closs, xf, dxf, 151);
  check_direction("cross_attention.emb", closs, e, de, 152);
}

namespace {

FinePoseConfig tiny_config() { return test::tiny_train_config(5); }

std::vector<int32_t> toks(std::vector<int32_t> head) {
  head.resize(77, 0);
  return head;
}

std::vector<PromptTokens> tiny_prompts() {
  std::vector<PromptTokens> ps(2);
  for (int u = 0; u < 2; ++u) {
    for (int i = 0; i < 6; ++i) ps[u].fixed.push_back(toks({57, 10 + i, 58}));
    ps[u].action = u == 0 ? toks({57, 30, 58}) : toks({57, 31, 32, 59});
  }
  return ps;
}

}  // namespace

TEST_CASE("whole denoiser backward: every trainable parameter, ctx vectors through frozen CLIP") {
  const FinePoseConfig cfg = tiny_config();
  for (bool ctx_grad : {true, false}) {
    MixSTE2 net(cfg);
    randomize(net, 200, 0.2f);
    TrainableMixSTE tm(net, ctx_grad);
    auto prompts = tiny_prompts();
    std::vector<const PromptTokens*> pp = {&prompts[0], &prompts[1]};
    TrainBatch b;
    b.x2d = randn({3, cfg.frames, cfg.joints, 2}, 201);
    b.x3d = randn({3, cfg.frames, cfg.joints, 3}, 202);
    b.t = {5, 500, 999};
    b.label = {1, 0, 1};
    TensorF target = randn({3, cfg.frames, cfg.joints, 3}, 203, 0.5f);
    DropPathPlan dp;
    dp.ste1 = {{1.1f, 0, 1.1f, 1.1f, 1.1f, 0, 1.1f, 1.1f, 1.1f, 1.1f, 1.1f, 0, 1.1f, 1.1f, 1.1f}, {}};
    dp.tte2 = {{}, std::vector<float>(size_t(3 * cfg.joints), 1.1f)};
    dp.tte2[1][4] = 0;
    MixSTECache c;
    TensorF pred = tm.forward(b, pp, c, &dp);
    TensorF dpred;
    mpjpe_loss(pred, target, &dpred);
    tm.backward(c, dpred);
    auto loss = [&] {
      MixSTECache cc;
      tm.invalidate_text_cache();
      return mpjpe_loss(tm.forward(b, pp, cc, &dp), target);
    };
    int checked = 0;
    for (auto& [name, p, g] : tm.parameters()) {
      // float32 model: a step of 5e-3 keeps both the rounding and the curvature error small
      check_direction(std::string(ctx_grad ? "ctx_grad " : "upstream ") + name, loss, *p, *g,
                      300 + uint64_t(checked), 5e-3, 3e-2, name.find("key.bias") != std::string::npos);
      ++checked;
    }
    int ctx_seen = 0;
    for (auto& [name, p, g] : tm.parameters()) ctx_seen += name.rfind("ctx_", 0) == 0;
    CHECK(ctx_seen == (ctx_grad ? 7 : 0));
    CHECK(checked > 50);
    // the training forward without drop-path equals the inference forward
    MixSTECache c2;
    TensorF p2 = tm.forward(b, pp, c2, nullptr);
    std::vector<TextFeatures> tf;
    for (auto& p : prompts) tf.push_back(tm.net.encode_text(p));
    std::vector<const TextFeatures*> texts = {&tf[1], &tf[0], &tf[1]};
    TensorF ref = tm.net.forward(b.x2d, b.x3d.reshape({3, 1, cfg.frames, cfg.joints, 3}), b.t, texts);
    for (int64_t i = 0; i < ref.numel(); ++i) CHECK(p2.data()[i] == doctest::Approx(ref.data()[i]).epsilon(1e-4));
  }
}
