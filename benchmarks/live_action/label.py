"""Pseudo ground truth for the live-action face clips: MediaPipe Face Mesh, run offline, two labellers.

Runs in its own environment (MediaPipe pins protobuf and OpenCV versions of its own), never in the
library's or in CI; its output, ``labels/<clip>.csv``, is committed::

    python3 -m venv /tmp/label-env && /tmp/label-env/bin/pip install mediapipe==0.10.14 av==18.1.0
    /tmp/label-env/bin/python benchmarks/live_action/label.py            # every face clip of clips.json

Each frame is labelled independently (``static_image_mode=True``: no tracking, so no frame's label leans
on its neighbours) by two models of the same package: Face Mesh (``refine_landmarks=False``, the model
``face_landmark.tflite``) and Face Mesh with attention (``refine_landmarks=True``,
``face_landmark_with_attention.tflite``). The first is the benchmark's ground truth; the distance
between the two is its label-noise floor (``live_action.py`` reports it beside every result). The 19
keypoints of ``face19.json`` are read off the 468-point mesh at the vertices below.

Output: one row per (labeller, frame): ``labeller, frame, <name>_x, <name>_y`` in pixels of the original
frames (x right, y down, the centre of the top-left pixel at (0.5, 0.5)); coordinates empty where the
labeller found no face.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import av
import mediapipe as mp

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
LABELLERS = {"face_mesh": False, "face_mesh_attention": True}  # name → refine_landmarks


def label_clip(video: Path, out: Path, names: list[str]) -> None:
    """Write ``out`` (the module docstring's format) for every frame of ``video``: ``names``' keypoints."""
    vertices = [MESH_VERTICES[name] for name in names]
    with av.open(str(video)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    height, width = frames[0].shape[:2]
    header = ["labeller", "frame"] + [f"{name}_{axis}" for name in names for axis in "xy"]
    with out.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for labeller, refine in LABELLERS.items():
            with mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=refine
            ) as mesh:
                for t, frame in enumerate(frames):
                    found = mesh.process(frame).multi_face_landmarks
                    row: list[str] = [labeller, str(t)]
                    for vertex in vertices:
                        if found:
                            point = found[0].landmark[vertex]
                            row += [f"{point.x * width:.2f}", f"{point.y * height:.2f}"]
                        else:
                            row += ["", ""]
                    writer.writerow(row)
    print(f"{video.name}: {len(frames)} frames, {width}x{height} → {out}", file=sys.stderr)


def main() -> None:
    clips = json.loads((HERE / "clips.json").read_text())
    for name, clip in clips.items():
        if clip["skeleton"] == "face19":
            names = json.loads((HERE / "face19.json").read_text())["keypoint_names"]
            label_clip(HERE / clip["file"], HERE / "labels" / f"{name}.csv", names)


if __name__ == "__main__":
    main()
