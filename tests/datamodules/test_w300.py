import pytest
import torch

from datamodules.io import read_pts
from datamodules.multipie import multipie_prior
from datamodules.w300 import W300DataModule, landmarked_images
from kpbottleneck.coordinates import normalized_to_box_pixels
from tests.real_formats import write_300w, write_multipie, write_pts


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("faces")
    return write_300w(base / "300w"), write_multipie(base / "multipie")


def test_test_set_has_the_common_and_challenging_subsets(roots):
    w300, multipie = roots
    data = W300DataModule(str(w300), str(multipie), image_size=32, batch_size=2)
    data.setup("test")
    assert data.activities == ("common", "challenging")
    assert [clip.activity for clip in data.clips("test")] == [0, 0, 0, 0, 1, 1]
    sample = data.datasets["test"][4]  # ibug/image_000
    truth = read_pts(w300 / "ibug/image_000.pts")
    assert torch.allclose(
        normalized_to_box_pixels(sample["keypoints"][None], sample["box"][None])[0], truth, atol=1e-4
    )


def test_training_is_thin_plate_spline_pairs_of_unlabelled_images_with_the_multipie_prior(roots):
    w300, multipie = roots
    data = W300DataModule(str(w300), str(multipie), image_size=32, batch_size=2)
    data.setup("fit")
    # 6 training images, the first held out for validation
    assert len(data.datasets["pairs"]) == 5 and all(clip.keypoints is None for clip in data.clips("train"))
    sample = data.datasets["pairs"][0]
    assert sample["image"].shape == sample["appearance_image"].shape == (3, 32, 32)
    assert not torch.equal(sample["image"], sample["appearance_image"])  # two different warps
    assert data.datasets["prior"].keypoints.shape == (6, 68, 2)


def test_multipie_prior_is_boxed_and_bad_files_are_named(roots, tmp_path):
    poses = multipie_prior(roots[1])
    assert poses.shape == (6, 68, 2) and poses.abs().max() < 1
    with pytest.raises(ValueError, match=r"no \.pts file under"):
        multipie_prior(tmp_path)
    write_pts(tmp_path / "bad" / "face.pts", torch.rand(66, 2))
    with pytest.raises(ValueError, match=r"face\.pts has 66 points"):
        multipie_prior(tmp_path / "bad")
    lonely = tmp_path / "ibug"
    lonely.mkdir()
    (lonely / "image.jpg").write_bytes((roots[0] / "ibug/image_000.jpg").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"ibug/image\.jpg has no landmark file image\.pts"):
        landmarked_images(lonely)
    with pytest.raises(FileNotFoundError, match=r"300-W images: directory .*helen/testset does not exist"):
        W300DataModule(str(tmp_path), str(roots[1])).clips("test")


def test_validation_is_held_out_of_the_training_images_never_a_test_image(roots):
    w300, multipie = roots
    data = W300DataModule(str(w300), str(multipie))
    sources = {split: {clip.source[0] for clip in data.clips(split)} for split in ("train", "val", "test")}
    assert sources["val"] == {w300 / "afw/image_000.jpg"}
    assert not sources["val"] & sources["test"] and not sources["val"] & sources["train"]
