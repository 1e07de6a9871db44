// The fast MixSTE2 forward (packed weights, fused residuals, chunks, workspace)
// against the module-by-module forward_reference on random weights, including
// chunk boundaries (frames * joints rows above the chunk size), several samples
// with different texts and hypotheses; the workspace stops allocating after the
// first call, and changed weights are re-packed.
#include <doctest/doctest.h>

#include <cmath>

#include "finepose/core/philox.hpp"
#include "finepose/model/denoisers.hpp"
#include "finepose/model/mixste.hpp"
#include "test_helpers.hpp"

using namespace finepose;

namespace {

using test::rel_l2;

FinePoseConfig small_config(int64_t frames) {
  FinePoseConfig c;
  c.depth = 2;
  c.frames = frames;
  c.dim = 64;
  c.heads = 4;
  c.mlp_hidden = 128;
  c.text_width = 16;
  c.clip_layers = 1;
  c.clip_heads = 2;
  c.encoder_layers = 1;
  c.encoder_heads = 2;
  c.encoder_ff = 32;
  c.text_vocab = 64;
  return c;
}

void randomise(MixSTE2& m) {
  std::uint64_t s = 0;
  m.visit("", [&](const std::string& name, TensorF& p) {
    NormalStream(3, ++s).fill(p.data(), p.numel());
    const bool ln = p.dim() == 1 && name.size() > 7 && name.substr(name.size() - 7) == ".weight";
    for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] = ln ? 1.f + 0.1f * p.data()[i] : 0.1f * p.data()[i];
  });
}

TextFeatures random_text(const FinePoseConfig& c, std::uint64_t seed) {
  TextFeatures t;
  t.xf_proj = NormalStream(seed, 1).normal({c.dim});
  t.keys = NormalStream(seed, 2).normal({c.text_context, c.dim});
  t.values = NormalStream(seed, 3).normal({c.text_context, c.dim});
  return t;
}

}  // namespace

TEST_CASE("fast denoiser forward equals the module-by-module forward") {
  for (int64_t frames : {9, 81}) {  // 81 frames * 17 joints = 1377 rows > one chunk
    CAPTURE(frames);
    const FinePoseConfig c = small_config(frames);
    MixSTE2 net(c);
    randomise(net);
    const int64_t B = 2, H = 3;
    const TensorF x2d = NormalStream(5, 1).normal({B, frames, c.joints, 2});
    const TensorF x3d = NormalStream(5, 2).normal({B, H, frames, c.joints, 3});
    const TextFeatures t0 = random_text(c, 11), t1 = random_text(c, 12);
    const std::vector<const TextFeatures*> texts{&t0, &t1};
    const std::vector<int64_t> t{17, 503};
    const TensorF want = net.forward_reference(x2d, x3d, t, texts);
    TensorF got = net.forward(x2d, x3d, t, texts);
    CHECK(got.shape() == want.shape());
    const double e = rel_l2(got, want);
    MESSAGE("fast vs reference rel L2 = ", e);
    CHECK(e < 1e-5);

    // second call: same answer, no new workspace allocations, output buffer reused
    const std::size_t allocs = net.workspace_allocations();
    const float* buf = got.data();
    net.forward(x2d, x3d, t, texts, got);
    CHECK(net.workspace_allocations() == allocs);
    CHECK(got.data() == buf);
    CHECK(rel_l2(got, want) == doctest::Approx(e));

    // weights changed after the first call are re-packed
    for (int64_t i = 0; i < net.ste[1].mlp.fc1.weight.numel(); ++i) net.ste[1].mlp.fc1.weight.data()[i] *= -0.5f;
    const TensorF want2 = net.forward_reference(x2d, x3d, t, texts);
    CHECK(rel_l2(net.forward(x2d, x3d, t, texts), want2) < 1e-5);
    CHECK(rel_l2(want2, want) > 1e-3);
  }
}

TEST_CASE("the one DDIM sampler gives the same poses over the fast and the reference forward") {
  const FinePoseConfig c = small_config(9);
  MixSTE2 net(c);
  randomise(net);
  const CosineSchedule sched(c.timesteps);
  const TensorF x2d = NormalStream(7, 1).normal({2, 9, c.joints, 2});
  const TextFeatures t0 = random_text(c, 21), t1 = random_text(c, 22);
  SampleOptions o;
  o.hypotheses = 2;
  o.steps = 3;
  o.flip = true;
  o.seed = 5;
  const TensorF fast = ddim_sample(net, sched, x2d, {&t0, &t1}, o, CpuForward::fast);
  const TensorF ref = ddim_sample(net, sched, x2d, {&t0, &t1}, o, CpuForward::reference);
  CHECK(fast.shape() == Shape{2, 3, 2, 9, c.joints, 3});
  const double e = rel_l2(fast, ref);
  MESSAGE("DDIM K=3 H=2 flip, fast vs reference forward: rel L2 = ", e);
  CHECK(e < 1e-5);
  CHECK_THROWS_WITH_AS(ddim_sample(net, sched, x2d, {&t0}, o), doctest::Contains("1 texts for a batch of 2"), Error);
}

TEST_CASE("fast denoiser forward rejects mismatched inputs") {
  const FinePoseConfig c = small_config(9);
  MixSTE2 net(c);
  const TextFeatures t0 = random_text(c, 1);
  const TensorF x2d = TensorF::zeros({1, 9, 17, 2});
  CHECK_THROWS_AS(net.forward(x2d, TensorF::zeros({1, 1, 8, 17, 3}), {1}, {&t0}), Error);
  CHECK_THROWS_AS(net.forward(x2d, TensorF::zeros({1, 1, 9, 17, 3}), {1, 2}, {&t0}), Error);
  TextFeatures bad = t0;
  bad.keys = TensorF::zeros({3, c.dim});
  CHECK_THROWS_AS(net.forward(x2d, TensorF::zeros({1, 1, 9, 17, 3}), {1}, {&bad}), Error);
}

TEST_CASE("bf16 and int8 fast forwards stay within their bound of fp32; fp32 comes back exactly") {
  const FinePoseConfig c = small_config(27);
  MixSTE2 net(c);
  randomise(net);
  const TensorF x2d = NormalStream(8, 1).normal({1, 27, c.joints, 2});
  const TensorF x3d = NormalStream(8, 2).normal({1, 2, 27, c.joints, 3});
  const TextFeatures t0 = random_text(c, 31);
  const TensorF f32 = net.forward(x2d, x3d, {400}, {&t0});
  for (Precision p : {Precision::bf16, Precision::int8}) {
    net.set_precision(p);
    const double e = rel_l2(net.forward(x2d, x3d, {400}, {&t0}), f32);
    MESSAGE(std::string(precision_name(p)), " vs fp32 rel L2 = ", e);
    CHECK(e > 0);  // the precision took effect
    CHECK(e < (p == Precision::bf16 ? 1e-2 : 4e-2));  // measured 7.5e-3 / 3.2e-2: random weights, wide per-row ranges, the worst case for int8
  }
  net.set_precision(Precision::fp32);
  const TensorF back = net.forward(x2d, x3d, {400}, {&t0});
  CHECK(rel_l2(back, f32) == 0);
  MixSTE2 copy = net;  // copies keep the precision
  net.set_precision(Precision::int8);
  MixSTE2 copy8 = net;
  CHECK(copy.precision() == Precision::fp32);
  CHECK(copy8.precision() == Precision::int8);
}
