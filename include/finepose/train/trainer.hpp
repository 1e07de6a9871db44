#pragma once
// The training loop as upstream's main.py + FinePOSE.prepare_targets:
//   shuffled F-frame chunks (flip-augmented copies), root-relative targets with
//   the root joint zeroed, per-sample timestep t ~ U[0, T) and noise,
//   x_t = clamp(q_sample(x0 scale), +-1.1 scale) / scale, x0 prediction, MPJPE
//   loss, backward, AdamW (lr decayed per epoch), drop-path linspace(0, rate, depth).
// Every random draw is a Philox value keyed by (seed, purpose, epoch, batch), so
// a run resumed from a checkpoint (end of an epoch or within one) continues
// exactly as an uninterrupted one. Checkpoints (safetensors) hold the weights,
// AdamW's moments, the epoch, the batches done in it, the epoch's loss so far,
// the step count and the learning rate. With a process group the batches are
// shared over processes (data parallel; set_process_group).
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "finepose/diffusion/ddim.hpp"
#include "finepose/dist/process_group.hpp"
#include "finepose/model/denoisers.hpp"
#include "finepose/io/safetensors.hpp"
#include "finepose/model/config_json.hpp"
#include "finepose/model/model_file.hpp"
#include "finepose/train/adamw.hpp"
#include "finepose/train/data.hpp"
#include "finepose/train/loss.hpp"
#include "finepose/train/mixste_grad.hpp"
#include "finepose/train/q_sample.hpp"

namespace finepose::train {

struct TrainConfig {
  FinePoseConfig model;
  int64_t batch_size = 4;
  int64_t epochs = 1;
  double lr = 6e-5, weight_decay = 0.1, lr_decay = 0.993;
  double drop_path = 0.1;  // upstream: 0.1 while training
  bool flip = true;        // flip augmentation (a mirrored copy of every chunk)
  // Upstream quirks (see the model card / docs): false, false is the paper's intent.
  bool ctx_grad = true;               // false: ctx vectors frozen (they pass through CLIP under no_grad upstream)
  bool loss_scaled_backward = false;  // true: gradients times the loss (main.py's loss.backward(loss))
  uint64_t seed = 1;
  int64_t max_batches = 0;  // per epoch, 0: all
  int64_t val_hypotheses = 1, val_steps = 1;
  // > 0: an exponential moving average of the trained parameters, decay per step
  // (warmed up as min(ema, (1 + n) / (10 + n)) after n updates). validate() and
  // export_model() then use the average: with small batches the raw weights of two
  // neighbouring epochs differ by several mm, the average far less.
  double ema = 0;
};

// Purposes of random streams (top byte of the stream id).
enum : uint64_t { kShuffle = 1, kTimestep = 2, kNoise = 3, kDropPath = 4 };
inline uint64_t stream_id(uint64_t purpose, int64_t epoch, int64_t batch) {
  return (purpose << 56) | (uint64_t(epoch) << 28) | uint64_t(batch);
}

class Trainer {
 public:
  Trainer(TrainConfig cfg, MixSTE2 net, std::vector<PromptTokens> prompts)
      : cfg_(std::move(cfg)), model_(std::move(net), cfg_.ctx_grad), sched_(cfg_.model.timesteps),
        prompts_(std::move(prompts)), lr_(cfg_.lr) {
    FINEPOSE_CHECK(cfg_.batch_size > 0, "train: batch size must be positive");
    FINEPOSE_CHECK(cfg_.drop_path >= 0 && cfg_.drop_path < 1, "train: drop-path rate must be in [0, 1)");
    FINEPOSE_CHECK(!prompts_.empty(), "train: no prompts (labels)");
  }

  int64_t epoch() const { return epoch_; }
  double lr() const { return lr_; }
  TrainableMixSTE& model() { return model_; }
  const TrainConfig& config() const { return cfg_; }

  int64_t batches_per_epoch(const Dataset& d) const {
    const int64_t n = int64_t(make_chunks(d, cfg_.model.frames, cfg_.flip).size());
    const int64_t nb = (n + cfg_.batch_size - 1) / cfg_.batch_size;
    return cfg_.max_batches > 0 ? std::min(nb, cfg_.max_batches) : nb;
  }

  // The process group the batches are shared over (data-parallel training); nullptr: one process.
  // Every rank runs the same trainer on the same data and config: rank r computes
  // samples [B r / N, B (r+1) / N) of every global batch (the same shuffle, the same
  // per-sample timesteps, noise and drop-path draws as one process), the
  // gradients, scaled to the global batch, are summed over the ranks in rank order,
  // and every rank applies the same AdamW step, so the ranks' weights stay identical.
  void set_process_group(dist::ProcessGroup* g) { group_ = g && g->size() > 1 ? g : nullptr; }

  // What the steps so far cost: for throughput and communication figures.
  struct Stats {
    int64_t steps = 0, samples = 0;
    double comm_seconds = 0;  // in the gradient allreduce (waiting for the slowest rank included)
  };
  const Stats& stats() const { return stats_; }

  // Batches of the current epoch done so far (a mid-epoch checkpoint resumes there).
  int64_t batch() const { return batch_; }

  // The rest of the current epoch: batches batch() .. end. on_batch(done, total, loss)
  // after each (a checkpoint saved from it resumes after that batch). Returns the mean
  // loss (per position) over the whole epoch, the batches before a resume included.
  double train_epoch(const Dataset& d, const std::function<void(int64_t, int64_t, double)>& on_batch = {}) {
    const FinePoseConfig& mc = cfg_.model;
    const int64_t F = mc.frames, J = mc.joints, C2 = mc.in_chans, per = F * J * 3;
    const auto chunks = make_chunks(d, F, cfg_.flip);
    FINEPOSE_CHECK(!chunks.empty(), "train: the training set is empty");
    const auto order = permutation(int64_t(chunks.size()), cfg_.seed, stream_id(kShuffle, epoch_, 0));
    int64_t nb = (int64_t(chunks.size()) + cfg_.batch_size - 1) / cfg_.batch_size;
    if (cfg_.max_batches > 0) nb = std::min(nb, cfg_.max_batches);
    FINEPOSE_CHECK(batch_ <= nb, "train: the checkpoint is at batch ", batch_, " of an epoch that has ", nb,
                   " batches (different data or batch size?)");
    std::vector<const PromptTokens*> pp;
    for (auto& p : prompts_) pp.push_back(&p);
    const int ranks = group_ ? group_->size() : 1, rank = group_ ? group_->rank() : 0;
    for (int64_t bi = batch_; bi < nb; ++bi) {
      const int64_t s0 = bi * cfg_.batch_size, B = std::min(cfg_.batch_size, int64_t(chunks.size()) - s0);
      const int64_t lo = B * rank / ranks, hi = B * (rank + 1) / ranks, Br = hi - lo;  // this rank's samples
      double loss = 0;  // this rank's share of the global batch's loss
      if (Br > 0) {
        TrainBatch b;
        b.x2d = TensorF({Br, F, J, C2});
        TensorF target({Br, F, J, 3});
        for (int64_t i = lo; i < hi; ++i) {
          const int64_t li = i - lo;
          const Chunk& ch = chunks[size_t(order[size_t(s0 + i)])];
          const Sequence& s = d.seqs[size_t(ch.seq)];
          FINEPOSE_CHECK(s.x2d.size(1) == J && s.x2d.size(2) == C2 && s.x3d.size(1) == J, "train: sequence ", s.name,
                         " has the wrong joint layout");
          FINEPOSE_CHECK(s.label >= 0 && s.label < int64_t(prompts_.size()), "train: sequence ", s.name, " label ",
                         s.label, " has no prompt");
          copy_padded(b.x2d.data() + li * F * J * C2, s.x2d, ch.start, F);
          copy_padded(target.data() + li * per, s.x3d, ch.start, F);
          if (ch.flip) {
            mirror(b.x2d.data() + li * F * J * C2, F, J, C2, mc.joints_left, mc.joints_right);
            mirror(target.data() + li * per, F, J, 3, mc.joints_left, mc.joints_right);
          }
          for (int64_t f = 0; f < F; ++f)  // main.py: inputs_3d[:, :, 0] = 0
            for (int k = 0; k < 3; ++k) target.data()[li * per + f * J * 3 + k] = 0.f;
          b.label.push_back(s.label);
          b.t.push_back(int64_t(random_u32(cfg_.seed, stream_id(kTimestep, epoch_, bi), uint64_t(i)) %
                                uint64_t(mc.timesteps)));
        }
        // drawn for the whole batch (as one process draws them), this rank's samples used
        TensorF noise = NormalStream(cfg_.seed, stream_id(kNoise, epoch_, bi)).normal({B, F, J, 3});
        b.x3d = TensorF({Br, F, J, 3});
        for (int64_t i = lo; i < hi; ++i)
          q_sample_clamped(b.x3d.data() + (i - lo) * per, target.data() + (i - lo) * per, noise.data() + i * per, per,
                           b.t[size_t(i - lo)], sched_, mc.scale);
        const DropPathPlan dp = slice(drop_path_plan(B, bi), lo, hi);
        MixSTECache cache;
        TensorF pred = model_.forward(b, pp, cache, &dp);
        TensorF dpred;
        loss = mpjpe_loss(pred, target, &dpred) * double(Br) / double(B);
        if (group_) group_->allreduce_sum(&loss, 1);  // the global loss (upstream's backward is seeded with it)
        FINEPOSE_CHECK(std::isfinite(loss), "train: the loss is not finite at epoch ", epoch_ + 1, " batch ", bi);
        const float scale = float(double(Br) / double(B) * (cfg_.loss_scaled_backward ? loss : 1.0));
        if (scale != 1.f)
          for (int64_t k = 0; k < dpred.numel(); ++k) dpred.data()[k] *= scale;
        model_.zero_grad();
        model_.backward(cache, dpred);
      } else {  // fewer samples than ranks in the last batch: this rank adds nothing
        if (group_) group_->allreduce_sum(&loss, 1);
        FINEPOSE_CHECK(std::isfinite(loss), "train: the loss is not finite at epoch ", epoch_ + 1, " batch ", bi);
        model_.zero_grad();
      }
      if (group_) {
        const auto c0 = std::chrono::steady_clock::now();
        allreduce_gradients();
        stats_.comm_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
      }
      step_optimizer();
      stats_.steps += 1;
      stats_.samples += B;
      loss_sum_ += loss * double(B);
      loss_count_ += B;
      batch_ = bi + 1;
      if (on_batch) on_batch(bi + 1, nb, loss);
    }
    const double mean = loss_sum_ / double(std::max<int64_t>(loss_count_, 1));
    lr_ *= cfg_.lr_decay;
    epoch_ += 1;
    batch_ = 0;
    loss_sum_ = 0;
    loss_count_ = 0;
    return mean;
  }

  // MPJPE (mm) of DDIM samples (mean of the hypotheses at the last step) over every
  // real frame of the validation chunks.
  double validate(const Dataset& d, int64_t batch = 16) {
    EmaSwap use_average(*this);
    return validate_current(d, batch);
  }

  // The same with the weights as they are (the moving average not swapped in).
  double validate_current(const Dataset& d, int64_t batch = 16) const {
    const FinePoseConfig& mc = cfg_.model;
    const int64_t F = mc.frames, J = mc.joints, C2 = mc.in_chans;
    const auto chunks = make_chunks(d, F, false);
    if (chunks.empty()) return NAN;
    std::vector<TextFeatures> feats;
    for (auto& p : prompts_) feats.push_back(model_.net.encode_text(p));
    // per batch (sum, count); with a process group, batch k is rank k mod N's and rank 0 adds them in batch order
    const int64_t nbatch = (int64_t(chunks.size()) + batch - 1) / batch;
    std::vector<double> part(size_t(2 * nbatch), 0.0);
    const int ranks = group_ ? group_->size() : 1, rank = group_ ? group_->rank() : 0;
    double total = 0;  // one process: a single running sum, as before there were ranks
    int64_t count = 0;
    for (int64_t bk = rank; bk < nbatch; bk += ranks) {
      const std::size_t s0 = std::size_t(bk * batch);
      const int64_t B = std::min<int64_t>(batch, int64_t(chunks.size() - s0));
      double batch_sum = 0;
      int64_t batch_n = 0;
      double& sum = group_ ? batch_sum : total;
      int64_t& n = group_ ? batch_n : count;
      TensorF x2d({B, F, J, C2});
      std::vector<const TextFeatures*> texts;
      for (int64_t i = 0; i < B; ++i) {
        const Chunk& ch = chunks[s0 + size_t(i)];
        copy_padded(x2d.data() + i * F * J * C2, d.seqs[size_t(ch.seq)].x2d, ch.start, F);
        texts.push_back(&feats[size_t(d.seqs[size_t(ch.seq)].label)]);
      }
      SampleOptions opt;
      opt.hypotheses = cfg_.val_hypotheses;
      opt.steps = cfg_.val_steps;
      opt.seed = cfg_.seed;
      const TensorF out = ddim_sample(model_.net, sched_, x2d, texts, opt);  // [B, K, H, F, J, 3]
      const int64_t K = out.size(1), H = out.size(2);
      for (int64_t i = 0; i < B; ++i) {
        const Chunk& ch = chunks[s0 + size_t(i)];
        const Sequence& s = d.seqs[size_t(ch.seq)];
        for (int64_t f = 0; f < F; ++f) {
          const int64_t src = ch.start + f;
          if (src < 0 || src >= s.x3d.size(0)) continue;
          for (int64_t j = 0; j < J; ++j) {
            double e2 = 0;
            for (int k = 0; k < 3; ++k) {
              double m = 0;
              for (int64_t h = 0; h < H; ++h) m += out.data()[((((i * K + K - 1) * H + h) * F + f) * J + j) * 3 + k];
              m /= double(H);
              const double tgt = j == 0 ? 0.0 : double(s.x3d.data()[(src * J + j) * 3 + k]);
              e2 += (m - tgt) * (m - tgt);
            }
            sum += std::sqrt(e2);
            ++n;
          }
        }
      }
      part[size_t(2 * bk)] = batch_sum;
      part[size_t(2 * bk + 1)] = double(batch_n);
    }
    if (!group_) return 1000.0 * total / double(std::max<int64_t>(count, 1));
    group_->allreduce_sum(part.data(), int64_t(part.size()));  // one rank's value + zeros: exact
    double sum = 0, n = 0;
    for (int64_t bk = 0; bk < nbatch; ++bk) sum += part[size_t(2 * bk)], n += part[size_t(2 * bk + 1)];
    return 1000.0 * sum / std::max(n, 1.0);
  }

  // ---- checkpoints
  void save_checkpoint(const std::string& path) {
    std::map<std::string, io::NdArray> t;
    model_.net.visit("", [&](const std::string& n, TensorF& p) { t["model." + n] = io::from_tensor(p); });
    auto params = model_.parameters();
    for (std::size_t i = 0; i < opt_.m.size() && i < params.size(); ++i) {
      t["adam_m." + std::get<0>(params[i])] = io::from_tensor(opt_.m[i]);
      t["adam_v." + std::get<0>(params[i])] = io::from_tensor(opt_.v[i]);
    }
    for (std::size_t i = 0; i < ema_.size() && i < params.size(); ++i)
      t["ema." + std::get<0>(params[i])] = io::from_tensor(ema_[i]);
    auto num = [](double v) {
      char b[64];
      std::snprintf(b, sizeof b, "%.17g", v);
      return std::string(b);
    };
    const std::string lr = num(lr_);
    std::map<std::string, std::string> meta = {{"format", "finepose-train-checkpoint"},
                                               {"finepose.config", config_to_json(cfg_.model)},
                                               {"train.epoch", std::to_string(epoch_)},
                                               {"train.batch", std::to_string(batch_)},
                                               {"train.loss_sum", num(loss_sum_)},
                                               {"train.loss_count", std::to_string(loss_count_)},
                                               {"train.adam_step", std::to_string(opt_.step)},
                                               {"train.lr", lr},
                                               {"train.seed", std::to_string(cfg_.seed)}};
    if (!ema_.empty()) meta["train.ema_updates"] = std::to_string(ema_updates_);
    io::save_safetensors(path, t, meta);
  }

  void load_checkpoint(const std::string& path) { load_checkpoint_bytes(io::read_file(path), path); }

  // The checkpoint file's bytes (what rank 0 read and broadcast to the other ranks).
  void load_checkpoint_bytes(const std::vector<std::uint8_t>& bytes, const std::string& path) {
    const io::SafeTensors st = io::parse_safetensors(bytes, path);
    auto meta = [&](const std::string& k) {
      auto it = st.metadata.find(k);
      if (it == st.metadata.end()) fail(path, ": not a finepose training checkpoint (no ", k, ")");
      return it->second;
    };
    const FinePoseConfig c = config_from_json(meta("finepose.config"));
    FINEPOSE_CHECK(config_to_json(c) == config_to_json(cfg_.model), path,
                   ": the checkpoint's model config differs from the one being trained");
    model_.net.visit("", [&](const std::string& n, TensorF& p) {
      TensorF v = io::to_tensor<float>(st.at("model." + n), "model." + n);
      FINEPOSE_CHECK(v.shape() == p.shape(), path, ": ", n, " has shape ", shape_str(v.shape()), ", expected ",
                     shape_str(p.shape()));
      p.copy_from(v);
    });
    model_.invalidate_text_cache();
    model_.net.weights_changed();
    opt_ = AdamWState();
    opt_.step = std::stoll(meta("train.adam_step"));
    if (opt_.step > 0) {
      for (auto& [n, p, g] : model_.parameters()) {
        opt_.m.push_back(io::to_tensor<float>(st.at("adam_m." + n), "adam_m." + n).reshape(p->shape()));
        opt_.v.push_back(io::to_tensor<float>(st.at("adam_v." + n), "adam_v." + n).reshape(p->shape()));
      }
    }
    // the moving average: restored when the checkpoint has one; else (a run that starts
    // averaging at this resume, or none) it starts from the weights at the next step
    ema_.clear();
    ema_updates_ = 0;
    if (cfg_.ema > 0 && st.metadata.count("train.ema_updates")) {
      for (auto& [n, p, g] : model_.parameters())
        ema_.push_back(io::to_tensor<float>(st.at("ema." + n), "ema." + n).reshape(p->shape()));
      ema_updates_ = std::stoll(st.metadata.at("train.ema_updates"));
    }
    epoch_ = std::stoll(meta("train.epoch"));
    lr_ = std::stod(meta("train.lr"));
    // mid-epoch position; checkpoints from before mid-epoch saving have none (end of an epoch)
    auto opt_meta = [&](const std::string& k, const char* dflt) {
      auto it = st.metadata.find(k);
      return it == st.metadata.end() ? std::string(dflt) : it->second;
    };
    batch_ = std::stoll(opt_meta("train.batch", "0"));
    loss_sum_ = std::stod(opt_meta("train.loss_sum", "0"));
    loss_count_ = std::stoll(opt_meta("train.loss_count", "0"));
    FINEPOSE_CHECK(epoch_ >= 0 && batch_ >= 0 && loss_count_ >= 0 && std::isfinite(loss_sum_), path,
                   ": the checkpoint's training position is invalid");
  }

  // The weights as a model file (model/model_file.hpp format) for inference.
  void export_model(const std::string& path, const std::string& dtype = "f32") {
    EmaSwap use_average(*this);
    FinePoseModel m(cfg_.model);
    std::map<std::string, TensorF*> src;
    model_.net.visit("", [&](const std::string& n, TensorF& p) { src["pose_estimator." + n] = &p; });
    m.visit([&](const std::string& n, TensorF& p) {
      auto it = src.find(n);
      FINEPOSE_CHECK(it != src.end(), "export: no trained tensor for ", n);
      p.copy_from(*it->second);
    });
    save_model(path, m, dtype);
  }

 private:
  // samples [lo, hi) of a batch's drop-path plan (ste masks are [B*F] per layer, tte [B*J])
  DropPathPlan slice(DropPathPlan dp, int64_t lo, int64_t hi) const {
    if (!group_) return dp;
    auto cut = [&](std::vector<std::vector<float>>& layers, int64_t per) {
      for (auto& v : layers)
        if (!v.empty()) v = std::vector<float>(v.begin() + lo * per, v.begin() + hi * per);
    };
    cut(dp.ste1, cfg_.model.frames), cut(dp.ste2, cfg_.model.frames);
    cut(dp.tte1, cfg_.model.joints), cut(dp.tte2, cfg_.model.joints);
    return dp;
  }

  // Every parameter's gradient summed over the ranks, as one flat buffer (one collective a step).
  void allreduce_gradients() {
    auto params = model_.parameters();
    int64_t n = 0;
    for (auto& [name, p, g] : params) n += g->numel();
    flat_.resize(size_t(n));
    int64_t o = 0;
    for (auto& [name, p, g] : params) std::copy(g->data(), g->data() + g->numel(), flat_.data() + o), o += g->numel();
    group_->allreduce_sum(flat_.data(), n);
    o = 0;
    for (auto& [name, p, g] : params) std::copy(flat_.data() + o, flat_.data() + o + g->numel(), g->data()), o += g->numel();
  }

  DropPathPlan drop_path_plan(int64_t B, int64_t bi) const {
    DropPathPlan dp;
    const int64_t depth = cfg_.model.depth;
    if (cfg_.drop_path <= 0) return dp;
    const uint64_t stream = stream_id(kDropPath, epoch_, bi);
    uint64_t k = 0;
    auto draw = [&](int64_t n, double rate) {
      std::vector<float> v(static_cast<std::size_t>(n));
      const double keep = 1.0 - rate;
      for (auto& x : v) x = random_uniform(cfg_.seed, stream, k++) < keep ? float(1.0 / keep) : 0.f;
      return v;
    };
    for (int64_t i = 0; i < depth; ++i) {
      const double rate = depth > 1 ? cfg_.drop_path * double(i) / double(depth - 1) : 0.0;  // linspace(0, r, depth)
      const int64_t ns = B * cfg_.model.frames, nt = B * cfg_.model.joints;
      dp.ste1.push_back(rate > 0 ? draw(ns, rate) : std::vector<float>{});
      dp.ste2.push_back(rate > 0 ? draw(ns, rate) : std::vector<float>{});
      dp.tte1.push_back(rate > 0 ? draw(nt, rate) : std::vector<float>{});
      dp.tte2.push_back(rate > 0 ? draw(nt, rate) : std::vector<float>{});
    }
    return dp;
  }

  void step_optimizer() {
    std::vector<TensorF*> ps;
    std::vector<const TensorF*> gs;
    for (auto& [n, p, g] : model_.parameters()) {
      ps.push_back(p);
      gs.push_back(g);
    }
    AdamWConfig ac;
    ac.lr = lr_;
    ac.weight_decay = cfg_.weight_decay;
    adamw_step(ps, gs, opt_, ac);
    model_.net.weights_changed();
    update_ema(ps);
  }

  // ema_ <- d ema_ + (1 - d) p for every trained parameter; the first update copies them.
  void update_ema(const std::vector<TensorF*>& ps) {
    if (cfg_.ema <= 0) return;
    if (ema_.empty()) {
      for (const TensorF* p : ps) ema_.push_back(p->clone());
      ema_updates_ = 0;
    }
    FINEPOSE_CHECK(ema_.size() == ps.size(), "train: the moving average holds ", ema_.size(), " tensors, the model ", ps.size());
    const double d = std::min(cfg_.ema, double(1 + ema_updates_) / double(10 + ema_updates_));
    const float a = float(d), b = float(1 - d);
    for (size_t i = 0; i < ps.size(); ++i) {
      float* e = ema_[i].data();
      const float* x = ps[i]->data();
      for (int64_t k = 0; k < ema_[i].numel(); ++k) e[k] = a * e[k] + b * x[k];
    }
    ++ema_updates_;
  }

  // While alive, the model holds the moving average instead of the trained weights
  // (validate, export); nothing when there is none.
  struct EmaSwap {
    Trainer& t;
    bool on;
    explicit EmaSwap(Trainer& tr) : t(tr), on(tr.cfg_.ema > 0 && !tr.ema_.empty()) { swap(); }
    ~EmaSwap() { swap(); }
    void swap() {
      if (!on) return;
      auto params = t.model_.parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        TensorF* p = std::get<1>(params[i]);
        float* x = p->data();
        float* e = t.ema_[i].data();
        for (int64_t k = 0; k < p->numel(); ++k) std::swap(x[k], e[k]);
      }
      t.model_.invalidate_text_cache();
      t.model_.net.weights_changed();
    }
  };

  TrainConfig cfg_;
  TrainableMixSTE model_;
  CosineSchedule sched_;
  std::vector<PromptTokens> prompts_;
  AdamWState opt_;
  int64_t epoch_ = 0;
  double lr_;
  int64_t batch_ = 0;  // batches of the current epoch done
  double loss_sum_ = 0;
  int64_t loss_count_ = 0;
  dist::ProcessGroup* group_ = nullptr;
  std::vector<float> flat_;  // the gradients' buffer for the allreduce
  Stats stats_;
  std::vector<TensorF> ema_;  // the moving average of model_.parameters(), in their order (cfg_.ema > 0)
  int64_t ema_updates_ = 0;
};

}  // namespace finepose::train
