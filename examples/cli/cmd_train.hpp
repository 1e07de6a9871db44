#pragma once
// finepose train: trains FinePOSE on the shared real data (HumanEva-I Train with its
// real cameras, plus CMU / Bandai Namco mocap through random virtual cameras) and
// validates on HumanEva-I Validate each epoch. Writes DIR/checkpoint.safetensors
// (weights + AdamW state + epoch, for --resume), DIR/model.safetensors (weights +
// config, for finepose sample/eval) and DIR/log.tsv.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "args.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/text/known_prompts.hpp"
#include "finepose/train/datasets.hpp"
#include "finepose/train/init.hpp"
#include "finepose/train/presets.hpp"
#include "finepose/train/trainer.hpp"
#include "progress.hpp"
#ifdef FINEPOSE_MPI
#include "finepose/dist/mpi_process_group.hpp"
#endif

namespace finepose::cli {

namespace detail {
// What every rank must agree on before a data-parallel run: every training setting, the
// data it loaded (its first epoch's sequences and the validation sets, hashed) and the
// flags that change the run.
inline std::string train_fingerprint(const train::TrainConfig& tc, const std::vector<const train::Dataset*>& sets,
                                     const std::string& flags) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over 64-bit words
  auto mix = [&](std::uint64_t w) { h = (h ^ w) * 1099511628211ull; };
  auto words = [&](const float* p, int64_t n) {
    for (int64_t i = 0; i + 1 < n; i += 2) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      mix(w);
    }
    if (n % 2) {
      std::uint32_t w;
      std::memcpy(&w, p + n - 1, 4);
      mix(w);
    }
  };
  std::string counts;
  for (const train::Dataset* d : sets) {
    counts += " " + std::to_string(d->seqs.size());
    for (const auto& s : d->seqs) {
      mix(std::uint64_t(s.label));
      words(s.x2d.data(), s.x2d.numel());
      words(s.x3d.data(), s.x3d.numel());
    }
  }
  auto num = [](double v) {
    char b[40];
    std::snprintf(b, sizeof b, "%.17g", v);
    return std::string(b);
  };
  char hex[24];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
  return config_to_json(tc.model) + " batch " + std::to_string(tc.batch_size) + " epochs " + std::to_string(tc.epochs) +
         " lr " + num(tc.lr) + " wd " + num(tc.weight_decay) + " decay " + num(tc.lr_decay) + " drop_path " +
         num(tc.drop_path) + " flip " + std::to_string(tc.flip) + " ctx_grad " + std::to_string(tc.ctx_grad) +
         " loss_scaled " + std::to_string(tc.loss_scaled_backward) + " seed " + std::to_string(tc.seed) +
         " max_batches " + std::to_string(tc.max_batches) + " ema " + num(tc.ema) + " val " + std::to_string(tc.val_hypotheses) + "x" +
         std::to_string(tc.val_steps) + " flags " + flags + " data" + counts + " " + hex;
}
}  // namespace detail


// The command, on the ranks of `group` (nullptr: one process). With N ranks every
// batch is shared out (train/trainer.hpp); rank 0 alone prints and writes files.
inline int cmd_train_on(int argc, char** argv, dist::ProcessGroup* group) {
  Args a("train", "--preset small|base|paper [--config FILE] --data DIR --out DIR [--epochs N] [--seed S] [--resume]",
         {{"preset", "NAME", "small (CPU, minutes), base (depth 4, 81 frames, width 128; all mocap through new cameras every epoch) or paper (depth 8, 243 frames, width 512)"},
          {"config", "FILE", "JSON overrides: model (config fields), batch_size, epochs, lr, weight_decay, lr_decay, "
                             "drop_path, flip, ctx_grad, loss_scaled_backward, seed, max_batches, val_hypotheses, val_steps, ema"},
          {"data", "DIR", "directory with humaneva_i_h36m17.npz (and cmu_mocap_h36m17.npz, bandai_namco_h36m17.npz)"},
          {"out", "DIR", "output directory (checkpoint.safetensors, model.safetensors, log.tsv)"},
          {"epochs", "N", "number of epochs (overrides the preset)"},
          {"seed", "S", "random seed (default 1)"},
          {"resume", "", "continue from DIR/checkpoint.safetensors"},
          {"force", "", "start over in a DIR that holds an earlier run (its checkpoint, model and log are replaced)"},
          {"mocap-frames", "N", "frames taken from each mocap file (default 20000; 0 = all, -1 = none)"},
          {"noise-px", "P", "std of 2D noise added to the virtual-camera projections (pixels, default 1)"},
          {"upstream", "", "reproduce upstream's training exactly: ctx vectors frozen, gradients scaled by the loss"},
          {"ema", "DECAY", "validate and export an exponential moving average of the weights, decay per step in [0, 1) (default 0: off; e.g. 0.999)"},
          {"humaneva-repeat", "N", "wide pipeline: HumanEva-I Train (real cameras) N times in every epoch (default 1: its share by frames, 2.7%)"},
          {"heldout-frames", "N", "wide pipeline: frames of the held-out set validated each epoch (default 20000; 0 = all)"},
          {"validate-frames", "N", "frames of HumanEva-I Validate scored each epoch, evenly spaced sequences (default 0 = all)"},
          {"checkpoint-minutes", "M", "also save the checkpoint within an epoch every M minutes (default 10; 0 = only at epoch ends)"},
          {"checkpoint-every", "N", "also save the checkpoint every N batches (default 0 = by time only)"},
          {"threads", "N", "CPU threads (default: all; under mpirun: per rank)"},
          {"timing", "", "print each epoch's training throughput (chunks/s) and, under mpirun, the time and bytes of the gradient allreduce"},
          {"quiet", "", "no progress bar"}});
  if (!a.parse(argc, argv)) return 0;
  a.apply_threads();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // epoch lines show up in logs as they happen
  const std::string preset_name = a.get("preset", "small");
  train::TrainConfig tc = train::preset(preset_name);
  train::TrainingDataOptions dopt;
  dopt.pipeline = train::preset_pipeline(preset_name);
  if (a.has("config")) train::apply_config_file(tc, a.get("config"), &dopt);
  if (a.has("epochs")) tc.epochs = a.get_int_in("epochs", 0, 1, 1000000);
  if (a.has("seed")) tc.seed = std::uint64_t(a.get_int_in("seed", 0, 0, INT64_MAX));
  FINEPOSE_CHECK(tc.epochs >= 1, "train: epochs must be >= 1, the configuration gives ", tc.epochs);
  FINEPOSE_CHECK(!(a.has("resume") && a.has("force")), "train: give --resume or --force, not both");
  if (a.has("upstream")) tc.ctx_grad = false, tc.loss_scaled_backward = true;
  if (a.has("ema")) {
    tc.ema = a.get_double_in("ema", 0, 0, 1);
    FINEPOSE_CHECK(tc.ema < 1, "train: --ema must be below 1 (1 would never move), got ", tc.ema);
  }
  const std::string data = a.require("data"), out = a.require("out");
  const int64_t mocap = a.get_int_in("mocap-frames", train::TrainingDataOptions{}.mocap_frames, -1, int64_t(1) << 40);
  const double noise_px = a.get_double_in("noise-px", train::TrainingDataOptions{}.noise_px, 0, 1000);
  const double ck_minutes = a.get_double_in("checkpoint-minutes", 10, 0, 1e6);
  const int64_t ck_every = a.get_int_in("checkpoint-every", 0, 0, int64_t(1) << 40);
  const bool root = !group || group->is_root();
  // an earlier run's files are kept unless asked: a repeated command must not wipe a week of training
  if (root && !a.has("resume") && !a.has("force"))
    for (const char* f : {"/checkpoint.safetensors", "/model.safetensors", "/log.tsv"})
      if (std::filesystem::exists(out + f))
        fail("train: '", out + f, "' exists (an earlier run); give --resume to continue it or --force to start over");
  FINEPOSE_CHECK(tc.model.joints == 17 && tc.model.in_chans == 2, "train: the shared data has 17 joints in 2D");

  // data
  dopt.seed = tc.seed;
  dopt.mocap_frames = mocap;
  dopt.noise_px = noise_px;
  if (a.has("humaneva-repeat")) {
    FINEPOSE_CHECK(dopt.pipeline == "wide", "train: --humaneva-repeat is for the wide pipeline (--preset base)");
    dopt.epoch.humaneva_repeat = a.get_int_in("humaneva-repeat", 1, 1, 255);
  }
  const int64_t heldout_frames = a.get_int_in("heldout-frames", 20000, 0, int64_t(1) << 40);
  const int64_t validate_frames = a.get_int_in("validate-frames", 0, 0, int64_t(1) << 40);
  train::TrainingData td = train::load_training_data(data, dopt);
  const train::Dataset& trainset = td.train;
  const train::Dataset& valset = td.validate;
  // validation cost is bounded: evenly spaced sequences up to N frames (the same ones every run)
  auto keep_frames = [](train::Dataset& d, int64_t n) {
    if (n <= 0 || d.frames() <= n) return;
    train::Dataset h;
    h.labels = d.labels;
    const double keep = double(n) / double(d.frames());
    double acc = 0;
    for (auto& q : d.seqs)
      if ((acc += keep) >= 1.0) acc -= 1.0, h.seqs.push_back(std::move(q));
    d = std::move(h);
  };
  keep_frames(td.validate, validate_frames);
  if (td.wide()) keep_frames(td.heldout, heldout_frames);
  const train::Dataset first = td.wide() ? td.epoch_set(0) : train::Dataset();
  if (group) {  // every rank must train the same thing: rank 0 compares what each one loaded
    const std::string flags = std::to_string(mocap) + " " + std::to_string(noise_px) + " " +
                              std::to_string(heldout_frames) + " " + std::to_string(validate_frames) + " " +
                              std::to_string(a.has("resume"));
    std::vector<const train::Dataset*> sets = {td.wide() ? &first : &trainset, &td.validate};
    if (td.wide()) sets.push_back(&td.heldout);
    const auto all = group->gather_to_root(detail::train_fingerprint(tc, sets, flags));
    for (std::size_t r = 1; r < all.size(); ++r)
      if (all[r] != all[0])
        fail("train: rank ", r, " loaded different data or configuration than rank 0 (every rank needs the same --data, "
             "--config and flags):\n  rank 0: ", all[0], "\n  rank ", r, ": ", all[r]);
    std::string ok = "ok";
    group->broadcast(ok);
  }
  if (!root) {
  } else if (td.wide()) {
    std::printf("train (wide pipeline): %zu mocap clips (%lld frames) + HumanEva-I Train%s, filmed anew each epoch (epoch 1: "
                "%zu sequences, %lld frames); held out: %zu sequences (%lld frames); HumanEva-I Validate (reported only): "
                "%zu sequences (%lld frames); labels:",
                td.pool.clips.size(), (long long)td.pool.frames(false),
                td.epoch_options.humaneva_repeat > 1 ? (" x " + std::to_string(td.epoch_options.humaneva_repeat)).c_str() : "",
                first.seqs.size(), (long long)first.frames(),
                td.heldout.seqs.size(), (long long)td.heldout.frames(), valset.seqs.size(), (long long)valset.frames());
  } else {
    std::printf("train: %zu sequences (%lld frames), validate: %zu sequences (%lld frames), labels:", trainset.seqs.size(),
                (long long)trainset.frames(), valset.seqs.size(), (long long)valset.frames());
  }
  if (root) {
    for (auto& l : trainset.labels) std::printf(" %s", l.c_str());
    if (group) std::printf("; data parallel over %d ranks, %lld samples a batch in all", group->size(), (long long)tc.batch_size);
    std::printf("\n");
  }

  std::vector<PromptTokens> prompts;
  for (const auto& l : trainset.labels) {
    PromptTokens p;
    for (const auto& t : fixed_prompt_texts()) p.fixed.push_back(builtin_prompt_tokens(t, tc.model.text_context));
    p.action = builtin_prompt_tokens(l, tc.model.text_context);
    prompts.push_back(std::move(p));
  }
  // trained with label dropout: the model has an unconditional mode, and `infer --action auto` uses it
  if (td.wide() && dopt.epoch.label_dropout > 0) tc.model.default_action = train::kGenericLabel;
  MixSTE2 net(tc.model);
  train::init_model(net, tc.seed);
  train::Trainer trainer(tc, std::move(net), prompts);
  trainer.set_process_group(group);
  if (root) std::filesystem::create_directories(out);
  const std::string ck = out + "/checkpoint.safetensors";
  if (a.has("resume")) {  // rank 0 reads the checkpoint; the others get its bytes (no shared file system needed)
    std::vector<std::uint8_t> bytes;
    if (root) bytes = io::read_file(ck);
    if (group) {
      std::string b(bytes.begin(), bytes.end());
      group->broadcast(b);
      bytes.assign(b.begin(), b.end());
    }
    trainer.load_checkpoint_bytes(bytes, ck);
    if (root) {
      if (trainer.batch() > 0)
        std::printf("resumed from %s at epoch %lld, batch %lld\n", ck.c_str(), (long long)trainer.epoch() + 1,
                    (long long)trainer.batch());
      else
        std::printf("resumed from %s at epoch %lld\n", ck.c_str(), (long long)trainer.epoch());
    }
  }
  std::ofstream log;
  if (root) log.open(out + "/log.tsv", a.has("resume") ? std::ios::app : std::ios::trunc);
  if (root && !a.has("resume"))
    log << (td.wide() ? "epoch\tlr\ttrain_loss_m\tval_mpjpe_mm\theldout_mpjpe_mm\tseconds\n" : "epoch\tlr\ttrain_loss_m\tval_mpjpe_mm\tseconds\n");
  const bool quiet = a.has("quiet") || !root;
  // wide pipeline: the best epoch by the held-out set (never by HumanEva-I Validate) is kept as best.safetensors
  double best = INFINITY;
  const std::string best_json = out + "/best.json";
  if (td.wide() && a.has("resume") && std::filesystem::exists(best_json))
    best = json::parse(io::read_text_file(best_json), best_json).get_double("heldout_mpjpe_mm", INFINITY);
  while (trainer.epoch() < tc.epochs) {
    const double lr = trainer.lr();
    const train::Dataset epoch_set = td.epoch_set(trainer.epoch());
    const int64_t start = trainer.batch();
    const train::Trainer::Stats s0 = trainer.stats();
    const std::int64_t sent0 = group ? group->bytes_sent() : 0;
    const auto t0 = std::chrono::steady_clock::now();
    Progress bar("epoch " + std::to_string(trainer.epoch() + 1) + "/" + std::to_string(tc.epochs),
                 trainer.batches_per_epoch(epoch_set) - start, quiet);
    auto last_ck = std::chrono::steady_clock::now();
    const double loss = trainer.train_epoch(epoch_set, [&](int64_t done, int64_t total, double) {
      bar.update(done - start);
      if (!root || done == total) return;  // the end of the epoch is checkpointed below
      const auto now = std::chrono::steady_clock::now();
      if ((ck_every > 0 && done % ck_every == 0) ||
          (ck_minutes > 0 && std::chrono::duration<double>(now - last_ck).count() >= 60 * ck_minutes)) {
        trainer.save_checkpoint(ck);  // atomic (temporary file, then rename)
        last_ck = now;
      }
    });
    bar.finish();
    if (a.has("timing") && root) {
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const train::Trainer::Stats& s1 = trainer.stats();
      const int64_t steps = s1.steps - s0.steps, chunks = s1.samples - s0.samples;
      std::printf("timing: epoch %lld: %lld steps, %lld chunks in %.2f s: %.2f chunks/s", (long long)trainer.epoch(),
                  (long long)steps, (long long)chunks, sec, double(chunks) / sec);
      if (group && steps > 0)
        std::printf("; allreduce %.2f s (%.1f%% of the time), rank 0 sent %.0f bytes a step", s1.comm_seconds - s0.comm_seconds,
                    100 * (s1.comm_seconds - s0.comm_seconds) / sec, double(group->bytes_sent() - sent0) / double(steps));
      std::printf("\n");
    }
    const double val = trainer.validate(valset);
    const double held = td.wide() ? trainer.validate(td.heldout) : NAN;
    if (!root) continue;
    if (td.wide())
      std::printf("epoch %lld  lr %.3g  train loss %.2f mm  held-out MPJPE %.2f mm  (HumanEva-I Validate %.2f mm)\n",
                  (long long)trainer.epoch(), lr, 1000 * loss, held, val);
    else
      std::printf("epoch %lld  lr %.3g  train loss %.2f mm  val MPJPE %.2f mm\n", (long long)trainer.epoch(), lr,
                  1000 * loss, val);
    // checkpoint first: a run killed in between resumes from it without a duplicate log line
    trainer.save_checkpoint(ck);
    trainer.export_model(out + "/model.safetensors");
    if (td.wide() && held < best) {
      best = held;
      trainer.export_model(out + "/best.safetensors");
      json::Value b = json::Value::object();
      b["epoch"] = trainer.epoch();
      b["heldout_mpjpe_mm"] = held;
      b["humaneva_validate_mpjpe_mm"] = val;
      io::write_file(best_json, json::dump(b, 2) + "\n");
    }
    if (td.wide())
      log << trainer.epoch() << "\t" << lr << "\t" << loss << "\t" << val << "\t" << held << "\t" << bar.elapsed() << "\n";
    else
      log << trainer.epoch() << "\t" << lr << "\t" << loss << "\t" << val << "\t" << bar.elapsed() << "\n";
    log.flush();
  }
  return 0;
}

inline int cmd_train(int argc, char** argv) {
#ifdef FINEPOSE_MPI
  // under mpirun: data parallel over the ranks; on its own: one process
  if (dist::launched_by_mpi()) {
    dist::MpiProcessGroup mpi(&argc, &argv);
    try {
      return cmd_train_on(argc, argv, &mpi);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "finepose train: error (rank %d of %d): %s\n", mpi.rank(), mpi.size(), e.what());
      mpi.abort_all(1);
    }
  }
#endif
  return cmd_train_on(argc, argv, nullptr);
}

}  // namespace finepose::cli
