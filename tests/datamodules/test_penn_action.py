import numpy as np
import pytest
import torch
from scipy.io import savemat

from datamodules.io import read_mat_field
from datamodules.penn_action import PennActionDataModule, square_around
from kpbottleneck.coordinates import normalized_to_box_pixels
from tests.real_formats import write_penn_action


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_penn_action(tmp_path_factory.mktemp("penn_action"))


def test_each_actions_training_videos_are_halved_into_images_and_prior(root):
    data = PennActionDataModule(str(root), image_size=32, batch_size=2, window=(1, 2))
    data.setup("fit")
    videos = lambda split: [clip.source[0].parent.name for clip in data.clips(split)]  # noqa: E731
    # per action 4 videos: 2 training (1st → images, 2nd → prior), 2 test
    assert videos("train") == ["0001", "0005"] and videos("prior") == ["0002", "0006"]
    assert videos("test") == ["0003", "0004", "0007", "0008"]
    assert data.datasets["prior"].keypoints.shape == (12, 13, 2)
    assert [clip.activity for clip in data.clips("test")] == [0, 0, 11, 11]  # baseball_pitch, squat
    # validation: every 10th second-half training video, labelled, never a test video
    assert videos("val") == ["0002"] and data.clips("val")[0].keypoints is not None


def test_test_keypoints_and_visibility_come_from_the_labels(root):
    data = PennActionDataModule(str(root), image_size=32, batch_size=2, eval_frame_stride=1)
    data.setup("test")
    sample = data.datasets["test"][2]  # video 0003, frame 2
    x, y = read_mat_field(root / "labels/0003.mat", "x"), read_mat_field(root / "labels/0003.mat", "y")
    visible = read_mat_field(root / "labels/0003.mat", "visibility")[2] > 0
    pixels = normalized_to_box_pixels(sample["keypoints"][None], sample["box"][None])[0]
    assert torch.allclose(
        pixels, torch.from_numpy(np.stack([x[2], y[2]], -1)).float() - 1, atol=1e-4
    )  # 1-based
    assert sample["visibility"].tolist() == visible.tolist()


def test_square_around_a_box():
    assert square_around(torch.tensor([[10.0, 20.0, 30.0, 60.0]]), 1.0).tolist() == [[0.0, 20.0, 40.0, 60.0]]


def test_a_label_file_with_the_wrong_joints_is_named(tmp_path):
    copy = write_penn_action(tmp_path / "copy", videos_per_action=2, frames=2)
    labels = {"x": [[1.0] * 12], "y": [[1.0] * 12], "visibility": [[1] * 12], "bbox": [[0, 0, 5, 5]]}
    savemat(copy / "labels/0002.mat", {**labels, "action": "squat", "train": [[0]]})
    with pytest.raises(ValueError, match=r"0002\.mat: x and y must be \(frames, 13\)"):
        PennActionDataModule(str(copy)).setup("test")
