#!/usr/bin/python3
"""Outputs of the OFFICIAL FinePOSE test-time metric code on a small deterministic case.

Usage:
  official_eval_outputs.py [--official GITDIR_OR_CHECKOUT] [--out tests/fixtures/eval/official_four_settings.npz]

The official code is read from a checkout or a git directory of
github.com/PKU-ICST-MIPL/FinePOSE_CVPR2024 (default: the local mirror) and
imported from a temporary directory outside this repository; none of it is
written here.  Only its inputs and outputs (data) are saved.

What is mirrored (main.py evaluate(), Human3.6M branch): inputs as float32,
inputs_traj = inputs_3d[:, :, :1], inputs_3d[:, :, 0] = 0, the clips are cut
into batches of --batch-size, the model output (B, K, H, F, 17, 3) gets its
root joint zeroed, reproject_2d = project_to_2d(prediction + trajectory, cam
repeated), and per batch:
  J-Best  mpjpe_diffusion_all_min            p_mpjpe_diffusion_all_min
  P-Best  mpjpe_diffusion                    p_mpjpe_diffusion
  P-Agg   mpjpe_diffusion_all_min(mean_pos)  p_mpjpe_diffusion_all_min(mean_pos)
  J-Agg   mpjpe_diffusion_reproj             p_mpjpe_diffusion_reproj
accumulated as evaluate() does (epoch_loss += B_batch * F * error, then
/ N * 1000, in millimetres).  The "model output" is the ground truth plus
deterministic noise that shrinks with the DDIM step (no network is needed to
test the metric reductions).

Shims (only so the official file imports on a CPU-only machine without its
optional packages): `matplotlib.pyplot.bone` (imported, unused), a minimal
`einops.rearrange` for the pure axis permutations used, Tensor.cuda = identity
(p_mpjpe_diffusion_reproj moves its errors to the GPU).

Saved arrays (metres unless the name says mm):
  cam (9,) normalised intrinsics fx fy cx cy k1 k2 k3 p1 p2 (Human3.6M camera 0)
  inputs_2d (B, F, 17, 2) normalised screen coordinates
  inputs_3d (B, F, 17, 3) root-relative target, root joint 0
  inputs_traj (B, F, 1, 3) absolute root position
  predicted (B, K, H, F, 17, 3) root joint 0
  reproject_2d (B, K, H, F, 17, 2) official project_to_2d output
  batch_size () clips per evaluation batch
  official_{p1,p2}_{j_best,p_best,p_agg,j_agg} (num_batches, K) per-batch outputs, metres
  evaluate_mm_{p1,p2}_{...} (K,) the evaluate() totals, millimetres
"""
import argparse
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OFFICIAL = "/work/.mirror/PKU-ICST-MIPL+FinePOSE_CVPR2024/repo"
SETTINGS = ["j_best", "p_best", "p_agg", "j_agg"]


def read_source(root, path):
    if os.path.isfile(os.path.join(root, path)):
        with open(os.path.join(root, path)) as f:
            return f.read()
    return subprocess.check_output(["git", "-C", root, "show", "HEAD:" + path]).decode()


def install_shims():
    if "matplotlib" not in sys.modules:
        try:
            import matplotlib.pyplot  # noqa: F401
        except ImportError:
            mpl = types.ModuleType("matplotlib")
            plt = types.ModuleType("matplotlib.pyplot")
            plt.bone = lambda *a, **k: None
            mpl.pyplot = plt
            sys.modules["matplotlib"] = mpl
            sys.modules["matplotlib.pyplot"] = plt
    try:
        import einops  # noqa: F401
    except ImportError:
        ein = types.ModuleType("einops")

        def rearrange(x, pattern):
            # Only pure permutations of named axes ("b t h f n -> t h b f n").
            lhs, rhs = [s.split() for s in pattern.split("->")]
            assert sorted(lhs) == sorted(rhs) and len(lhs) == x.dim(), pattern
            return x.permute([lhs.index(a) for a in rhs])

        ein.rearrange = rearrange
        sys.modules["einops"] = ein
    torch.Tensor.cuda = lambda self, *a, **k: self


def import_official(official, tmp):
    pkg = os.path.join(tmp, "common")
    os.makedirs(pkg)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    for name in ["loss", "camera", "utils", "quaternion"]:
        with open(os.path.join(pkg, name + ".py"), "w") as f:
            f.write(read_source(official, "common/%s.py" % name))
    sys.path.insert(0, tmp)
    import common.loss as loss
    import common.camera as camera
    return loss, camera


def h36m_cam0_normalised():
    # Public Human3.6M calibration of camera 54138969, normalised as h36m_dataset.py does.
    w, h = 1000, 1002
    c = np.array([512.54150390625, 515.4514770507812], dtype="float32")
    f = np.array([1145.0494384765625, 1143.7811279296875], dtype="float32")
    k = np.array([-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043], dtype="float32")
    p = np.array([-0.0009756988729350269, -0.00142447161488235], dtype="float32")
    c = (c / w * 2 - [1, h / w]).astype("float32")
    f = f / w * 2
    return np.concatenate((f, c, k, p)).astype("float32")


def make_case(B, K, H, F, J, seed):
    rng = np.random.default_rng(seed)
    # batch_3d as the generator yields it: root joint absolute (camera frame,
    # metres), the other joints relative to it.
    root = np.stack([rng.uniform(-0.4, 0.4, B), rng.uniform(-0.3, 0.3, B), rng.uniform(4.0, 6.0, B)], -1)
    root = root[:, None, :] + 0.02 * np.cumsum(rng.normal(size=(B, F, 3)), axis=1)
    rel = rng.normal(scale=0.25, size=(B, 1, J, 3)) + 0.01 * rng.normal(size=(B, F, J, 3))
    batch_3d = rel.copy()
    batch_3d[:, :, 0] = root
    cam = h36m_cam0_normalised()
    return rng, batch_3d, cam


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", default=DEFAULT_OFFICIAL)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/fixtures/eval/official_four_settings.npz"))
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--hypotheses", type=int, default=4)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    B, K, H, F, J = args.clips, args.steps, args.hypotheses, args.frames, 17

    install_shims()
    with tempfile.TemporaryDirectory(prefix="finepose_official_eval_") as tmp:
        assert not os.path.abspath(tmp).startswith(ROOT + os.sep)
        L, C = import_official(args.official, tmp)

        rng, batch_3d, cam_np = make_case(B, K, H, F, J, args.seed)
        inputs_3d = torch.from_numpy(batch_3d.astype("float32"))
        cam = torch.from_numpy(cam_np[None, :].astype("float32"))
        # 2D input: projection of the true absolute pose plus detector noise.
        abs_true = inputs_3d.clone()
        abs_true[:, :, 1:] += abs_true[:, :, :1]
        kp = C.project_to_2d(abs_true.reshape(B * F, J, 3), cam.repeat(B * F, 1)).reshape(B, F, J, 2)
        inputs_2d = (kp + torch.from_numpy(rng.normal(scale=0.004, size=(B, F, J, 2)).astype("float32"))).float()

        # evaluate(): trajectory split off, root zeroed.
        inputs_traj = inputs_3d[:, :, :1].clone()
        inputs_3d[:, :, 0] = 0

        # "Model output": truth + per-step noise (coarse to fine), root zeroed.
        sigma = np.linspace(0.08, 0.03, K)[None, :, None, None, None, None]
        noise = rng.normal(size=(B, K, H, F, J, 3)) * sigma
        noise += 0.02 * rng.normal(size=(B, K, H, 1, 1, 3))  # per-hypothesis offsets make P-Best non-trivial
        predicted = (inputs_3d.numpy()[:, None, None] + noise).astype("float32")
        predicted = torch.from_numpy(predicted)
        predicted[:, :, :, :, 0] = 0

        bs = args.batch_size
        nb = (B + bs - 1) // bs
        p1 = {s: torch.zeros(K) for s in SETTINGS}
        p2 = {s: torch.zeros(K) for s in SETTINGS}
        per_batch = {("p%d_" % p) + s: [] for p in (1, 2) for s in SETTINGS}
        reproj_all = []
        N = 0
        min_gap_2d = np.inf
        for bc in range(nb):
            sl = slice(bc * bs, min(B, (bc + 1) * bs))
            pred_s, in3_s, traj_s, in2_s = predicted[sl], inputs_3d[sl], inputs_traj[sl], inputs_2d[sl]
            b_sz, t_sz, h_sz, f_sz, j_sz, c_sz = pred_s.shape
            traj_all = traj_s.unsqueeze(1).unsqueeze(1).repeat(1, t_sz, h_sz, 1, 1, 1)
            abs_s = (pred_s + traj_all).reshape(b_sz * t_sz * h_sz * f_sz, j_sz, c_sz)
            reproj = C.project_to_2d(abs_s, cam.repeat(b_sz * t_sz * h_sz * f_sz, 1))
            reproj = reproj.reshape(b_sz, t_sz, h_sz, f_sz, j_sz, 2)
            reproj_all.append(reproj)

            out = {
                "p1_j_best": L.mpjpe_diffusion_all_min(pred_s, in3_s),
                "p1_p_best": L.mpjpe_diffusion(pred_s, in3_s),
                "p1_p_agg": L.mpjpe_diffusion_all_min(pred_s, in3_s, mean_pos=True),
                "p1_j_agg": L.mpjpe_diffusion_reproj(pred_s, in3_s, reproj, in2_s),
                "p2_j_best": L.p_mpjpe_diffusion_all_min(pred_s, in3_s),
                "p2_p_best": L.p_mpjpe_diffusion(pred_s, in3_s),
                "p2_p_agg": L.p_mpjpe_diffusion_all_min(pred_s, in3_s, mean_pos=True),
                "p2_j_agg": L.p_mpjpe_diffusion_reproj(pred_s, in3_s, reproj, in2_s),
            }
            w = in3_s.shape[0] * in3_s.shape[1]
            for s in SETTINGS:
                p1[s] += w * out["p1_" + s].clone()
                p2[s] += w * torch.from_numpy(np.asarray(out["p2_" + s]))
            for k, v in out.items():
                per_batch[k].append(np.asarray(torch.as_tensor(v), dtype=np.float64))
            N += w

            # Selection margins: the 2D choice (non-root joints) must not hinge
            # on float32 vs double rounding.
            e2d = torch.norm(reproj.double() - in2_s.double()[:, None, None], dim=-1)[..., 1:]
            srt = torch.sort(e2d, dim=2).values
            min_gap_2d = min(min_gap_2d, float((srt[:, :, 1] - srt[:, :, 0]).min()))

        arrays = {
            "cam": cam_np,
            "inputs_2d": inputs_2d.numpy(),
            "inputs_3d": inputs_3d.numpy(),
            "inputs_traj": inputs_traj.numpy(),
            "predicted": predicted.numpy(),
            "reproject_2d": torch.cat(reproj_all, 0).numpy(),
            "batch_size": np.array(bs, dtype=np.int64),
        }
        for k, v in per_batch.items():
            arrays["official_" + k] = np.stack(v, 0)
        for s in SETTINGS:
            arrays["evaluate_mm_p1_" + s] = ((p1[s] / N) * 1000).numpy().astype(np.float64)
            arrays["evaluate_mm_p2_" + s] = ((p2[s] / N) * 1000).numpy().astype(np.float64)

    if min_gap_2d < 1e-5:
        sys.exit("selection margin %.3g too small; choose another --seed" % min_gap_2d)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print("wrote %s (%d bytes); smallest J-Agg 2D margin %.3g" % (args.out, os.path.getsize(args.out), min_gap_2d))
    for s in SETTINGS:
        print("%-7s P1 %s mm   P2 %s mm" % (s, np.round(arrays["evaluate_mm_p1_" + s], 4),
                                          np.round(arrays["evaluate_mm_p2_" + s], 4)))


if __name__ == "__main__":
    main()
