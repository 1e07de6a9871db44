#pragma once
// Single-frame 2D->3D lifting baseline of Martinez et al. 2017, "A simple yet
// effective baseline for 3d human pose estimation":
//
//   x [2J] (z-scored) -> Linear(W) -> BatchNorm -> ReLU -> Dropout            (stage 0)
//   blocks x { h += (Linear(W) -> BN -> ReLU -> Dropout) x2 }                 (stages 1..2*blocks)
//   -> Linear(3J) -> un-z-scored root-relative 3D (metres; the root stays 0)
//
// Max-norm is left out. Forward and backward sit side by side (llm.c style):
// a training forward keeps what the backward needs in an MlpCache; the backward
// accumulates parameter gradients into MlpGrads (same order as params()).
// BatchNorm uses batch statistics while training (running statistics updated
// as torch.nn.BatchNorm1d does, momentum 0.1, unbiased variance) and the running
// statistics at inference. Dropout masks come from Philox keyed by (seed, step,
// stage), so a run is reproducible and independent of the thread count.
// MlpTrainer trains it with AdamW on the MPJPE loss, every frame seen plain and
// mirrored each epoch (flip augmentation as train::Trainer does), lr decayed per epoch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/core/philox.hpp"
#include "finepose/core/tensor.hpp"
#include "finepose/io/ndarray.hpp"
#include "finepose/io/safetensors.hpp"
#include "finepose/ops/activations.hpp"
#include "finepose/ops/linear.hpp"
#include "finepose/train/adamw.hpp"
#include "finepose/train/data.hpp"
#include "finepose/train/loss.hpp"

namespace finepose::baselines {

struct MlpLifterConfig {
  int64_t joints = 17;
  int64_t width = 1024;
  int64_t blocks = 2;
  float dropout = 0.5f;  // probability of zeroing a unit while training
  float bn_eps = 1e-5f;
  float bn_momentum = 0.1f;

  void validate() const {
    FINEPOSE_CHECK(joints >= 1 && joints <= 1000, "mlp lifter: joints must be in 1..1000, got ", joints);
    FINEPOSE_CHECK(width >= 1 && width <= 65536, "mlp lifter: width must be in 1..65536, got ", width);
    FINEPOSE_CHECK(blocks >= 0 && blocks <= 64, "mlp lifter: blocks must be in 0..64, got ", blocks);
    FINEPOSE_CHECK(dropout >= 0.f && dropout < 1.f, "mlp lifter: dropout must be in [0, 1), got ", dropout);
  }
};

// Linear -> BatchNorm1d -> ReLU -> Dropout.
struct MlpStage {
  TensorF weight, bias;                     // [out, in], [out]
  TensorF bn_weight, bn_bias;               // [out]
  TensorF running_mean, running_var;        // [out], not trained
};

// Per-sample flat frames: x2d [n, J, 2] (normalised screen coordinates), x3d [n, J, 3] (metres, root 0).
struct LiftingFrames {
  TensorF x2d, x3d;
  int64_t size() const { return x2d.defined() ? x2d.size(0) : 0; }
};

// Every frame of d, and (flip) every frame mirrored: x -> -x, left/right joints swapped.
inline LiftingFrames lifting_frames(const train::Dataset& d, bool flip, const std::vector<int64_t>& left,
                                    const std::vector<int64_t>& right) {
  FINEPOSE_CHECK(!d.seqs.empty(), "lifting frames: the dataset has no sequences");
  const int64_t J = d.seqs[0].x2d.dim() == 3 ? d.seqs[0].x2d.size(1) : 0;
  int64_t n = 0;
  for (const auto& s : d.seqs) {
    FINEPOSE_CHECK(s.x2d.dim() == 3 && s.x2d.size(1) == J && s.x2d.size(2) == 2 && s.x3d.dim() == 3 &&
                       s.x3d.size(0) == s.x2d.size(0) && s.x3d.size(1) == J && s.x3d.size(2) == 3,
                   "lifting frames: sequence ", s.name, " has 2D ", shape_str(s.x2d.shape()), " and 3D ",
                   shape_str(s.x3d.shape()), ", expected [N, ", J, ", 2] and [N, ", J, ", 3]");
    n += s.x2d.size(0);
  }
  for (auto j : left) FINEPOSE_CHECK(j >= 0 && j < J, "lifting frames: left joint ", j, " outside 0..", J - 1);
  for (auto j : right) FINEPOSE_CHECK(j >= 0 && j < J, "lifting frames: right joint ", j, " outside 0..", J - 1);
  FINEPOSE_CHECK(left.size() == right.size(), "lifting frames: left/right joint lists differ in length");
  const int64_t copies = flip ? 2 : 1;
  LiftingFrames f;
  f.x2d = TensorF({n * copies, J, 2});
  f.x3d = TensorF({n * copies, J, 3});
  int64_t o = 0;
  for (const auto& s : d.seqs) {
    const TensorF a = s.x2d.contiguous(), b = s.x3d.contiguous();
    std::copy(a.data(), a.data() + a.numel(), f.x2d.data() + o * J * 2);
    std::copy(b.data(), b.data() + b.numel(), f.x3d.data() + o * J * 3);
    o += a.size(0);
  }
  if (flip) {
    std::copy(f.x2d.data(), f.x2d.data() + n * J * 2, f.x2d.data() + n * J * 2);
    std::copy(f.x3d.data(), f.x3d.data() + n * J * 3, f.x3d.data() + n * J * 3);
    train::mirror(f.x2d.data() + n * J * 2, n, J, 2, left, right);
    train::mirror(f.x3d.data() + n * J * 3, n, J, 3, left, right);
  }
  return f;
}

namespace mlp_detail {

constexpr int64_t kColChunk = 64;

// f(c0, c1) for column chunks [c0, c1): per-column reductions in a fixed order.
template <class F>
void over_columns(int64_t cols, F f) {
  const int64_t chunks = (cols + kColChunk - 1) / kColChunk;
  parallel_for(chunks, [&](int64_t ci) { f(ci * kColChunk, std::min(cols, (ci + 1) * kColChunk)); }, 1);
}

// Training BatchNorm over B rows of C columns: y = gamma * xhat + beta with batch statistics.
// Writes xhat, rstd [C] and updates the running statistics (torch: unbiased variance).
inline void batch_norm_train(float* y, float* xhat, float* rstd, const float* z, const float* gamma, const float* beta,
                             float* run_mean, float* run_var, int64_t B, int64_t C, float eps, float momentum) {
  over_columns(C, [&](int64_t c0, int64_t c1) {
    double mean[kColChunk] = {}, var[kColChunk] = {};
    for (int64_t r = 0; r < B; ++r)
      for (int64_t c = c0; c < c1; ++c) mean[c - c0] += z[r * C + c];
    for (int64_t c = c0; c < c1; ++c) mean[c - c0] /= double(B);
    for (int64_t r = 0; r < B; ++r)
      for (int64_t c = c0; c < c1; ++c) {
        const double d = z[r * C + c] - mean[c - c0];
        var[c - c0] += d * d;
      }
    for (int64_t c = c0; c < c1; ++c) {
      const double v = var[c - c0] / double(B);
      rstd[c] = float(1.0 / std::sqrt(v + double(eps)));
      run_mean[c] = float((1.0 - momentum) * run_mean[c] + momentum * mean[c - c0]);
      run_var[c] = float((1.0 - momentum) * run_var[c] + momentum * var[c - c0] / double(B - 1));
    }
    for (int64_t r = 0; r < B; ++r)
      for (int64_t c = c0; c < c1; ++c) {
        const float xh = float((z[r * C + c] - mean[c - c0]) * rstd[c]);
        xhat[r * C + c] = xh;
        y[r * C + c] = gamma[c] * xh + beta[c];
      }
  });
}

// dz from dy (both [B, C]); dgamma, dbeta accumulated (+=).
inline void batch_norm_backward(float* dz, float* dgamma, float* dbeta, const float* dy, const float* xhat,
                                const float* rstd, const float* gamma, int64_t B, int64_t C) {
  over_columns(C, [&](int64_t c0, int64_t c1) {
    double sdy[kColChunk] = {}, sdyx[kColChunk] = {};
    for (int64_t r = 0; r < B; ++r)
      for (int64_t c = c0; c < c1; ++c) {
        sdy[c - c0] += dy[r * C + c];
        sdyx[c - c0] += double(dy[r * C + c]) * xhat[r * C + c];
      }
    for (int64_t c = c0; c < c1; ++c) {
      dgamma[c] += float(sdyx[c - c0]);
      dbeta[c] += float(sdy[c - c0]);
    }
    for (int64_t r = 0; r < B; ++r)
      for (int64_t c = c0; c < c1; ++c) {
        const double g = double(gamma[c]) * rstd[c] / double(B);
        dz[r * C + c] = float(g * (double(B) * dy[r * C + c] - sdy[c - c0] - xhat[r * C + c] * sdyx[c - c0]));
      }
  });
}

inline TensorF sum(const TensorF& a, const TensorF& b) {
  TensorF out = a.clone();
  ops::add_inplace(out.data(), b.data(), out.numel());
  return out;
}

}  // namespace mlp_detail

struct MlpStageCache {
  TensorF in;    // linear input [B, in]
  TensorF xhat;  // normalised linear output [B, W]
  TensorF rstd;  // [W]
  TensorF gate;  // relu'(y) * dropout multiplier [B, W]: out = y * gate
};

struct MlpCache {
  std::vector<MlpStageCache> stages;
  TensorF last;  // input of the output layer [B, W]
  int64_t rows = 0;
};

struct MlpLifter {
  MlpLifterConfig cfg;
  TensorF in_mean, in_std;    // [2J]: input z-scoring (training-set statistics)
  TensorF out_mean, out_std;  // [3J]: prediction = out_mean + out_std * raw (root: 0 and 0)
  std::vector<MlpStage> stages;
  TensorF out_weight, out_bias;  // [3J, W], [3J]

  MlpLifter() = default;
  explicit MlpLifter(const MlpLifterConfig& c) : cfg(c) {
    cfg.validate();
    const int64_t J = cfg.joints, W = cfg.width;
    in_mean = TensorF::zeros({2 * J});
    in_std = TensorF::full({2 * J}, 1.f);
    out_mean = TensorF::zeros({3 * J});
    out_std = TensorF::full({3 * J}, 1.f);
    for (int64_t s = 0; s < 1 + 2 * cfg.blocks; ++s) {
      MlpStage st;
      const int64_t in = s == 0 ? 2 * J : W;
      st.weight = TensorF::zeros({W, in});
      st.bias = TensorF::zeros({W});
      st.bn_weight = TensorF::full({W}, 1.f);
      st.bn_bias = TensorF::zeros({W});
      st.running_mean = TensorF::zeros({W});
      st.running_var = TensorF::full({W}, 1.f);
      stages.push_back(std::move(st));
    }
    out_weight = TensorF::zeros({3 * J, W});
    out_bias = TensorF::zeros({3 * J});
  }

  // torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, from Philox.
  void init_weights(uint64_t seed) {
    uint64_t stream = 0;
    auto fill = [&](TensorF& t, int64_t fan_in) {
      const double bound = 1.0 / std::sqrt(double(fan_in));
      const uint64_t s = stream++;
      float* p = t.data();
      parallel_for(t.numel(), [&](int64_t i) {
        p[i] = float((2.0 * train::random_uniform(seed, (uint64_t(0xB1) << 56) | s, uint64_t(i)) - 1.0) * bound);
      }, 4096);
    };
    for (auto& st : stages) {
      fill(st.weight, st.weight.size(1));
      fill(st.bias, st.weight.size(1));
    }
    fill(out_weight, cfg.width);
    fill(out_bias, cfg.width);
  }

  // Input / output z-scoring from training frames (dimensions with no spread: scale 1 in, 0 out).
  void set_normalisation(const LiftingFrames& f) {
    const int64_t J = cfg.joints, n = f.size();
    FINEPOSE_CHECK(n > 0 && f.x2d.size(1) == J && f.x3d.size(1) == J, "mlp lifter: normalisation needs frames of ", J,
                   " joints");
    auto stats = [&](const TensorF& x, int64_t dim, TensorF& mean, TensorF& sd, bool zero_spread_to_one) {
      mean = TensorF({dim});
      sd = TensorF({dim});
      for (int64_t e = 0; e < dim; ++e) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < n; ++i) s += x.data()[i * dim + e];
        const double m = s / double(n);
        for (int64_t i = 0; i < n; ++i) {
          const double d = x.data()[i * dim + e] - m;
          s2 += d * d;
        }
        const double v = std::sqrt(s2 / double(n));
        mean.data()[e] = float(m);
        sd.data()[e] = v > 1e-6 ? float(v) : (zero_spread_to_one ? 1.f : 0.f);
      }
    };
    stats(f.x2d, 2 * J, in_mean, in_std, true);
    stats(f.x3d, 3 * J, out_mean, out_std, false);
  }

  // Trainable parameters in a fixed order (the gradient and AdamW order).
  std::vector<TensorF*> params() {
    std::vector<TensorF*> p;
    for (auto& st : stages) p.insert(p.end(), {&st.weight, &st.bias, &st.bn_weight, &st.bn_bias});
    p.push_back(&out_weight);
    p.push_back(&out_bias);
    return p;
  }

  // Every stored tensor by name (the PyTorch port's names: w1, batch_norm1, linear_stages.i.*, w2).
  void visit(const std::function<void(const std::string&, TensorF&)>& f) {
    f("input_mean", in_mean);
    f("input_std", in_std);
    f("output_mean", out_mean);
    f("output_std", out_std);
    for (std::size_t s = 0; s < stages.size(); ++s) {
      std::string lin, bn;
      if (s == 0) lin = "w1", bn = "batch_norm1";
      else {
        const std::string pre = "linear_stages." + std::to_string((s - 1) / 2) + ".";
        const std::string k = (s - 1) % 2 == 0 ? "1" : "2";
        lin = pre + "w" + k, bn = pre + "batch_norm" + k;
      }
      f(lin + ".weight", stages[s].weight);
      f(lin + ".bias", stages[s].bias);
      f(bn + ".weight", stages[s].bn_weight);
      f(bn + ".bias", stages[s].bn_bias);
      f(bn + ".running_mean", stages[s].running_mean);
      f(bn + ".running_var", stages[s].running_var);
    }
    f("w2.weight", out_weight);
    f("w2.bias", out_bias);
  }

  // ---- training forward: x2d [B, J, 2] -> [B, J, 3]; step picks the dropout masks.
  TensorF forward_train(const TensorF& x2d, MlpCache& c, uint64_t seed, uint64_t step) {
    const int64_t J = cfg.joints, W = cfg.width;
    FINEPOSE_CHECK(x2d.dim() == 3 && x2d.size(1) == J && x2d.size(2) == 2, "mlp lifter: input ",
                   shape_str(x2d.shape()), " is not [B, ", J, ", 2]");
    const int64_t B = x2d.size(0);
    FINEPOSE_CHECK(B >= 2, "mlp lifter: BatchNorm needs at least 2 frames per training batch, got ", B);
    c.rows = B;
    c.stages.assign(stages.size(), {});
    TensorF h = normalise_input(x2d);
    const float p = cfg.dropout, keep_scale = p > 0 ? 1.f / (1.f - p) : 1.f;
    const uint32_t threshold = uint32_t(std::min(4294967295.0, double(p) * 4294967296.0));
    auto stage = [&](std::size_t s, const TensorF& in) {
      const MlpStage& st = stages[s];
      MlpStageCache& sc = c.stages[s];
      const int64_t in_f = st.weight.size(1);
      sc.in = in;
      TensorF z({B, W});
      ops::linear_forward(z.data(), in.data(), st.weight.data(), st.bias.data(), B, in_f, W);
      sc.xhat = TensorF({B, W});
      sc.rstd = TensorF({W});
      TensorF y({B, W});
      MlpStage& mst = stages[s];
      mlp_detail::batch_norm_train(y.data(), sc.xhat.data(), sc.rstd.data(), z.data(), st.bn_weight.data(),
                                   st.bn_bias.data(), mst.running_mean.data(), mst.running_var.data(), B, W, cfg.bn_eps,
                                   cfg.bn_momentum);
      sc.gate = TensorF({B, W});
      float* g = sc.gate.data();
      float* yp = y.data();
      const int64_t n = B * W, blocks4 = (n + 3) / 4;
      parallel_for(blocks4, [&](int64_t b) {
        Philox4x32::Block r{};
        if (p > 0)
          r = Philox4x32::generate({uint32_t(b), uint32_t(uint64_t(b) >> 32), uint32_t(step), uint32_t(s)},
                                   {uint32_t(seed), uint32_t((seed >> 32) ^ 0xD50Fu)});
        for (int k = 0; k < 4 && 4 * b + k < n; ++k) {
          const int64_t i = 4 * b + k;
          const float keep = p > 0 ? (r[size_t(k)] >= threshold ? keep_scale : 0.f) : 1.f;
          g[i] = yp[i] > 0.f ? keep : 0.f;
          yp[i] *= g[i];
        }
      }, 1024);
      return y;
    };
    h = stage(0, h);
    for (int64_t k = 0; k < cfg.blocks; ++k) {
      TensorF t = stage(size_t(1 + 2 * k), h);
      t = stage(size_t(2 + 2 * k), t);
      h = mlp_detail::sum(h, t);  // fresh tensor: the cache keeps h
    }
    c.last = h;
    return output_layer(h);
  }

  // dpred [B, J, 3] -> parameter gradients accumulated into grads (params() order); returns d x2d.
  TensorF backward(const MlpCache& c, const TensorF& dpred, std::vector<TensorF>& grads) const {
    const int64_t J = cfg.joints, W = cfg.width, B = c.rows;
    FINEPOSE_CHECK(dpred.numel() == B * J * 3 && c.stages.size() == stages.size(), "mlp lifter backward: dpred ",
                   shape_str(dpred.shape()), " does not match the cached forward of ", B, " frames");
    FINEPOSE_CHECK(grads.size() == 4 * stages.size() + 2, "mlp lifter backward: ", grads.size(), " gradient tensors for ",
                   4 * stages.size() + 2, " parameters");
    TensorF draw({B, 3 * J});
    for (int64_t r = 0; r < B; ++r)
      for (int64_t e = 0; e < 3 * J; ++e) draw.data()[r * 3 * J + e] = dpred.data()[r * 3 * J + e] * out_std.data()[e];
    TensorF dh({B, W});
    const std::size_t go = 4 * stages.size();
    ops::linear_backward(dh.data(), grads[go].data(), grads[go + 1].data(), draw.data(), c.last.data(),
                         out_weight.data(), B, W, 3 * J);
    auto stage_bwd = [&](std::size_t s, const TensorF& dout) {
      const MlpStage& st = stages[s];
      const MlpStageCache& sc = c.stages[s];
      const int64_t in_f = st.weight.size(1);
      TensorF dy({B, W});
      for (int64_t i = 0; i < B * W; ++i) dy.data()[i] = dout.data()[i] * sc.gate.data()[i];
      TensorF dz({B, W});
      mlp_detail::batch_norm_backward(dz.data(), grads[4 * s + 2].data(), grads[4 * s + 3].data(), dy.data(),
                                      sc.xhat.data(), sc.rstd.data(), st.bn_weight.data(), B, W);
      TensorF din({B, in_f});
      ops::linear_backward(din.data(), grads[4 * s].data(), grads[4 * s + 1].data(), dz.data(), sc.in.data(),
                           st.weight.data(), B, in_f, W);
      return din;
    };
    for (int64_t k = cfg.blocks - 1; k >= 0; --k) {
      TensorF dt = stage_bwd(size_t(2 + 2 * k), dh);
      dt = stage_bwd(size_t(1 + 2 * k), dt);
      ops::add_inplace(dh.data(), dt.data(), dh.numel());
    }
    TensorF dxn = stage_bwd(0, dh);
    TensorF dx({B, J, 2});
    for (int64_t r = 0; r < B; ++r)
      for (int64_t e = 0; e < 2 * J; ++e) dx.data()[r * 2 * J + e] = dxn.data()[r * 2 * J + e] / in_std.data()[e];
    return dx;
  }

  // ---- inference: x2d [..., J, 2] -> [..., J, 3] metres, root-relative (BatchNorm running stats, no dropout).
  TensorF predict(const TensorF& x2d) const {
    const int64_t J = cfg.joints, W = cfg.width;
    FINEPOSE_CHECK(x2d.dim() >= 2 && x2d.size(-2) == J && x2d.size(-1) == 2, "mlp lifter: input ",
                   shape_str(x2d.shape()), " is not [..., ", J, ", 2]");
    const int64_t B = x2d.numel() / (2 * J);
    Shape os = x2d.shape();
    os.back() = 3;
    if (B == 0) return TensorF(os);
    TensorF h = normalise_input(x2d.contiguous().reshape({B, J, 2}));
    auto stage = [&](const MlpStage& st, const TensorF& in) {
      TensorF y({B, W});
      ops::linear_forward(y.data(), in.data(), st.weight.data(), st.bias.data(), B, st.weight.size(1), W);
      std::vector<float> a(static_cast<std::size_t>(W)), b(static_cast<std::size_t>(W));
      for (int64_t c = 0; c < W; ++c) {
        a[size_t(c)] = st.bn_weight.data()[c] / std::sqrt(st.running_var.data()[c] + cfg.bn_eps);
        b[size_t(c)] = st.bn_bias.data()[c] - st.running_mean.data()[c] * a[size_t(c)];
      }
      float* yp = y.data();
      parallel_for(B, [&](int64_t r) {
        for (int64_t c = 0; c < W; ++c) yp[r * W + c] = std::max(0.f, yp[r * W + c] * a[size_t(c)] + b[size_t(c)]);
      }, 16);
      return y;
    };
    h = stage(stages[0], h);
    for (int64_t k = 0; k < cfg.blocks; ++k) {
      TensorF t = stage(stages[size_t(1 + 2 * k)], h);
      t = stage(stages[size_t(2 + 2 * k)], t);
      ops::add_inplace(h.data(), t.data(), h.numel());
    }
    return output_layer(h).reshape(os);
  }

  void save(const std::string& path, io::Existing existing = io::Existing::replace) {
    std::map<std::string, io::NdArray> t;
    visit([&](const std::string& n, TensorF& x) { t[n] = io::from_tensor(x); });
    io::save_safetensors(path, t,
                         {{"format", "finepose-baseline"},
                          {"kind", "mlp"},
                          {"joints", std::to_string(cfg.joints)},
                          {"width", std::to_string(cfg.width)},
                          {"blocks", std::to_string(cfg.blocks)},
                          {"dropout", std::to_string(cfg.dropout)},
                          {"bn_eps", std::to_string(cfg.bn_eps)}},
                         existing);
  }

  static MlpLifter load(const std::string& path) {
    const io::SafeTensors st = io::load_safetensors(path);
    auto meta = [&](const char* k) -> std::string {
      auto it = st.metadata.find(k);
      if (it == st.metadata.end()) fail(path, ": no '", k, "' in the metadata (not an mlp baseline file?)");
      return it->second;
    };
    FINEPOSE_CHECK(meta("kind") == "mlp", path, ": not an mlp-lifter baseline file (kind '", meta("kind"), "')");
    MlpLifterConfig c;
    try {
      c.joints = std::stoll(meta("joints"));
      c.width = std::stoll(meta("width"));
      c.blocks = std::stoll(meta("blocks"));
      c.dropout = std::stof(meta("dropout"));
      c.bn_eps = std::stof(meta("bn_eps"));
    } catch (const std::logic_error&) {
      fail(path, ": malformed number in the metadata");
    }
    MlpLifter m(c);
    m.visit([&](const std::string& n, TensorF& x) {
      const TensorF v = io::to_tensor<float>(st.at(n), path + ": " + n);
      FINEPOSE_CHECK(v.shape() == x.shape(), path, ": tensor '", n, "' has shape ", shape_str(v.shape()), ", expected ",
                     shape_str(x.shape()));
      x = v;
    });
    return m;
  }

 private:
  TensorF normalise_input(const TensorF& x2d) const {
    const int64_t J = cfg.joints, B = x2d.numel() / (2 * J);
    const TensorF x = x2d.contiguous();
    TensorF h({B, 2 * J});
    for (int64_t r = 0; r < B; ++r)
      for (int64_t e = 0; e < 2 * J; ++e)
        h.data()[r * 2 * J + e] = (x.data()[r * 2 * J + e] - in_mean.data()[e]) / in_std.data()[e];
    return h;
  }
  TensorF output_layer(const TensorF& h) const {
    const int64_t J = cfg.joints, B = h.size(0);
    TensorF out({B, J, 3});
    ops::linear_forward(out.data(), h.data(), out_weight.data(), out_bias.data(), B, cfg.width, 3 * J);
    for (int64_t r = 0; r < B; ++r)
      for (int64_t e = 0; e < 3 * J; ++e)
        out.data()[r * 3 * J + e] = out_mean.data()[e] + out_std.data()[e] * out.data()[r * 3 * J + e];
    return out;
  }
};

struct MlpTrainOptions {
  int64_t batch_size = 128;
  double lr = 1e-3;
  double lr_decay = 0.9;  // per epoch
  double weight_decay = 0.0;
  uint64_t seed = 1;
};

// AdamW on the MPJPE loss over shuffled frames (shuffle from (seed, epoch)).
class MlpTrainer {
 public:
  MlpTrainer(MlpLifter& model, const MlpTrainOptions& o) : m_(model), o_(o), lr_(o.lr) {
    FINEPOSE_CHECK(o.batch_size >= 2, "mlp trainer: batch size must be >= 2 (BatchNorm), got ", o.batch_size);
    for (auto* p : m_.params()) grads_.push_back(TensorF::zeros(p->shape()));
  }
  double lr() const { return lr_; }
  int64_t epoch() const { return epoch_; }
  int64_t batches_per_epoch(const LiftingFrames& f) const { return f.size() / o_.batch_size + (f.size() % o_.batch_size >= 2); }

  // One epoch; on_batch(done, total, loss). Returns the mean training MPJPE (metres).
  double train_epoch(const LiftingFrames& f, const std::function<void(int64_t, int64_t, double)>& on_batch = {}) {
    const int64_t n = f.size(), J = m_.cfg.joints;
    FINEPOSE_CHECK(n >= 2 && f.x2d.size(1) == J && f.x3d.size(1) == J, "mlp trainer: need >= 2 frames of ", J,
                   " joints, got ", shape_str(f.x2d.shape()));
    const auto order = train::permutation(n, o_.seed, (uint64_t(0xB2) << 56) | uint64_t(epoch_));
    const int64_t nb = batches_per_epoch(f);
    double sum = 0;
    int64_t count = 0;
    for (int64_t bi = 0; bi < nb; ++bi) {
      const int64_t s0 = bi * o_.batch_size, B = std::min(o_.batch_size, n - s0);
      TensorF x({B, J, 2}), y({B, J, 3});
      for (int64_t i = 0; i < B; ++i) {
        const int64_t k = order[size_t(s0 + i)];
        std::copy(f.x2d.data() + k * J * 2, f.x2d.data() + (k + 1) * J * 2, x.data() + i * J * 2);
        std::copy(f.x3d.data() + k * J * 3, f.x3d.data() + (k + 1) * J * 3, y.data() + i * J * 3);
      }
      MlpCache cache;
      const TensorF pred = m_.forward_train(x, cache, o_.seed, step_++);
      TensorF dpred;
      const double loss = train::mpjpe_loss(pred, y, &dpred);
      FINEPOSE_CHECK(std::isfinite(loss), "mlp trainer: the loss is not finite at epoch ", epoch_ + 1, " batch ", bi);
      for (auto& g : grads_) g.fill(0.f);
      m_.backward(cache, dpred, grads_);
      std::vector<const TensorF*> gp;
      for (auto& g : grads_) gp.push_back(&g);
      train::AdamWConfig ac;
      ac.lr = lr_;
      ac.weight_decay = o_.weight_decay;
      train::adamw_step(m_.params(), gp, adam_, ac);
      sum += loss * double(B);
      count += B;
      if (on_batch) on_batch(bi + 1, nb, loss);
    }
    lr_ *= o_.lr_decay;
    epoch_ += 1;
    return sum / double(std::max<int64_t>(count, 1));
  }

 private:
  MlpLifter& m_;
  MlpTrainOptions o_;
  double lr_;
  int64_t epoch_ = 0;
  uint64_t step_ = 0;
  std::vector<TensorF> grads_;
  train::AdamWState adam_;
};

}  // namespace finepose::baselines
