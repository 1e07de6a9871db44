"""One FinePOSE training step in PyTorch, for finepose's training check (tests/test_train_step.cpp).

Uses finepose_ref.py (our PyTorch re-implementation of the official model) at a tiny size with
random weights, and runs the official training step (main.py + common/finepose.py):
  per-sample timestep t and noise -> x_t = clamp(q_sample(x0 * scale), +-1.1 scale) / scale (float64
  schedule, rounded to float32 once) -> pred = model(x_2d, x_t, t, text) -> MPJPE(pred, x0) ->
  backward -> AdamW(lr 6e-5, weight decay 0.1) step.
Two cases:
  upstream: exactly as released: the CLIP tower AND the ctx vectors get no gradient (CLIP runs
            under torch.no_grad upstream, so AdamW skips the ctx vectors), and main.py's
            loss.backward(loss) seeds the backward with the loss (every gradient scaled by it);
  paper:    the paper's intent: ctx vectors learn (gradient through the frozen CLIP), plain backward.
Each sample attends to its own prompt ("per_sample"; upstream tiles the text batch over rows,
which differs only when a batch mixes labels).

Writes tests/fixtures/train/one_step.npz (compressed, small):
  param/<name>                    initial parameters (MixSTE2 state-dict names)
  grad_<case>/<name>, new_<case>/<name>  gradients and parameters after the step (trained ones)
  x2d, target, t, noise, x_t, labels, action_tokens, pre_tokens, loss_<case>
Run: /usr/bin/python3 tools/reference/make_train_fixtures.py [--out DIR]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finepose_ref as ref  # noqa: E402


def tiny_config():
    return ref.Config(variant="h36m", depth=2, frames=5, joints=17, dim=16, heads=2, mlp_ratio=2.0,
                      text_width=16, text_vocab=60, clip_layers=1, clip_heads=2, clip_embed_dim=16,
                      encoder_layers=1, encoder_heads=2, encoder_ff=24)


def tokens(head):
    t = torch.zeros(77, dtype=torch.long)
    t[:len(head)] = torch.tensor(head)
    return t


def mpjpe(pred, target):
    return torch.mean(torch.norm(pred - target, dim=-1))


def build(cfg, seed):
    torch.manual_seed(seed)
    model = ref.MixSTE2(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape) * 0.2
            is_ln_weight = p.dim() == 1 and name.endswith("weight")
            p.copy_(r + (1.0 if is_ln_weight else 0.0))
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "train"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    cfg = tiny_config()
    cfg.check()

    g = torch.Generator().manual_seed(1)
    B = 3
    labels = [1, 0, 1]
    action_tokens = torch.stack([tokens([57, 30, 58]), tokens([57, 31, 32, 59])])
    pre_tokens = torch.stack([tokens([57, 10 + i, 58]) for i in range(6)])
    x2d = torch.randn(B, cfg.frames, cfg.joints, 2, generator=g)
    target = torch.randn(B, cfg.frames, cfg.joints, 3, generator=g) * 0.3
    target[:, :, 0] = 0  # root-relative, as main.py sets inputs_3d[:, :, 0] = 0
    t = torch.tensor([3, 480, 997])
    noise = torch.randn(B, cfg.frames, cfg.joints, 3, generator=g)

    diff = ref.FinePOSE(cfg)  # only for the float64 schedule buffers
    sa = diff.sqrt_alphas_cumprod[t].reshape(B, 1, 1, 1)
    s1 = diff.sqrt_one_minus_alphas_cumprod[t].reshape(B, 1, 1, 1)
    scale = cfg.scale
    x_t = sa * (target * scale) + s1 * noise  # float64, as upstream q_sample
    x_t = (torch.clamp(x_t, min=-1.1 * scale, max=1.1 * scale) / scale).float()

    text = action_tokens[labels]
    pre = ref.pre_text_batch(pre_tokens, B)
    out = {"x2d": x2d, "target": target, "t": t, "noise": noise, "x_t": x_t,
           "labels": torch.tensor(labels), "action_tokens": action_tokens.int(), "pre_tokens": pre_tokens.int()}

    init = build(cfg, 7)
    for name, p in init.state_dict().items():
        if name.startswith("clip_text.visual") or name in ("clip_text.text_projection", "clip_text.logit_scale"):
            continue
        out["param/" + name] = p.clone()

    for case in ("upstream", "paper"):
        model = build(cfg, 7)
        for name, p in model.named_parameters():
            frozen = name.startswith("clip_text.") or (case == "upstream" and name.startswith("ctx_"))
            p.requires_grad_(not frozen)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=6e-5, weight_decay=0.1)
        opt.zero_grad()
        pred = model(x2d, x_t[:, None], t, text, pre, text_rows="per_sample")[:, 0]
        loss = mpjpe(pred, target)
        if case == "upstream":
            loss.backward(loss.clone().detach())
        else:
            loss.backward()
        out["loss_" + case] = loss.detach().double().reshape(1)
        for name, p in model.named_parameters():
            if p.requires_grad:
                out["grad_%s/%s" % (case, name)] = p.grad.clone()
        opt.step()
        for name, p in model.named_parameters():
            if p.requires_grad:
                out["new_%s/%s" % (case, name)] = p.detach().clone()

    arrays = {k: v.detach().numpy() for k, v in out.items()}
    path = os.path.join(args.out, "one_step.npz")
    np.savez_compressed(path, **arrays)
    print("wrote", path, len(arrays), "arrays")


if __name__ == "__main__":
    main()
