#!/usr/bin/env python3
"""Small fixtures for the evaluation readers and CLI (tests/fixtures/eval/).

Writes, with numpy / scipy / h5py only (deterministic, seed 0):
  data_3d_h36m.npz       VideoPose3D layout: positions_3d = {subject: {action: (F,32,3) float32 metres}}
                         (np.savez of a dict -> a 0-d object array holding a pickle)
  data_2d_h36m_gt.npz    positions_2d = {subject: {action: [4 x (F+2,17,2) float32 px]}}, metadata dict
  h36m_expected.npz      an independent numpy re-implementation of the official preparation for
                         S9 "Walking 1" camera 1: 17-joint camera-frame target (mm, root-relative),
                         root (mm), normalised 2D (trimmed to the mocap length)
  annot_data_v5.mat      MPI-INF-3DHP test annotation layout written by scipy.io.savemat (MATLAB v5)
  annot_data_v73.mat     the same content as MATLAB v7.3 (HDF5 + 512-byte MATLAB header) via h5py
  annot_expected.npz     what the reader must return: annot2 (F,17,2), annot3/univ_annot3 (F,17,3), valid, activity
  metrics_pred.npz / metrics_target.npz / metrics_expected.json
                         a single-hypothesis case scored in numpy (MPJPE, P-MPJPE, N-MPJPE, MPJVE, PCK, AUC)

Usage: /usr/bin/python3 tools/reference/make_eval_fixtures.py [--out tests/fixtures/eval]
"""
import argparse
import json
import os

import numpy as np

H36M_REMOVED = [4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31]

# Human3.6M S9 camera 1 (index 1, "55011271"), as published with VideoPose3D (metres there; mm here).
S9_CAM1_Q = np.array([0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801])
S9_CAM1_T = np.array([1990.959716796875, -5123.810546875, 1568.8048095703125])
CAM1_RES = (1000, 1000)


def qrot(q, v):
    """Rotate vectors v (..., 3) by unit quaternion q (w, x, y, z)."""
    qvec = q[1:]
    uv = np.cross(np.broadcast_to(qvec, v.shape), v)
    uuv = np.cross(np.broadcast_to(qvec, v.shape), uv)
    return v + 2 * (q[0] * uv + uuv)


def world_to_camera(x, q, t):
    qinv = q.copy()
    qinv[1:] *= -1
    return qrot(qinv, x - t)


def normalize_screen(x, w, h):
    return x / w * 2 - np.array([1, h / w])


def h36m_fixtures(out, rng):
    positions_3d = {}
    positions_2d = {}
    for subject, actions in {"S9": ["Walking 1", "Directions"], "S11": ["Walking 1"], "S1": ["Eating 2"]}.items():
        positions_3d[subject] = {}
        positions_2d[subject] = {}
        for a in actions:
            F = 5 if a == "Walking 1" else 3
            base = np.array([0.1, 0.2, 0.9])
            positions_3d[subject][a] = (base + 0.3 * rng.standard_normal((F, 32, 3))).astype(np.float32)
            # CPN-style: 2 frames more than the mocap (the official code trims them)
            positions_2d[subject][a] = [(500 + 200 * rng.standard_normal((F + 2, 17, 2))).astype(np.float32) for _ in range(4)]
    metadata = {"layout_name": "h36m", "num_joints": 17,
                "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez(os.path.join(out, "data_3d_h36m.npz"), positions_3d=positions_3d)
    np.savez(os.path.join(out, "data_2d_h36m_gt.npz"), positions_2d=positions_2d, metadata=metadata)

    world = positions_3d["S9"]["Walking 1"].astype(np.float64) * 1000.0
    kept = [j for j in range(32) if j not in H36M_REMOVED]
    world17 = world[:, kept]
    cam = world_to_camera(world17, S9_CAM1_Q, S9_CAM1_T)
    root = cam[:, :1].copy()
    target = cam - root
    kp = positions_2d["S9"]["Walking 1"][1][: world.shape[0]].astype(np.float64)
    np.savez(os.path.join(out, "h36m_expected.npz"), target=target, root=root,
             keypoints_2d=normalize_screen(kp, *CAM1_RES))


def mat_fixtures(out, rng):
    import scipy.io as sio
    F = 6
    annot2 = (1000 * rng.random((F, 17, 2))).astype(np.float64)  # row-major (F,17,2)
    annot3 = (1000 * rng.standard_normal((F, 17, 3))).astype(np.float64)
    univ = (annot3 * 0.9).astype(np.float64)
    valid = np.array([1, 1, 0, 1, 0, 1], dtype=np.float64)
    activity = np.array([1, 2, 2, 3, 7, 5], dtype=np.float64)
    np.savez(os.path.join(out, "annot_expected.npz"), annot2=annot2, annot3=annot3, univ_annot3=univ,
             valid=valid.astype(bool), activity=activity.astype(np.int32))

    # MATLAB sees annot2 as 2 x 17 x 1 x F (column-major): the official layout.
    def matlab_joints(a):  # (F,17,C) -> MATLAB (C,17,1,F)
        return np.ascontiguousarray(a[:, None].transpose(3, 2, 1, 0))

    sio.savemat(os.path.join(out, "annot_data_v5.mat"),
                {"annot2": matlab_joints(annot2), "annot3": matlab_joints(annot3),
                 "univ_annot3": matlab_joints(univ), "valid_frame": valid[None, :],
                 "activity_annotation": activity[None, :],
                 "bb_crop": np.array([[np.zeros((1, 4))] * F], dtype=object)},  # a cell, as the real files
                format="5", do_compression=True)

    import h5py

    def matlab_class(d, cls):
        # MATLAB (and matio) want a scalar, NUL-terminated fixed string; h5py's default is NUL-padded.
        t = h5py.h5t.C_S1.copy()
        t.set_size(len(cls))
        t.set_strpad(h5py.h5t.STR_NULLTERM)
        a = h5py.h5a.create(d.id, b"MATLAB_class", t, h5py.h5s.create(h5py.h5s.SCALAR))
        a.write(np.array(cls, dtype="S%d" % len(cls)), mtype=t)  # no conversion: keep all of "double"

    path = os.path.join(out, "annot_data_v73.mat")
    with h5py.File(path, "w", userblock_size=512) as f:
        # HDF5 stores the reversed (row-major) dims: (F,1,17,C) for a MATLAB C x 17 x 1 x F.
        for name, a in (("annot2", annot2), ("annot3", annot3), ("univ_annot3", univ)):
            d = f.create_dataset(name, data=a[:, None])
            matlab_class(d, b"double")
        for name, a in (("valid_frame", valid), ("activity_annotation", activity)):
            d = f.create_dataset(name, data=a[:, None])
            matlab_class(d, b"double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: finepose make_eval_fixtures.py HDF5 schema 1.00 ."
    header = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(header.ljust(512, b"\x00"))


def procrustes(p, t):
    """Similarity-align p (J,3) to t (J,3) as VideoPose3D's p_mpjpe."""
    mp, mt = p.mean(0), t.mean(0)
    p0, t0 = p - mp, t - mt
    np_, nt = np.linalg.norm(p0), np.linalg.norm(t0)
    p0, t0 = p0 / np_, t0 / nt
    H = p0.T @ t0
    U, s, Vt = np.linalg.svd(H)
    V = Vt.T
    R = V @ U.T
    if np.linalg.det(R) < 0:
        V[:, -1] *= -1
        s[-1] *= -1
        R = V @ U.T
    a = s.sum() * nt / np_
    return a * (p - mp) @ R.T + mt


def metrics_fixtures(out, rng):
    N, J = 8, 17
    target = 300 * rng.standard_normal((N, J, 3))
    target -= target[:, :1]
    pred = target + 40 * rng.standard_normal((N, J, 3))
    pred[:, 0] = 0
    # score exactly what the files hold (float32)
    pred = pred.astype(np.float32).astype(np.float64)
    target = target.astype(np.float32).astype(np.float64)
    err = np.linalg.norm(pred - target, axis=-1)  # (N,J)
    mpjpe = err.mean()
    p_mpjpe = np.mean([np.linalg.norm(procrustes(pred[n], target[n]) - target[n], axis=-1).mean() for n in range(N)])
    # N-MPJPE (VideoPose3D n_mpjpe): per-frame optimal scale of the prediction
    num = np.sum(pred * target, axis=(1, 2), keepdims=True)
    den = np.sum(pred * pred, axis=(1, 2), keepdims=True)
    n_mpjpe = np.linalg.norm(num / den * pred - target, axis=-1).mean()
    mpjve = np.linalg.norm(np.diff(pred, axis=0) - np.diff(target, axis=0), axis=-1).mean()
    thresholds = np.arange(0, 151, 5)
    # PCK/AUC over the 14 joints of the 3DHP groups (H36M order), strict '<' as mpii_compute_3d_pck.m
    e14 = err[:, [10, 8, 14, 11, 15, 12, 16, 13, 1, 4, 2, 5, 3, 6]]
    pck = (e14 < 150).mean() * 100
    auc = np.mean([(e14 < t).mean() for t in thresholds]) * 100
    np.savez(os.path.join(out, "metrics_pred.npz"), poses_3d=pred.astype(np.float32))
    np.savez(os.path.join(out, "metrics_target.npz"), poses_3d=target.astype(np.float32))
    with open(os.path.join(out, "metrics_expected.json"), "w") as f:
        json.dump({"mpjpe": mpjpe, "p_mpjpe": p_mpjpe, "n_mpjpe": n_mpjpe, "mpjve": mpjve, "pck": pck, "auc": auc}, f,
                  indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "eval"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)
    h36m_fixtures(args.out, rng)
    mat_fixtures(args.out, rng)
    metrics_fixtures(args.out, rng)


if __name__ == "__main__":
    main()
