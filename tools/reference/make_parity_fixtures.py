#!/usr/bin/python3
"""Write FinePOSE parity fixtures from the PyTorch reference (finepose_ref.py).

  make_parity_fixtures.py --out DIR --preset {tiny,3dhp_tiny,d2,d8}
                          [--frames F --batch B --hypotheses H --steps K --seed S]
                          [--tokens tokens_reference.json] [--no-mixed]

Writes into DIR (P = preset name):
  P.bin            checkpoint in the official file format (torch.save of {'epoch', 'lr',
                   'random_state', 'optimizer', 'model_pos'}; model_pos keys are
                   'module.' + FinePOSE keys: 'module.betas' ... (float64 schedule buffers),
                   'module.pose_estimator.*' (float32)).
  P_input.npz      keypoints_2d (B,F,17,2) float32.
  P_noise.npz      noise_init (B,H,F,17,3), noise_steps (K-1,B,H,F,17,3) float32.
  P_expected.npz   see EXPECTED below.
  P_mixed_expected.npz  (h36m presets with B >= 2) the same outputs with a different action
                   label per sample and text_rows="per_sample" (each sample attends to its own
                   text: our fix of upstream's tiling, see finepose_ref.py).
  P.json           preset, action, sizes, seed and the model config.
Every parameter is random (nothing zero, LayerNorm weights near 1), deterministic in the seed.
Token ids come from CLIP's tokenizer as recorded in tokens_reference.json (the shared CLIP
folder); pass --tokens to use another copy.
"""
import argparse
import io
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import finepose_ref as ref  # noqa: E402
import torch_save_splice  # noqa: E402

DEFAULT_TOKENS = os.path.join(HERE, "..", "..", "..", "shared", "clip", "tokens_reference.json")
_TOKENS = {}

EXPECTED = """
  text_tokens      (B,77) int64   CLIP tokens of the action label per sample (h36m only)
  pre_text_tokens  (6,77) int64   tokens of "A person", "speed", "head", "body", "arm", "leg"
  xf_proj          (B,dim) float32     text branch: projected end-token feature
  xf_out           (B,77,text_width) float32  text branch: token features after text_ln
  den_x3d          (B,H,F,17,3) float32  one denoiser call: its x_t input (clamped, / scale)
  den_t            (B,) int64            its time steps
  den_out          (B,H,F,17,3) float32  its output (x0 / scale, before clamping)
  keypoints_2d_flip (B,F,17,2) float32  mirrored 2D input used by the flip sampler
  ddim_times       (K+1,) int64         [t_K .. t_1, -1]
  poses_3d         (B,K,H,F,17,3) float32  ddim_sample without flip, every step's x0
  poses_3d_flip    (B,K,H,F,17,3) float32  ddim_sample_flip (3dhp: both times 1000)
"""

PRESETS = {
    "tiny": dict(cfg=dict(variant="h36m", depth=2, frames=9, dim=48, heads=4, text_width=16,
                          clip_layers=1, clip_heads=2, clip_embed_dim=8, encoder_layers=1,
                          encoder_heads=2, encoder_ff=32),
                 batch=2, hypotheses=2, steps=3, action="Walking"),
    "3dhp_tiny": dict(cfg=dict(variant="3dhp", depth=2, frames=9, dim=48, heads=4, text_width=16,
                               clip_layers=1, clip_heads=2, clip_embed_dim=8, encoder_layers=1,
                               encoder_heads=2, encoder_ff=32),
                      batch=2, hypotheses=2, steps=3, action=None),
    "d2": dict(cfg=dict(variant="h36m", depth=2, frames=27), batch=1, hypotheses=2, steps=3,
               action="Walking"),
    "d8": dict(cfg=dict(variant="h36m", depth=8, frames=27), batch=1, hypotheses=2, steps=3,
               action="Walking"),
}
MIXED_ACTIONS = ["SittingDown", "Walking", "Phoning", "Eating"]


def tokens_for(text, path=None):
    """77 CLIP token ids (start, text, end, zero padding) from the recorded tokenizer output."""
    path = os.path.abspath(path or os.environ.get("FINEPOSE_CLIP_TOKENS", DEFAULT_TOKENS))
    if path not in _TOKENS:
        with open(path) as f:
            _TOKENS[path] = json.load(f)
    ids = _TOKENS[path].get(text)
    if ids is None:
        raise KeyError("no CLIP tokens recorded for %r in %s" % (text, path))
    return (list(ids) + [0] * 77)[:77]


@torch.no_grad()
def randomise_parameters(model, seed):
    """Every parameter random and nonzero: Linear-type weights N(0, clamp(1/sqrt(fan_in), .02, .2))
    (input embedding .5, output head halved), biases N(0, .05), LayerNorm weights 1 + N(0, .1),
    token embedding, position embeddings and prompt contexts N(0, .1)."""
    gen = torch.Generator().manual_seed(seed)
    layer_norms = {id(m.weight) for m in model.modules() if isinstance(m, nn.LayerNorm)}

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen) * std + mean

    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if id(p) in layer_norms:
            value = normal(p.shape, 0.1, 1.0)
        elif leaf in ("bias", "in_proj_bias"):
            value = normal(p.shape, 0.05)
        elif leaf == "logit_scale":
            value = normal(p.shape, 0.1, 4.6)
        elif p.dim() >= 2 and ("weight" in leaf or leaf in ("text_projection", "proj")):
            fan_in = p[0].numel() if leaf.endswith("weight") else p.shape[0]
            std = min(0.2, max(0.02, fan_in ** -0.5))
            if name.endswith("token_embedding.weight"):
                std = 0.1
            if name.endswith("Spatial_patch_to_embedding.weight"):
                std = 0.5    # so the pose input is not drowned by the (time + text) conditioning
            if name.endswith("head.1.weight"):
                std *= 0.5   # keep x0 mostly inside the +-1.1 clamp so the tests stay sensitive
            value = normal(p.shape, std)
        else:  # position embeddings, class embedding, prompt contexts
            value = normal(p.shape, 0.1)
        p.copy_(value)


def make_keypoints_2d(rng, batch, frames, joints=17):
    """Smooth random motion in normalised screen coordinates, |x| < 1."""
    base = rng.uniform(-0.5, 0.5, size=(batch, 1, joints, 2))
    amp = rng.uniform(0.02, 0.15, size=(batch, 1, joints, 2))
    freq = rng.uniform(0.05, 0.3, size=(batch, 1, joints, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(batch, 1, joints, 2))
    drift = rng.uniform(-0.01, 0.01, size=(batch, 1, 1, 2))
    t = np.arange(frames, dtype=np.float64)[None, :, None, None]
    x = base + amp * np.sin(2 * np.pi * freq * t + phase) + drift * t
    return np.clip(x, -0.95, 0.95).astype(np.float32)


def small_adamw_state(model):
    """A real AdamW state_dict after one step, as main.py builds it (all parameters in one group,
    lr 6e-5, weight decay 0.1), with gradients on a few small tensors only so it stays small.
    Note: the step changes those tensors, so call it before computing expected outputs."""
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=6e-5, weight_decay=0.1)
    gen = torch.Generator().manual_seed(99)
    chosen = [model.pose_estimator.ctx_subject, model.pose_estimator.head[1].weight,
              model.pose_estimator.head[1].bias]
    for p in chosen:
        p.grad = torch.randn(p.shape, generator=gen)
    opt.step()
    for p in chosen:
        p.grad = None
    return opt.state_dict()


def run_outputs(model, cfg, x2d, text, pre, noise_init, noise_steps, den_x3d, den_t, text_rows):
    pe = model.pose_estimator
    out = {}
    with torch.no_grad():
        xf_proj, xf_out = pe.encode_text(text, pre)
        out["xf_proj"], out["xf_out"] = xf_proj, xf_out
        out["den_out"] = pe(x2d, den_x3d, den_t, text, pre, text_rows)
        out["poses_3d"] = model.ddim_sample(x2d, text, pre, noise_init, noise_steps, False, text_rows)
        out["poses_3d_flip"] = model.ddim_sample(x2d, text, pre, noise_init, noise_steps, True, text_rows)
    return {k: v.float().numpy() for k, v in out.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--frames", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--hypotheses", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", default=None, help="tokens_reference.json (default: ../shared/clip)")
    p.add_argument("--no-mixed", action="store_true", help="skip the mixed-label fixture")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()

    preset = PRESETS[args.preset]
    cfg = ref.Config(**preset["cfg"])
    if args.frames:
        cfg.frames = args.frames
    B = args.batch or preset["batch"]
    H = args.hypotheses or preset["hypotheses"]
    K = args.steps or preset["steps"]
    if K < 1 or B < 1 or H < 1 or cfg.frames < 1:
        p.error("frames, batch, hypotheses and steps must be >= 1")
    seed = args.seed
    is3 = cfg.variant == "3dhp"
    action = preset["action"]
    os.makedirs(args.out, exist_ok=True)
    name = args.preset

    torch.manual_seed(seed)
    model = ref.FinePOSE(cfg).eval()
    randomise_parameters(model, seed)
    optimizer = small_adamw_state(model)   # changes three small tensors: do it before outputs

    state = model.state_dict()
    model_pos = type(state)()
    for k, v in state.items():
        model_pos["module." + k] = v.detach().clone().contiguous()
    # As every save site of main.py / main_3dhp.py: random_state is the generator's RandomState
    # object (numpy 1.x form from Debian's numpy) ...
    saved = {"epoch": 7, "lr": 6e-5, "random_state": np.random.RandomState(0),
             "optimizer": optimizer, "model_pos": model_pos}
    torch.save(saved, os.path.join(args.out, name + ".bin"))
    # ... and, for the tiny preset, the same checkpoint with numpy 2.x's form of it and torch 2.x's
    # archive records (byteorder, .data/serialization_id): make_numpy2_pickles.py's output spliced in.
    np2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "pickle",
                       "random_state_np2_nomemo.pkl")
    if name == "tiny" and os.path.exists(np2):
        with open(np2, "rb") as f:
            saved["random_state"] = torch_save_splice.Spliced(f.read())
        buf = io.BytesIO()
        torch.save(saved, buf, pickle_module=torch_save_splice.SplicingModule)
        with open(os.path.join(args.out, name + "_np2.bin"), "wb") as f:
            f.write(torch_save_splice.with_torch2_records(buf.getvalue()))

    rng = np.random.RandomState(seed + 1)
    kp = make_keypoints_2d(rng, B, cfg.frames)
    noise_rng = np.random.RandomState(seed + 2)
    noise_init = noise_rng.standard_normal((B, H, cfg.frames, 17, 3)).astype(np.float32)
    noise_steps = noise_rng.standard_normal((K - 1, B, H, cfg.frames, 17, 3)).astype(np.float32)
    np.savez(os.path.join(args.out, name + "_input.npz"), keypoints_2d=kp)
    np.savez(os.path.join(args.out, name + "_noise.npz"), noise_init=noise_init, noise_steps=noise_steps)

    x2d = torch.from_numpy(kp)
    pre_tokens = torch.tensor([tokens_for(t, args.tokens) for t in ref.PRE_TEXTS], dtype=torch.long)
    pre = ref.pre_text_batch(pre_tokens, B)
    text = None if is3 else torch.tensor([tokens_for(action, args.tokens)] * B, dtype=torch.long)
    # One denoiser call at distinct per-sample times on clamped noise.
    den_x3d = torch.clamp(torch.from_numpy(noise_init), -1.1 * cfg.scale, 1.1 * cfg.scale) / cfg.scale
    den_t = torch.from_numpy(np.concatenate([[999], rng.randint(0, 1000, size=B - 1)]).astype(np.int64))

    common = dict(pre_text_tokens=pre_tokens.numpy(), den_x3d=den_x3d.numpy(), den_t=den_t.numpy(),
                  keypoints_2d_flip=ref.mirror_pose(x2d, cfg.joints_left, cfg.joints_right).numpy(),
                  ddim_times=np.array(ref.ddim_times(cfg.timesteps, K), dtype=np.int64))
    outs = run_outputs(model, cfg, x2d, text, pre, torch.from_numpy(noise_init),
                       torch.from_numpy(noise_steps), den_x3d, den_t, "tile")
    if not is3:
        common_text = dict(text_tokens=text.numpy())
    else:
        common_text = {}
    np.savez(os.path.join(args.out, name + "_expected.npz"), **common_text, **common, **outs)

    mixed = None
    if not is3 and B >= 2 and not args.no_mixed:
        mixed = [MIXED_ACTIONS[i % len(MIXED_ACTIONS)] for i in range(B)]
        mtext = torch.tensor([tokens_for(a, args.tokens) for a in mixed], dtype=torch.long)
        mouts = run_outputs(model, cfg, x2d, mtext, pre, torch.from_numpy(noise_init),
                            torch.from_numpy(noise_steps), den_x3d, den_t, "per_sample")
        np.savez(os.path.join(args.out, name + "_mixed_expected.npz"), text_tokens=mtext.numpy(),
                 **common, **mouts)

    meta = {"preset": name, "action": action, "hypotheses": H, "steps": K, "frames": cfg.frames,
            "batch": B, "seed": seed,
            "text_rows": "tile (upstream: attention row r reads text[r mod B]); all samples share one label",
            "mixed_actions": mixed,
            "mixed_text_rows": "per_sample (each sample attends to its own text)" if mixed else None,
            "flip": {"joints_left": cfg.joints_left, "joints_right": cfg.joints_right,
                     "kps_left": cfg.joints_left, "kps_right": cfg.joints_right},
            "output_multiplier": 1000.0 if is3 else 1.0,
            "config": {"variant": cfg.variant, "depth": cfg.depth, "frames": cfg.frames,
                       "joints": cfg.joints, "dim": cfg.dim, "heads": cfg.heads,
                       "mlp_ratio": cfg.mlp_ratio, "text_width": cfg.text_width,
                       "text_vocab": cfg.text_vocab, "context_length": cfg.context_length,
                       "clip_layers": cfg.clip_layers, "clip_heads": cfg.clip_heads,
                       "clip_embed_dim": cfg.clip_embed_dim, "encoder_layers": cfg.encoder_layers,
                       "encoder_heads": cfg.encoder_heads, "encoder_ff": cfg.encoder_ff,
                       "ctx_lengths": cfg.ctx_lengths, "scale": cfg.scale, "timesteps": cfg.timesteps}}
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote %s/%s.{bin,json,_input.npz,_noise.npz,_expected.npz%s} in %.1f s"
          % (args.out, name, ",_mixed_expected.npz" if mixed else "", time.time() - started))


if __name__ == "__main__":
    main()
