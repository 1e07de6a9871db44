#!/usr/bin/python3
"""Side-by-side CPU timing: PyTorch (the reference model, tools/reference/finepose_ref.py),
ONNX Runtime (the same model exported with torch.onnx, opset 14, static shapes) and
finepose (`finepose bench --json`), in one run, with the same thread count.

  /usr/bin/python3 tools/compare_torch_ort.py --finepose build/bin/finepose \
      --depth 8 --frames 243 --hypotheses 1 --steps 10 [--flip] --threads 2 \
      [--ort-path DIR] [--no-torch-sampling] [--json-out FILE]

Measured, all with random weights (timing does not depend on their values):
  denoiser  one denoiser call at batch B (2B with --flip: the mirrored copy in the same batch),
            median of --repeats. PyTorch and ONNX Runtime run the official forward, which encodes
            the text every call; finepose caches it per label (its text_s is printed apart).
  sampling  a full DDIM run of --steps steps, H hypotheses, flip. PyTorch: the reference
            sampler exactly as upstream (two denoiser calls per step with flip). ONNX Runtime: a
            numpy DDIM loop around the exported graph with the flipped copy in the same batch.
  gemm      torch.mm 2048^3 fp32 (OpenBLAS through Debian's torch) and finepose's own GEMM.

Reduced precision (issue 20): --precisions fp32,bf16,int8 runs `finepose bench --precision P`
once per precision, and --ort-int8 adds ONNX Runtime's int8 dynamic quantization
(onnxruntime.quantization.quantize_dynamic with its defaults: QInt8 weights, per-tensor scales,
every MatMul/Gemm/Gather it supports, the text tower's included; --ort-per-channel for per-channel
weight scales). Every side runs the same weights: the PyTorch model's are saved as an official
checkpoint and `finepose bench --model` loads it. Errors are rel L2 of the denoiser output against
the same side's fp32 output (ONNX Runtime int8 against PyTorch fp32 on the same input; finepose
against its own fp32 call on its own input of the same distribution: N(0,1) 2D and 3D, t=500).
onnx, ml_dtypes (0.5.1 runs on Debian's numpy 1.24) and protobuf come from PyPI beside onnxruntime.
Before timing, ONNX Runtime's output is compared with PyTorch's on the same input (rel L2);
finepose's parity with PyTorch is what tests/test_parity.cpp checks.

Needs Debian's python3-torch with libopenblas0-pthread installed (Debian's default reference
BLAS is ~30x slower), and onnxruntime from PyPI, e.g.
  /usr/bin/python3 -m pip install --target build/pydeps --no-deps onnxruntime
then --ort-path build/pydeps (or PYTHONPATH).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def timed(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return median(ts)


def rel_l2(a, b):
    import numpy as np
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finepose", default="", help="path of the finepose binary (skipped when empty)")
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--frames", type=int, default=243)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--hypotheses", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10, help="DDIM steps of the sampling run (0: skip sampling)")
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gemm", type=int, default=2048)
    ap.add_argument("--ort-path", default="", help="directory holding the onnxruntime package")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch timings (ORT export still uses torch)")
    ap.add_argument("--no-torch-sampling", action="store_true", help="skip the (slow) PyTorch sampling run")
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--precisions", default="fp32", help="finepose precisions to run, comma-separated (fp32,bf16,int8)")
    ap.add_argument("--ort-int8", action="store_true", help="also ONNX Runtime int8 (quantize_dynamic)")
    ap.add_argument("--ort-per-channel", action="store_true", help="quantize_dynamic with per_channel=True")
    ap.add_argument("--json-out", default="")
    args = ap.parse_args()
    if args.ort_path:
        sys.path.insert(0, os.path.abspath(args.ort_path))

    # threads first: OpenMP/OpenBLAS read them at start-up
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch
    import finepose_ref as ref
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    B, H, K, T = args.batch, args.hypotheses, args.steps, args.threads
    NB = 2 * B if args.flip else B
    cfg = ref.Config(variant="h36m", depth=args.depth, frames=args.frames)
    model = ref.FinePOSE(cfg).eval()
    with torch.no_grad():  # plausible scales: LayerNorm weights near 1, the rest N(0, 0.02^2)
        for name, p in model.named_parameters():
            if p.dim() == 1 and name.endswith("weight"):
                p.copy_(1 + 0.02 * torch.randn_like(p))
            else:
                p.copy_(0.02 * torch.randn_like(p))
    net = model.pose_estimator
    J = cfg.joints

    def tokens(n):  # CLIP-like ids: start, three words, end, zero padding
        t = torch.zeros(n, 77, dtype=torch.long)
        t[:, 0] = 49406
        t[:, 1:4] = torch.randint(300, 40000, (n, 3))
        t[:, 4] = 49407
        return t

    text = tokens(NB)
    pre_text = ref.pre_text_batch(tokens(6), NB)
    x2d = torch.randn(NB, args.frames, J, 2)
    x3d = torch.randn(NB, H, args.frames, J, 3)
    t = torch.full((NB,), 500, dtype=torch.long)

    res = dict(depth=args.depth, frames=args.frames, batch=B, hypotheses=H, steps=K, flip=args.flip, threads=T,
               torch_version=torch.__version__)
    print(f"# depth {args.depth}, {args.frames} frames, batch {B}{' + flipped copy' if args.flip else ''}, "
          f"H={H}, K={K}, {T} threads", flush=True)

    # ---- GEMM peak (OpenBLAS via torch)
    if args.gemm > 0:
        n = args.gemm
        a, b = torch.randn(n, n), torch.randn(n, n)
        s = timed(lambda: torch.mm(a, b), 5)
        res["torch_gemm_gflops"] = 2 * n ** 3 / s / 1e9
        print(f"torch.mm {n}^3: {res['torch_gemm_gflops']:.1f} GFLOP/s", flush=True)

    # ---- PyTorch denoiser
    with torch.no_grad():
        ref_out = net(x2d, x3d, t, text, pre_text).numpy()
        if not args.no_torch:
            res["torch_denoiser_s"] = timed(lambda: net(x2d, x3d, t, text, pre_text), args.repeats)
            print(f"torch denoiser: {res['torch_denoiser_s']:.3f} s", flush=True)

    # ---- ONNX Runtime: export, check, time
    sess = None
    if not args.no_ort:
        import onnxruntime as ort
        res["ort_version"] = ort.__version__
        tmp = tempfile.mkdtemp(prefix="finepose_ort_")
        path = os.path.join(tmp, "denoiser.onnx")
        with torch.no_grad():
            torch.onnx.export(net, (x2d, x3d, t, text, pre_text), path, opset_version=14,
                              input_names=["x2d", "x3d", "t", "text", "pre_text"], output_names=["x0"],
                              do_constant_folding=True)
        so = ort.SessionOptions()
        so.intra_op_num_threads = T
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        feed_all = dict(x2d=x2d.numpy(), x3d=x3d.numpy(), t=t.numpy(), text=text.numpy(), pre_text=pre_text.numpy())
        feed = {k: feed_all[k] for k in names}  # constant inputs may be folded away
        ort_out = sess.run(None, feed)[0]
        res["ort_vs_torch_rel_l2"] = rel_l2(ort_out, ref_out)
        print(f"ONNX Runtime {ort.__version__} vs torch: rel L2 {res['ort_vs_torch_rel_l2']:.2e}", flush=True)
        if res["ort_vs_torch_rel_l2"] > 1e-4:
            print("warning: ONNX Runtime does not compute the same function; its timings do not count")
        res["ort_denoiser_s"] = timed(lambda: sess.run(None, feed), args.repeats)
        print(f"ORT denoiser: {res['ort_denoiser_s']:.3f} s", flush=True)
        if args.ort_int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic
            qpath = os.path.join(tmp, "denoiser_int8.onnx")
            quantize_dynamic(path, qpath, weight_type=QuantType.QInt8, per_channel=args.ort_per_channel)
            sess_q = ort.InferenceSession(qpath, so, providers=["CPUExecutionProvider"])
            names_q = [i.name for i in sess_q.get_inputs()]
            feed_q = {k: feed_all[k] for k in names_q}
            res["ort_int8_vs_torch_rel_l2"] = rel_l2(sess_q.run(None, feed_q)[0], ref_out)
            res["ort_int8_per_channel"] = args.ort_per_channel
            res["ort_int8_denoiser_s"] = timed(lambda: sess_q.run(None, feed_q), args.repeats)
            print(f"ORT int8 denoiser: {res['ort_int8_denoiser_s']:.3f} s, rel L2 vs torch fp32 "
                  f"{res['ort_int8_vs_torch_rel_l2']:.2e}", flush=True)

    # ---- sampling
    if K > 0:
        x2d_clip = torch.randn(B, args.frames, J, 2)
        noise_init = torch.randn(B, H, args.frames, J, 3)
        noise_steps = torch.randn(K - 1, B, H, args.frames, J, 3)
        text_b, pre_b = text[:B], pre_text[:B]
        if not args.no_torch and not args.no_torch_sampling:
            with torch.no_grad():
                t0 = time.perf_counter()
                model.ddim_sample(x2d_clip, text_b, pre_b, noise_init, noise_steps, args.flip)
                res["torch_sampling_s"] = time.perf_counter() - t0
            print(f"torch sampling: {res['torch_sampling_s']:.2f} s", flush=True)
        if sess is not None:
            res["ort_sampling_s"] = ort_sampling(model, sess, names, x2d_clip, text_b, pre_b, noise_init, noise_steps,
                                                 args.flip)
            print(f"ORT sampling: {res['ort_sampling_s']:.2f} s", flush=True)
            if args.ort_int8:
                res["ort_int8_sampling_s"] = ort_sampling(model, sess_q, names_q, x2d_clip, text_b, pre_b, noise_init,
                                                          noise_steps, args.flip)
                print(f"ORT int8 sampling: {res['ort_int8_sampling_s']:.2f} s", flush=True)

    # ---- finepose
    if args.finepose:
        # the PyTorch model's weights as an official checkpoint, so that every side runs one model
        ckdir = tempfile.mkdtemp(prefix="finepose_ck_")
        ck = os.path.join(ckdir, "model.bin")
        torch.save({"model_pos": {"module." + k: v.detach().contiguous() for k, v in model.state_dict().items()}}, ck)
        for prec in [p.strip() for p in args.precisions.split(",") if p.strip()]:
            cmd = [args.finepose, "bench", "--model", ck, "--batch", str(B), "--hypotheses", str(H), "--steps", str(K),
                   "--threads", str(T), "--repeats", str(args.repeats), "--gemm", str(args.gemm),
                   "--precision", prec, "--json"] + (["--flip"] if args.flip else [])
            print("$ " + " ".join(cmd), flush=True)
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            ours = json.loads(out.strip().splitlines()[-1])
            if (ours["depth"], ours["frames"]) != (args.depth, args.frames):
                raise SystemExit(f"finepose read depth {ours['depth']}, {ours['frames']} frames from the checkpoint")
            side = "finepose" if prec == "fp32" else "finepose_" + prec
            res[side] = ours
            res[side + "_denoiser_s"] = ours["denoiser_s"]
            res[side + "_sampling_s"] = ours["sampling_s"]
            print(f"{side}: denoiser {ours['denoiser_s']:.3f} s, sampling {ours['sampling_s']:.2f} s, "
                  f"rel L2 vs fp32 {ours['denoiser_rel_l2_vs_fp32']:.2e}", flush=True)
        os.remove(ck)
        os.rmdir(ckdir)

    report(res, cfg, NB, H)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=1)


def ort_sampling(model, sess, names, x2d, text, pre_text, noise_init, noise_steps, flip):
    """DDIM as the reference sampler does it, around the ONNX graph; with flip the mirrored copy
    rides in the same batch (one call per step)."""
    import numpy as np
    import torch
    import finepose_ref as ref
    cfg = model.cfg
    left, right = cfg.joints_left, cfg.joints_right
    K = noise_steps.shape[0] + 1
    times = ref.ddim_times(cfg.timesteps, K)
    B = x2d.shape[0]
    lim = 1.1 * model.scale
    ac = model.alphas_cumprod.numpy()
    sra, srm1 = model.sqrt_recip_alphas_cumprod.numpy(), model.sqrt_recipm1_alphas_cumprod.numpy()

    def mirror(a):
        return ref.mirror_pose(torch.from_numpy(a), left, right).numpy()

    x2 = x2d.numpy()
    if flip:
        x2 = np.concatenate([x2, mirror(x2)])
        text = torch.cat([text, text])
        pre_text = torch.cat([pre_text, pre_text])
    img = noise_init.numpy().copy()
    t0 = time.perf_counter()
    for i, (tm, tn) in enumerate(zip(times[:-1], times[1:])):
        xt = np.clip(img, -lim, lim) / model.scale
        if flip:
            xt = np.concatenate([xt, mirror(xt)])
        feed_all = dict(x2d=x2, x3d=xt.astype(np.float32), t=np.full((x2.shape[0],), tm, dtype=np.int64),
                        text=text.numpy(), pre_text=pre_text.numpy())
        x0 = sess.run(None, {k: feed_all[k] for k in names})[0]
        if flip:
            x0 = (x0[:B] + mirror(x0[B:])) / 2
        x0 = np.clip(x0 * model.scale, -lim, lim)
        eps = ((sra[tm] * img.astype(np.float64) - x0) / srm1[tm]).astype(np.float32)
        if tn < 0:
            img = x0
            continue
        a, an = ac[tm], ac[tn]
        sigma = np.sqrt((1 - a / an) * (1 - an) / (1 - a))
        c = np.sqrt(1 - an - sigma ** 2)
        img = (x0 * np.float32(np.sqrt(an)) + np.float32(c) * eps + np.float32(sigma) * noise_steps[i].numpy())
    return time.perf_counter() - t0


def report(res, cfg, NB, H):
    sys.path.insert(0, os.path.join(HERE, "reference"))
    # FLOPs as finepose counts them (model/flop_count.hpp): 2 per multiply-add of every matrix product
    D, F, J, L = cfg.dim, cfg.frames, cfg.joints, cfg.context_length
    tokens = NB * H * F * J
    pose = 2 * cfg.depth * tokens * 2 * (4 * D * D + 2 * D * int(D * cfg.mlp_ratio))
    pose += cfg.depth * tokens * (4 * J * D + 4 * F * D) + tokens * 2 * (5 * D + 3 * D)
    pose += tokens * (4 * D * D + 4 * L * D) + NB * 2 * 6 * D * D
    W = cfg.text_width
    text = cfg.clip_layers * (L * 24 * W * W + 4 * L * L * W) + cfg.encoder_layers * (
        L * 2 * (4 * W * W + 2 * W * cfg.encoder_ff) + 4 * L * L * W) + 2 * W * D + 4 * L * W * D
    res["pose_gflop"], res["text_gflop_per_call"] = pose / 1e9, NB * text / 1e9
    peak = res.get("finepose", {}).get("gemm_gflops") or None
    # each side's roof: the FMA peak for fp32, finepose bench's VDPBF16PS / VPDPBUSD roofs for bf16 / int8
    fp = lambda k: res.get(k) or {}
    roofs = {"fp32": fp("finepose").get("fma_peak_gflops") or fp("finepose_bf16").get("fma_peak_gflops"),
             "bf16": fp("finepose_bf16").get("precision_peak_gops"), "int8": fp("finepose_int8").get("precision_peak_gops")}
    precision = {"torch": "fp32", "ort": "fp32", "ort_int8": "int8", "finepose": "fp32", "finepose_bf16": "bf16",
                 "finepose_int8": "int8"}
    errors = {"ort": res.get("ort_vs_torch_rel_l2"), "ort_int8": res.get("ort_int8_vs_torch_rel_l2")}
    for side in ("finepose_bf16", "finepose_int8"):
        errors[side] = fp(side).get("denoiser_rel_l2_vs_fp32")
    print()
    print("| side | precision | denoiser s | sampling s | denoiser GOP/s | of its roof | vs ORT fp32 (denoiser) | "
          "vs ORT fp32 (sampling) | vs torch (denoiser) | rel L2 vs fp32 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    tden, oden, osam = res.get("torch_denoiser_s"), res.get("ort_denoiser_s"), res.get("ort_sampling_s")
    fmt = lambda v, f="{:.3f}": f.format(v) if v else "-"
    for side in ("torch", "ort", "ort_int8", "finepose", "finepose_bf16", "finepose_int8"):
        d, s = res.get(side + "_denoiser_s"), res.get(side + "_sampling_s")
        if d is None:
            continue
        work = pose + (0 if side.startswith("finepose") else NB * text)  # upstream re-encodes the text per call
        g = work / d / 1e9
        res[side + "_gflops"] = g
        roof = roofs.get(precision[side])
        if roof:
            res[side + "_roof_fraction"] = g / roof
        print(f"| {side} | {precision[side]} | {fmt(d)} | {fmt(s, '{:.2f}')} | {g:.1f} | "
              f"{fmt(roof and g / roof, '{:.0%}')} | {fmt(oden and oden / d, '{:.2f}x')} | "
              f"{fmt(osam and s and osam / s, '{:.2f}x')} | {fmt(tden and tden / d, '{:.2f}x')} | "
              f"{fmt(errors.get(side), '{:.2e}')} |")
    measured = ", ".join(f"{k} {v:.1f}" for k, v in roofs.items() if v)
    print(f"roofs (finepose bench, same run): {measured} GOP/s" if measured else "roofs: not measured in this run")
    if res.get("ort_denoiser_s") and res.get("finepose_denoiser_s"):
        res["finepose_vs_ort_denoiser"] = res["ort_denoiser_s"] / res["finepose_denoiser_s"]
        print(f"finepose vs ORT: denoiser {res['finepose_vs_ort_denoiser']:.2f}x", end="")
        if res.get("ort_sampling_s") and res.get("finepose_sampling_s"):
            res["finepose_vs_ort_sampling"] = res["ort_sampling_s"] / res["finepose_sampling_s"]
            print(f", sampling {res['finepose_vs_ort_sampling']:.2f}x", end="")
        print()
    if peak:
        print(f"GEMM peak: finepose {peak:.1f} GFLOP/s, torch.mm {res.get('torch_gemm_gflops', 0):.1f} GFLOP/s; "
              f"finepose denoiser at {100 * res['finepose_gflops'] / peak:.0f}% of finepose's GEMM")
    fma = (res.get("finepose") or {}).get("fma_peak_gflops", 0)
    if fma:
        sides = [("finepose", res.get("finepose_gflops")), ("ort", res.get("ort_gflops")),
                 ("torch", res.get("torch_gflops"))]
        print(f"FMA peak (finepose bench, same run): {fma:.1f} GFLOP/s; denoiser at " +
              ", ".join(f"{name} {100 * g / fma:.0f}%" for name, g in sides if g))


if __name__ == "__main__":
    main()
