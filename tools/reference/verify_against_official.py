#!/usr/bin/python3
"""Check finepose_ref.py against the OFFICIAL FinePOSE code (dev tool, not run in CI).

Usage:
  verify_against_official.py OFFICIAL [--clip CLIP] [--work DIR] [--depth 2] [--frames 9]
                             [--batch 2] [--hypotheses 2] [--steps 3] [--variant h36m|3dhp|both]

OFFICIAL is a checkout of github.com/PKU-ICST-MIPL/FinePOSE_CVPR2024, or a git directory of
one (files are then read with `git show HEAD:...`).  CLIP is a checkout / git directory of
github.com/openai/CLIP (its clip/model.py builds the real CLIP module).  Needs torch, numpy
and einops (if einops is missing a small stand-in for the rearrange patterns is used).

What it does, all in a temporary directory (nothing is written into this repository):
copies the official common/{mixste_finepose,finepose}[_3dhp].py and CLIP's model.py there,
adds stand-in modules for `clip` (load() builds model.CLIP for ViT-B/32 with random weights,
float32, CPU) and `timm` (only the names the official file imports), builds the official
FinePOSE (eval) and our reference with the same config (cs 512, 8 heads, full CLIP text tower,
ViT-B/32-shaped image tower so the state dicts are identical), randomises every parameter of
the reference, loads that state dict into the official model with strict=True (and checks key
order and dtypes), replaces torch.randn / randn_like / Tensor.cuda so the official samplers
replay our noise on CPU, and compares: xf_proj, xf_out, one denoiser call, ddim_sample_flip
(K steps) and ddim_sample (K steps, with the official crash fixed: self.device = cpu and
pred_noise.float()).  Also the mixed-label case, where upstream tiles the text batch over
attention rows: the reference's "tile" mode must equal upstream.  --fixture DIR/d2 (cs-512
presets) additionally loads a written fixture checkpoint into the official model and compares
its outputs with the fixture's _expected.npz.

Result (torch 1.13 CPU, depth 2, 9 frames, B=2, H=2, K=3; fixtures d2 and d8): every compared
output is bitwise identical (relative difference 0) for both variants and both fixtures; a 1e-2
change of one element of a parameter in any branch changes ddim_sample_flip by 3e-6 .. 6e-4.
Takes about 2 minutes of CPU per variant (the official model builds a full ViT-B/32 CLIP).
"""
import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import finepose_ref as ref  # noqa: E402
from make_parity_fixtures import randomise_parameters, make_keypoints_2d, tokens_for  # noqa: E402


def read_source(root, path):
    if os.path.isfile(os.path.join(root, path)):
        with open(os.path.join(root, path)) as f:
            return f.read()
    return subprocess.check_output(["git", "--git-dir", root, "show", "HEAD:" + path]).decode()


EINOPS_STANDIN = '''
import re
def _groups(side):
    return [g.split() if g.startswith("(") is False else g[1:-1].split()
            for g in re.findall(r"\\([^)]*\\)|\\S+", side)]
def rearrange(x, pattern, **sizes):
    lhs, rhs = [s.strip() for s in pattern.split("->")]
    lg, rg = _groups(lhs), _groups(rhs)
    known = dict(sizes)
    for g, dim in zip(lg, x.shape):
        unknown = [a for a in g if a not in known]
        prod = 1
        for a in g:
            if a in known: prod *= known[a]
        if unknown: known[unknown[0]] = dim // prod
    axes = [a for g in lg for a in g]
    x = x.reshape([known[a] for a in axes])
    order = [axes.index(a) for g in rg for a in g]
    x = x.permute(order)
    shape = []
    for g in rg:
        p = 1
        for a in g: p *= known[a]
        shape.append(p)
    return x.reshape(shape)
def repeat(*a, **k):
    raise NotImplementedError
'''

TIMM_STUB = {
    "timm/__init__.py": "",
    "timm/data/__init__.py": "IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)\nIMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)\n",
    "timm/models/__init__.py": "",
    "timm/models/helpers.py": "def load_pretrained(*a, **k):\n    raise NotImplementedError\n",
    "timm/models/registry.py": "def register_model(fn):\n    return fn\n",
    "timm/models/layers.py": (
        "import torch.nn as nn\n"
        "class DropPath(nn.Module):\n"
        "    def __init__(self, p=0.):\n        super().__init__(); self.p = p\n"
        "    def forward(self, x):\n        assert not self.training\n        return x\n"
        "def to_2tuple(x):\n    return (x, x)\n"
        "def trunc_normal_(t, std=1.):\n    return nn.init.trunc_normal_(t, std=std)\n"),
}

CLIP_STUB = '''
import torch
from .model import CLIP
def load(name, device="cpu", jit=False):
    assert name == "ViT-B/32"
    model = CLIP(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768,
                 vision_patch_size=32, context_length=77, vocab_size=49408,
                 transformer_width=512, transformer_heads=8, transformer_layers=12)
    return model.float().eval(), None
'''


def build_sandbox(official, clip_root, work):
    files = {}
    for name in ["mixste_finepose", "finepose", "mixste_finepose_3dhp", "finepose_3dhp"]:
        files["common/%s.py" % name] = read_source(official, "common/%s.py" % name)
    files["common/__init__.py"] = ""
    files["clip/__init__.py"] = CLIP_STUB
    files["clip/model.py"] = read_source(clip_root, "clip/model.py")
    files.update(TIMM_STUB)
    try:
        import einops  # noqa: F401
    except ImportError:
        files["einops/__init__.py"] = EINOPS_STANDIN
    for rel, text in files.items():
        path = os.path.join(work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    sys.path.insert(0, work)


@contextlib.contextmanager
def replay_noise(noise_init, noise_steps):
    """Official samplers call torch.randn once, then torch.randn_like once per step."""
    steps = list(noise_steps)
    saved = torch.randn, torch.randn_like, torch.Tensor.cuda
    torch.randn = lambda *a, **k: noise_init.clone()
    torch.randn_like = lambda x, **k: steps.pop(0).clone().to(x.dtype)
    torch.Tensor.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.randn, torch.randn_like, torch.Tensor.cuda = saved
        assert not steps, "noise not fully consumed"


def rel_err(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-30)).item()


def verify(variant, args, report):
    is3 = variant == "3dhp"
    if is3:
        import common.finepose_3dhp as off_fp
    else:
        import common.finepose as off_fp
    torch.manual_seed(0)
    off_args = types.SimpleNamespace(number_of_frames=args.frames, test_time_augmentation=True,
                                     timestep=1000, scale=1.0, cs=512, dep=args.depth)
    cfg = ref.Config(variant=variant, depth=args.depth, frames=args.frames,
                     visual_width=768, visual_layers=12, visual_heads=12, visual_patch=32,
                     visual_resolution=224)
    left, right = cfg.joints_left, cfg.joints_right
    official = off_fp.FinePOSE(off_args, left, right, is_train=False, num_proposals=args.hypotheses,
                               sampling_timesteps=args.steps).eval()
    mine = ref.FinePOSE(cfg).eval()
    randomise_parameters(mine, seed=1234)
    sd = mine.state_dict()
    osd = official.state_dict()
    assert list(sd.keys()) == list(osd.keys()), "key order differs"
    for k in sd:
        assert sd[k].shape == osd[k].shape and sd[k].dtype == osd[k].dtype, k
    official.load_state_dict(sd, strict=True)
    report.append("%s: state dict: %d keys, names/order/shapes/dtypes identical, strict load ok"
                  % (variant, len(sd)))

    B, H, K, Fr = args.batch, args.hypotheses, args.steps, args.frames
    rng = np.random.RandomState(5)
    x2d = torch.from_numpy(make_keypoints_2d(rng, B, Fr))
    noise_init = torch.from_numpy(rng.standard_normal((B, H, Fr, 17, 3)).astype(np.float32))
    noise_steps = torch.from_numpy(rng.standard_normal((K - 1, B, H, Fr, 17, 3)).astype(np.float32))
    pre = ref.pre_text_batch(torch.tensor([tokens_for(t) for t in ref.PRE_TEXTS]), B)
    same = torch.tensor([tokens_for("Walking")] * B)
    mixed = torch.tensor([tokens_for(a) for a in (["SittingDown", "Walking", "Eating"] * B)[:B]])
    den_x3d = torch.clamp(noise_init, -1.1, 1.1)
    den_t = torch.tensor([999, 17, 500, 250][:B] + [3] * max(0, B - 4), dtype=torch.long)

    pe_o, pe_m = official.pose_estimator, mine.pose_estimator
    with torch.no_grad():
        for label, text in [("same label", same), ("mixed labels", mixed)]:
            if is3 and label == "mixed labels":
                continue
            t_arg = None if is3 else text
            if is3:
                o = pe_o.encode_text(pre, B)
            else:
                o = pe_o.encode_text(text, pre)
            m = pe_m.encode_text(t_arg, pre)
            report.append("%s %s: xf_proj rel %.2e, xf_out rel %.2e"
                          % (variant, label, rel_err(m[0], o[0]), rel_err(m[1], o[1])))
            o_args = (x2d, den_x3d, den_t, pre) if is3 else (x2d, den_x3d, den_t, text, pre)
            o = pe_o(*o_args)
            m = pe_m(x2d, den_x3d, den_t, t_arg, pre, "tile")
            report.append("%s %s: denoiser (upstream tiling) rel %.2e, max|out| %.3f"
                          % (variant, label, rel_err(m, o), o.abs().max().item()))
            if label == "mixed labels":
                m2 = pe_m(x2d, den_x3d, den_t, t_arg, pre, "per_sample")
                report.append("%s %s: per_sample vs upstream tiling differ by rel %.2e (expected > 0)"
                              % (variant, label, rel_err(m2, o)))

        text = None if is3 else same
        # Official samplers (2D flip built as main.py does; released ddim_sample fixed).
        o_plain, o_flip = official_samplers(official, is3, x2d, text, pre, noise_init, noise_steps)
        for flip, o in [(True, o_flip), (False, o_plain)]:
            m = mine.ddim_sample(x2d, text, pre, noise_init, noise_steps, flip=flip)
            report.append("%s: %s K=%d rel %.2e (max |diff| %.2e, max|x| %.3f, dtype %s)"
                          % (variant, "ddim_sample_flip" if flip else "ddim_sample (fixed)", K,
                             rel_err(m, o), (m.double() - o.double()).abs().max().item(),
                             o.abs().max().item(), o.dtype))

        # Negative control: the comparison must see a tiny change in any branch.
        for pname in ["pose_estimator.clip_text.transformer.resblocks.11.mlp.c_fc.bias",
                      "pose_estimator.ctx_leg", "pose_estimator.textTransEncoder.layers.3.linear2.bias",
                      "pose_estimator.temporal_cross_attn.proj_out.out_layers.2.bias",
                      "pose_estimator.TTEblocks.%d.mlp.fc2.bias" % (args.depth - 1)]:
            param = dict(mine.named_parameters())[pname]
            param.view(-1)[0] += 1e-2   # one element: a uniform shift would vanish in LayerNorm
            m = mine.ddim_sample(x2d, text, pre, noise_init, noise_steps, flip=True)
            param.view(-1)[0] -= 1e-2
            report.append("%s: control: %s[0] += 1e-2 changes ddim_sample_flip by rel %.2e"
                          % (variant, pname, rel_err(m, o_flip)))


def official_samplers(official, is3, x2d, text, pre, noise_init, noise_steps):
    """Run the official ddim_sample_flip and (fixed) ddim_sample on replayed noise."""
    from collections import namedtuple
    left, right = official.joints_left, official.joints_right
    x2d_flip = x2d.clone()            # as main.py builds it
    x2d_flip[:, :, :, 0] *= -1
    x2d_flip[:, :, left + right, :] = x2d_flip[:, :, right + left, :]
    o_text = () if is3 else (text,)
    with torch.no_grad():
        with replay_noise(noise_init, noise_steps):
            flip = official.ddim_sample_flip(x2d, None, *o_text, pre, input_2d_flip=x2d_flip)
        official.device = torch.device("cpu")
        Pred = namedtuple("ModelPrediction", ["pred_noise", "pred_x_start"])
        raw = type(official).model_predictions.__get__(official)
        official.model_predictions = lambda *a: (lambda p: Pred(p.pred_noise.float(), p.pred_x_start))(raw(*a))
        with replay_noise(noise_init, noise_steps):
            plain = official.ddim_sample(x2d, None, *o_text, pre)
        plain = torch.stack(plain[:noise_steps.shape[0] + 1], dim=1)
        if is3:
            plain = plain * 1000
    return plain, flip


def verify_fixture(prefix, report):
    """Load a written fixture (cs 512 presets: d2, d8) into the official model and compare."""
    import json
    with open(prefix + ".json") as f:
        meta = json.load(f)
    c = meta["config"]
    is3 = c["variant"] == "3dhp"
    assert c["dim"] == 512 and c["text_width"] == 512 and c["heads"] == 8, "official code is cs 512 only"
    if is3:
        import common.finepose_3dhp as off_fp
    else:
        import common.finepose as off_fp
    off_args = types.SimpleNamespace(number_of_frames=c["frames"], test_time_augmentation=True,
                                     timestep=1000, scale=c["scale"], cs=512, dep=c["depth"])
    flip = meta["flip"]
    official = off_fp.FinePOSE(off_args, flip["joints_left"], flip["joints_right"], is_train=False,
                               num_proposals=meta["hypotheses"], sampling_timesteps=meta["steps"]).eval()
    ckpt = torch.load(prefix + ".bin", map_location="cpu")
    sd = {k[len("module."):]: v for k, v in ckpt["model_pos"].items()}
    # Our fixtures carry a tiny stand-in image tower (unused); take the official one's tensors.
    osd = official.state_dict()
    vis = "pose_estimator.clip_text.visual."
    sd = {k: v for k, v in sd.items() if not k.startswith(vis)}
    sd.update({k: v for k, v in osd.items() if k.startswith(vis)})
    official.load_state_dict(sd, strict=True)
    inp = np.load(prefix + "_input.npz")
    noise = np.load(prefix + "_noise.npz")
    exp = np.load(prefix + "_expected.npz")
    x2d = torch.from_numpy(inp["keypoints_2d"])
    B = x2d.shape[0]
    pre = torch.from_numpy(exp["pre_text_tokens"]).unsqueeze(0).repeat(B, 1, 1)
    text = None if is3 else torch.from_numpy(exp["text_tokens"])
    pe = official.pose_estimator
    with torch.no_grad():
        xf_proj, xf_out = pe.encode_text(pre, B) if is3 else pe.encode_text(text, pre)
        args = (x2d, torch.from_numpy(exp["den_x3d"]), torch.from_numpy(exp["den_t"]))
        den = pe(*args, pre) if is3 else pe(*args, text, pre)
    plain, flipped = official_samplers(official, is3, x2d, text, pre, torch.from_numpy(noise["noise_init"]),
                                       torch.from_numpy(noise["noise_steps"]))
    for name, value in [("xf_proj", xf_proj), ("xf_out", xf_out), ("den_out", den),
                        ("poses_3d", plain), ("poses_3d_flip", flipped)]:
        report.append("fixture %s: %-13s official vs file rel %.2e"
                      % (os.path.basename(prefix), name, rel_err(torch.from_numpy(exp[name]), value)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("official")
    p.add_argument("--clip", default="/work/.mirror/openai+CLIP/repo")
    p.add_argument("--work", default=None)
    p.add_argument("--variant", default="both", choices=["h36m", "3dhp", "both", "none"])
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--hypotheses", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--fixture", action="append", default=[],
                   help="also check written fixture files DIR/PRESET (cs-512 presets d2, d8)")
    args = p.parse_args()
    torch.set_num_threads(2)
    work = args.work or tempfile.mkdtemp(prefix="finepose_official_")
    build_sandbox(args.official, args.clip, work)
    report = []
    for variant in {"both": ["h36m", "3dhp"], "none": []}.get(args.variant, [args.variant]):
        verify(variant, args, report)
        print("\n".join(report))
        report.clear()
    for prefix in args.fixture:
        verify_fixture(prefix, report)
        print("\n".join(report))
        report.clear()


if __name__ == "__main__":
    main()
