#!/usr/bin/python3
"""Training throughput side by side, in one run, with the same threads: the official training
step in PyTorch (tools/reference/finepose_ref.py, Debian's torch with OpenBLAS) against finepose's
trainer (bench/bench_train, Google Benchmark), at a preset's size.

  /usr/bin/python3 tools/compare_train_torch.py --bench-train BUILD/bench/bench_train \
      [--preset base] [--threads 2] [--steps 20] [--json-out FILE]

One step, both sides: B chunks of F frames (batch 4 chunks of 81 frames for base), per-sample timestep,
x_t = q_sample(x0) clamped, the denoiser forward with each sample's own prompt (text branch included:
the learnable context vectors get gradients through the frozen CLIP tower, the paper's intent and
finepose's default), MPJPE, backward, AdamW (weight decay 0.1). PyTorch: the median of --steps steps
after 3 warm-up steps. finepose: chunks/s of bench_train (5 steps per iteration, at least 5 s), which
also adds drop-path (0.1) and makes its chunks from data. Random weights and inputs: the time does not
depend on their values.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))

# finepose's train::preset(name).model (include/finepose/train/presets.hpp) and batch size
PRESETS = {
    "small": dict(depth=2, frames=27, dim=64, heads=4, mlp_ratio=2.0, text_width=32, clip_layers=1, clip_heads=2,
                  encoder_layers=1, encoder_heads=2, encoder_ff=64, batch=4),
    "base": dict(depth=4, frames=81, dim=128, heads=8, mlp_ratio=2.0, text_width=32, clip_layers=1, clip_heads=2,
                 encoder_layers=1, encoder_heads=2, encoder_ff=64, batch=4),
}


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def torch_steps(preset, threads, steps):
    import torch
    import finepose_ref as ref
    torch.set_num_threads(threads)
    p = dict(PRESETS[preset])
    B = p.pop("batch")
    cfg = ref.Config(variant="h36m", joints=17, clip_embed_dim=p["text_width"], **p)
    cfg.check()
    torch.manual_seed(0)
    model = ref.MixSTE2(cfg)
    for name, q in model.named_parameters():
        q.requires_grad_(not name.startswith("clip_text."))
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=6e-4, weight_decay=0.1)
    diff = ref.FinePOSE(cfg)

    def tokens(head):
        t = torch.zeros(77, dtype=torch.long)
        t[:len(head)] = torch.tensor(head)
        return t

    # the built-in ids of "Walking", "Directions" and the six fixed prompts (text/known_prompts.hpp)
    actions = torch.stack([tokens([49406, 3941, 49407]), tokens([49406, 16440, 49407])])
    pre = ref.pre_text_batch(torch.stack([tokens([49406, 320, 2533, 49407]), tokens([49406, 4163, 49407]),
                                          tokens([49406, 1375, 49407]), tokens([49406, 1774, 49407]),
                                          tokens([49406, 4793, 49407]), tokens([49406, 4924, 49407])]), B)
    times = []
    for i in range(steps + 3):
        x2d = torch.randn(B, cfg.frames, 17, 2)
        x0 = torch.randn(B, cfg.frames, 17, 3) * 0.3
        x0[:, :, 0] = 0
        t = torch.randint(0, 1000, (B,))
        noise = torch.randn(B, cfg.frames, 17, 3)
        text = actions[torch.arange(B) % 2]
        t0 = time.perf_counter()
        sa = diff.sqrt_alphas_cumprod[t].reshape(B, 1, 1, 1)
        s1 = diff.sqrt_one_minus_alphas_cumprod[t].reshape(B, 1, 1, 1)
        x_t = (torch.clamp(sa * x0 + s1 * noise, -1.1, 1.1)).float()
        opt.zero_grad()
        pred = model(x2d, x_t[:, None], t, text, pre, text_rows="per_sample")[:, 0]
        loss = torch.mean(torch.norm(pred - x0, dim=-1))
        loss.backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    s = median(times)
    return {"step_s": s, "chunks_per_s": B / s, "batch": B, "frames": cfg.frames, "steps": steps,
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def finepose_steps(bench, preset, threads):
    env = dict(os.environ, FINEPOSE_BENCH_PRESET=preset, FINEPOSE_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([bench, "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True).stdout
    b = json.loads(out)["benchmarks"][0]
    return {"chunks_per_s": b["chunks_per_s"], "step_s": b["batch"] / b["chunks_per_s"], "threads": int(b["threads"])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-train", required=True, help="bench/bench_train (a build with -DFINEPOSE_BUILD_BENCH=ON)")
    ap.add_argument("--preset", default="base", choices=sorted(PRESETS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    res = {"preset": a.preset, "threads": a.threads, "torch": torch_steps(a.preset, a.threads, a.steps),
           "finepose": finepose_steps(a.bench_train, a.preset, a.threads)}
    res["ratio_finepose_over_torch"] = res["finepose"]["chunks_per_s"] / res["torch"]["chunks_per_s"]
    print("preset %s, %d threads, batch %d x %d frames" % (a.preset, a.threads, res["torch"]["batch"], res["torch"]["frames"]))
    print("  PyTorch %s: %.3f s/step, %.2f chunks/s" % (res["torch"]["torch"], res["torch"]["step_s"], res["torch"]["chunks_per_s"]))
    print("  finepose      : %.3f s/step, %.2f chunks/s" % (res["finepose"]["step_s"], res["finepose"]["chunks_per_s"]))
    print("  finepose / PyTorch = %.2fx" % res["ratio_finepose_over_torch"])
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
