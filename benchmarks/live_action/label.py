"""Pseudo ground truth for the live-action clips: MediaPipe, run offline, two labellers per clip.

Runs in its own environment (MediaPipe pins protobuf and OpenCV versions of its own), never in the
library's or in CI; its output, ``labels/<clip>.csv``, is committed::

    python3 -m venv /tmp/label-env && /tmp/label-env/bin/pip install mediapipe==0.10.14 av==18.1.0
    /tmp/label-env/bin/python benchmarks/live_action/label.py            # every clip of clips.json

Each frame is labelled independently (``static_image_mode=True``: no tracking, so no frame's label leans
on its neighbours) by the two labellers that ``clips.json`` names for the clip (``labellers``: the ground
truth first; the distance between the two is the clip's label-noise floor, which ``run.py`` reports beside
every result):

- face clips (``face19``): Face Mesh (``face_mesh``: ``refine_landmarks=False``, the model
  ``face_landmark.tflite``) and Face Mesh with attention (``face_mesh_attention``: ``refine_landmarks=True``,
  ``face_landmark_with_attention.tflite``); the 19 keypoints of ``face19.json`` are read off the 468-point
  mesh at the vertices below;
- body clips (``body13``): Pose (``pose``: ``model_complexity=1``, ``pose_landmark_full.tflite``, the one
  pose model the wheel ships) on the frame, and the same model on the mirrored frame, its landmarks mirrored
  back and left and right swapped (``pose_mirrored``: a second view of the same labeller, as the wheel has no
  second pose model); frames are enlarged to 256 px first (the person crops of ``cut_body.py`` are 128 px,
  the model's input 256); the 13 keypoints of ``body13.json`` are 13 of its 33 landmarks.

Output: one row per (labeller, frame): ``labeller, frame, <name>_x, <name>_y`` in pixels of the original
frames (x right, y down, the centre of the top-left pixel at (0.5, 0.5)); coordinates empty where the
labeller found no face or person.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path

import av
import mediapipe as mp
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent

# face19.json's keypoints as vertices of MediaPipe's canonical face mesh; "right" is the subject's right
# (the image's left in a frontal view)
MESH_VERTICES = {
    "right_cheek": 234,
    "right_jaw": 172,
    "chin": 152,
    "left_jaw": 397,
    "left_cheek": 454,
    "right_brow_outer": 70,
    "right_brow_inner": 107,
    "left_brow_inner": 336,
    "left_brow_outer": 300,
    "right_eye_outer": 33,
    "right_eye_inner": 133,
    "left_eye_inner": 362,
    "left_eye_outer": 263,
    "nose_bridge": 168,
    "nose_tip": 1,
    "mouth_right": 61,
    "upper_lip": 0,
    "mouth_left": 291,
    "lower_lip": 17,
}
# body13.json's keypoints as MediaPipe Pose landmarks; "left" is the subject's left
POSE_LANDMARKS = {
    "nose": 0,
    "left_shoulder": 11,
    "right_shoulder": 12,
    "left_elbow": 13,
    "right_elbow": 14,
    "left_wrist": 15,
    "right_wrist": 16,
    "left_hip": 23,
    "right_hip": 24,
    "left_knee": 25,
    "right_knee": 26,
    "left_ankle": 27,
    "right_ankle": 28,
}
POSE_INPUT = 256  # Pose's input side: smaller frames are enlarged to it first

#: A labeller: an RGB frame ``(H, W, 3)`` → the named keypoints ``{name: (x, y)}`` in fractions of the
#: frame's width and height, or ``None`` where it found no face or person.
Labeller = Callable[[np.ndarray], "dict[str, tuple[float, float]] | None"]


def face_mesh(refine: bool) -> Labeller:
    """Face Mesh (with attention where ``refine``), read at :data:`MESH_VERTICES`."""
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=refine)

    def label(frame: np.ndarray) -> dict[str, tuple[float, float]] | None:
        found = mesh.process(frame).multi_face_landmarks
        if not found:
            return None
        points = found[0].landmark
        return {name: (points[v].x, points[v].y) for name, v in MESH_VERTICES.items()}

    return label


def mirrored_names() -> dict[str, int]:
    """:data:`POSE_LANDMARKS` as read off a mirrored frame: the subject's left is the landmark of its right.

    Example:
        >>> mirrored_names()["left_wrist"] == POSE_LANDMARKS["right_wrist"]
        True
    """
    swaps = (("left_", "right_"), ("right_", "left_"))
    return {
        name: POSE_LANDMARKS[next((b + name[len(a) :] for a, b in swaps if name.startswith(a)), name)]
        for name in POSE_LANDMARKS
    }


def pose(mirrored: bool) -> Labeller:
    """Pose, read at :data:`POSE_LANDMARKS`; where ``mirrored``, run on the mirrored frame and mirrored back
    (x → 1 − x, the subject's left and right swapped)."""
    model = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)

    def label(frame: np.ndarray) -> dict[str, tuple[float, float]] | None:
        height, width = frame.shape[:2]
        if max(height, width) < POSE_INPUT:
            scale = POSE_INPUT / max(height, width)
            size = (round(width * scale), round(height * scale))
            frame = np.asarray(Image.fromarray(frame).resize(size, Image.BICUBIC))
        if mirrored:
            frame = np.ascontiguousarray(frame[:, ::-1])
        found = model.process(frame).pose_landmarks
        if found is None:
            return None
        points = found.landmark
        if not mirrored:
            return {name: (points[i].x, points[i].y) for name, i in POSE_LANDMARKS.items()}
        return {name: (1 - points[i].x, points[i].y) for name, i in mirrored_names().items()}

    return label


LABELLERS: dict[str, Callable[[], Labeller]] = {
    "face_mesh": lambda: face_mesh(refine=False),
    "face_mesh_attention": lambda: face_mesh(refine=True),
    "pose": lambda: pose(mirrored=False),
    "pose_mirrored": lambda: pose(mirrored=True),
}


def label_clip(video: Path, out: Path, names: list[str], labellers: list[str]) -> None:
    """Write ``out`` (the module docstring's format) for every frame of ``video``: ``names``' keypoints by
    each of ``labellers`` (:data:`LABELLERS`)."""
    with av.open(str(video)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    height, width = frames[0].shape[:2]
    header = ["labeller", "frame"] + [f"{name}_{axis}" for name in names for axis in "xy"]
    with out.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for labeller in labellers:
            label = LABELLERS[labeller]()
            for t, frame in enumerate(frames):
                found = label(frame)
                row: list[str] = [labeller, str(t)]
                for name in names:
                    if found:
                        x, y = found[name]
                        row += [f"{x * width:.2f}", f"{y * height:.2f}"]
                    else:
                        row += ["", ""]
                writer.writerow(row)
    print(f"{video.name}: {len(frames)} frames, {width}x{height} → {out}", file=sys.stderr)


def main() -> None:
    clips = json.loads((HERE / "clips.json").read_text())
    only = set(sys.argv[1:])  # clip names; none: every clip
    for name, clip in clips.items():
        if only and name not in only:
            continue
        names = json.loads((HERE / f"{clip['skeleton']}.json").read_text())["keypoint_names"]
        label_clip(HERE / clip["file"], HERE / "labels" / f"{name}.csv", names, clip["labellers"])


if __name__ == "__main__":
    main()
