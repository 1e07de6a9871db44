#!/usr/bin/env python3
"""Expected values for tests/test_pose_*.cpp, computed with numpy.

An independent re-implementation of the evaluation maths of FinePOSE /
VideoPose3D (common/loss.py, common/camera.py, main.py, main_3dhp.py) and of the
MPI-INF-3DHP MATLAB PCK/AUC code (mpii_compute_3d_pck.m), written for these
tests. Inputs are random with a fixed seed; both inputs and expected outputs
are written to one text file:

    <name> <d0,d1,...> <v0> <v1> ...        (one array per line, row-major)

Usage: pose_reference.py OUTPUT_DIR        (writes OUTPUT_DIR/pose_reference.txt)
"""
import os
import sys

import numpy as np

OUT = {}


def put(name, arr):
    a = np.asarray(arr, dtype=np.float64)
    OUT[name] = a


# ---------------------------------------------------------------- metrics
def mpjpe(pred, target):
    return np.mean(np.linalg.norm(pred - target, axis=-1))


def procrustes(pred, target):
    """Per-frame similarity alignment of pred (N,J,3) onto target (N,J,3)."""
    mu_x = target.mean(axis=1, keepdims=True)
    mu_y = pred.mean(axis=1, keepdims=True)
    x0 = target - mu_x
    y0 = pred - mu_y
    nx = np.sqrt((x0 ** 2).sum(axis=(1, 2), keepdims=True))
    ny = np.sqrt((y0 ** 2).sum(axis=(1, 2), keepdims=True))
    x0 = x0 / nx
    y0 = y0 / ny
    h = np.einsum('nji,njk->nik', x0, y0)
    u, s, vt = np.linalg.svd(h)
    v = np.transpose(vt, (0, 2, 1))
    r = v @ np.transpose(u, (0, 2, 1))
    sign = np.sign(np.linalg.det(r))
    v = v.copy()
    s = s.copy()
    v[:, :, -1] *= sign[:, None]
    s[:, -1] *= sign
    r = v @ np.transpose(u, (0, 2, 1))
    a = s.sum(axis=1)[:, None, None] * nx / ny
    t = mu_x - a * (mu_y @ r)
    return a * (pred @ r) + t


def p_mpjpe(pred, target):
    return mpjpe(procrustes(pred, target), target)


def n_mpjpe(pred, target):
    num = (target * pred).sum(axis=-1).mean(axis=-1, keepdims=True)
    den = (pred * pred).sum(axis=-1).mean(axis=-1, keepdims=True)
    return mpjpe((num / den)[..., None] * pred, target)


def mpjve(pred, target):
    return np.mean(np.linalg.norm(np.diff(pred, axis=0) - np.diff(target, axis=0), axis=-1))


# ---------------------------------------------------------------- cameras
def qrot(q, v):
    qv = q[..., 1:]
    uv = np.cross(qv, v)
    uuv = np.cross(qv, uv)
    return v + 2 * (q[..., :1] * uv + uuv)


def world_to_camera(x, q, t):
    qi = np.array([q[0], -q[1], -q[2], -q[3]])
    return qrot(np.broadcast_to(qi, x.shape[:-1] + (4,)), x - t)


def camera_to_world(x, q, t):
    return qrot(np.broadcast_to(q, x.shape[:-1] + (4,)), x) + t


def project(x, cam, linear=False):
    f, c, k, p = cam[0:2], cam[2:4], cam[4:7], cam[7:9]
    xx = np.clip(x[..., :2] / x[..., 2:], -1, 1)
    if linear:
        return f * xx + c
    r2 = (xx ** 2).sum(axis=-1, keepdims=True)
    radial = 1 + (k * np.concatenate([r2, r2 ** 2, r2 ** 3], axis=-1)).sum(axis=-1, keepdims=True)
    tan = (p * xx).sum(axis=-1, keepdims=True)
    return f * (xx * (radial + tan) + p * r2) + c


def normalize_screen(x, w, h):
    return x / w * 2 - np.array([1, h / w])


# Human3.6M camera 54138969 (pixels) and subject S1's extrinsics for it.
H36M_CAM0 = dict(f=[1145.0494384765625, 1143.7811279296875], c=[512.54150390625, 515.4514770507812],
                 k=[-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043],
                 p=[-0.0009756988729350269, -0.00142447161488235], w=1000, h=1002)
S1_CAM0_Q = np.array([0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088])
S1_CAM0_T = np.array([1841.1070556640625, 4955.28466796875, 1563.4454345703125])


def h36m_cam0_vector(normalized):
    c = H36M_CAM0
    f = np.array(c['f'])
    ctr = np.array(c['c'])
    if normalized:
        f = f / c['w'] * 2
        ctr = normalize_screen(ctr, c['w'], c['h'])
    return np.concatenate([f, ctr, c['k'], c['p']])


# ------------------------------------------------------- multi-hypothesis
def j_agg_choice(hyps, kp2d, root, cam, linear, root_joint):
    """hyps (N,H,J,3) root-relative; the root joint is zeroed, the GT root
    added, every hypothesis projected; per joint the closest to kp2d wins."""
    h = hyps.copy()
    h[:, :, root_joint] = 0
    absolute = h + root[:, None]          # root (N,1,3) -> (N,1,1,3)
    reproj = project(absolute, cam, linear)
    err2d = np.linalg.norm(reproj - kp2d[:, None], axis=-1)   # (N,H,J)
    return np.argmin(err2d, axis=1)                            # (N,J)


def hyp_errors(hyps, target, aligned):
    n, hh, j, _ = hyps.shape
    if aligned:
        flat = procrustes(hyps.reshape(n * hh, j, 3), np.repeat(target, hh, axis=0)).reshape(n, hh, j, 3)
    else:
        flat = hyps
    return np.linalg.norm(flat - target[:, None], axis=-1)    # (N,H,J)


def multi_hyp_case(prefix, rng, n, hh, j, root_joint, cam, linear, scale, noise2d):
    target = rng.normal(0, 0.25 * scale, (n, j, 3))
    target[:, root_joint] = 0
    hyps = target[:, None] + rng.normal(0, 0.05 * scale, (n, hh, j, 3))
    hyps[:, :, root_joint] = 0    # the official evaluation zeroes the root of every hypothesis
    root = np.stack([rng.normal(0, 0.3 * scale, n), rng.normal(0, 0.3 * scale, n),
                     rng.uniform(4, 6, n) * scale], axis=-1)[:, None, :]
    kp2d = project(target + root, cam, linear) + rng.normal(0, noise2d, (n, j, 2))
    choice = j_agg_choice(hyps, kp2d, root, cam, linear, root_joint)
    e1 = hyp_errors(hyps, target, False)
    e2 = hyp_errors(hyps, target, True)
    # official reductions: J-Best = per-joint min, P-Best = min over h of the
    # mean over everything, J-Agg = errors gathered by the 2D choice,
    # P-Agg = metric of the mean pose.
    sel = lambda e: np.take_along_axis(e, choice[:, None, :], axis=1)[:, 0]
    mean_pose = hyps.mean(axis=1)
    zeroed = hyps.copy()
    zeroed[:, :, root_joint] = 0
    jagg_pose = np.take_along_axis(zeroed, choice[:, None, :, None], axis=1)[:, 0]
    put(prefix + '_target', target)
    put(prefix + '_hyps', hyps)
    put(prefix + '_root', root)
    put(prefix + '_kp2d', kp2d)
    put(prefix + '_cam', cam)
    put(prefix + '_jagg_choice', choice)
    put(prefix + '_jagg_pose', jagg_pose)
    put(prefix + '_jbest_choice', np.argmin(e1, axis=1))
    put(prefix + '_pbest_index', [np.argmin(e1.mean(axis=(0, 2)))])
    put(prefix + '_p1', [e1.min(axis=1).mean(), e1.mean(axis=(0, 2)).min(), mpjpe(mean_pose, target), sel(e1).mean()])
    put(prefix + '_p2', [e2.min(axis=1).mean(), e2.mean(axis=(0, 2)).min(), p_mpjpe(mean_pose, target), sel(e2).mean()])


# ------------------------------------------------------------- PCK / AUC
GROUPS_3DHP = [[1], [2], [3, 6], [4, 7], [5, 8], [9, 12], [10, 13], [11, 14]]   # 1-based, as in MATLAB


def matlab_pck_auc(errors):
    """errors: (17, nf) per-joint errors (mm) of the valid frames, as the
    MATLAB code's error_data(i).error(:,1,:). Mirrors mpii_compute_3d_pck."""
    thresh = np.arange(0, 151, 5)
    nf = errors.shape[1]
    total_curve = np.zeros(len(thresh))
    total_pck = 0.0
    count = 0
    group_pck, group_auc = [], []
    for g in GROUPS_3DHP:
        idx = [i - 1 for i in g]
        curve = np.array([np.sum(errors[idx] < t) / (len(idx) * nf) for t in thresh])
        total_curve += curve * len(idx)
        count += len(idx)
        group_auc.append(100 * curve.sum() / len(thresh))
        pck = 100 * np.sum(errors[idx] < 150) / (len(idx) * nf)
        group_pck.append(pck)
        total_pck += pck * len(idx)
    total_pck /= count
    total_curve /= count
    return total_pck, 100 * total_curve.sum() / len(thresh), group_pck, group_auc, total_curve


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else '.'
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20240601)

    # single-hypothesis metrics on (N, 17, 3) in mm, one reflected frame
    n, j = 12, 17
    target = rng.normal(0, 300, (n, j, 3))
    pred = target + rng.normal(0, 40, (n, j, 3))
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    if np.linalg.det(rot) < 0:
        rot[:, 0] *= -1
    pred[1] = 1.3 * target[1] @ rot + np.array([10.0, -20.0, 30.0])    # similarity: P-MPJPE 0
    pred[2] = target[2] * np.array([-1.0, 1.0, 1.0]) + rng.normal(0, 5, (j, 3))  # mirrored
    put('single_pred', pred)
    put('single_target', target)
    put('single_mpjpe', [mpjpe(pred, target)])
    put('single_p_mpjpe', [p_mpjpe(pred, target)])
    put('single_p_mpjpe_frame2', [p_mpjpe(pred[2:3], target[2:3])])
    put('single_p_aligned', procrustes(pred, target))
    put('single_n_mpjpe', [n_mpjpe(pred, target)])
    put('single_mpjve', [mpjve(pred, target)])

    # cameras
    pts_world = rng.normal(0, 500, (4, 17, 3)) + np.array([0, 0, 900])
    pts_cam = world_to_camera(pts_world, S1_CAM0_Q, S1_CAM0_T)
    put('cam_world', pts_world)
    put('cam_camera', pts_cam)
    put('cam_back', camera_to_world(pts_cam, S1_CAM0_Q, S1_CAM0_T))
    cam_px = h36m_cam0_vector(False)
    cam_n = h36m_cam0_vector(True)
    put('cam_intr_norm', cam_n)
    put('cam_proj_px', project(pts_cam, cam_px))
    put('cam_proj_norm', project(pts_cam, cam_n))
    put('cam_proj_lin_px', project(pts_cam, cam_px, linear=True))
    put('cam_proj_norm_from_px', normalize_screen(project(pts_cam, cam_px), H36M_CAM0['w'], H36M_CAM0['h']))
    wide = np.array([[[3.0, -0.5, 1.0], [0.2, 0.1, 2.0], [-4.0, 4.0, 1.0]]])  # exercises the clamp
    put('cam_wide', wide)
    put('cam_wide_proj', project(wide, cam_px))

    # multi-hypothesis: Human3.6M style (metres, normalised screen coordinates,
    # distorted projection, root 0) and 3DHP style (mm, pixels, linear, root 14)
    multi_hyp_case('h36m', rng, 6, 5, 17, 0, cam_n, False, 1.0, 0.01)
    # TS1-4 camera of main_3dhp.py: mm on a 10x10 mm sensor -> 2048x2048 pixels
    mx = my = 2048 / 10
    k3dhp = np.array([7.32506 * mx, 7.32506 * my, -0.0322884 * mx + 1024, 0.0929296 * my + 1024, 0, 0, 0, 0, 0])
    multi_hyp_case('hp', rng, 7, 4, 17, 14, k3dhp, True, 1000.0, 8.0)

    # PCK / AUC: errors (N, 17) in mm with a valid mask, plus exact boundary values
    nf = 40
    err = rng.uniform(0, 260, (nf, 17))
    err[0, :] = 150.0     # exactly at the PCK threshold: not correct
    err[1, :] = 5.0       # exactly at a curve threshold
    valid = (rng.uniform(size=nf) > 0.25).astype(np.float64)
    valid[0] = valid[1] = 1
    pck, auc, gp, ga, curve = matlab_pck_auc(err[valid > 0].T)
    put('pck_errors', err)
    put('pck_valid', valid)
    put('pck_result', [pck, auc])
    put('pck_group_pck', gp)
    put('pck_group_auc', ga)
    put('pck_curve', curve)
    # pooled over two "sequences" vs separately
    err_b = rng.uniform(0, 200, (25, 17))
    put('pck_errors_b', err_b)
    pooled = np.concatenate([err[valid > 0], err_b], axis=0)
    put('pck_pooled', list(matlab_pck_auc(pooled.T)[:2]))

    path = os.path.join(out_dir, 'pose_reference.txt')
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        for name, a in OUT.items():
            shape = ','.join(str(d) for d in a.shape) if a.ndim else ''
            f.write(name + ' ' + (shape or '1') + ' ' + ' '.join('%.17g' % v for v in a.reshape(-1)) + '\n')
    os.replace(tmp, path)
    print(path)


if __name__ == '__main__':
    main()
