#pragma once
// FinePOSE on the device: the MixSTE2 denoiser forward and the K-step DDIM
// sampler (with the flip copy batched into the same forward), mirroring
// model/mixste.hpp and diffusion/ddim.hpp step by step:
//
//   embed:  Linear([x2d, x3d]) + Spatial_pos_embed + (time_mlp(t) + xf_proj)
//   STE 0 -> Spatial_norm -> cross-attention to the prompt (FPC + PTS)
//   -> + Temporal_pos_embed -> TTE 0 -> Temporal_norm
//   for i in 1..depth-1: STE i -> Spatial_norm -> TTE i -> Temporal_norm
//   head: LayerNorm -> Linear(dim, 3)
//
// Linear layers are GEMMs on the backend (cuBLAS on a device, ops::gemm in
// the emulated build, see cuda/backend.hpp) followed by the epilogue kernels;
// layer norm, attention, AdaLN, DDIM and layout changes are kernels/.
// The text branch runs once per label on the CPU (FinePoseModel::text_features,
// cached there); only its xf_proj, keys and values are uploaded.
// Weights are uploaded once, in the constructor. All activations and sampler
// state live in DeviceArrays sized for the largest batch seen, so a sampling
// call of a size seen before allocates nothing, and the K-step loop never does
// (it may be captured into a CUDA graph, DeviceModelOptions::use_graph).
//
// T is the storage of GEMM operands and results (weights and activations):
// float (default) or bfloat16. The residual stream (the block inputs and
// outputs), norm parameters, biases, position embeddings, the conditioning
// path (time MLP, stylization scale/shift) and the sampler state stay fp32.
//
// Compiled by nvcc this runs on the GPU; compiled as host C++ it runs the
// same orchestration through the SIMT emulator (slow; for tests).
// The FinePoseModel must outlive this object.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "finepose/cuda/backend.hpp"
#include "finepose/model/finepose_model.hpp"
#include "finepose/kernels/adaln_forward.cuh"
#include "finepose/kernels/attention_forward.cuh"
#include "finepose/kernels/ddim_step.cuh"
#include "finepose/kernels/epilogue_forward.cuh"
#include "finepose/kernels/layer_norm_convert.cuh"
#include "finepose/kernels/layer_norm_forward.cuh"
#include "finepose/kernels/layout.cuh"
#include "finepose/kernels/pose_flip.cuh"
#include "finepose/kernels/row_add.cuh"
#include "finepose/kernels/sampler_glue.cuh"
#include "finepose/kernels/timestep_embedding.cuh"

namespace finepose::cuda {

struct DeviceModelOptions {
  bool use_graph = false;  // capture the K-step loop in a CUDA graph (device only; ignored when emulated)
  bool tf32 = false;       // TF32 tensor cores for fp32 GEMMs (device only)
};

namespace detail {

template <class W>
struct DeviceLinear {
  DeviceArray<W> w;      // [out, in] (torch layout)
  DeviceArray<float> b;  // [out] or empty
  std::int64_t in = 0, out = 0;
};

struct DeviceNorm {
  DeviceArray<float> g, b;
  float eps = 1e-5f;
  std::int64_t dim = 0;
};

template <class T>
struct DeviceBlock {
  DeviceNorm norm1, norm2;
  DeviceLinear<T> qkv, proj, fc1, fc2;
};

}  // namespace detail

template <class T>
class DeviceFinePoseT {
  static_assert(std::is_same<T, float>::value || std::is_same<T, bfloat16>::value,
                "DeviceFinePoseT: storage must be float or bfloat16");

 public:
  explicit DeviceFinePoseT(const FinePoseModel& model, DeviceModelOptions opt = {})
      : model_(model), cfg_(model.config()), opt_(opt) {
    be_.set_tf32(opt.tf32);
    const MixSTE2& n = model.net();
    FINEPOSE_CHECK(cfg_.dim % cfg_.heads == 0 && cfg_.dim / cfg_.heads <= 128, "device model: head dim ",
                   cfg_.dim / cfg_.heads, " is not supported (at most 128)");
    FINEPOSE_CHECK(cfg_.in_chans >= 0 && cfg_.in_chans <= 64, "device model: in_chans ", cfg_.in_chans, " out of range");
    upload_linear(patch_embed_, n.patch_embed, "Spatial_patch_to_embedding");
    upload_f32(spatial_pos_, n.spatial_pos, cfg_.joints * cfg_.dim, "Spatial_pos_embed");
    upload_f32(temporal_pos_, n.temporal_pos, cfg_.frames * cfg_.dim, "Temporal_pos_embed");
    upload_linear(time_fc1_, n.time_fc1, "time_mlp.1");
    upload_linear(time_fc2_, n.time_fc2, "time_mlp.3");
    FINEPOSE_CHECK(int64_t(n.ste.size()) == cfg_.depth && int64_t(n.tte.size()) == cfg_.depth,
                   "device model: block count differs from depth ", cfg_.depth);
    ste_.resize(n.ste.size());
    tte_.resize(n.tte.size());
    for (std::size_t i = 0; i < n.ste.size(); ++i) {
      upload_block(ste_[i], n.ste[i], "STEblocks." + std::to_string(i));
      upload_block(tte_[i], n.tte[i], "TTEblocks." + std::to_string(i));
    }
    upload_norm(spatial_norm_, n.spatial_norm, "Spatial_norm");
    upload_norm(temporal_norm_, n.temporal_norm, "Temporal_norm");
    upload_norm(head_norm_, n.head_norm, "head.0");
    upload_linear(head_proj_, n.head_proj, "head.1");
    const auto& ca = n.cross_attn;
    FINEPOSE_CHECK(ca.heads == cfg_.heads, "device model: cross-attention heads ", ca.heads, " differ from ", cfg_.heads);
    upload_norm(ca_norm_, ca.norm, "temporal_cross_attn.norm");
    upload_linear(ca_query_, ca.query, "temporal_cross_attn.query");
    upload_linear(ca_emb_, ca.proj_out.emb_proj, "temporal_cross_attn.proj_out.emb_layers.1");
    upload_norm(ca_out_norm_, ca.proj_out.norm, "temporal_cross_attn.proj_out.norm");
    upload_linear(ca_out_, ca.proj_out.out_proj, "temporal_cross_attn.proj_out.out_layers.2");
    pairs_ = kernels::make_joint_pairs(cfg_.joints_left, cfg_.joints_right);
    be_.synchronize();
  }

  DeviceFinePoseT(const DeviceFinePoseT&) = delete;
  DeviceFinePoseT& operator=(const DeviceFinePoseT&) = delete;

  const FinePoseConfig& config() const { return cfg_; }
  Backend& backend() { return be_; }

  // As FinePoseModel::sample: x2d [B, F, J, in_chans], one label per sample (or
  // one for all; ignored by the 3DHP variant) -> [B, K, H, F, J, 3].
  TensorF sample(const TensorF& x2d, const std::vector<std::string>& actions, const SampleOptions& opt) {
    check_x2d(x2d);
    const int64_t B = x2d.size(0);
    std::vector<const TextFeatures*> texts;
    if (cfg_.variant == PromptVariant::h36m) {
      FINEPOSE_CHECK(actions.size() == 1 || int64_t(actions.size()) == B, "sample: ", actions.size(),
                     " action labels for a batch of ", B, " (give one, or one per item)");
      for (int64_t b = 0; b < B; ++b) texts.push_back(&model_.text_features(actions.size() == 1 ? actions[0] : actions[b]));
    } else {
      for (int64_t b = 0; b < B; ++b) texts.push_back(&model_.text_features(""));
    }
    return sample(x2d, texts, opt);
  }

  // As ddim_sample: the text features given per sample.
  TensorF sample(const TensorF& x2d, const std::vector<const TextFeatures*>& texts, const SampleOptions& opt) {
    check_x2d(x2d);
    const int64_t B = x2d.size(0), H = opt.hypotheses, K = opt.steps, F = cfg_.frames, J = cfg_.joints;
    FINEPOSE_CHECK(H >= 1 && H <= 10000, "sample: hypotheses = ", H, " is out of range");
    FINEPOSE_CHECK(int64_t(texts.size()) == B, "sample: ", texts.size(), " texts for a batch of ", B);
    const CosineSchedule& sched = model_.schedule();
    const std::vector<DdimStep> steps = ddim_steps(sched, K);  // the coefficients of diffusion/ddim.hpp's loop
    const Shape xshape{B, H, F, J, 3};
    const int64_t n = shape_numel(xshape), m = H * F * J * 3;
    const bool flip = opt.flip;
    const int64_t NB = flip ? 2 * B : B;

    // ---- everything the loop reads, uploaded before it
    bool grew = ensure_workspace(NB, H);
    grew |= img_.resize(be_, n);
    grew |= x0_.resize(be_, n);
    grew |= eps_.resize(be_, n);
    grew |= noise_.resize(be_, std::max<int64_t>(K - 1, 0) * n);
    grew |= result_.resize(be_, B * K * m);
    grew |= t_.resize(be_, K * NB);
    if (grew) {
      be_.clear_graphs();
      ++generation_;
    }
    upload_texts(texts, NB);
    upload_x2d(x2d, flip);
    {
      std::vector<int64_t> ts(std::size_t(K * NB));
      for (int64_t k = 0; k < K; ++k)
        for (int64_t b = 0; b < NB; ++b) ts[std::size_t(k * NB + b)] = steps[std::size_t(k)].time;
      t_.upload(ts.data(), K * NB);
    }
    if (opt.noise_init) {
      FINEPOSE_CHECK(opt.noise_init->shape() == xshape, "sample: noise_init has shape ", shape_str(opt.noise_init->shape()),
                     ", expected ", shape_str(xshape));
      const TensorF c = opt.noise_init->contiguous();
      img_.upload(c.data(), n);
    } else {
      const TensorF z = NormalStream(opt.seed, 0).normal(xshape);
      img_.upload(z.data(), n);
    }
    if (K > 1) {
      if (opt.noise_steps) {
        const Shape ns{K - 1, B, H, F, J, 3};
        FINEPOSE_CHECK(opt.noise_steps->shape() == ns, "sample: noise_steps has shape ",
                       shape_str(opt.noise_steps->shape()), ", expected ", shape_str(ns));
        const TensorF c = opt.noise_steps->contiguous();
        noise_.upload(c.data(), (K - 1) * n);
      } else {
        for (int64_t k = 0; k + 1 < K; ++k) {  // the CPU sampler's streams: step k draws stream k + 1
          const TensorF z = NormalStream(opt.seed, std::uint64_t(k) + 1).normal(xshape);
          noise_.upload(z.data(), n, k * n);
        }
      }
    }

    // ---- the K-step loop: launches only
    const float s = float(cfg_.scale), lo = float(-1.1 * cfg_.scale), hi = float(1.1 * cfg_.scale);
    const float out_scale = float(cfg_.output_scale());
    const auto st = be_.stream();
    const bool graph = opt_.use_graph && !Backend::emulated();
    auto step = [&](int64_t k) {
      const DdimStep& c = steps[std::size_t(k)];
      kernels::clamp_divide(xin_.data(), img_.data(), n, lo, hi, s, st);
      if (flip) {
        be_.copy(xin_.data() + n, xin_.data(), std::size_t(n) * sizeof(float));
        kernels::flip_poses(xin_.data() + n, B * H * F, J, 3, pairs_, st);
      }
      forward_loaded(NB, H, t_.data() + k * NB);
      float* p = pred_.data();
      if (flip) {
        kernels::flip_poses(p + n, B * H * F, J, 3, pairs_, st);
        kernels::average_halves(p, p + n, n, st);
      }
      kernels::ddim_predict(x0_.data(), eps_.data(), p, img_.data(), n, s, lo, hi, c.sqrt_recip_alpha,
                            c.sqrt_recipm1_alpha, st);
      kernels::scatter_step(result_.data(), x0_.data(), B, m, K, k, out_scale, st);
      if (c.last()) return;
      kernels::ddim_update(img_.data(), x0_.data(), eps_.data(), noise_.data() + k * n, n, c.x0_coef, c.eps_coef,
                           c.noise_coef, st);
    };
    if (graph || !opt.on_step) {
      const std::string key = std::to_string(B) + "," + std::to_string(H) + "," + std::to_string(K) + "," +
                              std::to_string(int(flip)) + "," + std::to_string(generation_);
      be_.run(graph, key, [&] {
        for (int64_t k = 0; k < K; ++k) step(k);
      });
      if (opt.on_step) {
        be_.synchronize();
        for (int64_t k = 0; k < K; ++k) opt.on_step(k, K);
      }
    } else {
      for (int64_t k = 0; k < K; ++k) {  // a progress callback sees real progress: wait for each step
        step(k);
        be_.synchronize();
        opt.on_step(k, K);
      }
    }
    TensorF result({B, K, H, F, J, 3});
    result_.download(result.data(), result.numel());
    return result;
  }

  // One denoiser call, as MixSTE2::forward: x2d [B, F, J, in_chans], x3d
  // [B, H, F, J, 3] (already clamped and divided by scale), t and texts per
  // sample -> x0 prediction [B, H, F, J, 3].
  TensorF forward(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t,
                  const std::vector<const TextFeatures*>& texts) {
    check_x2d(x2d);
    const int64_t B = x2d.size(0), F = cfg_.frames, J = cfg_.joints;
    FINEPOSE_CHECK(x3d.dim() == 5 && x3d.size(0) == B && x3d.size(2) == F && x3d.size(3) == J && x3d.size(4) == 3,
                   "device denoiser: x3d ", shape_str(x3d.shape()), " is not [", B, ", H, ", F, ", ", J, ", 3]");
    FINEPOSE_CHECK(int64_t(t.size()) == B && int64_t(texts.size()) == B, "device denoiser: need one timestep and text per sample");
    for (int64_t v : t)
      FINEPOSE_CHECK(v >= 0 && v < cfg_.timesteps, "device denoiser: timestep ", v, " outside [0, ", cfg_.timesteps, ")");
    const int64_t H = x3d.size(1);
    FINEPOSE_CHECK(H >= 1 && H <= 10000, "device denoiser: ", H, " hypotheses is out of range");
    if (ensure_workspace(B, H)) {
      be_.clear_graphs();
      ++generation_;
    }
    if (t_.size() < B && t_.resize(be_, B)) {
      be_.clear_graphs();
      ++generation_;
    }
    upload_texts(texts, B);
    upload_x2d(x2d, false);
    const TensorF c3 = x3d.contiguous();
    xin_.upload(c3.data(), c3.numel());
    t_.upload(t.data(), B);
    forward_loaded(B, H, t_.data());
    TensorF out({B, H, F, J, 3});
    pred_.download(out.data(), out.numel());
    return out;
  }

  // Allocator statistics of the backend (backend_allocs counts cudaMalloc calls).
  AllocatorStats allocator_stats() const { return be_.allocator_stats(); }

 private:
  using Linear32 = detail::DeviceLinear<float>;
  using LinearT = detail::DeviceLinear<T>;

  // ---- weights -------------------------------------------------------------
  template <class W>
  void upload_values(DeviceArray<W>& dst, const TensorF& src, int64_t n, const std::string& what) {
    FINEPOSE_CHECK(src.defined() && src.numel() == n, "device model: parameter ", what, " has ",
                   src.defined() ? src.numel() : 0, " elements, expected ", n);
    const TensorF c = src.contiguous();
    dst.resize(be_, n);
    if constexpr (std::is_same<W, float>::value) {
      dst.upload(c.data(), n);
    } else {
      std::vector<W> v(static_cast<std::size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[std::size_t(i)] = W(c.data()[i]);
      dst.upload(v.data(), n);
    }
  }
  void upload_f32(DeviceArray<float>& dst, const TensorF& src, int64_t n, const std::string& what) {
    upload_values(dst, src, n, what);
  }
  template <class W>
  void upload_linear(detail::DeviceLinear<W>& d, const nn::Linear& l, const std::string& what) {
    d.in = l.in_features;
    d.out = l.out_features;
    upload_values(d.w, l.weight, d.in * d.out, what + ".weight");
    if (l.bias.defined()) upload_values(d.b, l.bias, d.out, what + ".bias");
  }
  void upload_norm(detail::DeviceNorm& d, const nn::LayerNorm& l, const std::string& what) {
    d.dim = l.dim();
    d.eps = l.eps;
    FINEPOSE_CHECK(d.dim == cfg_.dim, "device model: ", what, " normalises ", d.dim, " features, expected ", cfg_.dim);
    upload_values(d.g, l.weight, d.dim, what + ".weight");
    upload_values(d.b, l.bias, d.dim, what + ".bias");
  }
  void upload_block(detail::DeviceBlock<T>& d, const nn::Block& b, const std::string& what) {
    upload_norm(d.norm1, b.norm1, what + ".norm1");
    upload_norm(d.norm2, b.norm2, what + ".norm2");
    upload_linear(d.qkv, b.attn.qkv, what + ".attn.qkv");
    upload_linear(d.proj, b.attn.proj, what + ".attn.proj");
    upload_linear(d.fc1, b.mlp.fc1, what + ".mlp.fc1");
    upload_linear(d.fc2, b.mlp.fc2, what + ".mlp.fc2");
    FINEPOSE_CHECK(b.attn.heads == cfg_.heads, "device model: ", what, " has ", b.attn.heads, " heads, expected ", cfg_.heads);
  }

  // ---- per-call inputs -------------------------------------------------------
  void check_x2d(const TensorF& x2d) const {
    FINEPOSE_CHECK(x2d.dim() == 4, "sample: keypoints_2d must be [B, F, J, 2], got ", shape_str(x2d.shape()));
    FINEPOSE_CHECK(x2d.size(0) >= 1, "sample: empty batch");
    FINEPOSE_CHECK(x2d.size(1) == cfg_.frames, "sample: the input has ", x2d.size(1), " frames, this model takes ",
                   cfg_.frames);
    FINEPOSE_CHECK(x2d.size(2) == cfg_.joints && x2d.size(3) == cfg_.in_chans, "sample: keypoints_2d ",
                   shape_str(x2d.shape()), " does not have ", cfg_.joints, " joints x ", cfg_.in_chans, " coordinates");
    FinePoseModel::check_finite(x2d, "keypoints_2d");
  }

  // keys/values/xf_proj of NB rows: row b uses texts[b mod B] (the flip copy shares its text)
  void upload_texts(const std::vector<const TextFeatures*>& texts, int64_t NB) {
    const int64_t B = int64_t(texts.size()), L = cfg_.text_context, D = cfg_.dim;
    std::vector<T> kv(std::size_t(NB * L * D)), vv(kv.size());
    std::vector<float> xp(std::size_t(NB * D));
    for (int64_t b = 0; b < NB; ++b) {
      const TextFeatures* tf = texts[std::size_t(b % B)];
      FINEPOSE_CHECK(tf && tf->keys.numel() == L * D && tf->values.numel() == L * D && tf->xf_proj.numel() == D,
                     "device model: text features of sample ", b % B, " do not have ", L, " x ", D, " keys/values");
      const TensorF k = tf->keys.contiguous(), v = tf->values.contiguous(), x = tf->xf_proj.contiguous();
      for (int64_t i = 0; i < L * D; ++i) {
        kv[std::size_t(b * L * D + i)] = T(k.data()[i]);
        vv[std::size_t(b * L * D + i)] = T(v.data()[i]);
      }
      std::copy(x.data(), x.data() + D, xp.begin() + b * D);
    }
    keys_.upload(kv.data(), NB * L * D);
    values_.upload(vv.data(), NB * L * D);
    xf_proj_.upload(xp.data(), NB * D);
  }

  // x2d (and its mirror as samples B..2B-1) into x2d_
  void upload_x2d(const TensorF& x2d, bool flip) {
    const TensorF c = x2d.contiguous();
    if (!flip) return x2d_.upload(c.data(), c.numel());
    TensorF all({2 * c.size(0), c.size(1), c.size(2), c.size(3)});
    std::copy(c.data(), c.data() + c.numel(), all.data());
    std::copy(c.data(), c.data() + c.numel(), all.data() + c.numel());
    flip_poses(all.data() + c.numel(), c.size(0) * c.size(1), cfg_.joints, cfg_.in_chans, cfg_.joints_left,
               cfg_.joints_right);
    x2d_.upload(all.data(), all.numel());
  }

  // Buffers for NB samples of H hypotheses; true when any was reallocated.
  bool ensure_workspace(int64_t NB, int64_t H) {
    const int64_t F = cfg_.frames, J = cfg_.joints, D = cfg_.dim, L = cfg_.text_context;
    const int64_t R = NB * H * F * J;
    bool g = false;
    g |= x_.resize(be_, R * D);
    g |= xt_.resize(be_, R * D);
    g |= ln_.resize(be_, R * D);
    g |= qkv_.resize(be_, R * 3 * D);
    g |= att_.resize(be_, R * D);
    g |= tmp_.resize(be_, R * D);
    g |= hid_.resize(be_, R * std::max(cfg_.mlp_hidden, D));
    g |= pin_.resize(be_, R * (cfg_.in_chans + 3));
    g |= head_.resize(be_, R * 3);
    g |= pred_.resize(be_, R * 3);
    g |= xin_.resize(be_, R * 3);
    g |= x2d_.resize(be_, NB * F * J * cfg_.in_chans);
    g |= temb_.resize(be_, NB * D);
    g |= th_.resize(be_, NB * 2 * D);
    g |= cond_.resize(be_, NB * D);
    g |= csilu_.resize(be_, NB * D);
    g |= ss_.resize(be_, NB * 2 * D);
    g |= keys_.resize(be_, NB * L * D);
    g |= values_.resize(be_, NB * L * D);
    g |= xf_proj_.resize(be_, NB * D);
    return g;
  }

  // ---- the forward, on loaded inputs (x2d_, xin_, keys_/values_/xf_proj_) ------
  template <class W>
  void linear(W* y, const W* x, const detail::DeviceLinear<W>& l, int64_t rows,
              kernels::Activation act = kernels::Activation::none) {
    be_.gemm(false, true, rows, l.out, l.in, x, l.in, l.w.data(), l.in, 0.f, y, l.out);
    if (l.b.data() || act != kernels::Activation::none)
      kernels::bias_activation_forward(y, y, l.b.data(), rows, l.out, act, be_.stream());
  }
  // fp32 residual stream -> GEMM operand
  void layer_norm(T* y, const float* x, const detail::DeviceNorm& n, int64_t rows) {
    kernels::layer_norm_convert(y, x, n.g.data(), n.b.data(), rows, n.dim, n.eps, be_.stream());
  }
  void layer_norm_inplace(float* x, const detail::DeviceNorm& n, int64_t rows) {
    kernels::layer_norm_forward(x, nullptr, nullptr, x, n.g.data(), n.b.data(), rows, n.dim, n.eps, be_.stream());
  }

  // time_mlp(t) + xf_proj -> cond_ [NB, D]; the stylization scale|shift -> ss_ [NB, 2D]
  void conditioning(int64_t NB, const int64_t* t) {
    const int64_t D = cfg_.dim;
    const auto st = be_.stream();
    kernels::timestep_embedding(temb_.data(), t, NB, D, st);
    linear(th_.data(), temb_.data(), time_fc1_, NB, kernels::Activation::gelu);
    linear(cond_.data(), th_.data(), time_fc2_, NB);
    kernels::residual_add(cond_.data(), xf_proj_.data(), NB * D, st);
    kernels::bias_activation_forward(csilu_.data(), cond_.data(), static_cast<const float*>(nullptr), NB, D,
                                     kernels::Activation::silu, st);
    linear(ss_.data(), csilu_.data(), ca_emb_, NB);
  }

  // timm Block on x [S sequences of N tokens, D]
  void block(float* x, const detail::DeviceBlock<T>& b, int64_t S, int64_t N) {
    const int64_t D = cfg_.dim, R = S * N, heads = cfg_.heads, dh = D / heads;
    const auto st = be_.stream();
    layer_norm(ln_.data(), x, b.norm1, R);
    linear(qkv_.data(), ln_.data(), b.qkv, R);
    const T* q = qkv_.data();
    kernels::attention_forward(att_.data(), nullptr, q, N * 3 * D, 3 * D, q + D, N * 3 * D, 3 * D, q + 2 * D, N * 3 * D,
                               3 * D, S, heads, N, N, dh, float(1.0 / std::sqrt(double(dh))), false, st);
    be_.gemm(false, true, R, D, D, att_.data(), D, b.proj.w.data(), D, 0.f, tmp_.data(), D);
    kernels::bias_residual_add(x, tmp_.data(), b.proj.b.data(), R, D, st);
    layer_norm(ln_.data(), x, b.norm2, R);
    linear(hid_.data(), ln_.data(), b.fc1, R, kernels::Activation::gelu);
    be_.gemm(false, true, R, D, b.fc2.in, hid_.data(), b.fc2.in, b.fc2.w.data(), b.fc2.in, 0.f, tmp_.data(), D);
    kernels::bias_residual_add(x, tmp_.data(), b.fc2.b.data(), R, D, st);
  }

  // TemporalCrossAttention + StylizationBlock on xt [NB, M, D] (M = H*J*F rows per sample)
  void cross_attention(float* xt, int64_t NB, int64_t M) {
    const int64_t D = cfg_.dim, R = NB * M, L = cfg_.text_context, heads = cfg_.heads, dh = D / heads;
    const auto st = be_.stream();
    layer_norm(ln_.data(), xt, ca_norm_, R);
    linear(qkv_.data(), ln_.data(), ca_query_, R);
    kernels::attention_forward(att_.data(), nullptr, qkv_.data(), M * D, D, keys_.data(), L * D, D, values_.data(), L * D,
                               D, NB, heads, M, L, dh, float(1.0 / std::sqrt(double(dh))), false, st);
    kernels::adaln_silu_forward(tmp_.data(), att_.data(), ca_out_norm_.g.data(), ca_out_norm_.b.data(), ss_.data(), NB, M,
                                D, ca_out_norm_.eps, st);
    be_.gemm(false, true, R, D, D, tmp_.data(), D, ca_out_.w.data(), D, 0.f, ln_.data(), D);
    kernels::bias_residual_add(xt, ln_.data(), ca_out_.b.data(), R, D, st);
  }

  // pred_ [NB, H, F, J, 3] (fp32) from x2d_ [NB, F, J, C2], xin_ [NB, H, F, J, 3], timesteps t [NB]
  void forward_loaded(int64_t NB, int64_t H, const int64_t* t) {
    const int64_t F = cfg_.frames, J = cfg_.joints, D = cfg_.dim, C2 = cfg_.in_chans, R = NB * H * F * J;
    const auto st = be_.stream();
    kernels::build_pose_input(pin_.data(), x2d_.data(), xin_.data(), NB, H, F * J, C2, st);
    be_.gemm(false, true, R, D, patch_embed_.in, pin_.data(), patch_embed_.in, patch_embed_.w.data(), patch_embed_.in, 0.f,
             tmp_.data(), D);
    kernels::bias_to_float(x_.data(), tmp_.data(), patch_embed_.b.data(), R, D, st);
    conditioning(NB, t);
    kernels::add_row_embeddings(x_.data(), R, D, spatial_pos_.data(), J, cond_.data(), H * F * J, st);
    block(x_.data(), ste_[0], NB * H * F, J);
    layer_norm_inplace(x_.data(), spatial_norm_, R);

    kernels::swap_middle_axes(xt_.data(), x_.data(), NB * H, F, J, D, st);
    cross_attention(xt_.data(), NB, H * J * F);
    kernels::add_row_embeddings(xt_.data(), R, D, temporal_pos_.data(), F, static_cast<const float*>(nullptr), 1, st);
    block(xt_.data(), tte_[0], NB * H * J, F);
    layer_norm_inplace(xt_.data(), temporal_norm_, R);

    for (std::size_t i = 1; i < ste_.size(); ++i) {
      kernels::swap_middle_axes(x_.data(), xt_.data(), NB * H, J, F, D, st);
      block(x_.data(), ste_[i], NB * H * F, J);
      layer_norm_inplace(x_.data(), spatial_norm_, R);
      kernels::swap_middle_axes(xt_.data(), x_.data(), NB * H, F, J, D, st);
      block(xt_.data(), tte_[i], NB * H * J, F);
      layer_norm_inplace(xt_.data(), temporal_norm_, R);
    }
    kernels::swap_middle_axes(x_.data(), xt_.data(), NB * H, J, F, D, st);
    layer_norm(ln_.data(), x_.data(), head_norm_, R);
    be_.gemm(false, true, R, 3, D, ln_.data(), D, head_proj_.w.data(), D, 0.f, head_.data(), 3);
    kernels::bias_to_float(pred_.data(), head_.data(), head_proj_.b.data(), R, 3, st);
  }

  const FinePoseModel& model_;
  FinePoseConfig cfg_;
  DeviceModelOptions opt_;
  Backend be_;  // declared before every array: destroyed after them
  kernels::JointPairs pairs_;
  std::uint64_t generation_ = 0;  // bumped when buffers move (captured graphs go stale)

  // weights
  LinearT patch_embed_, head_proj_, ca_query_, ca_out_;
  Linear32 time_fc1_, time_fc2_, ca_emb_;
  DeviceArray<float> spatial_pos_, temporal_pos_;
  std::vector<detail::DeviceBlock<T>> ste_, tte_;
  detail::DeviceNorm spatial_norm_, temporal_norm_, head_norm_, ca_norm_, ca_out_norm_;

  // GEMM operands (storage T), the residual stream and other fp32 state
  DeviceArray<T> ln_, qkv_, att_, tmp_, hid_, pin_, head_, keys_, values_;
  DeviceArray<float> x_, xt_, pred_, xin_, x2d_, temb_, th_, cond_, csilu_, ss_, xf_proj_;
  DeviceArray<float> img_, x0_, eps_, noise_, result_;
  DeviceArray<int64_t> t_;
};

using DeviceFinePose = DeviceFinePoseT<float>;
using DeviceFinePoseBF16 = DeviceFinePoseT<bfloat16>;

// The device model behind the sampler's Denoiser interface, so diffusion/ddim.hpp's
// loop (the definition) runs with the device forward: one upload and download per
// step. DeviceFinePoseT::sample, the captured loop, is the fast way to sample and is
// tested against this (tests/cuda/test_kernel_device_model.cpp).
template <class T>
class DeviceDenoiserT : public Denoiser {
 public:
  DeviceDenoiserT(DeviceFinePoseT<T>& dev, std::vector<const TextFeatures*> texts)
      : dev_(dev), texts_(std::move(texts)), layout_(pose_layout(dev.config())) {
    FINEPOSE_CHECK(!texts_.empty(), "device denoiser: no text features (one per sample is needed)");
  }
  const PoseLayout& layout() const override { return layout_; }
  void predict(const TensorF& x2d, const TensorF& x3d, const std::vector<int64_t>& t, TensorF& out) override {
    const std::size_t B = texts_.size(), NB = std::size_t(x2d.size(0));
    FINEPOSE_CHECK(NB % B == 0, "device denoiser: a batch of ", NB, " is not a multiple of the ", B,
                   " conditioned samples");
    all_.resize(NB);
    for (std::size_t i = 0; i < NB; ++i) all_[i] = texts_[i % B];
    out = dev_.forward(x2d, x3d, t, all_);
  }

 private:
  DeviceFinePoseT<T>& dev_;
  std::vector<const TextFeatures*> texts_, all_;
  PoseLayout layout_;
};
using DeviceDenoiser = DeviceDenoiserT<float>;

}  // namespace finepose::cuda
