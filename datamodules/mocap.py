"""A human pose prior from real motion capture that ships with the library (``prior: mocap``).

Source: the DeepMimic motion-capture clips and the humanoid they drive, as distributed in the ``pybullet``
wheel (zlib licence; ``pybullet_data/data/motions/humanoid3d_*.txt`` and
``pybullet_data/humanoid/humanoid.urdf``; notice in ``datamodules/data/MOCAP_LICENSE.txt``). The shipped
file ``datamodules/data/mocap_h36m17.npz`` was made from them by ``python -m datamodules.mocap PYBULLET_DATA``
(this module's :func:`main`):

1. **3-D joints by forward kinematics** (:func:`forward_kinematics`). A clip's ``Frames`` row is
   ``duration, root position (3), root rotation (w, x, y, z), chest, neck, right hip (quaternions),
   right knee (angle), right ankle, right shoulder (quaternions), right elbow (angle), left hip, left
   knee, left ankle, left shoulder, left elbow`` (44 numbers). Each spherical joint's rotation is applied
   in its parent's frame at the joint's origin offset from the URDF; knees and elbows turn about their
   z axis. The humanoid is y-up, faces +x, and its right side is +z.
2. **Mapped to the** ``h36m17`` **joints**: hip = root; left/right hip, knee, foot (= ankle joint),
   shoulder, elbow, wrist = the URDF joints of the same names. Approximated, since the humanoid has no
   such joint: ``spine`` = the chest joint (about halfway between pelvis and shoulders, as in
   Human3.6M), ``thorax`` = the midpoint of the two shoulder joints, ``neck_nose`` = the centre of the
   head sphere, ``head`` = the top of the head sphere (centre + radius along the neck's up axis).
3. **2-D poses from virtual cameras** (:func:`project`): 12 yaws all around (every 30°) × pitches 0°, 15°
   and 30° (looking down), each camera aimed at the pelvis from 17 humanoid units (about 4.6 m for a
   1.7 m person, Human3.6M's camera distance), with perspective projection. DESIGN: perspective, not
   orthographic, because at that distance the two still differ by 2.1 % of the pose's box side on
   average (measured by :func:`main`, printed as ``orthographic_difference``): the size of the effect
   real cameras have. Every 4th frame of every clip is kept (neighbouring frames are near copies).
4. **Normalised like every other prior**: each pose is boxed with a square of 1.25 times its extent and
   mapped to [-1, 1] (:func:`~kpbottleneck.coordinates.square_box`).

Convention:
    Keypoints ``(N, 17, 2)`` in the ``h36m17`` order, (x, y) with y down, normalised to [-1, 1] as every
    prior (``align_corners=False`` grid). "Left" is the subject's left: seen from the front it is on the
    image's right.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch
from kornia.geometry.conversions import axis_angle_to_rotation_matrix, quaternion_to_rotation_matrix
from torch import Tensor

from kpbottleneck.coordinates import box_pixels_to_normalized, square_box
from kpbottleneck.skeletons import H36M17

MOCAP = "mocap"  # the name data modules take for this prior (``data.prior: mocap``)
BUNDLED_PRIOR = Path(__file__).with_name("data") / "mocap_h36m17.npz"

#: the fields of a DeepMimic humanoid frame, in order, with their widths
FRAME_LAYOUT = (
    ("duration", 1), ("root_position", 3), ("root", 4), ("chest", 4), ("neck", 4),
    ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4), ("right_shoulder", 4), ("right_elbow", 1),
    ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4), ("left_shoulder", 4), ("left_elbow", 1),
)  # fmt: skip
FRAME_WIDTH = sum(width for _, width in FRAME_LAYOUT)
#: the URDF joints the forward kinematics needs, each with its parent joint
JOINT_PARENTS = {
    "chest": "root", "neck": "chest",
    "right_hip": "root", "right_knee": "right_hip", "right_ankle": "right_knee",
    "left_hip": "root", "left_knee": "left_hip", "left_ankle": "left_knee",
    "right_shoulder": "chest", "right_elbow": "right_shoulder", "right_wrist": "right_elbow",
    "left_shoulder": "chest", "left_elbow": "left_shoulder", "left_wrist": "left_elbow",
}  # fmt: skip
YAWS = tuple(range(0, 360, 30))
PITCHES = (0, 15, 30)
CAMERA_DISTANCE = 17.0  # humanoid units from the pelvis
FOCAL = 1000.0  # pixels; any value gives the same normalised poses
FRAME_STRIDE = 4


def read_motion(path: str | Path) -> Tensor:
    """Frames ``(T, 44)`` of a DeepMimic humanoid clip (JSON with a ``Frames`` list of rows)."""
    path = Path(path)
    try:
        frames = json.loads(path.read_text())["Frames"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"motion file {path}: expected JSON with a 'Frames' list ({error!r})") from error
    rows = torch.tensor(frames, dtype=torch.float64) if frames else torch.zeros(0)
    if rows.dim() != 2 or rows.shape[1] != FRAME_WIDTH:
        raise ValueError(
            f"motion file {path}: 'Frames' must be rows of {FRAME_WIDTH} numbers (humanoid3d layout), "
            f"got shape {tuple(rows.shape)}"
        )
    return rows


def read_humanoid(path: str | Path) -> tuple[dict[str, Tensor], float]:
    """Joint origin offsets ``{joint: (3,)}`` (in the parent link's frame) and the head sphere's radius
    from the humanoid's URDF."""
    path = Path(path)
    try:
        robot = ET.fromstring(path.read_bytes().rstrip(b"\x00"))  # the shipped file ends with a NUL byte
    except (OSError, ET.ParseError) as error:
        raise ValueError(f"humanoid URDF {path} is not readable XML: {error}") from error
    offsets = {}
    for joint in robot.iter("joint"):
        origin, name = joint.find("origin"), joint.get("name")
        xyz = None if origin is None else origin.get("xyz")
        if name is not None and xyz is not None:
            offsets[name] = torch.tensor([float(v) for v in xyz.split()])
    missing = [name for name in JOINT_PARENTS if name not in offsets]
    sphere = robot.find("./link[@name='neck']/collision/geometry/sphere")
    radius = None if sphere is None else sphere.get("radius")
    if missing or radius is None:
        what = f"joints {missing}" if missing else "the neck link's collision sphere (the head)"
        raise ValueError(f"humanoid URDF {path}: no {what}")
    return offsets, float(radius)


def _fields(frames: Tensor) -> dict[str, Tensor]:
    fields, start = {}, 0
    for name, width in FRAME_LAYOUT:
        fields[name] = frames[:, start : start + width]
        start += width
    return fields


def forward_kinematics(frames: Tensor, offsets: dict[str, Tensor], head_radius: float) -> Tensor:
    """World positions ``(T, 17, 3)`` of the ``h36m17`` joints (module docstring) for frames ``(T, 44)``."""
    fields = _fields(frames.double())
    rotation = {"root": quaternion_to_rotation_matrix(fields["root"])}
    position = {"root": fields["root_position"]}
    z_axis = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    for joint, parent in JOINT_PARENTS.items():  # parents come before their children
        position[joint] = position[parent] + rotation[parent] @ offsets[joint].double()
        if joint.endswith(("knee", "elbow")):
            local = axis_angle_to_rotation_matrix(fields[joint] * z_axis)
        elif joint.endswith("wrist"):
            local = torch.eye(3, dtype=torch.float64).expand(len(frames), 3, 3)
        else:
            local = quaternion_to_rotation_matrix(fields[joint])
        rotation[joint] = rotation[parent] @ local

    def at(joint: str, point: tuple[float, float, float]) -> Tensor:
        return position[joint] + rotation[joint] @ torch.tensor(point, dtype=torch.float64)

    shoulder_mid = (offsets["right_shoulder"] + offsets["left_shoulder"]).double() / 2
    joints = {
        "hip": position["root"],
        "spine": position["chest"],
        "thorax": position["chest"] + rotation["chest"] @ shoulder_mid,
        "neck_nose": at("neck", (0.0, 0.7, 0.0)),
        "head": at("neck", (0.0, 0.7 + head_radius, 0.0)),
        **{name: position[name] for name in JOINT_PARENTS if not name.startswith(("chest", "neck"))},
        "right_foot": position["right_ankle"],
        "left_foot": position["left_ankle"],
    }
    return torch.stack([joints[name] for name in H36M17.keypoint_names], dim=1)


def camera_basis(yaw: float, pitch: float) -> tuple[Tensor, Tensor]:
    """Centre offset from the target ``(3,)`` and rows (right, down, forward) ``(3, 3)`` of a camera
    at ``yaw``/``pitch`` degrees (yaw 0: in front of the humanoid, on its +x side)."""
    yaw_r, pitch_r = math.radians(yaw), math.radians(pitch)
    direction = torch.tensor(
        [math.cos(pitch_r) * math.cos(yaw_r), math.sin(pitch_r), math.cos(pitch_r) * math.sin(yaw_r)],
        dtype=torch.float64,
    )
    forward = -direction
    right = torch.linalg.cross(forward, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    right = right / right.norm()
    down = torch.linalg.cross(forward, right)
    return direction, torch.stack([right, down, forward])


def project(joints: Tensor, yaw: float, pitch: float, perspective: bool = True) -> Tensor:
    """Pixel positions ``(T, K, 2)`` (y down) of joints ``(T, K, 3)`` seen by a camera aimed at each
    frame's pelvis (joint 0) from :data:`CAMERA_DISTANCE`."""
    direction, basis = camera_basis(yaw, pitch)
    centre = joints[:, :1] + CAMERA_DISTANCE * direction
    camera = (joints - centre) @ basis.T  # (T, K, 3): right, down, depth
    depth = camera[..., 2:] if perspective else torch.full_like(camera[..., 2:], CAMERA_DISTANCE)
    return FOCAL * camera[..., :2] / depth


def normalise(pixels: Tensor) -> Tensor:
    """Each pose ``(K, 2)`` of ``(N, K, 2)`` boxed (margin 1.25) and mapped to [-1, 1]."""
    boxes = torch.stack([square_box(pose) for pose in pixels])
    return box_pixels_to_normalized(pixels, boxes)


def make_prior(pybullet_data: str | Path, perspective: bool = True) -> tuple[Tensor, list[str], Tensor]:
    """Normalised 2-D poses ``(N, 17, 2)``, the clip names, and each pose's ``(clip index, yaw, pitch)``
    ``(N, 3)``."""
    root = Path(pybullet_data)
    offsets, head_radius = read_humanoid(root / "humanoid" / "humanoid.urdf")
    clips = sorted((root / "data" / "motions").glob("humanoid3d_*.txt"))
    if not clips:
        raise FileNotFoundError(f"no humanoid3d_*.txt motion clips under {root / 'data' / 'motions'}")
    poses, views = [], []
    for index, clip in enumerate(clips):
        joints = forward_kinematics(read_motion(clip)[::FRAME_STRIDE], offsets, head_radius)
        for yaw in YAWS:
            for pitch in PITCHES:
                poses.append(normalise(project(joints, yaw, pitch, perspective).float()))
                views.append(torch.tensor([index, yaw, pitch]).expand(len(joints), 3))
    names = [clip.stem.removeprefix("humanoid3d_") for clip in clips]
    return torch.cat(poses), names, torch.cat(views)


@functools.cache
def _bundled() -> Tensor:
    with np.load(BUNDLED_PRIOR) as stored:
        return torch.from_numpy(stored["keypoints"].astype(np.float32))


def mocap_prior() -> Tensor:
    """The shipped human prior: ``(N, 17, 2)`` ``h36m17`` poses normalised to [-1, 1] (module docstring)."""
    return _bundled().clone()


def main() -> None:
    """Make ``datamodules/data/mocap_h36m17.npz`` from a ``pybullet_data`` folder; print what was made."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("pybullet_data", help="the pybullet_data folder of an installed or unpacked pybullet")
    parser.add_argument("--out", default=str(BUNDLED_PRIOR))
    args = parser.parse_args()
    keypoints, names, views = make_prior(args.pybullet_data)
    orthographic, _, _ = make_prior(args.pybullet_data, perspective=False)
    np.savez_compressed(
        args.out, keypoints=keypoints.numpy().astype(np.float16), clips=np.array(names),
        clip_index=views[:, 0].numpy().astype(np.int16), yaw=views[:, 1].numpy().astype(np.int16),
        pitch=views[:, 2].numpy().astype(np.int16),
    )  # fmt: skip
    difference = (keypoints - orthographic).norm(dim=-1).mean() / 2 * 100  # % of the box side
    print(
        json.dumps(
            {"poses": len(keypoints), "clips": names, "orthographic_difference": round(float(difference), 3)}
        )
    )


if __name__ == "__main__":
    main()
