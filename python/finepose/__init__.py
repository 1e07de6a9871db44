"""finepose: FinePOSE 3D human pose lifting from 2D keypoints, in C++ with no deep-learning framework.

    import finepose
    model = finepose.load()                       # the shipped default model
    kp = finepose.read_keypoints("video.json")    # COCO / OpenPose / Halpe JSON, CSV or npz
    out = model.lift(kp, 1920, 1080)
    out.poses                                     # (F, 17, 3) float32, millimetres

Units and order: keypoints are pixels of a width x height picture in Human3.6M-17 joint
order (read_keypoints converts COCO-17, Halpe-26, OpenPose BODY_25/COCO-18 for you);
poses are root-relative millimetres in camera axes (x right, y down, z forward), the pelvis
at 0, Human3.6M-17 order (JOINT_NAMES). A `trajectory` (camera-space pelvis, mm) is
returned when the camera's intrinsics are given.

The numbers are the C++ library's and the `finepose infer` command's: the same input and
settings give the same poses (the defaults here are the CLI's: J-Agg, Savitzky-Golay 31/3
smoothing). Library errors raise ValueError (bad input) or OSError (a file that cannot be
read or written), with the library's message. The GIL is released while computing.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _finepose

__version__: str = _finepose.__version__

__all__ = [
    "JOINT_NAMES", "Keypoints", "Lifted", "Model", "Stream", "load", "read_keypoints", "read_persons",
    "to_h36m17", "metrics", "export_bvh", "set_num_threads", "num_threads", "__version__",
]

#: Human3.6M-17 joint order of every keypoint and pose array.
JOINT_NAMES: Tuple[str, ...] = tuple(_finepose.joint_names())

_PACKAGE_MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
_Intrinsics = Optional[Sequence[float]]


def set_num_threads(n: int) -> None:
    """CPU threads for every following computation (0: all cores, the default)."""
    _finepose.set_num_threads(int(n))


def num_threads() -> int:
    """The CPU threads computations use."""
    return _finepose.num_threads()


@dataclass
class Keypoints:
    """One person's 2D keypoints as read from a detector file, in Human3.6M-17 order.

    keypoints: (F, 17, 3) float64: x, y in pixels and the detector's score (frames without
    a detection of the person are interpolated; `missing_frames` counts them).
    """

    keypoints: np.ndarray
    first_frame: int = 0
    missing_frames: int = 0
    source_layout: str = ""
    person: str = ""
    notes: List[str] = field(default_factory=list)
    image_width: int = 0   # from the file when it says (an npz's image_size), else 0
    image_height: int = 0
    track_id: Optional[int] = None

    @property
    def frames(self) -> int:
        return int(self.keypoints.shape[0])


@dataclass
class Lifted:
    """A lifted sequence.

    poses:       (F, 17, 3) float32, root-relative millimetres, Human3.6M-17 order
    hypotheses:  (F, H, 17, 3) float32 with keep_hypotheses=True, else None
    trajectory:  (F, 3) float32 camera-space pelvis in mm when intrinsics were given, else None
    keypoints:   (F, 17, 3) float64 the 2D that was lifted (pixels, score) after gap filling
    """

    poses: np.ndarray
    hypotheses: Optional[np.ndarray]
    trajectory: Optional[np.ndarray]
    keypoints: np.ndarray
    action: str
    notes: List[str]
    filled_joints: int


def _keypoints_array(keypoints: Any, scores: Any, what: str = "keypoints") -> np.ndarray:
    """(F, 17, 2) or (F, 17, 3) in any numeric dtype (+ optional (F, 17) scores) -> (F, 17, 3) float64."""
    if isinstance(keypoints, Keypoints):
        keypoints = keypoints.keypoints
    a = np.asarray(keypoints)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"lift: {what} must be a numeric array (F, 17, 2) or (F, 17, 3), got dtype {a.dtype}")
    if a.ndim != 3 or a.shape[1] != 17 or a.shape[2] not in (2, 3):
        raise ValueError(f"lift: {what} must be (F, 17, 2) pixels or (F, 17, 3) pixels + score in Human3.6M-17 "
                         f"order, got shape {a.shape} (finepose.read_keypoints converts COCO/OpenPose/Halpe files)")
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != a.shape[:2]:
            raise ValueError(f"lift: scores must be (F, 17) = {a.shape[:2]}, got shape {s.shape}")
        if a.shape[2] == 3:
            raise ValueError("lift: scores given twice (keypoints (F, 17, 3) already hold a score column)")
    if a.shape[2] == 3:
        return np.ascontiguousarray(a, dtype=np.float64)
    out = np.empty(a.shape[:2] + (3,), dtype=np.float64)
    out[..., :2] = a
    out[..., 2] = 1.0 if scores is None else s
    return out


def _intrinsics(intrinsics: _Intrinsics) -> Optional[Tuple[float, float, float, float]]:
    if intrinsics is None:
        return None
    k = np.asarray(intrinsics, dtype=np.float64)
    if k.shape == (3, 3):  # a camera matrix
        k = np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]])
    if k.shape != (4,):
        raise ValueError(f"intrinsics must be (fx, fy, cx, cy) or a 3x3 camera matrix, got shape {k.shape}")
    return tuple(float(v) for v in k)  # type: ignore[return-value]


def _size(width: Optional[int], height: Optional[int], kp: Any) -> Tuple[int, int]:
    if width is None and isinstance(kp, Keypoints) and kp.image_width > 0:
        width = kp.image_width
    if height is None and isinstance(kp, Keypoints) and kp.image_height > 0:
        height = kp.image_height
    if width is None or height is None:
        raise ValueError("lift: give width and height (the video's size in pixels): the model expects keypoints "
                         "normalised by the image width")
    w, h = int(width), int(height)
    if w <= 0 or h <= 0 or w > 1 << 20 or h > 1 << 20:
        raise ValueError(f"lift: image size {w}x{h} must be positive (and at most 2^20 pixels a side)")
    return w, h


class Stream:
    """Live lifting: push one frame at a time, get final frames back with a bounded latency.

    Made by Model.stream(). push() and flush() return (indices (n,) int64, poses (n, 17, 3)
    float32 mm, trajectory (n, 3) float32 or None): the frames that became final, each at
    most `latency_frames` pushes after it was pushed; flush() ends the sequence. The poses
    equal Model.lift(..., smooth="none") on the whole sequence when its input needs no gap
    filling (a low-confidence joint is held at its last confident position instead, causally).
    """

    def __init__(self, core: Any) -> None:
        self._core = core

    @property
    def latency_frames(self) -> int:
        return self._core.latency_frames

    @property
    def action(self) -> str:
        return self._core.action

    @property
    def notes(self) -> List[str]:
        return list(self._core.notes)

    def push(self, xy: Any, scores: Any = None) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """One frame: xy (17, 2) pixels (or (17, 3) with scores), scores (17,) or None."""
        a = _keypoints_array(np.asarray(xy)[None], None if scores is None else np.asarray(scores)[None], "xy")
        return self._core.push(a[0])

    def flush(self) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        return self._core.flush()


class Model:
    """A loaded FinePOSE model (finepose.load)."""

    def __init__(self, core: Any) -> None:
        self._core = core

    @property
    def path(self) -> str:
        return self._core.path

    @property
    def config(self) -> Dict[str, Any]:
        """The model's configuration (the keys of the model card / `finepose info`)."""
        return json.loads(self._core.config_json())

    @property
    def precision(self) -> str:
        """The denoiser's matrix-product precision: "fp32", "bf16" or "int8" (finepose.load)."""
        return self._core.precision()

    def __repr__(self) -> str:
        c = self.config
        return (f"<finepose.Model {self.path!r} depth={c.get('depth')} dim={c.get('dim')} frames={c.get('frames')}"
                f" precision={self.precision}>")

    def lift(self, keypoints: Any = None, width: Optional[int] = None, height: Optional[int] = None, *,
             scores: Any = None, action: Optional[str] = None, hypotheses: int = 1, steps: int = 1,
             flip: bool = False, intrinsics: _Intrinsics = None, persons: Optional[Sequence[Any]] = None,
             aggregation: str = "j-agg", keep_hypotheses: bool = False, seed: int = 0, min_score: float = 0.3,
             overlap: Optional[int] = None, smooth: str = "savgol", smooth_window: Optional[int] = None,
             smooth_order: Optional[int] = None, min_cutoff: Optional[float] = None, beta: Optional[float] = None,
             fps: float = 30.0) -> Union[Lifted, List[Lifted]]:
        """2D keypoints of any length -> 3D poses in millimetres (`finepose infer`).

        keypoints:   (F, 17, 2) pixels or (F, 17, 3) pixels + score, Human3.6M-17 order, any
                     numeric dtype; or a Keypoints from read_keypoints (its image size is used
                     when width/height are not given).
        scores:      (F, 17) detector scores for (F, 17, 2) keypoints; joints below min_score
                     are treated as missing and filled by temporal interpolation.
        persons:     several people instead of keypoints: a list of arrays or Keypoints (e.g.
                     read_persons); they are lifted in shared batched calls and a list of
                     Lifted is returned, each equal to lifting that person alone.
        action:      a Human3.6M action label for the text prompt; None: the model's generic
                     prompt (or "Waiting" for a model without one).
        hypotheses, steps, flip, seed: the DDIM sampler (H, K, flip augmentation, noise seed).
        aggregation: "j-agg" (per joint, by reprojection) or "p-agg" (the mean pose).
        intrinsics:  (fx, fy, cx, cy) pixels or a 3x3 matrix: J-Agg uses the real camera and
                     the camera-space trajectory is returned.
        smooth:      "savgol" (default, window 21, order 3), "one-euro" (min_cutoff, beta, fps)
                     or "none".
        """
        if persons is not None:
            if keypoints is not None:
                raise ValueError("lift: give keypoints (one person) or persons (several), not both")
            if scores is not None:
                raise ValueError("lift: scores are for one person's (F, 17, 2) keypoints; give each person's "
                                 "(F, 17, 3) arrays (or Keypoints) in persons")
            if keep_hypotheses:
                raise ValueError("lift: keep_hypotheses is for one person; lift a person alone to keep its hypotheses")
            return self._lift_persons(list(persons), width, height, action=action, hypotheses=hypotheses,
                                      steps=steps, flip=flip, intrinsics=intrinsics, aggregation=aggregation,
                                      seed=seed, min_score=min_score, overlap=overlap, smooth=smooth,
                                      smooth_window=smooth_window, smooth_order=smooth_order,
                                      min_cutoff=min_cutoff, beta=beta, fps=fps)
        if keypoints is None:
            raise ValueError("lift: no keypoints given")
        w, h = _size(width, height, keypoints)
        a = _keypoints_array(keypoints, scores)
        d = self._core.lift(a, w, h, action or "auto", int(hypotheses), int(steps), bool(flip), int(seed),
                            aggregation, _intrinsics(intrinsics), bool(keep_hypotheses), float(min_score),
                            -1 if overlap is None else int(overlap), smooth, smooth_window, smooth_order,
                            min_cutoff, beta, float(fps))
        return Lifted(**d)

    def _lift_persons(self, persons: List[Any], width: Optional[int], height: Optional[int], **kw: Any) -> List[Lifted]:
        if not persons:
            raise ValueError("lift: persons is empty")
        w, h = _size(width, height, persons[0])
        arrays = [_keypoints_array(p, None, f"persons[{i}]") for i, p in enumerate(persons)]
        ov = kw["overlap"]
        ds = self._core.lift_persons(arrays, w, h, kw["action"] or "auto", int(kw["hypotheses"]), int(kw["steps"]),
                                     bool(kw["flip"]), int(kw["seed"]), kw["aggregation"],
                                     _intrinsics(kw["intrinsics"]), float(kw["min_score"]),
                                     -1 if ov is None else int(ov), kw["smooth"], kw["smooth_window"],
                                     kw["smooth_order"], kw["min_cutoff"], kw["beta"], float(kw["fps"]))
        return [Lifted(**d) for d in ds]

    def stream(self, width: int, height: int, *, action: Optional[str] = None, hypotheses: int = 1,
               steps: int = 1, flip: bool = False, intrinsics: _Intrinsics = None, aggregation: str = "j-agg",
               seed: int = 0, min_score: float = 0.3, overlap: Optional[int] = None) -> Stream:
        """A Stream for live input (one frame at a time); see Stream."""
        w, h = _size(width, height, None)
        return Stream(_finepose.Stream(self._core, w, h, action or "auto", int(hypotheses), int(steps), bool(flip),
                                       int(seed), aggregation, _intrinsics(intrinsics), float(min_score),
                                       -1 if overlap is None else int(overlap)))


def load(path: Optional[Union[str, os.PathLike]] = None, *, config: Optional[Dict[str, Any]] = None,
         vocab: Optional[str] = None, precision: str = "fp32") -> Model:
    """Loads a model: an official FinePOSE checkpoint (.bin/.pth, what main.py writes) or a
    finepose .safetensors. Without a path: the default model shipped in the package (or
    $FINEPOSE_MODEL / $FINEPOSE_MODEL_DIR). config: overrides of the model's configuration
    (as `finepose infer --config`); vocab: CLIP's bpe_simple_vocab_16e6.txt.gz for official
    checkpoints whose vocabulary is not bundled. precision: of the denoiser's matrix products,
    "fp32" (the default, the reference), "bf16" or "int8" (`--precision` of the CLI; the accuracy
    each costs: the README's "Reduced precision")."""
    p = _finepose.default_model_path(_PACKAGE_MODELS) if path is None else os.fspath(path)
    return Model(_finepose.load_model(p, "" if config is None else json.dumps(config), vocab or "", str(precision)))


def to_h36m17(keypoints: Any, layout: str = "coco17", scores: Any = None) -> np.ndarray:
    """A detector's keypoints (F, K, 2) or (F, K, 3) with scores, in `layout` (coco17, halpe26,
    body25, coco18, h36m17) -> (F, 17, 3) float64 in Human3.6M-17 order,
    the joints the detector lacks (pelvis, spine, thorax, head) made from the others, as
    `finepose infer` does. What Model.lift takes."""
    a = np.asarray(keypoints, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] not in (2, 3):
        raise ValueError(f"to_h36m17: keypoints must be (F, K, 2) or (F, K, 3), got shape {a.shape}")
    if a.shape[2] == 2:
        s = np.ones(a.shape[:2]) if scores is None else np.asarray(scores, dtype=np.float64)
        if s.shape != a.shape[:2]:
            raise ValueError(f"to_h36m17: scores must be (F, K) = {a.shape[:2]}, got shape {s.shape}")
        a = np.concatenate([a, s[..., None]], axis=2)
    elif scores is not None:
        raise ValueError("to_h36m17: scores given twice (keypoints (F, K, 3) already hold a score column)")
    return _finepose.to_h36m17(np.ascontiguousarray(a), layout)


def _keypoints_of(d: Dict[str, Any]) -> Keypoints:
    return Keypoints(**d)


def read_keypoints(path: Union[str, os.PathLike], format: Optional[str] = None, layout: Optional[str] = None, *,
                   person: Optional[int] = None, max_gap: Optional[int] = None) -> Keypoints:
    """One person's keypoints from a detector file (`finepose infer --keypoints`): COCO-style JSON
    (MMPose / RTMPose / AlphaPose results), OpenPose JSON (a file or a directory of per-frame
    files), Halpe JSON, CSV or npz; format None: told by the file. The person is the longest
    track (or the best detection per frame without track ids), or track `person`. The result
    is in Human3.6M-17 order whatever the file's layout (layout: override its guess)."""
    return _keypoints_of(_finepose.read_keypoints(os.fspath(path), format, layout, person,
                                                  -1 if max_gap is None else int(max_gap)))


def read_persons(path: Union[str, os.PathLike], format: Optional[str] = None, layout: Optional[str] = None, *,
                 retrack: bool = False, max_gap: Optional[int] = None) -> List[Keypoints]:
    """Every person of a detector file (`finepose infer --persons all`), ordered by first
    appearance: the file's track ids, or people tracked across frames when it has none
    (retrack=True: track even when it has ids). Pass the list to Model.lift(persons=...)."""
    ps, _notes = _finepose.read_persons(os.fspath(path), format, layout, bool(retrack),
                                         -1 if max_gap is None else int(max_gap))
    return [_keypoints_of(d) for d in ps]


def metrics(pred: Any, target: Any, *, keypoints_2d: Any = None, intrinsics: _Intrinsics = None, root: Any = None,
            valid: Optional[Sequence[bool]] = None, skeleton: str = "h36m-17", zero_root: bool = True,
            pose_best_group_frames: int = 4 * 243) -> Dict[str, Any]:
    """Pose errors as `finepose metrics` reports them (millimetres in, mm / percent out).

    pred (N, 17, 3) -> {mpjpe, p_mpjpe, n_mpjpe, mpjve, pck, auc}; pred (N, H, 17, 3) ->
    one such dict per aggregation (p_agg, j_best, p_best, and j_agg when keypoints_2d,
    intrinsics and root are given). Values that cannot be computed are None."""
    def arr(x: Any, name: str) -> Optional[np.ndarray]:
        if x is None:
            return None
        a = np.asarray(x)
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"metrics: {name} must be a numeric array, got dtype {a.dtype}")
        return np.ascontiguousarray(a, dtype=np.float64)

    v = None if valid is None else [bool(x) for x in valid]
    return _finepose.metrics(arr(pred, "pred"), arr(target, "target"), arr(keypoints_2d, "keypoints_2d"),
                             _intrinsics(intrinsics), arr(root, "root"), v, skeleton, bool(zero_root),
                             int(pose_best_group_frames))


def export_bvh(poses: Any, path: Union[str, os.PathLike], *, root: Any = None, fps: float = 30.0, up: str = "y",
               overwrite: bool = False) -> float:
    """Writes a BVH (`finepose export`): poses (F, 17, 3) mm as Lifted.poses, root (F, 3) the
    camera-space trajectory (Lifted.trajectory) or None; up "y" or "z". Refuses to replace an
    existing file unless overwrite=True. Returns the fit's mean error in mm."""
    if up not in ("y", "z"):
        raise ValueError(f"export_bvh: up must be 'y' or 'z', got {up!r}")
    p = os.fspath(path)
    if os.path.exists(p) and not overwrite:
        raise FileExistsError(f"export_bvh: '{p}' exists; give overwrite=True to replace it")
    r = None if root is None else np.ascontiguousarray(root, dtype=np.float32)
    return _finepose.write_bvh(np.ascontiguousarray(poses, dtype=np.float32), r, p, float(fps), up == "z", bool(overwrite))
