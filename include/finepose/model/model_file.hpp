#pragma once
// Model files: the official PyTorch checkpoint (torch.save zip: 'model_pos'
// state dict, DataParallel 'module.' prefix) and finepose's own safetensors
// (state-dict names, config JSON in the metadata). The format is recognised by
// content, not by extension.
#include <string>

#include "finepose/io/file.hpp"
#include "finepose/io/safetensors.hpp"
#include "finepose/io/torch_checkpoint.hpp"
#include "finepose/model/config_json.hpp"
#include "finepose/model/state_dict.hpp"
#include "finepose/text/clip_tokenizer.hpp"

namespace finepose {

struct ModelFileOptions {
  // JSON object with fields an official checkpoint cannot tell (heads, clip_heads,
  // encoder_heads, scale); for safetensors files any config field may be overridden.
  std::string overrides_json;
  // Parameters holding NaN/Inf make every pose NaN: such a file is refused
  // unless this is set (finepose convert --allow-non-finite, to inspect it).
  bool allow_non_finite = false;
};

namespace detail {
inline bool starts_with_zip(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail_io("cannot open model file '", path, "'");
  unsigned char m[4] = {0, 0, 0, 0};
  const std::size_t n = std::fread(m, 1, 4, f);
  std::fclose(f);
  return n == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
}
// Official checkpoints hold what a model does not need: the optimizer state, CLIP's
// visual tower and logit scale. They are not read at all.
inline bool official_key_wanted(const std::string& key) {
  if (key.rfind("model_pos.", 0) != 0) return false;
  return key.find("clip_text.visual.") == std::string::npos && key.find("clip_text.logit_scale") == std::string::npos &&
         key.find("clip_text.text_projection") == std::string::npos;
}
inline void check_finite_parameters(const std::string& path, const LoadReport& r, const ModelFileOptions& opt) {
  if (r.non_finite == 0 || opt.allow_non_finite) return;
  fail(path, ": ", r.non_finite, " parameter tensor", r.non_finite == 1 ? "" : "s", " contain NaN/Inf (first: ",
       r.non_finite_names.front(), "); the model would give NaN poses (a diverged or damaged training run?)");
}
}  // namespace detail

inline FinePoseModel load_official_checkpoint(const std::string& path, const ModelFileOptions& opt = {},
                                              LoadReport* report = nullptr) {
  io::TorchLoadOptions to;
  to.keep = detail::official_key_wanted;
  const io::TorchCheckpoint ck = io::load_torch_checkpoint(path, to);
  const StateDict sd = ck.state_dict("model_pos");
  FINEPOSE_CHECK(!sd.empty(), path, ": no tensors under 'model_pos'");
  UnshapedConfig u;
  if (!opt.overrides_json.empty()) u = unshaped_from_json(opt.overrides_json);
  FinePoseModel model(infer_config(sd, u));
  LoadReport r = load_state_dict(model, sd);
  if (report) *report = r;
  detail::check_finite_parameters(path, r, opt);
  return model;
}

namespace detail {
// A lower bound on the parameter count of the model `c` describes, from tensors every
// FinePOSE model has (double: no overflow). Each parameter must come from the file, so a
// config promising more than the file holds is refused before the model allocates.
inline double parameter_floor(const FinePoseConfig& c) {
  const auto d = [](int64_t v) { return static_cast<double>(v); };
  double n = 4 * d(c.depth) * d(c.dim) * d(c.mlp_hidden);          // STE + TTE blocks: Mlp fc1 + fc2
  n += (d(c.frames) + d(c.joints)) * d(c.dim);                       // positional embeddings
  n += d(c.text_vocab) * d(c.text_width);                            // CLIP token embedding
  n += 4 * d(c.clip_layers) * d(c.text_width) * d(c.text_width);     // CLIP attention in/out projections
  n += 2 * d(c.encoder_layers) * d(c.text_width) * d(c.encoder_ff);  // text encoder feed-forward
  return n;
}
}  // namespace detail

inline FinePoseModel load_safetensors_model(const std::string& path, const ModelFileOptions& opt = {},
                                            LoadReport* report = nullptr) {
  const io::SafeTensors st = io::load_safetensors(path);
  auto it = st.metadata.find("finepose.config");
  FINEPOSE_CHECK(it != st.metadata.end(), path, ": safetensors file has no 'finepose.config' metadata (not a finepose model)");
  FinePoseConfig cfg = config_from_json(it->second);
  if (!opt.overrides_json.empty()) cfg = config_from_json(opt.overrides_json, cfg);
  double in_file = 0;
  for (const auto& kv : st.tensors) in_file += static_cast<double>(shape_numel(kv.second.shape));
  FINEPOSE_CHECK(detail::parameter_floor(cfg) <= in_file, path, ": its model config (finepose.config) needs at least ",
                 detail::parameter_floor(cfg), " parameters, the file holds ", in_file, " tensor elements");
  StateDict sd;
  for (const auto& kv : st.tensors) sd.emplace(kv.first, io::to_tensor<float>(kv.second));
  FinePoseModel model(cfg);
  LoadReport r = load_state_dict(model, sd);
  if (report) *report = r;
  detail::check_finite_parameters(path, r, opt);
  return model;
}

inline FinePoseModel load_model(const std::string& path, const ModelFileOptions& opt = {}, LoadReport* report = nullptr) {
  if (detail::starts_with_zip(path)) return load_official_checkpoint(path, opt, report);
  return load_safetensors_model(path, opt, report);
}

// dtype: "f32", "f16" or "bf16" storage for the written tensors.
inline void save_model(const std::string& path, FinePoseModel& model, const std::string& dtype = "f32",
                       io::Existing existing = io::Existing::replace) {
  std::map<std::string, io::NdArray> tensors;
  model.visit([&](const std::string& name, TensorF& t) {
    if (dtype == "f32") tensors[name] = io::from_tensor(t);
    else if (dtype == "f16") tensors[name] = io::from_tensor(t.cast<half>());
    else if (dtype == "bf16") tensors[name] = io::from_tensor(t.cast<bfloat16>());
    else fail("save_model: unknown dtype '", dtype, "' (f32, f16 or bf16)");
  });
  std::map<std::string, std::string> meta = {{"format", "finepose"},
                                             {"finepose.config", config_to_json(model.config())},
                                             {"finepose.config_version", std::to_string(FinePoseConfig::kVersion)}};
  io::save_safetensors(path, tensors, meta, existing);
}

// Use CLIP's tokenizer (vocabulary file given by the user) for arbitrary labels.
inline void set_tokenizer_from_vocab(FinePoseModel& model, const std::string& vocab_path) {
  auto tok = std::make_shared<ClipTokenizer>(ClipTokenizer::load(vocab_path));
  const int ctx = int(model.config().text_context);
  model.set_tokenizer([tok, ctx](const std::string& text) { return tok->tokenize(text, ctx, true); });
}

}  // namespace finepose
