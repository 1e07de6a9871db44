// The closed-form FLOP count (model/flop_count.hpp) against a brute count that
// walks the model's actual parameters: every Linear weight [out, in] costs
// 2*in*out per row it is applied to, where the rows follow from which module
// owns it; attention adds 2*2*Tq*Tk*head_dim*heads per sequence.
#include <doctest/doctest.h>

#include "finepose/model/finepose_model.hpp"
#include "finepose/model/flop_count.hpp"

using namespace finepose;

namespace {

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

FlopCount brute(const FinePoseConfig& c, int64_t B, int64_t H) {
  FinePoseModel m(c);
  const double tokens = double(B * H * c.frames * c.joints), L = double(c.text_context);
  FlopCount f;
  m.visit([&](const std::string& full, TensorF& p) {
    if (p.dim() != 2) return;  // biases, norms, embeddings' 1-D parts
    const std::string n = full.substr(std::string("pose_estimator.").size());
    if (!ends(n, "weight") || starts(n, "ctx_") || n == "clip_text.token_embedding.weight") return;
    if (starts(n, "Spatial_pos") || starts(n, "Temporal_pos")) return;
    const double mac = double(p.size(0)) * double(p.size(1));
    if (starts(n, "STEblocks.") || starts(n, "TTEblocks.") || starts(n, "Spatial_patch_to_embedding") ||
        starts(n, "head.") || n == "temporal_cross_attn.query.weight" ||
        n == "temporal_cross_attn.proj_out.out_layers.2.weight")
      f.pose += 2 * mac * tokens;
    else if (starts(n, "time_mlp.") || n == "temporal_cross_attn.proj_out.emb_layers.1.weight")
      f.pose += 2 * mac * double(B);
    else if (starts(n, "clip_text.transformer.") || starts(n, "textTransEncoder."))
      f.text += 2 * mac * L;
    else if (n == "temporal_cross_attn.key.weight" || n == "temporal_cross_attn.value.weight")
      f.text += 2 * mac * L;
    else if (starts(n, "text_proj."))
      f.text += 2 * mac;
    else
      FAIL("unclassified weight ", n);
  });
  // attention products: sequences x (q.k^T + p.v) = 2 * 2 * Tq * Tk * dim
  const double D = double(c.dim), W = double(c.text_width);
  const double seqs = double(B * H);
  for (int64_t i = 0; i < c.depth; ++i) {
    f.pose += seqs * double(c.frames) * 4.0 * double(c.joints * c.joints) * D;  // spatial: one sequence per frame
    f.pose += seqs * double(c.joints) * 4.0 * double(c.frames * c.frames) * D;  // temporal: one per joint
  }
  f.pose += seqs * double(c.joints) * 4.0 * double(c.frames) * L * D;  // cross: frames attend L text tokens
  f.text += double(c.clip_layers + c.encoder_layers) * 4.0 * L * L * W;
  return f;
}

}  // namespace

TEST_CASE("flop count formula matches a brute count over the model's weights") {
  struct Case { int64_t depth, frames, dim, heads, text_width, clip_layers, enc_layers, ff, B, H; };
  for (const Case& k : {Case{2, 9, 48, 4, 16, 1, 1, 32, 1, 1}, Case{3, 27, 64, 8, 32, 2, 2, 64, 2, 5},
                        Case{1, 5, 16, 2, 16, 1, 3, 48, 3, 2}}) {
    FinePoseConfig c;
    c.depth = k.depth;
    c.frames = k.frames;
    c.dim = k.dim;
    c.heads = k.heads;
    c.mlp_hidden = 2 * k.dim;
    c.text_width = k.text_width;
    c.clip_layers = k.clip_layers;
    c.clip_heads = 2;
    c.encoder_layers = k.enc_layers;
    c.encoder_heads = 2;
    c.encoder_ff = k.ff;
    c.text_vocab = 64;
    const FlopCount want = brute(c, k.B, k.H), got = model_flops(c, k.B, k.H);
    CHECK(got.pose == doctest::Approx(want.pose).epsilon(1e-12));
    CHECK(got.text == doctest::Approx(want.text).epsilon(1e-12));
  }
}

TEST_CASE("flop count at the paper setting is about 300 GFLOP per hypothesis") {
  FinePoseConfig c;  // depth 8, 243 frames, dim 512
  const FlopCount f = model_flops(c, 1, 1);
  CHECK(f.pose > 295e9);
  CHECK(f.pose < 305e9);
  CHECK(f.text > 7e9);
  CHECK(f.text < 9e9);
  // linear in the number of sequences, apart from the per-sample vectors
  CHECK(model_flops(c, 1, 5).pose == doctest::Approx(5 * f.pose).epsilon(1e-5));
}
