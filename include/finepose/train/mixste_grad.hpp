#pragma once
// TrainableMixSTE: the MixSTE2 denoiser (with its text branch) plus gradient
// buffers of the same shapes, a training forward that keeps its activations and
// the backward. Training uses one hypothesis per sample (upstream's is_train
// path: x3d is [B, F, J, 3]). Each sample attends to its own prompt (upstream
// tiles the text batch over rows; the two agree when a batch has one label).
#include <string>
#include <utility>
#include <vector>

#include "finepose/model/mixste.hpp"
#include "finepose/train/cross_attention_grad.hpp"
#include "finepose/train/text_branch_grad.hpp"

namespace finepose::train {

// Drop-path factors (0 or 1/keep) per block and residual branch; empty vectors: no drop.
struct DropPathPlan {
  std::vector<std::vector<float>> ste1, ste2, tte1, tte2;  // [depth][B*F] / [depth][B*J]
};

struct TrainBatch {
  TensorF x2d;                   // [B, F, J, in_chans]
  TensorF x3d;                   // [B, F, J, 3] noisy poses, already clamped and divided by scale
  std::vector<int64_t> t;        // [B] timesteps
  std::vector<int64_t> label;    // [B] index into the prompt list
};

struct MixSTECache {
  int64_t B = 0;
  std::vector<int64_t> label;
  TextBranchCache text;
  TensorF xf_out, xf_proj;
  TensorF in, temb, h1pre, h1act;
  std::vector<BlockCache> ste, tte;
  std::vector<LayerNormCache> sn, tn;
  CrossAttentionCache ca;
  LayerNormCache head_n;
  TensorF head_in;
};

// Sets every tensor a module lists to zero (undefined tensors are skipped).
template <class M>
inline void zero_params(M& m) {
  m.visit("", [](const std::string&, TensorF& t) {
    if (t.defined()) t.fill(0.f);
  });
}

struct TrainableMixSTE {
  MixSTE2 net;
  MixSTE2 grad;           // same shapes; CLIP's tensors left out (frozen)
  bool ctx_grad = true;   // false: upstream (ctx vectors get no gradient)
  std::vector<TensorF> clip_cache;  // frozen CLIP output per prompt (used when !ctx_grad)

  TrainableMixSTE() = default;
  explicit TrainableMixSTE(MixSTE2 model, bool ctx_grad_ = true) : net(std::move(model)), ctx_grad(ctx_grad_) {
    grad = MixSTE2(net.cfg);
    grad.text.clip = nn::ClipTextTransformer();
    zero_params(grad);
  }

  void zero_grad() { zero_params(grad); }
  // The parameters the prompt's CLIP output depends on changed (ctx vectors loaded or updated).
  void invalidate_text_cache() { clip_cache.clear(); }

  // True for the parameters that train: not CLIP, and the ctx vectors only with ctx_grad.
  bool trainable(const std::string& name) const {
    if (name.rfind("clip_text.", 0) == 0) return false;
    if (!ctx_grad && name.rfind("ctx_", 0) == 0) return false;
    return true;
  }

  // (name, parameter, gradient) of every trainable tensor, in visit order.
  std::vector<std::tuple<std::string, TensorF*, TensorF*>> parameters() {
    std::vector<std::pair<std::string, TensorF*>> p, g;
    net.visit("", [&](const std::string& n, TensorF& t) { p.emplace_back(n, &t); });
    grad.visit("", [&](const std::string& n, TensorF& t) { g.emplace_back(n, &t); });
    std::vector<std::tuple<std::string, TensorF*, TensorF*>> out;
    std::size_t j = 0;
    for (auto& [n, t] : p) {
      if (!trainable(n)) continue;
      while (j < g.size() && g[j].first != n) ++j;
      FINEPOSE_CHECK(j < g.size(), "trainable model: no gradient buffer for ", n);
      out.emplace_back(n, t, g[j].second);
    }
    return out;
  }

  // prompts: every prompt the labels index (the same list each step). Returns [B, F, J, 3].
  TensorF forward(const TrainBatch& b, const std::vector<const PromptTokens*>& prompts, MixSTECache& c,
                  const DropPathPlan* dp = nullptr) {
    const FinePoseConfig& cfg = net.cfg;
    const int64_t B = b.x3d.size(0), F = cfg.frames, J = cfg.joints, D = cfg.dim, C2 = cfg.in_chans;
    FINEPOSE_CHECK(b.x3d.dim() == 4 && b.x3d.size(1) == F && b.x3d.size(2) == J && b.x3d.size(3) == 3,
                   "training forward: x3d ", shape_str(b.x3d.shape()), " is not [B, ", F, ", ", J, ", 3]");
    FINEPOSE_CHECK(b.x2d.dim() == 4 && b.x2d.size(0) == B && b.x2d.size(1) == F && b.x2d.size(2) == J &&
                       b.x2d.size(3) == C2,
                   "training forward: x2d ", shape_str(b.x2d.shape()), " is not [", B, ", ", F, ", ", J, ", ", C2, "]");
    FINEPOSE_CHECK(int64_t(b.t.size()) == B && int64_t(b.label.size()) == B, "training forward: need B timesteps and labels");
    for (auto l : b.label)
      FINEPOSE_CHECK(l >= 0 && l < int64_t(prompts.size()), "training forward: label ", l, " outside the ",
                     prompts.size(), " prompts");
    c.B = B;
    c.label = b.label;

    // text branch once per prompt
    c.xf_out = text_branch_fwd(net.text, prompts, ctx_grad, c.text, c.xf_proj, ctx_grad ? nullptr : &clip_cache);
    const int64_t L = cfg.text_context, W = cfg.text_width;

    // conditioning: time_mlp(t) + xf_proj
    c.temb = TensorF({B, D});
    ops::timestep_embedding(c.temb.data(), b.t.data(), B, D);
    c.h1pre = net.time_fc1.forward(c.temb);
    c.h1act = TensorF(c.h1pre.shape());
    ops::gelu_forward(c.h1act.data(), c.h1pre.data(), c.h1act.numel());
    TensorF cond = net.time_fc2.forward(c.h1act);
    for (int64_t i = 0; i < B; ++i) ops::add_inplace(cond.data() + i * D, c.xf_proj.data() + b.label[i] * D, D);

    // input embedding
    c.in = TensorF({B * F * J, C2 + 3});
    for (int64_t r = 0; r < B * F * J; ++r) {
      float* o = c.in.data() + r * (C2 + 3);
      for (int64_t k = 0; k < C2; ++k) o[k] = b.x2d.data()[r * C2 + k];
      for (int64_t k = 0; k < 3; ++k) o[C2 + k] = b.x3d.data()[r * 3 + k];
    }
    TensorF x = net.patch_embed.forward(c.in).reshape({B * F, J, D});
    parallel_for(B * F, [&](int64_t s) {
      const float* ce = cond.data() + (s / F) * D;
      for (int64_t j = 0; j < J; ++j) {
        float* row = x.data() + (s * J + j) * D;
        const float* pe = net.spatial_pos.data() + j * D;
        for (int64_t d = 0; d < D; ++d) row[d] = (row[d] + pe[d]) + ce[d];
      }
    }, 8);

    const int64_t depth = cfg.depth;
    c.ste.assign(size_t(depth), {});
    c.tte.assign(size_t(depth), {});
    c.sn.assign(size_t(depth), {});
    c.tn.assign(size_t(depth), {});
    auto keep = [&](const std::vector<std::vector<float>>* v, int64_t i) {
      return (dp && v && size_t(i) < v->size()) ? (*v)[size_t(i)] : std::vector<float>{};
    };
    x = layer_norm_fwd(net.spatial_norm,
                       block_fwd(net.ste[0], x, c.ste[0], keep(dp ? &dp->ste1 : nullptr, 0), keep(dp ? &dp->ste2 : nullptr, 0)),
                       c.sn[0]);

    // temporal view + cross-attention to each sample's prompt
    TensorF xt({B * J, F, D});
    ops::swap_middle_axes(xt.data(), x.data(), B, F, J, D);
    TensorF xf({B, L, W});
    for (int64_t i = 0; i < B; ++i)
      std::copy(c.xf_out.data() + b.label[i] * L * W, c.xf_out.data() + (b.label[i] + 1) * L * W, xf.data() + i * L * W);
    xt = cross_attention_fwd(net.cross_attn, xt.reshape({B, J * F, D}), xf, cond, c.ca).reshape({B * J, F, D});
    parallel_for(B * J, [&](int64_t s) {
      for (int64_t f = 0; f < F; ++f) ops::add_inplace(xt.data() + (s * F + f) * D, net.temporal_pos.data() + f * D, D);
    }, 8);
    xt = layer_norm_fwd(net.temporal_norm,
                        block_fwd(net.tte[0], xt, c.tte[0], keep(dp ? &dp->tte1 : nullptr, 0), keep(dp ? &dp->tte2 : nullptr, 0)),
                        c.tn[0]);
    TensorF xs({B * F, J, D});
    for (int64_t i = 1; i < depth; ++i) {
      ops::swap_middle_axes(xs.data(), xt.data(), B, J, F, D);
      xs = layer_norm_fwd(net.spatial_norm,
                          block_fwd(net.ste[i], xs, c.ste[i], keep(dp ? &dp->ste1 : nullptr, i), keep(dp ? &dp->ste2 : nullptr, i)),
                          c.sn[i]);
      ops::swap_middle_axes(xt.data(), xs.data(), B, F, J, D);
      xt = layer_norm_fwd(net.temporal_norm,
                          block_fwd(net.tte[i], xt, c.tte[i], keep(dp ? &dp->tte1 : nullptr, i), keep(dp ? &dp->tte2 : nullptr, i)),
                          c.tn[i]);
      xs = TensorF({B * F, J, D});
    }
    ops::swap_middle_axes(xs.data(), xt.data(), B, J, F, D);
    c.head_in = layer_norm_fwd(net.head_norm, xs, c.head_n);
    return net.head_proj.forward(c.head_in).reshape({B, F, J, 3});
  }

  // dout [B, F, J, 3]: accumulates every trainable parameter's gradient into `grad`.
  void backward(const MixSTECache& c, const TensorF& dout) {
    const FinePoseConfig& cfg = net.cfg;
    const int64_t B = c.B, F = cfg.frames, J = cfg.joints, D = cfg.dim, L = cfg.text_context, W = cfg.text_width;
    const int64_t depth = cfg.depth;
    TensorF dxs = layer_norm_bwd(net.head_norm, &grad.head_norm, c.head_n,
                                 linear_bwd(net.head_proj, &grad.head_proj, c.head_in, dout.reshape({B * F * J, 3})));
    TensorF dxt({B * J, F, D});
    ops::swap_middle_axes(dxt.data(), dxs.data(), B, F, J, D);
    for (int64_t i = depth - 1; i >= 1; --i) {
      dxt = block_bwd(net.tte[size_t(i)], &grad.tte[size_t(i)], c.tte[size_t(i)],
                      layer_norm_bwd(net.temporal_norm, &grad.temporal_norm, c.tn[size_t(i)], dxt));
      dxs = TensorF({B * F, J, D});
      ops::swap_middle_axes(dxs.data(), dxt.data(), B, J, F, D);
      dxs = block_bwd(net.ste[size_t(i)], &grad.ste[size_t(i)], c.ste[size_t(i)],
                      layer_norm_bwd(net.spatial_norm, &grad.spatial_norm, c.sn[size_t(i)], dxs));
      dxt = TensorF({B * J, F, D});
      ops::swap_middle_axes(dxt.data(), dxs.data(), B, F, J, D);
    }
    dxt = block_bwd(net.tte[0], &grad.tte[0], c.tte[0], layer_norm_bwd(net.temporal_norm, &grad.temporal_norm, c.tn[0], dxt));
    // Temporal_pos_embed: sum over the B*J rows
    {
      float* gp = grad.temporal_pos.data();
      parallel_for(F, [&](int64_t f) {
        for (int64_t s = 0; s < B * J; ++s) ops::add_inplace(gp + f * D, dxt.data() + (s * F + f) * D, D);
      }, 1);
    }
    TensorF dxf, demb;
    TensorF dca = cross_attention_bwd(net.cross_attn, &grad.cross_attn, c.ca, dxt.reshape({B, J * F, D}), dxf, demb);
    dxs = TensorF({B * F, J, D});
    ops::swap_middle_axes(dxs.data(), dca.data(), B, J, F, D);
    dxs = block_bwd(net.ste[0], &grad.ste[0], c.ste[0], layer_norm_bwd(net.spatial_norm, &grad.spatial_norm, c.sn[0], dxs));

    // input embedding: Spatial_pos_embed, the conditioning and the patch embedding
    TensorF dcond = demb.clone();  // [B, D]
    {
      float* gp = grad.spatial_pos.data();
      parallel_for(J, [&](int64_t j) {
        for (int64_t s = 0; s < B * F; ++s) ops::add_inplace(gp + j * D, dxs.data() + (s * J + j) * D, D);
      }, 1);
      parallel_for(B, [&](int64_t i) {
        for (int64_t r = 0; r < F * J; ++r) ops::add_inplace(dcond.data() + i * D, dxs.data() + (i * F * J + r) * D, D);
      }, 1);
    }
    linear_bwd(net.patch_embed, &grad.patch_embed, c.in, dxs, false);
    TensorF dh = linear_bwd(net.time_fc2, &grad.time_fc2, c.h1act, dcond);
    ops::gelu_backward(dh.data(), dh.data(), c.h1pre.data(), dh.numel());
    linear_bwd(net.time_fc1, &grad.time_fc1, c.temb, dh, false);

    // back to the prompts
    const int64_t U = c.xf_out.size(0);
    TensorF dxf_out = TensorF::zeros({U, L, W}), dxf_proj = TensorF::zeros({U, D});
    for (int64_t i = 0; i < B; ++i) {
      const int64_t u = c.label[size_t(i)];
      ops::add_inplace(dxf_out.data() + u * L * W, dxf.data() + i * L * W, L * W);
      ops::add_inplace(dxf_proj.data() + u * D, dcond.data() + i * D, D);
    }
    text_branch_bwd(net.text, grad.text, c.text, dxf_out, dxf_proj);
  }
};

}  // namespace finepose::train
