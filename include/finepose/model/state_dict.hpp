#pragma once
// From a state dict (name -> tensor) to a model: infer the config of an
// official checkpoint from its tensor shapes, then copy every parameter by
// name with a shape check. Missing parameters are an error; entries a model
// does not use (CLIP's visual tower, logit_scale, the diffusion buffers,
// which are recomputed in float64) are skipped and listed.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "finepose/model/finepose_model.hpp"

namespace finepose {

using StateDict = std::map<std::string, TensorF>;

struct LoadReport {
  std::vector<std::string> skipped;  // present in the file, not used
  int64_t loaded = 0;
  int64_t non_finite = 0;  // parameters containing NaN/Inf (loaded, but reported)
  std::vector<std::string> non_finite_names;
};

namespace detail {
inline const TensorF& sd_get(const StateDict& sd, const std::string& key) {
  auto it = sd.find(key);
  if (it == sd.end()) fail("checkpoint: missing tensor '", key, "'");
  return it->second;
}
inline int64_t count_indexed(const StateDict& sd, const std::string& prefix, const std::string& suffix) {
  int64_t n = 0;
  while (sd.count(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}
}  // namespace detail

// What tensor shapes cannot tell: upstream fixes the head counts in code (8 for
// MixSTE and the text encoder, width/64 for CLIP) and takes scale from the command line.
struct UnshapedConfig {
  int64_t heads = 8;
  int64_t clip_heads = 0;  // 0: CLIP's rule, text_width / 64
  int64_t encoder_heads = 8;
  double scale = 1.0;
};

inline FinePoseConfig infer_config(const StateDict& sd, const UnshapedConfig& u = UnshapedConfig(),
                                   const std::string& p = "pose_estimator.") {
  using detail::count_indexed;
  using detail::sd_get;
  FinePoseConfig c;
  c.heads = u.heads;
  c.encoder_heads = u.encoder_heads;
  c.scale = u.scale;
  const TensorF& spe = sd_get(sd, p + "Spatial_pos_embed");
  FINEPOSE_CHECK(spe.dim() == 3, "checkpoint: Spatial_pos_embed has shape ", shape_str(spe.shape()));
  c.joints = spe.size(1);
  c.dim = spe.size(2);
  const TensorF& tpe = sd_get(sd, p + "Temporal_pos_embed");
  FINEPOSE_CHECK(tpe.dim() == 3, "checkpoint: Temporal_pos_embed has shape ", shape_str(tpe.shape()));
  c.frames = tpe.size(1);
  c.in_chans = sd_get(sd, p + "Spatial_patch_to_embedding.weight").size(1) - 3;
  c.depth = count_indexed(sd, p + "STEblocks.", ".norm1.weight");
  FINEPOSE_CHECK(c.depth > 0, "checkpoint: no STEblocks found under '", p, "' (is this a FinePOSE checkpoint?)");
  c.mlp_hidden = sd_get(sd, p + "STEblocks.0.mlp.fc1.weight").size(0);
  const TensorF& tok = sd_get(sd, p + "clip_text.token_embedding.weight");
  c.text_vocab = tok.size(0);
  c.text_width = tok.size(1);
  c.text_context = sd_get(sd, p + "clip_text.positional_embedding").size(0);
  c.clip_layers = count_indexed(sd, p + "clip_text.transformer.resblocks.", ".ln_1.weight");
  c.clip_heads = u.clip_heads > 0 ? u.clip_heads : std::max<int64_t>(1, c.text_width / 64);
  c.encoder_layers = count_indexed(sd, p + "textTransEncoder.layers.", ".norm1.weight");
  if (c.encoder_layers > 0) c.encoder_ff = sd_get(sd, p + "textTransEncoder.layers.0.linear1.weight").size(0);
  c.variant = sd.count(p + "ctx_verb") ? PromptVariant::h36m : PromptVariant::mpi3dhp;
  if (c.variant == PromptVariant::mpi3dhp) {  // main_3dhp.py: the 3DHP joint order's sides
    c.joints_left = {5, 6, 7, 11, 12, 13};
    c.joints_right = {2, 3, 4, 8, 9, 10};
  }
  c.ctx_lengths.clear();
  int64_t ctx_total = 0;
  for (const auto& name : c.ctx_names()) {
    const TensorF& t = sd_get(sd, p + name);
    c.ctx_lengths.push_back(t.size(0));
    ctx_total += t.size(0);
  }
  const int64_t n_prompts = int64_t(c.ctx_lengths.size());
  FINEPOSE_CHECK((c.text_context - ctx_total) % n_prompts == 0, "checkpoint: prompt context lengths do not fit ",
                 c.text_context, " tokens");
  c.prompt_tokens = (c.text_context - ctx_total) / n_prompts;
  c.validate();
  return c;
}

// Copies parameters into the model. Throws on a missing tensor or a shape mismatch.
inline LoadReport load_state_dict(FinePoseModel& model, const StateDict& sd) {
  LoadReport r;
  std::set<std::string> used;
  model.visit([&](const std::string& name, TensorF& param) {
    auto it = sd.find(name);
    if (it == sd.end()) fail("checkpoint: missing tensor '", name, "' (expected shape ", shape_str(param.shape()), ")");
    const TensorF& src = it->second;
    if (src.shape() != param.shape()) {
      // upstream stores Linear-free parameters like Spatial_pos_embed with leading 1s; only exact shapes are accepted
      fail("checkpoint: tensor '", name, "' has shape ", shape_str(src.shape()), ", the model expects ",
           shape_str(param.shape()));
    }
    param.copy_from(src);
    const float* d = param.data();
    for (int64_t i = 0; i < param.numel(); ++i)
      if (!std::isfinite(d[i])) {
        ++r.non_finite;
        r.non_finite_names.push_back(name);
        break;
      }
    used.insert(name);
    ++r.loaded;
  });
  for (const auto& kv : sd)
    if (!used.count(kv.first)) r.skipped.push_back(kv.first);
  model.clear_text_cache();
  return r;
}

}  // namespace finepose
