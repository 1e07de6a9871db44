#pragma once
// Training forward/backward of FinePOSE's text branch for U prompts at once:
//   FPP prompt assembly [ctx_i | first tokens of text_i] -> + CLIP positions -> frozen
//   CLIP blocks -> ln_final -> text encoder (trained) -> text_ln -> xf_out;
//   xf_proj = text_proj(xf_out[proj_index]).
// CLIP's parameters never get gradients. Whether the gradient goes on through
// CLIP to the learnable context vectors is a choice (ctx_grad): upstream runs
// CLIP under torch.no_grad(), so its ctx vectors never train although the paper
// calls them learnable; ctx_grad = false reproduces that (and skips the CLIP
// backward, and caches CLIP's output per label since nothing in it changes).
#include <map>
#include <vector>

#include "finepose/model/text_branch.hpp"
#include "finepose/train/blocks_grad.hpp"

namespace finepose::train {

struct TextBranchCache {
  bool ctx_grad = true;
  std::vector<int64_t> proj_index;  // per prompt
  std::vector<ClipBlockCache> clip;
  LayerNormCache ln_final;
  std::vector<EncoderLayerCache> enc;
  LayerNormCache text_ln;
  TensorF sel;  // [U, W] the rows of xf_out that feed text_proj
};

// Frozen CLIP output [L, W] of one prompt (valid while the ctx vectors do not change).
inline TensorF clip_features_frozen(const TextBranch& m, const PromptTokens& p) {
  TensorF x = m.assemble_prompt(p).reshape({1, m.cfg.text_context, m.cfg.text_width});
  return m.clip.forward(std::move(x)).reshape({m.cfg.text_context, m.cfg.text_width});
}

// prompts: U prompts; clip_cache (optional, used only when !ctx_grad): CLIP output per
// prompt, filled on first use. Returns xf_out [U, L, W]; xf_proj [U, dim] is written.
inline TensorF text_branch_fwd(const TextBranch& m, const std::vector<const PromptTokens*>& prompts, bool ctx_grad,
                               TextBranchCache& c, TensorF& xf_proj,
                               std::vector<TensorF>* clip_cache = nullptr) {
  const int64_t U = int64_t(prompts.size()), L = m.cfg.text_context, W = m.cfg.text_width;
  FINEPOSE_CHECK(U > 0, "text branch: no prompts");
  c.ctx_grad = ctx_grad;
  c.proj_index.clear();
  for (auto* p : prompts) c.proj_index.push_back(m.proj_index(*p));
  TensorF x({U, L, W});
  if (ctx_grad) {
    for (int64_t u = 0; u < U; ++u) {
      TensorF e = m.assemble_prompt(*prompts[size_t(u)]);
      std::copy(e.data(), e.data() + L * W, x.data() + u * L * W);
      ops::add_inplace(x.data() + u * L * W, m.clip.positional_embedding.data(), L * W);
    }
    c.clip.assign(m.clip.resblocks.size(), {});
    for (std::size_t i = 0; i < m.clip.resblocks.size(); ++i) x = clip_block_fwd(m.clip.resblocks[i], x, c.clip[i]);
    x = layer_norm_fwd(m.clip.ln_final, x, c.ln_final);
  } else {
    for (int64_t u = 0; u < U; ++u) {
      TensorF f;
      if (clip_cache) {
        if (clip_cache->size() < size_t(U)) clip_cache->resize(size_t(U));
        if (!(*clip_cache)[size_t(u)].defined()) (*clip_cache)[size_t(u)] = clip_features_frozen(m, *prompts[size_t(u)]);
        f = (*clip_cache)[size_t(u)];
      } else {
        f = clip_features_frozen(m, *prompts[size_t(u)]);
      }
      std::copy(f.data(), f.data() + L * W, x.data() + u * L * W);
    }
  }
  c.enc.assign(m.encoder.size(), {});
  for (std::size_t i = 0; i < m.encoder.size(); ++i) x = encoder_layer_fwd(m.encoder[i], x, c.enc[i]);
  TensorF xf_out = layer_norm_fwd(m.text_ln, x, c.text_ln);
  c.sel = TensorF({U, W});
  for (int64_t u = 0; u < U; ++u)
    std::copy(xf_out.data() + (u * L + c.proj_index[size_t(u)]) * W,
              xf_out.data() + (u * L + c.proj_index[size_t(u)] + 1) * W, c.sel.data() + u * W);
  xf_proj = m.text_proj.forward(c.sel);
  return xf_out;
}

// dxf_out [U, L, W] and dxf_proj [U, dim]: gradients accumulate into g (CLIP excluded;
// ctx vectors only when the forward ran with ctx_grad).
inline void text_branch_bwd(const TextBranch& m, TextBranch& g, const TextBranchCache& c, const TensorF& dxf_out,
                            const TensorF& dxf_proj) {
  const int64_t U = dxf_out.size(0), L = m.cfg.text_context, W = m.cfg.text_width;
  TensorF dsel = linear_bwd(m.text_proj, &g.text_proj, c.sel, dxf_proj);
  TensorF dx = dxf_out.clone();
  for (int64_t u = 0; u < U; ++u)
    ops::add_inplace(dx.data() + (u * L + c.proj_index[size_t(u)]) * W, dsel.data() + u * W, W);
  dx = layer_norm_bwd(m.text_ln, &g.text_ln, c.text_ln, dx);
  for (std::size_t i = m.encoder.size(); i-- > 0;) dx = encoder_layer_bwd(m.encoder[i], &g.encoder[i], c.enc[i], dx);
  if (!c.ctx_grad) return;
  dx = layer_norm_bwd(m.clip.ln_final, nullptr, c.ln_final, dx);
  for (std::size_t i = m.clip.resblocks.size(); i-- > 0;) dx = clip_block_bwd(m.clip.resblocks[i], c.clip[i], dx);
  // FPP layout: piece i is ctx_i rows, then prompt_tokens word rows
  for (int64_t u = 0; u < U; ++u) {
    int64_t row = 0;
    for (std::size_t i = 0; i < m.ctx.size(); ++i) {
      const int64_t n = m.ctx[i].size(0);
      ops::add_inplace(g.ctx[i].data(), dx.data() + (u * L + row) * W, n * W);
      row += n + m.cfg.prompt_tokens;
    }
  }
}

}  // namespace finepose::train
