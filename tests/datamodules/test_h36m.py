import pytest
import torch

from datamodules.h36m import H36MDataModule, read_h36m_poses
from datamodules.mocap import mocap_prior
from kpbottleneck.coordinates import normalized_to_box_pixels
from kpbottleneck.skeletons import H36M17_FROM_32
from tests.real_formats import write_cdf, write_h36m, write_mpi_inf_3dhp


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("h36m")
    return write_h36m(base / "h36m"), write_mpi_inf_3dhp(base / "mpi_inf_3dhp")


def _data(root, **kwargs):
    settings = dict(image_size=32, batch_size=2, window=(1, 2), train_subjects=(1, 5), test_subjects=(9,))
    return H36MDataModule(str(root), **{**settings, **kwargs})


def test_test_frames_carry_the_17_joints_in_original_pixels_through_their_box(roots):
    root, _ = roots
    data = _data(root, eval_frame_stride=1)
    data.setup("test")
    sample = data.datasets["test"][3]  # S9, first camera, frame 3
    poses = read_h36m_poses(root / "S9/MyPoseFeatures/D2_Positions/Directions 1.54138969.cdf")
    pixels = normalized_to_box_pixels(sample["keypoints"][None], sample["box"][None])[0]
    assert torch.allclose(pixels, poses[3, list(H36M17_FROM_32)], atol=1e-4)
    assert sample["keypoints"].abs().max() < 1  # the box holds the whole pose


def test_images_and_the_h36m_prior_come_from_different_halves(roots):
    root, _ = roots
    data = _data(root)
    data.setup("fit")
    train, prior = data.clips("train"), data.clips("prior")
    assert all(clip.frames == (0, 1, 2, 3) and clip.keypoints is None for clip in train)
    assert all(clip.frames[0] == 4 for clip in prior)
    assert data.datasets["prior"].keypoints.shape[1:] == (32, 2)
    assert data.skeleton.name == "simplified_h36m"


def test_mpi_inf_3dhp_prior(roots):
    root, mpi = roots
    data = _data(root, prior="mpi_inf_3dhp", mpi_inf_3dhp_root=str(mpi), mpi_inf_3dhp_subjects=(1, 2))
    data.setup("fit")
    prior = data.datasets["prior"]
    assert data.skeleton.name == "mpi_inf_3dhp" and prior.keypoints.shape[1:] == (28, 2)
    assert len(prior) == 2 * 2 * 3 * 4  # subjects × sequences × cameras × frames (stride 5 of 20)
    assert prior.keypoints.abs().max() < 1
    with pytest.raises(ValueError, match=r"needs data\.mpi_inf_3dhp_root"):
        H36MDataModule(str(root), prior="mpi_inf_3dhp")


def test_the_shipped_mocap_prior(roots):
    data = _data(roots[0], prior="mocap")
    data.setup("fit")
    assert data.skeleton.name == "h36m17"
    assert torch.equal(data.datasets["prior"].keypoints, mocap_prior())
    with pytest.raises(ValueError, match=r"data\.prior must be one of \['h36m', 'mpi_inf_3dhp', 'mocap'\]"):
        H36MDataModule(str(roots[0]), prior="cmu")


def test_a_pose_file_without_pose_is_named(roots, tmp_path):
    path = write_cdf(tmp_path / "bad.cdf", "Angles", torch.zeros(1, 3, 78).double().numpy())
    with pytest.raises(ValueError, match=r"bad\.cdf has no variable 'Pose'"):
        read_h36m_poses(path)
    with pytest.raises(FileNotFoundError, match=r"Human3\.6M videos of S7: directory"):
        _data(roots[0], train_subjects=(7,)).setup("fit")
