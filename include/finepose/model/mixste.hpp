#pragma once
// MixSTE2, FinePOSE's denoiser: alternating spatial attention (over the J joints
// of a frame) and temporal attention (over the F frames of a joint), conditioned
// on the 2D input, the timestep + prompt embedding and the prompt tokens.
//
//   embed:  Linear([x2d, x3d]) + Spatial_pos_embed + (time_mlp(t) + xf_proj)
//   STE 0 -> Spatial_norm -> cross-attention to the prompt (FPC + PTS)
//   -> + Temporal_pos_embed -> TTE 0 -> Temporal_norm
//   for i in 1..depth-1: STE i -> Spatial_norm -> TTE i -> Temporal_norm
//   head: LayerNorm -> Linear(dim, 3)
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

#include "finepose/core/arena.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/model/config.hpp"
#include "finepose/model/text_branch.hpp"
#include "finepose/nn/block.hpp"
#include "finepose/nn/cross_attention.hpp"
#include "finepose/ops/adaln.hpp"
#include "finepose/ops/attention.hpp"
#include "finepose/ops/embedding.hpp"
#include "finepose/ops/packed_linear.hpp"
#include "finepose/ops/layer_norm.hpp"
#include "finepose/ops/transpose.hpp"

namespace finepose {

struct MixSTE2 {
  FinePoseConfig cfg;
  nn::Linear patch_embed;  // Spatial_patch_to_embedding
  TensorF spatial_pos, temporal_pos;
  nn::Linear time_fc1, time_fc2;  // time_mlp.1, time_mlp.3 (GELU between)
  std::vector<nn::Block> ste, tte;
  nn::LayerNorm spatial_norm, temporal_norm;
  nn::LayerNorm head_norm;
  nn::Linear head_proj;
  nn::TemporalCrossAttention cross_attn;
  TextBranch text;

  MixSTE2() = default;
  explicit MixSTE2(const FinePoseConfig& c)
      : cfg(c),
        patch_embed(c.in_chans + 3, c.dim),
        spatial_pos(TensorF::zeros({1, c.joints, c.dim})),
        temporal_pos(TensorF::zeros({1, c.frames, c.dim})),
        time_fc1(c.dim, 2 * c.dim),
        time_fc2(2 * c.dim, c.dim),
        spatial_norm(c.dim, 1e-6f),
        temporal_norm(c.dim, 1e-6f),
        head_norm(c.dim, 1e-5f),
        head_proj(c.dim, 3),
        cross_attn(c.dim, c.text_width, c.heads, c.dim),
        text(c) {
    c.validate();
    for (int64_t i = 0; i < c.depth; ++i) {
      ste.emplace_back(c.dim, c.heads, c.mlp_hidden, 1e-6f);
      tte.emplace_back(c.dim, c.heads, c.mlp_hidden, 1e-6f);
    }
  }

  void visit(const std::string& p, const nn::ParamVisitor& v) {
    using nn::join_name;
    patch_embed.visit(join_name(p, "Spatial_patch_to_embedding"), v);
    v(join_name(p, "Spatial_pos_embed"), spatial_pos);
    v(join_name(p, "Temporal_pos_embed"), temporal_pos);
    time_fc1.visit(join_name(p, "time_mlp.1"), v);
    time_fc2.visit(join_name(p, "time_mlp.3"), v);
    for (std::size_t i = 0; i < ste.size(); ++i) ste[i].visit(join_name(p, "STEblocks." + std::to_string(i)), v);
    for (std::size_t i = 0; i < tte.size(); ++i) tte[i].visit(join_name(p, "TTEblocks." + std::to_string(i)), v);
    spatial_norm.visit(join_name(p, "Spatial_norm"), v);
    temporal_norm.visit(join_name(p, "Temporal_norm"), v);
    head_norm.visit(join_name(p, "head.0"), v);
    head_proj.visit(join_name(p, "head.1"), v);
    cross_attn.visit(join_name(p, "temporal_cross_attn"), v);
    text.visit(p, v);
  }

  TextFeatures encode_text(const PromptTokens& p) const { return text.encode(p, cross_attn); }

  // time_mlp(t) + xf_proj for each sample -> [B, dim]
  TensorF conditioning(const std::vector<int64_t>& t, const std::vector<const TextFeatures*>& texts) const {
    const int64_t B = int64_t(t.size()), D = cfg.dim;
    TensorF e({B, D});
    ops::timestep_embedding(e.data(), t.data(), B, D);
    TensorF h = time_fc1.forward(e);
    ops::gelu_forward(h.data(), h.data(), h.numel());
    TensorF c = time_fc2.forward(h);
    for (int64_t b = 0; b < B; ++b) ops::add_inplace(c.data() + b * D, texts[b]->xf_proj.data(), D);
    return c;
  }

  // x2d: [B, F, J, in_chans], x3d: [B, H, F, J, 3] (already clamped and divided by scale),
  // t: B timesteps, texts: B text features -> x0 prediction [B, H, F, J, 3]
  TensorF forward(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t,
                  const std::vector<const TextFeatures*>& texts) const {
    TensorF out;
    forward(x2d, x3d, t, texts, out);
    return out;
  }

  // The same into `out`, reused when it already has the right shape (no allocation in a
  // sampling loop). Weights are packed on the first call (and again if they change);
  // calls on one model are serialised (they share the workspace).
  void forward(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t,
               const std::vector<const TextFeatures*>& texts, TensorF& out) const {
    check_inputs(x2d, x3d, t, texts);
    std::lock_guard<std::mutex> lock(fast_.get().mu);
    fast_forward(fast_.get(), x2d, x3d, t, texts, out);
  }

  // The precision of the fast forward's matrix products (ops/precision.hpp): fp32 (the
  // default, the parity reference), bf16 or int8. Weights are repacked at the next call.
  // forward_reference and training always run fp32. Taken under the workspace's lock, so
  // a change from another thread waits for a running forward.
  void set_precision(Precision p) {
    std::lock_guard<std::mutex> lock(fast_.get().mu);
    precision_ = p;
  }
  Precision precision() const {
    std::lock_guard<std::mutex> lock(fast_.get().mu);
    return precision_;
  }

  // Allocations made by the inference workspace so far (constant once warmed up).
  std::size_t workspace_allocations() const { return fast_.get().arena.allocations(); }
  std::size_t workspace_bytes() const { return fast_.get().arena.bytes(); }

  // The module-by-module forward (nn::Block etc.): the readable definition the fast
  // path is tested against.
  TensorF forward_reference(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t,
                            const std::vector<const TextFeatures*>& texts) const {
    const int64_t B = x3d.size(0), H = x3d.size(1), F = cfg.frames, J = cfg.joints, D = cfg.dim, C2 = cfg.in_chans;
    FINEPOSE_CHECK(x3d.dim() == 5 && x3d.size(2) == F && x3d.size(3) == J && x3d.size(4) == 3,
                   "denoiser: x3d ", shape_str(x3d.shape()), " is not [B, H, ", F, ", ", J, ", 3]");
    FINEPOSE_CHECK(x2d.dim() == 4 && x2d.size(0) == B && x2d.size(1) == F && x2d.size(2) == J && x2d.size(3) == C2,
                   "denoiser: x2d ", shape_str(x2d.shape()), " is not [", B, ", ", F, ", ", J, ", ", C2, "]");
    FINEPOSE_CHECK(int64_t(t.size()) == B && int64_t(texts.size()) == B, "denoiser: need one timestep and text per sample");
    const TensorF c2 = x2d.contiguous(), c3 = x3d.contiguous();

    // --- input embedding: [B*H*F*J, in+3] -> [B*H*F, J, D]
    TensorF in({B * H * F * J, C2 + 3});
    parallel_for(B * H * F * J, [&](int64_t r) {
      const int64_t b = r / (H * F * J), fj = r % (F * J);
      float* o = in.data() + r * (C2 + 3);
      for (int64_t c = 0; c < C2; ++c) o[c] = c2.data()[(b * F * J + fj) * C2 + c];
      for (int64_t c = 0; c < 3; ++c) o[C2 + c] = c3.data()[r * 3 + c];
    }, 1024);
    TensorF x = patch_embed.forward(in).reshape({B * H * F, J, D});
    const TensorF cond = conditioning(t, texts);
    parallel_for(B * H * F, [&](int64_t s) {
      const int64_t b = s / (H * F);
      for (int64_t j = 0; j < J; ++j) {
        float* row = x.data() + (s * J + j) * D;
        const float* pe = spatial_pos.data() + j * D;
        const float* ce = cond.data() + b * D;  // upstream: x += pos; x += cond
        for (int64_t d = 0; d < D; ++d) row[d] = (row[d] + pe[d]) + ce[d];
      }
    }, 8);
    x = spatial_norm.forward(ste[0].forward(std::move(x)));

    // --- to the temporal view [B*H*J, F, D] and cross-attention to the prompt
    TensorF xt({B * H * J, F, D});
    ops::swap_middle_axes(xt.data(), x.data(), B * H, F, J, D);
    TensorF keys({B, cfg.text_context, D}), values({B, cfg.text_context, D});
    for (int64_t b = 0; b < B; ++b) {
      std::copy(texts[b]->keys.data(), texts[b]->keys.data() + cfg.text_context * D, keys.data() + b * cfg.text_context * D);
      std::copy(texts[b]->values.data(), texts[b]->values.data() + cfg.text_context * D, values.data() + b * cfg.text_context * D);
    }
    xt = cross_attn.forward(xt.reshape({B, H * J * F, D}), keys, values, cond).reshape({B * H * J, F, D});

    add_temporal_pos(xt);
    xt = temporal_norm.forward(tte[0].forward(std::move(xt)));

    TensorF xs({B * H * F, J, D});
    for (int64_t i = 1; i < cfg.depth; ++i) {
      ops::swap_middle_axes(xs.data(), xt.data(), B * H, J, F, D);
      xs = spatial_norm.forward(ste[i].forward(std::move(xs)));
      ops::swap_middle_axes(xt.data(), xs.data(), B * H, F, J, D);
      xt = temporal_norm.forward(tte[i].forward(std::move(xt)));
    }
    ops::swap_middle_axes(xs.data(), xt.data(), B * H, J, F, D);
    TensorF out = head_proj.forward(head_norm.forward(xs));
    return out.reshape({B, H, F, J, 3});
  }

  // Call after changing weights in place (an optimizer step): the fast forward
  // repacks them on its next call. (It also notices changes by itself through a
  // sampled fingerprint, but a sample can miss an update; training says so explicitly.)
  void weights_changed() const {
    FastState& s = fast_.get();
    std::lock_guard<std::mutex> lock(s.mu);
    s.packed = false;
  }

 private:
  void check_inputs(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t,
                    const std::vector<const TextFeatures*>& texts) const {
    const int64_t F = cfg.frames, J = cfg.joints, C2 = cfg.in_chans;
    FINEPOSE_CHECK(x3d.dim() == 5 && x3d.size(2) == F && x3d.size(3) == J && x3d.size(4) == 3,
                   "denoiser: x3d ", shape_str(x3d.shape()), " is not [B, H, ", F, ", ", J, ", 3]");
    const int64_t B = x3d.size(0);
    FINEPOSE_CHECK(x2d.dim() == 4 && x2d.size(0) == B && x2d.size(1) == F && x2d.size(2) == J && x2d.size(3) == C2,
                   "denoiser: x2d ", shape_str(x2d.shape()), " is not [", B, ", ", F, ", ", J, ", ", C2, "]");
    FINEPOSE_CHECK(int64_t(t.size()) == B && int64_t(texts.size()) == B, "denoiser: need one timestep and text per sample");
    for (const auto* tf : texts) {
      FINEPOSE_CHECK(tf && tf->xf_proj.numel() == cfg.dim && tf->keys.numel() == cfg.text_context * cfg.dim &&
                         tf->values.numel() == cfg.text_context * cfg.dim,
                     "denoiser: text features do not match the model (dim ", cfg.dim, ", context ", cfg.text_context, ")");
    }
  }

  // Weights packed for ops::linear_packed, and the workspace of the fast forward.
  struct Scratch {
    float *ln, *qkv, *att, *hid;
  };
  struct PackedBlock {
    ops::PackedWeight qkv, proj, fc1, fc2;
  };
  struct FastState {
    std::mutex mu;
    bool packed = false;
    std::vector<std::pair<const float*, double>> fingerprint;  // (data, sample sum) of every packed weight
    std::vector<PackedBlock> ste, tte;
    ops::PackedWeight cross_q, cross_out, patch3d, head;
    Precision packed_precision = Precision::fp32;
    Arena arena;
    std::vector<Scratch> scratch;
  };
  // Copies of a model get a fresh state (their weights may diverge); moves keep it.
  struct FastHolder {
    std::unique_ptr<FastState> p = std::make_unique<FastState>();
    FastHolder() = default;
    FastHolder(const FastHolder&) : p(std::make_unique<FastState>()) {}
    FastHolder& operator=(const FastHolder&) {
      p = std::make_unique<FastState>();
      return *this;
    }
    FastHolder(FastHolder&&) = default;
    FastHolder& operator=(FastHolder&&) = default;
    FastState& get() const { return *p; }
  };
  mutable FastHolder fast_;
  Precision precision_ = Precision::fp32;

  static double sample_sum(const TensorF& w) {
    double s = 0;
    const int64_t n = w.numel(), step = std::max<int64_t>(1, n / 61);
    for (int64_t i = 0; i < n; i += step) s += double(w.data()[i]) * double(i % 7 + 1);
    return s;
  }
  std::vector<const TensorF*> packed_sources() const {
    std::vector<const TensorF*> v;
    for (const auto* blocks : {&ste, &tte})
      for (const auto& b : *blocks)
        for (const TensorF* w : {&b.attn.qkv.weight, &b.attn.proj.weight, &b.mlp.fc1.weight, &b.mlp.fc2.weight}) v.push_back(w);
    for (const TensorF* w : {&cross_attn.query.weight, &cross_attn.proj_out.out_proj.weight, &patch_embed.weight,
                             &head_proj.weight})
      v.push_back(w);
    return v;
  }

  void ensure_packed(FastState& s) const {
    std::vector<std::pair<const float*, double>> fp;
    for (const TensorF* w : packed_sources()) fp.emplace_back(w->data(), sample_sum(*w));
    if (s.packed && fp == s.fingerprint && s.packed_precision == precision_) return;
    // The transformer's linears (all but a few per cent of the FLOPs) take the reduced
    // precision; the input embedding's x3d half (K = 3) and the head (N = 3) stay fp32:
    // they are ~0.1% of the FLOPs and sit where the pose enters and leaves.
    const Precision prec = precision_;
    auto pack = [prec](const nn::Linear& l) { return ops::PackedWeight(l.weight.data(), l.in_features, l.out_features, prec); };
    auto pack32 = [](const nn::Linear& l) { return ops::PackedWeight(l.weight.data(), l.in_features, l.out_features); };
    s.ste.clear();
    s.tte.clear();
    for (const auto& b : ste) s.ste.push_back({pack(b.attn.qkv), pack(b.attn.proj), pack(b.mlp.fc1), pack(b.mlp.fc2)});
    for (const auto& b : tte) s.tte.push_back({pack(b.attn.qkv), pack(b.attn.proj), pack(b.mlp.fc1), pack(b.mlp.fc2)});
    s.cross_q = pack(cross_attn.query);
    s.cross_out = pack(cross_attn.proj_out.out_proj);
    s.head = pack32(head_proj);
    // the x3d half of the input embedding: columns in_chans.. of Spatial_patch_to_embedding
    const int64_t C = cfg.in_chans + 3, D = cfg.dim;
    std::vector<float> w3(std::size_t(D * 3));
    for (int64_t d = 0; d < D; ++d)
      for (int64_t c = 0; c < 3; ++c) w3[std::size_t(d * 3 + c)] = patch_embed.weight.data()[d * C + cfg.in_chans + c];
    s.patch3d = ops::PackedWeight(w3.data(), 3, D);
    s.fingerprint = std::move(fp);
    s.packed_precision = prec;
    s.packed = true;
  }

  // f(i, thread) for i in [0, n), handed out one at a time: chunks are coarse (one
  // whole pipeline each) and a dynamic schedule keeps both cores busy even when the
  // machine is shared. Which thread runs a chunk never changes its result.
  template <class Fn>
  static void for_chunks_dynamic(int64_t n, Fn&& f) {
#ifdef _OPENMP
    if (n > 1 && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t i = 0; i < n; ++i) f(i, omp_get_thread_num());
      return;
    }
#endif
    for (int64_t i = 0; i < n; ++i) f(i, 0);
  }

  // Per-thread scratch of the chunk pipelines, created before the parallel region
  // (Arena::get is then only a lookup, safe from several threads).
  std::vector<Scratch>& scratch(FastState& st, int64_t max_rows) const {
    const int nt = std::max(1, num_threads());
    const int64_t D = cfg.dim;
    st.scratch.resize(std::size_t(nt));
    for (int i = 0; i < nt; ++i) {
      const std::size_t base = kSlotScratch + 4 * std::size_t(i);
      st.scratch[std::size_t(i)] = {st.arena.get(base, std::size_t(max_rows * D)),
                                    st.arena.get(base + 1, std::size_t(max_rows * 3 * D)),
                                    st.arena.get(base + 2, std::size_t(max_rows * D)),
                                    st.arena.get(base + 3, std::size_t(max_rows * std::max(cfg.mlp_hidden, D)))};
    }
    return st.scratch;
  }

  // One transformer block on x [seqs, T, D] in place: x += proj(attn(LN1 x)); x += fc2(gelu(fc1(LN2 x))).
  // Each chunk of whole sequences runs the whole pipeline on one thread, its
  // intermediates (qkv, hidden) staying cache-sized.
  void fast_block(FastState& st, const nn::Block& blk, const PackedBlock& pb, float* x, int64_t seqs, int64_t T) const {
    const int64_t D = cfg.dim, Hd = cfg.mlp_hidden, heads = blk.attn.heads, dh = D / heads;
    const int64_t per = std::max<int64_t>(1, kChunkRows / T), chunks = (seqs + per - 1) / per;
    auto& sc = scratch(st, per * T);
    const float scale = float(1.0 / std::sqrt(double(dh)));
    for_chunks_dynamic(chunks, [&](int64_t ci, int tid) {
      const Scratch& s = sc[std::size_t(tid)];
      const int64_t s0 = ci * per, ns = std::min(per, seqs - s0), rows = ns * T;
      float* xc = x + s0 * T * D;
      ops::layer_norm_forward(s.ln, nullptr, nullptr, xc, blk.norm1.weight.data(), blk.norm1.bias.data(), rows, D, blk.norm1.eps);
      ops::linear_packed(s.qkv, 3 * D, s.ln, D, rows, pb.qkv, blk.attn.qkv.bias.data(), false);
      ops::AttnShape sh{ns, heads, T, T, dh};
      ops::attention_forward(s.att, nullptr, s.qkv, T * 3 * D, 3 * D, s.qkv + D, T * 3 * D, 3 * D, s.qkv + 2 * D,
                             T * 3 * D, 3 * D, sh, scale, false);
      ops::linear_packed(xc, D, s.att, D, rows, pb.proj, blk.attn.proj.bias.data(), true);
      ops::layer_norm_forward(s.ln, nullptr, nullptr, xc, blk.norm2.weight.data(), blk.norm2.bias.data(), rows, D, blk.norm2.eps);
      ops::linear_packed(s.hid, Hd, s.ln, D, rows, pb.fc1, blk.mlp.fc1.bias.data(), false);
      ops::gelu_forward(s.hid, s.hid, rows * Hd);
      ops::linear_packed(xc, D, s.hid, Hd, rows, pb.fc2, blk.mlp.fc2.bias.data(), true);
    });
  }

  // out = LN(in) with the middle axes swapped: in [A, P, Q, D] -> out [A, Q, P, D].
  static void norm_swap(float* out, const float* in, const nn::LayerNorm& n, int64_t A, int64_t P, int64_t Q, int64_t D) {
    parallel_for(A * P, [&](int64_t ap) {
      const int64_t a = ap / P, p = ap % P;
      for (int64_t q = 0; q < Q; ++q)
        ops::layer_norm_forward(out + ((a * Q + q) * P + p) * D, nullptr, nullptr, in + ((a * P + p) * Q + q) * D,
                                n.weight.data(), n.bias.data(), 1, D, n.eps);
    }, 4);
  }

  void fast_forward(FastState& st, const TensorF& x2d_in, const TensorF& x3d_in, const std::vector<int64_t>& t,
                    const std::vector<const TextFeatures*>& texts, TensorF& out) const {
    const int64_t B = x3d_in.size(0), H = x3d_in.size(1), F = cfg.frames, J = cfg.joints, D = cfg.dim;
    const int64_t C2 = cfg.in_chans, C = C2 + 3, L = cfg.text_context;
    const int64_t S = B * H, N = S * F * J;
    ensure_packed(st);
    Arena& ar = st.arena;
    const TensorF c2 = x2d_in.contiguous(), c3 = x3d_in.contiguous();
    float* x = ar.get(kSlotX, std::size_t(N * D));
    float* y = ar.get(kSlotY, std::size_t(N * D));
    float* e2d = ar.get(kSlotE2d, std::size_t(B * F * J * D));

    // --- input embedding. The 2D half (W[:, :2] x2d + b + pos_j + cond_b) once per clip,
    // then per hypothesis only the x3d half: x = e2d + W[:, 2:] x3d.
    const TensorF cond = conditioning(t, texts);
    const float* W = patch_embed.weight.data();
    parallel_for(B * F * J, [&](int64_t r) {
      const int64_t b = r / (F * J), j = r % J;
      const float* in = c2.data() + r * C2;
      const float* pe = spatial_pos.data() + j * D;
      const float* ce = cond.data() + b * D;
      float* o = e2d + r * D;
      for (int64_t d = 0; d < D; ++d) {
        float v = patch_embed.bias.data()[d];
        for (int64_t c = 0; c < C2; ++c) v += W[d * C + c] * in[c];
        o[d] = (v + pe[d]) + ce[d];
      }
    }, 64);
    parallel_for(S, [&](int64_t s) {
      const int64_t b = s / H;
      std::copy(e2d + b * F * J * D, e2d + (b + 1) * F * J * D, x + s * F * J * D);
    }, 1);
    ops::linear_packed(x, D, c3.data(), 3, N, st.patch3d, nullptr, true);

    // --- STE 0, Spatial_norm fused with the change to the temporal view [S*J, F, D]
    fast_block(st, ste[0], st.ste[0], x, S * F, J);
    norm_swap(y, x, spatial_norm, S, F, J, D);
    std::swap(x, y);

    // --- cross-attention to the prompt (FPC + PTS), per sample
    {
      TensorF e = cond.clone();
      ops::silu_forward(e.data(), e.data(), e.numel());
      const TensorF ss = cross_attn.proj_out.emb_proj.forward(e);  // [B, 2D]: scale | shift
      const auto& ca = cross_attn;
      const int64_t heads = ca.heads, dh = D / heads, rows_per_sample = H * J * F;
      const int64_t per = std::max<int64_t>(1, kChunkRows / F) * F;
      const int64_t per_sample = (rows_per_sample + per - 1) / per;
      auto& sc = scratch(st, per);
      const float scale = float(1.0 / std::sqrt(double(dh)));
      for_chunks_dynamic(B * per_sample, [&](int64_t ci, int tid) {
        const Scratch& sp = sc[std::size_t(tid)];
        const int64_t b = ci / per_sample, r0 = (ci % per_sample) * per;
        const int64_t rows = std::min(per, rows_per_sample - r0);
        float* xc = x + (b * rows_per_sample + r0) * D;
        ops::layer_norm_forward(sp.ln, nullptr, nullptr, xc, ca.norm.weight.data(), ca.norm.bias.data(), rows, D, ca.norm.eps);
        ops::linear_packed(sp.qkv, D, sp.ln, D, rows, st.cross_q, ca.query.bias.data(), false);
        ops::AttnShape sh{1, heads, rows, L, dh};
        ops::attention_forward(sp.att, nullptr, sp.qkv, rows * D, D, texts[std::size_t(b)]->keys.data(), L * D, D,
                               texts[std::size_t(b)]->values.data(), L * D, D, sh, scale, false);
        const auto& sn = ca.proj_out.norm;
        ops::adaln_silu_forward(sp.ln, sp.att, sn.weight.data(), sn.bias.data(), ss.data() + b * 2 * D, 1, rows, D, sn.eps);
        ops::linear_packed(xc, D, sp.ln, D, rows, st.cross_out, ca.proj_out.out_proj.bias.data(), true);
      });
    }
    parallel_for(S * J, [&](int64_t s) {
      for (int64_t f = 0; f < F; ++f) ops::add_inplace(x + (s * F + f) * D, temporal_pos.data() + f * D, D);
    }, 8);

    // --- TTE 0, then STE i / TTE i; every norm fused with the following change of view
    fast_block(st, tte[0], st.tte[0], x, S * J, F);
    for (int64_t i = 1; i < cfg.depth; ++i) {
      norm_swap(y, x, temporal_norm, S, J, F, D);  // -> spatial [S*F, J, D]
      std::swap(x, y);
      fast_block(st, ste[std::size_t(i)], st.ste[std::size_t(i)], x, S * F, J);
      norm_swap(y, x, spatial_norm, S, F, J, D);  // -> temporal [S*J, F, D]
      std::swap(x, y);
      fast_block(st, tte[std::size_t(i)], st.tte[std::size_t(i)], x, S * J, F);
    }
    // --- head: Temporal_norm (back to the spatial view), LayerNorm, Linear(D, 3)
    norm_swap(y, x, temporal_norm, S, J, F, D);
    ops::layer_norm_forward(x, nullptr, nullptr, y, head_norm.weight.data(), head_norm.bias.data(), N, D, head_norm.eps);
    const Shape oshape{B, H, F, J, 3};
    if (!out.defined() || out.shape() != oshape || !out.is_contiguous()) out = TensorF(oshape);
    ops::linear_packed(out.data(), 3, x, D, N, st.head, head_proj.bias.data(), false);
  }

  static constexpr int64_t kChunkRows = 256;  // rows per chunk pipeline (a temporal sequence at 243 frames)
  enum : std::size_t { kSlotX, kSlotY, kSlotE2d, kSlotScratch };

  void add_temporal_pos(TensorF& xt) const {
    const int64_t F = cfg.frames, D = cfg.dim;
    parallel_for(xt.size(0), [&](int64_t s) {
      for (int64_t f = 0; f < F; ++f) ops::add_inplace(xt.data() + (s * F + f) * D, temporal_pos.data() + f * D, D);
    }, 8);
  }
};

}  // namespace finepose
