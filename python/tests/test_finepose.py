"""Tests of the finepose Python module (README's test command runs them: tools/test_python.sh).

The CLI comparisons need the finepose build tree (FINEPOSE_BUILD_DIR: bin/finepose,
make_demo_walk, make_demo_scene); they skip with a message without it.
"""
import gc
import json
import os
import runpy
import subprocess
import threading
import time

import numpy as np
import pytest

import finepose

BUILD = os.environ.get("FINEPOSE_BUILD_DIR", "")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool(name):
    p = os.path.join(BUILD, "bin" if name == "finepose" else "", name)
    if not BUILD or not os.access(p, os.X_OK):
        pytest.skip(f"{name} not found (set FINEPOSE_BUILD_DIR to a finepose build tree)")
    return p


@pytest.fixture(scope="module")
def model():
    return finepose.load()


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """The demo's walking person (make_demo_walk, the demo's own generator), 90 frames."""
    d = tmp_path_factory.mktemp("walk")
    subprocess.run([tool("make_demo_walk"), str(d), "90"], check=True, capture_output=True)
    return d


def walker(frames=120, seed=0):
    """A confident, smoothly moving 2D skeleton in H36M-17 order (pixels of 1000x1000)."""
    rng = np.random.default_rng(seed)
    base = 500 + 80 * rng.standard_normal((1, 17, 2))
    t = np.arange(frames)[:, None, None]
    return base + 20 * np.sin(t / 9.0 + rng.uniform(0, 6, (1, 17, 1)))


DEMO_FLAGS = dict(intrinsics=(1145, 1145, 500, 500), action="Walking", hypotheses=5, steps=2, flip=True)


def test_lift_matches_cli_on_the_demo(model, walk, tmp_path):
    kp_file = str(walk / "demo_walk_coco.json")
    out = tmp_path / "cli.npz"
    subprocess.run([tool("finepose"), "infer", "--keypoints", kp_file, "--width", "1000", "--height", "1000",
                    "--intrinsics", "1145,1145,500,500", "--action", "Walking", "--hypotheses", "5", "--steps", "2",
                    "--flip", "--keep-hypotheses", "--quiet", "--out", str(out)], check=True)
    cli = np.load(out)
    kp = finepose.read_keypoints(kp_file)
    assert kp.keypoints.shape == (90, 17, 3) and kp.source_layout == "coco17"
    py = model.lift(kp, 1000, 1000, keep_hypotheses=True, **DEMO_FLAGS)
    assert py.poses.shape == cli["poses_3d"].shape == (90, 17, 3)
    np.testing.assert_allclose(py.poses, cli["poses_3d"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(py.hypotheses, cli["hypotheses"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(py.trajectory, cli["trajectory"], rtol=0, atol=1e-5)
    # and the result is a pose, not noise: against the generator's 3D truth
    truth = np.load(walk / "demo_walk_truth.npz")
    t = truth[truth.files[0]] if "poses_3d" not in truth.files else truth["poses_3d"]
    t = t - t[:, :1]
    assert finepose.metrics(py.poses, t)["mpjpe"] < 150


def test_reduced_precision_matches_cli(walk, tmp_path):
    """finepose.load(precision=...) is `infer --precision`: the same poses; bf16 and int8
    stay near fp32 (rel L2 well under 0.1), not equal to it."""
    kp_file = str(walk / "demo_walk_coco.json")
    kp = finepose.read_keypoints(kp_file)
    flags = dict(intrinsics=(1145, 1145, 500, 500), action="Walking", hypotheses=2, steps=1)
    fp32 = finepose.load().lift(kp, 1000, 1000, **flags).poses
    for p in ("bf16", "int8"):
        m = finepose.load(precision=p)
        assert m.precision == p
        out = tmp_path / f"cli_{p}.npz"
        subprocess.run([tool("finepose"), "infer", "--keypoints", kp_file, "--width", "1000", "--height", "1000",
                        "--intrinsics", "1145,1145,500,500", "--action", "Walking", "--hypotheses", "2",
                        "--steps", "1", "--precision", p, "--quiet", "--out", str(out)], check=True)
        py = m.lift(kp, 1000, 1000, **flags).poses
        np.testing.assert_allclose(py, np.load(out)["poses_3d"], rtol=0, atol=1e-5)
        rel = float(np.linalg.norm(py - fp32) / np.linalg.norm(fp32))
        assert 0 < rel < 0.1, f"{p}: rel L2 against fp32 {rel}"  # measured up to 3.5e-2 (README)


def test_lift_persons_matches_cli(model, tmp_path):
    subprocess.run([tool("make_demo_scene"), str(tmp_path), "60", "2"], check=True, capture_output=True)
    kp_file = str(tmp_path / "demo_scene_coco.json")
    out = tmp_path / "scene.npz"
    subprocess.run([tool("finepose"), "infer", "--keypoints", kp_file, "--width", "1920", "--height", "1080",
                    "--persons", "all", "--quiet", "--out", str(out)], check=True)
    cli = np.load(out)
    persons = finepose.read_persons(kp_file)
    assert len(persons) == cli["poses_3d"].shape[0] == 2
    lifted = model.lift(persons=persons, width=1920, height=1080)
    first = min(p.first_frame for p in persons)
    for p, l, cp, pres in zip(persons, lifted, cli["poses_3d"], cli["present"]):
        off = p.first_frame - first
        assert pres[off:off + p.frames].all()
        np.testing.assert_allclose(l.poses, cp[off:off + p.frames], rtol=0, atol=1e-5)


def test_array_input_forms_agree(model):
    xy = walker(60)
    scores = np.full((60, 17), 0.9)
    a = model.lift(xy, 1000, 1000, scores=scores).poses
    b = model.lift(np.concatenate([xy, scores[..., None]], 2).astype(np.float32), 1000, 1000).poses
    c = model.lift(xy.tolist(), 1000, 1000, scores=scores).poses  # nested lists work too
    np.testing.assert_allclose(a, b, atol=1e-3)  # float32 input rounds the pixels
    np.testing.assert_array_equal(a, c)


def test_stream_equals_lift(model):
    xy = walker(80)
    whole = model.lift(xy, 1000, 1000, smooth="none", aggregation="p-agg").poses
    s = model.stream(1000, 1000, aggregation="p-agg")
    got = {}
    for f in range(80):
        idx, poses, traj = s.push(xy[f])
        assert traj is None
        for i, p in zip(idx, poses):
            assert f - i <= s.latency_frames
            got[int(i)] = p
    idx, poses, _ = s.flush()
    got.update({int(i): p for i, p in zip(idx, poses)})
    assert sorted(got) == list(range(80))
    np.testing.assert_allclose(np.stack([got[i] for i in range(80)]), whole, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="after flush"):
        s.push(xy[0])


def test_bad_input_raises_with_the_library_message(model, tmp_path):
    xy = walker(30)
    cases = [
        (lambda: model.lift(xy[:, :5], 1000, 1000), ValueError, "17"),
        (lambda: model.lift(xy, 0, 1000), ValueError, "image size"),
        (lambda: model.lift(xy, 1000), ValueError, "width and height"),
        (lambda: model.lift(np.full((4, 17, 2), np.nan), 1000, 1000), ValueError, "not finite"),
        (lambda: model.lift(xy[:0], 1000, 1000), ValueError, "empty"),
        (lambda: model.lift(xy, 1000, 1000, hypotheses=0), ValueError, "hypotheses"),
        (lambda: model.lift(xy, 1000, 1000, steps=10**6), ValueError, "steps"),
        (lambda: model.lift(xy, 1000, 1000, aggregation="best"), ValueError, "aggregation"),
        (lambda: model.lift(xy, 1000, 1000, smooth="gauss"), ValueError, "gauss"),
        (lambda: model.lift(xy, 1000, 1000, smooth="none", smooth_window=9), ValueError, "savgol"),
        (lambda: model.lift(xy, 1000, 1000, intrinsics=(1, 2, 3)), ValueError, "intrinsics"),
        (lambda: model.lift(xy, 1000, 1000, intrinsics=(-5, 5, 0, 0)), ValueError, "focal"),
        (lambda: model.lift(xy, 1000, 1000, action="Juggling"), ValueError, "built-in labels"),
        (lambda: model.lift(xy * 1e9, 1000, 1000), ValueError, "outside"),
        (lambda: model.lift(np.array([["a"] * 2] * 17)[None], 1000, 1000), ValueError, "numeric"),
        (lambda: model.lift(xy, 1000, 1000, scores=np.ones(5)), ValueError, "scores"),
        (lambda: model.lift(persons=[], width=1000, height=1000), ValueError, "empty"),
        (lambda: model.lift(xy, 1000, 1000, persons=[xy]), ValueError, "not both"),
        (lambda: model.lift(persons=[xy], width=1000, height=1000, keep_hypotheses=True), ValueError, "one person"),
        (lambda: model.lift(persons=[xy[:, :4]], width=1000, height=1000), ValueError, r"persons\[0\]"),
        (lambda: finepose.load(tmp_path / "missing.safetensors"), OSError, "missing.safetensors"),
        (lambda: finepose.read_keypoints(tmp_path / "missing.json"), OSError, "missing.json"),
        (lambda: finepose.metrics(np.zeros((5, 17, 3)), np.zeros((4, 17, 3))), ValueError, "shape"),
        (lambda: finepose.set_num_threads(-3), ValueError, "out of range"),
        (lambda: finepose.load(precision="fp16"), ValueError, "fp16"),
    ]
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    cases.append((lambda: finepose.load(garbage), ValueError, "garbage.safetensors"))
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('[{"image_id": 0, "keypoints": [1, 2]')
    cases.append((lambda: finepose.read_keypoints(bad_json), ValueError, "bad.json"))
    for fn, exc, text in cases:
        with pytest.raises(exc, match=text):
            fn()


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_big_arrays_do_not_leak(model):
    xy = walker(600)
    for _ in range(5):  # warm up: the model's buffers, the allocator's pools
        model.lift(xy, 1000, 1000, keep_hypotheses=True)
        finepose.metrics(np.zeros((2000, 17, 3)), np.ones((2000, 17, 3)))
    gc.collect()
    before = rss_mb()
    for _ in range(40):
        out = model.lift(xy, 1000, 1000, keep_hypotheses=True)
        arrays = [out.poses, out.hypotheses, out.keypoints]
        del out, arrays
        finepose.metrics(np.zeros((2000, 17, 3)), np.ones((2000, 17, 3)))
    gc.collect()
    grown = rss_mb() - before
    # each round hands out ~0.5 MB of arrays and reads 1.6 MB: 40 rounds kept would be ~80 MB
    assert grown < 8, f"RSS grew by {grown:.1f} MB over 40 lifts"


def test_the_gil_is_released_while_lifting(model):
    xy = walker(1500)
    done = threading.Event()

    def work():
        model.lift(xy, 1000, 1000)
        done.set()

    th = threading.Thread(target=work)
    t0 = time.perf_counter()
    th.start()
    spins = 0
    while not done.is_set():
        spins += 1
    th.join()
    seconds = time.perf_counter() - t0
    # with the GIL held through the lift this thread would get a handful of turns
    assert spins > 10000, f"{spins} iterations in {seconds:.2f} s while lifting"


def test_threads_setting(model):
    xy = walker(60)
    n0 = finepose.num_threads()
    finepose.set_num_threads(1)
    try:
        assert finepose.num_threads() == 1
        one = model.lift(xy, 1000, 1000).poses
    finally:
        finepose.set_num_threads(0)
    assert finepose.num_threads() == n0
    np.testing.assert_allclose(model.lift(xy, 1000, 1000).poses, one, rtol=0, atol=1e-3)


def test_config_and_metadata(model):
    c = model.config
    assert c["joints"] == 17 and c["frames"] > 0 and c["variant"] == "h36m"
    assert finepose.JOINT_NAMES[0] == "pelvis" and len(finepose.JOINT_NAMES) == 17
    assert model.path.endswith(".safetensors") and "finepose.Model" in repr(model)


def test_metrics_match_numpy():
    rng = np.random.default_rng(1)
    target = rng.standard_normal((50, 17, 3)) * 200
    target -= target[:, :1]
    pred = target + rng.standard_normal((50, 17, 3)) * 10
    pred -= pred[:, :1]
    m = finepose.metrics(pred, target)
    assert m["mpjpe"] == pytest.approx(np.linalg.norm(pred - target, axis=2).mean(), rel=1e-9)
    assert m["p_mpjpe"] <= m["mpjpe"] and 0 <= m["pck"] <= 100
    hyp = np.stack([pred, target + 5], axis=1)  # (N, H, J, 3)
    mh = finepose.metrics(hyp, target)
    assert set(mh) >= {"p_agg", "j_best", "p_best"} and mh["j_best"]["mpjpe"] <= mh["p_agg"]["mpjpe"]


def test_export_bvh(model, walk, tmp_path):
    out = model.lift(finepose.read_keypoints(walk / "demo_walk_coco.json"), 1000, 1000, intrinsics=(1145, 1145, 500, 500))
    path = tmp_path / "motion.bvh"
    err = finepose.export_bvh(out.poses, path, root=out.trajectory, fps=25)
    text = path.read_text()
    assert text.startswith("HIERARCHY") and "Frames: 90" in text and "Frame Time: 0.04" in text
    assert 0 <= err < 30  # a lifted sequence's bones vary a little; the BVH's are fixed (C++ test: FK within 1 mm)
    with pytest.raises(FileExistsError):
        finepose.export_bvh(out.poses, path)
    finepose.export_bvh(out.poses, path, overwrite=True, up="z")
    with pytest.raises(ValueError, match="root"):
        finepose.export_bvh(out.poses, tmp_path / "b.bvh", root=np.zeros((3, 3)))


def test_mmpose_example(model, walk):
    """examples/python/mmpose_to_3d.py on the demo's keypoints in MMPose's result format."""
    coco = json.loads((walk / "demo_walk_coco.json").read_text())
    results = []
    for d in coco:
        k = np.array(d["keypoints"]).reshape(17, 3)
        results.append({"predictions": [[{"keypoints": k[:, :2].tolist(), "keypoint_scores": k[:, 2].tolist()}]]})
    example = runpy.run_path(os.path.join(ROOT, "examples", "python", "mmpose_to_3d.py"))
    lifted = example["mmpose_to_3d"](results, 1000, 1000, model)
    direct = model.lift(finepose.read_keypoints(walk / "demo_walk_coco.json"), 1000, 1000)
    np.testing.assert_allclose(lifted.poses, direct.poses, rtol=0, atol=1e-5)
