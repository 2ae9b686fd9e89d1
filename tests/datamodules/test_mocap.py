import json
import math

import numpy as np
import pytest
import torch

from datamodules.custom import VideoFolderDataModule
from datamodules.mocap import (
    BUNDLED_PRIOR,
    CAMERA_DISTANCE,
    FOCAL,
    FRAME_WIDTH,
    JOINT_PARENTS,
    forward_kinematics,
    make_prior,
    mocap_prior,
    project,
    read_humanoid,
    read_motion,
)
from kpbottleneck.skeletons import H36M17

IDENTITY = [1.0, 0.0, 0.0, 0.0]  # (w, x, y, z)


def _urdf(offsets: dict[str, tuple[float, float, float]], head_radius: float = 0.4) -> str:
    """A humanoid URDF in the shipped file's form: joints with origins, a neck link with a head sphere."""
    joints = "".join(
        f'<joint name="{name}" type="spherical"><parent link="{parent}"/><child link="{name}"/>'
        f'<origin rpy="0 0 0" xyz="{" ".join(map(str, offsets[name]))}"/></joint>'
        for name, parent in JOINT_PARENTS.items()
    )
    sphere = f'<geometry><sphere radius="{head_radius}"/></geometry>'
    neck = f'<link name="neck"><collision>{sphere}</collision></link>'
    return f'<robot name="test"><link name="root"/>{neck}{joints}</robot>\x00'


# Unit offsets that make hand computation easy (humanoid: y up, faces +x, right side +z)
OFFSETS = {
    "chest": (0, 1, 0), "neck": (0, 1, 0), "right_hip": (0, 0, 0.5), "left_hip": (0, 0, -0.5),
    "right_knee": (0, -2, 0), "left_knee": (0, -2, 0), "right_ankle": (0, -2, 0), "left_ankle": (0, -2, 0),
    "right_shoulder": (0, 1, 1), "left_shoulder": (0, 1, -1), "right_elbow": (0, -1, 0),
    "left_elbow": (0, -1, 0), "right_wrist": (0, -1, 0), "left_wrist": (0, -1, 0),
}  # fmt: skip


def _frame(root=(0.0, 0.0, 0.0), right_knee=0.0, root_rotation=IDENTITY):
    """One humanoid3d row: duration, root position, root rotation, then the joints in file order."""
    chest = neck = hip = ankle = shoulder = IDENTITY
    return [0.03, *root, *root_rotation, *chest, *neck, *hip, right_knee, *ankle, *shoulder, 0.0,
            *hip, 0.0, *ankle, *shoulder, 0.0]  # fmt: skip


@pytest.fixture
def pybullet_data(tmp_path):
    """A pybullet_data-like folder with the real file formats: humanoid URDF and one motion clip."""
    (tmp_path / "humanoid").mkdir()
    (tmp_path / "humanoid" / "humanoid.urdf").write_text(_urdf(OFFSETS))
    (tmp_path / "data" / "motions").mkdir(parents=True)
    frames = [_frame(), _frame(root=(1.0, 0.0, 0.0), right_knee=math.pi / 2)]
    (tmp_path / "data" / "motions" / "humanoid3d_test.txt").write_text(
        json.dumps({"Loop": "wrap", "Frames": frames})
    )
    return tmp_path


def test_forward_kinematics_hand_computed(pybullet_data):
    offsets, radius = read_humanoid(pybullet_data / "humanoid" / "humanoid.urdf")
    assert radius == 0.4
    joints = forward_kinematics(
        read_motion(pybullet_data / "data/motions/humanoid3d_test.txt"), offsets, radius
    )
    assert joints.shape == (2, 17, 3)

    def at(t, name):
        return joints[t, H36M17.index(name)].tolist()

    # standing, no rotation: positions are sums of offsets
    assert at(0, "hip") == [0, 0, 0] and at(0, "spine") == [0, 1, 0]
    assert at(0, "right_knee") == [0, -2, 0.5] and at(0, "right_foot") == [0, -4, 0.5]
    assert at(0, "left_wrist") == [0, 0, -1] and at(0, "thorax") == [0, 2, 0]
    assert at(0, "neck_nose") == pytest.approx([0, 2.7, 0]) and at(0, "head") == pytest.approx([0, 3.1, 0])
    # moved by 1 along x, right knee bent 90° about its z axis: the shin turns from −y to +x
    assert at(1, "right_knee") == pytest.approx([1, -2, 0.5])
    assert at(1, "right_foot") == pytest.approx([3, -2, 0.5])
    assert at(1, "left_foot") == pytest.approx([1, -4, -0.5])


def test_root_rotation_turns_the_whole_body(pybullet_data):
    offsets, radius = read_humanoid(pybullet_data / "humanoid" / "humanoid.urdf")
    half = math.sqrt(0.5)  # 90° about y: +z (the right side) goes to +x
    frames = torch.tensor([_frame(root_rotation=[half, 0.0, half, 0.0])])
    joints = forward_kinematics(frames, offsets, radius)
    assert joints[0, H36M17.index("right_hip")].tolist() == pytest.approx([0.5, 0, 0])


def test_projection_hand_computed():
    # camera in front (yaw 0, on +x) looking at the pelvis: the subject's right (+z) is on the image's left
    joints = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]], dtype=torch.float64)
    pixels = project(joints, yaw=0, pitch=0)
    assert pixels[0, 1].tolist() == pytest.approx([-FOCAL / CAMERA_DISTANCE, 0])
    assert pixels[0, 2].tolist() == pytest.approx([0, -FOCAL / CAMERA_DISTANCE])  # up is −y in images
    behind = project(joints, yaw=180, pitch=0)
    assert behind[0, 1, 0] == pytest.approx(FOCAL / CAMERA_DISTANCE)


def test_make_prior_gives_normalised_poses_from_every_view(pybullet_data):
    poses, names, views = make_prior(pybullet_data)
    assert names == ["test"] and poses.shape == (1 * 12 * 3, 17, 2)  # 1 frame kept (stride 4) × views
    assert poses.abs().max() < 1 and set(views[:, 1].tolist()) == set(range(0, 360, 30))


def test_bad_files_are_named(tmp_path):
    (tmp_path / "bad.txt").write_text(json.dumps({"Frames": [[0.0] * 10]}))
    with pytest.raises(ValueError, match=rf"bad\.txt: 'Frames' must be rows of {FRAME_WIDTH} numbers"):
        read_motion(tmp_path / "bad.txt")
    (tmp_path / "none.txt").write_text("{}")
    with pytest.raises(ValueError, match=r"none\.txt: expected JSON with a 'Frames' list"):
        read_motion(tmp_path / "none.txt")
    (tmp_path / "robot.urdf").write_text('<robot><joint name="chest"><origin xyz="0 1 0"/></joint></robot>')
    with pytest.raises(ValueError, match=r"robot\.urdf: no joints \['neck'"):
        read_humanoid(tmp_path / "robot.urdf")


def test_shipped_poses_are_plausible_bodies():
    poses = mocap_prior()
    assert poses.shape[1:] == (17, 2) and len(poses) > 10_000 and poses.abs().max() <= 1

    def length(a, b):
        return (poses[:, H36M17.index(a)] - poses[:, H36M17.index(b)]).norm(dim=-1)

    # bones seen from many views: compare medians over all poses
    for side in ("left", "right"):
        thigh, shin = length(f"{side}_hip", f"{side}_knee"), length(f"{side}_knee", f"{side}_foot")
        assert 0.8 < thigh.median() / shin.median() < 1.25
        upper, fore = length(f"{side}_shoulder", f"{side}_elbow"), length(f"{side}_elbow", f"{side}_wrist")
        assert 0.8 < upper.median() / fore.median() < 1.25
    assert 0.95 < length("left_hip", "left_knee").median() / length("right_hip", "right_knee").median() < 1.05
    assert length("hip", "thorax").median() > length("left_knee", "left_foot").median()


def test_shipped_poses_have_left_and_right_where_a_camera_sees_them():
    with np.load(BUNDLED_PRIOR) as stored:
        poses = torch.from_numpy(stored["keypoints"].astype(np.float32))
        clips, clip_index, yaw = list(stored["clips"]), stored["clip_index"], stored["yaw"]
    walking = torch.from_numpy(clip_index == clips.index("walk"))
    left, right = H36M17.index("left_shoulder"), H36M17.index("right_shoulder")
    front = poses[walking & torch.from_numpy(yaw == 0)]
    back = poses[walking & torch.from_numpy(yaw == 180)]
    # seen from the front the subject's left is on the image's right; from behind on its left
    assert (front[:, left, 0] > front[:, right, 0]).all()
    assert (back[:, left, 0] < back[:, right, 0]).all()
    wrist, hip = H36M17.index("left_wrist"), H36M17.index("hip")
    assert (front[:, wrist, 0] > front[:, hip, 0]).all() and (back[:, wrist, 0] < back[:, hip, 0]).all()
    # head above hips (y grows downwards) when walking
    assert (front[:, H36M17.index("head"), 1] < front[:, H36M17.index("hip"), 1]).all()


def test_video_folder_module_takes_the_shipped_prior(tmp_path):
    (tmp_path / "videos").mkdir()
    data = VideoFolderDataModule(str(tmp_path / "videos"), "mocap", "h36m17")
    keypoints, visibility = data.prior_poses()
    assert torch.equal(keypoints, mocap_prior()) and visibility is None
    with pytest.raises(
        ValueError, match=r"prior=mocap is a prior of 'h36m17' poses; data.skeleton is 'synthetic'"
    ):
        VideoFolderDataModule(str(tmp_path / "videos"), "mocap", "synthetic")
