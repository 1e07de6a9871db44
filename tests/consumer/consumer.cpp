// Built by the consumer projects: includes the one-header API, makes a tiny
// random model, saves it, and runs load -> lift -> release on a procedural walk.
#include <cstdio>
#include <string>

#include <finepose/finepose.hpp>
#include <finepose/wild/demo_walk.hpp>

int main(int argc, char** argv) {
  try {
    finepose::FinePoseConfig c;
    c.depth = 1, c.frames = 9, c.dim = 16, c.heads = 2, c.mlp_hidden = 32;
    c.text_width = 8, c.clip_layers = 1, c.clip_heads = 2, c.encoder_layers = 1, c.encoder_heads = 2, c.encoder_ff = 16;
    c.validate();
    finepose::FinePoseModel tiny(c);
    std::uint64_t stream = 0;
    tiny.visit([&](const std::string&, finepose::TensorF& t) {
      const auto r = finepose::NormalStream(1, stream++).normal(t.shape());
      for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 0.05f * r.data()[i];
    });
    const std::string path = argc > 1 ? argv[1] : "consumer_model.safetensors";
    finepose::save_model(path, tiny);

    finepose::Model model = finepose::load(path);
    finepose::wild::DemoWalkOptions o;
    o.frames = 20;
    const auto walk = finepose::wild::make_demo_walk(o);
    finepose::Lifted r = model.lift(finepose::pose::to_h36m17(walk.coco_px, finepose::pose::KeypointLayout::coco17), 1000, 1000);
    finepose::release(model);
    if (r.poses.size(0) != 20) {
      std::fprintf(stderr, "consumer: expected 20 frames, got %lld\n", (long long)r.poses.size(0));
      return 1;
    }
    std::printf("consumer ok: finepose %s, %lld frames\n", FINEPOSE_VERSION_STRING, (long long)r.poses.size(0));
  } catch (const finepose::Error& e) {
    std::fprintf(stderr, "consumer: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
