import pytest
import torch
from scipy.io import savemat

from datamodules.io import read_mat_field
from datamodules.simplified_h36m import SimplifiedH36MDataModule, sequence_activity
from tests.real_formats import write_simplified_h36m


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_simplified_h36m(tmp_path_factory.mktemp("simplified_h36m"))


def test_activity_is_the_first_word_of_the_sequence():
    assert sequence_activity("Directions 1.54138969") == "directions"
    assert sequence_activity("Walking.55011271") == "walking"


def test_splits_follow_the_protocol(root):
    data = SimplifiedH36MDataModule(
        str(root), image_size=32, batch_size=2, window=(1, 2), train_subjects=(1, 9)
    )
    data.setup("fit")
    train, prior = data.clips("train"), data.clips("prior")
    assert len(train) == 4 and all(clip.frames == (0, 1, 2) and clip.keypoints is None for clip in train)
    assert all(clip.frames == (3, 4, 5) for clip in prior)  # second halves: never trained on as images
    assert len(data.datasets["prior"]) == 12 and len(data.datasets["pairs"]) == 12
    test = data.clips("test")
    assert {clip.source[0].parts[-4] for clip in test} == {"S11"}
    assert [clip.activity for clip in test] == [0, 5]  # directions, walking


def test_test_keypoints_are_the_mat_files_in_normalised_coordinates(root):
    data = SimplifiedH36MDataModule(str(root), image_size=32, batch_size=2, train_subjects=(1, 9))
    data.setup("test")
    sample = data.datasets["test"][7]  # S11, "Walking", frame 1
    truth = torch.from_numpy(
        read_mat_field(root / "S11/Landmarks/Walking.55011271/000001.mat", "keypoints_2d")
    )
    assert torch.allclose(sample["keypoints"], 2 * truth.float() - 1, atol=1e-6)
    assert sample["image"].shape == (3, 32, 32) and sample["activity"] == 5


def test_missing_subject_and_bad_landmarks_are_named(root, tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"Simplified Human3\.6M images: directory .*S5/WithBackground"
    ):
        SimplifiedH36MDataModule(str(root)).setup("fit")
    copy = write_simplified_h36m(tmp_path / "copy", frames=2)
    savemat(copy / "S11/Landmarks/Walking.55011271/000001.mat", {"keypoints": [[0.5, 0.5]]})
    data = SimplifiedH36MDataModule(str(copy), train_subjects=(1, 9))
    with pytest.raises(ValueError, match=r"Walking\.55011271/000001\.mat has no field 'keypoints_2d'"):
        data.setup("test")
