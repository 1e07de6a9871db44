"""MMPose (or RTMPose) 2D results -> 3D poses with finepose, in a few lines.

    python3 examples/python/mmpose_to_3d.py RESULTS.json WIDTH HEIGHT OUT.npz

RESULTS.json: what MMPose's inferencer yields for a video, one entry per frame:
[{"predictions": [[{"keypoints": [[x, y], ...17], "keypoint_scores": [s, ...17]}, ...people]]}, ...].
The first person of each frame is lifted (for several people, use finepose.read_persons on a
file with track ids, or lift each tracked person's array).
"""
import json
import sys

import numpy as np

import finepose


def mmpose_to_3d(results, width, height, model=None):
    """MMPose inferencer results (COCO-17 keypoints) -> finepose.Lifted (poses (F, 17, 3) mm)."""
    person = [frame["predictions"][0][0] for frame in results]            # first person per frame
    xy = np.array([p["keypoints"] for p in person], dtype=np.float64)      # (F, 17, 2) COCO-17 pixels
    scores = np.array([p["keypoint_scores"] for p in person])              # (F, 17)
    kp = finepose.to_h36m17(xy, "coco17", scores=scores)                   # (F, 17, 3) Human3.6M-17
    return (model or finepose.load()).lift(kp, width, height)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        lifted = mmpose_to_3d(json.load(f), int(sys.argv[2]), int(sys.argv[3]))
    np.savez(sys.argv[4], poses_3d=lifted.poses)
    print(f"{lifted.poses.shape[0]} frames -> {sys.argv[4]} (poses_3d, mm, Human3.6M-17 order)")
