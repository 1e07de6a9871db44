#pragma once
// A loaded FinePOSE model: config, denoiser (with its text branch), schedule,
// and a cache of text features per action label.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "finepose/model/denoisers.hpp"
#include "finepose/model/mixste.hpp"
#include "finepose/text/known_prompts.hpp"

namespace finepose {

// Turns a text into CLIP's 77 token ids (SOT ... EOT, zero padded).
using TokenizeFn = std::function<std::vector<int32_t>(const std::string&)>;

class FinePoseModel {
 public:
  explicit FinePoseModel(const FinePoseConfig& cfg) : cfg_(cfg), net_(cfg), sched_(cfg.timesteps) {}

  const FinePoseConfig& config() const { return cfg_; }
  MixSTE2& net() { return net_; }
  const MixSTE2& net() const { return net_; }
  const CosineSchedule& schedule() const { return sched_; }

  // The denoiser's matrix-product precision (fp32 default; see MixSTE2::set_precision).
  void set_precision(Precision p) { net_.set_precision(p); }
  Precision precision() const { return net_.precision(); }

  // Parameters under their state-dict names ("pose_estimator.STEblocks.0.attn.qkv.weight").
  void visit(const nn::ParamVisitor& v) { net_.visit("pose_estimator", v); }

  // Without a tokenizer only the built-in texts (fixed prompts, Human3.6M actions) work.
  void set_tokenizer(TokenizeFn f) { tokenize_ = std::move(f); }

  std::vector<int32_t> tokens(const std::string& text) const {
    if (tokenize_) return tokenize_(text);
    return builtin_prompt_tokens(text, cfg_.text_context);
  }

  PromptTokens prompt_tokens(const std::string& action) const {
    PromptTokens p;
    for (const auto& t : fixed_prompt_texts()) p.fixed.push_back(tokens(t));
    if (cfg_.variant == PromptVariant::h36m) {
      FINEPOSE_CHECK(!action.empty(), "this Human3.6M-variant model needs an action label (e.g. Walking)");
      p.action = tokens(action);
    }
    return p;
  }

  // Text features for a label, computed once and cached (thread-safe).
  const TextFeatures& text_features(const std::string& action) const {
    const std::string key = cfg_.variant == PromptVariant::h36m ? action : std::string();
    std::lock_guard<std::mutex> lock(*mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return *it->second;
    auto f = std::make_unique<TextFeatures>(net_.encode_text(prompt_tokens(key)));
    return *cache_.emplace(key, std::move(f)).first->second;
  }
  void clear_text_cache() {
    std::lock_guard<std::mutex> lock(*mu_);
    cache_.clear();
  }

  // x2d [B, F, J, 2] normalised screen coordinates; one action label per sample
  // (or one for all). Returns [B, K, H, F, J, 3].
  TensorF sample(const TensorF& x2d, const std::vector<std::string>& actions, const SampleOptions& opt) const {
    FINEPOSE_CHECK(x2d.dim() == 4, "sample: keypoints_2d must be [B, F, J, 2], got ", shape_str(x2d.shape()));
    const int64_t B = x2d.size(0);
    FINEPOSE_CHECK(x2d.size(1) == cfg_.frames, "sample: the input has ", x2d.size(1), " frames, this model takes ",
                   cfg_.frames);
    FINEPOSE_CHECK(x2d.size(2) == cfg_.joints && x2d.size(3) == cfg_.in_chans, "sample: keypoints_2d ",
                   shape_str(x2d.shape()), " does not have ", cfg_.joints, " joints x ", cfg_.in_chans, " coordinates");
    FINEPOSE_CHECK(B >= 1, "sample: keypoints_2d has an empty batch (shape ", shape_str(x2d.shape()), ")");
    check_finite(x2d, "keypoints_2d");
    {
      const TensorF c = x2d.contiguous();
      for (int64_t i = 0; i < c.numel(); ++i)
        if (std::fabs(c.data()[i]) > kMaxInputCoordinate)
          fail("sample: keypoints_2d element ", i, " is ", c.data()[i], ": normalised screen coordinates lie in about -1..1 "
               "(pixels / width * 2 - 1); beyond +-", kMaxInputCoordinate, " is not a keypoint (pixels given unnormalised?)");
    }
    if (opt.noise_init) check_finite(*opt.noise_init, "sample: noise_init");
    if (opt.noise_steps) check_finite(*opt.noise_steps, "sample: noise_steps");
    std::vector<const TextFeatures*> texts;
    if (cfg_.variant == PromptVariant::h36m) {
      FINEPOSE_CHECK(actions.size() == 1 || int64_t(actions.size()) == B, "sample: ", actions.size(),
                     " action labels for a batch of ", B, " (give one, or one per item)");
      for (int64_t b = 0; b < B; ++b) texts.push_back(&text_features(actions.size() == 1 ? actions[0] : actions[b]));
    } else {
      for (int64_t b = 0; b < B; ++b) texts.push_back(&text_features(""));
    }
    TensorF out = ddim_sample(net_, sched_, x2d, texts, opt);
    // NaN poses are never handed on as a result (a damaged model, or inputs at the edge of float range)
    for (int64_t i = 0; i < out.numel(); ++i)
      if (!std::isfinite(out.data()[i]))
        fail("sample: the model produced a non-finite output (element ", i, " is ", out.data()[i],
             "); its weights or the input are broken");
    return out;
  }

  // Largest |normalised screen coordinate| sample() accepts: 500 image widths
  // outside the picture. Beyond it the input is not a keypoint.
  static constexpr double kMaxInputCoordinate = 1000;

  static void check_finite(const TensorF& t, const char* what) {
    const TensorF c = t.contiguous();
    for (int64_t i = 0; i < c.numel(); ++i)
      if (!std::isfinite(c.data()[i])) fail(what, ": element ", i, " is not finite (", c.data()[i], ")");
  }

 private:
  FinePoseConfig cfg_;
  MixSTE2 net_;
  CosineSchedule sched_;
  TokenizeFn tokenize_;
  mutable std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();  // unique_ptr: the model stays movable
  mutable std::map<std::string, std::unique_ptr<TextFeatures>> cache_;
};

}  // namespace finepose
