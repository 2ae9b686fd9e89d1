import pytest
import torch

from datamodules.cat_heads import CatHeadsDataModule
from datamodules.io import read_cat_points
from kpbottleneck.coordinates import normalized_to_box_pixels
from kpbottleneck.skeletons import CAT_HEAD_FROM_9
from tests.real_formats import write_cat_heads


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_cat_heads(tmp_path_factory.mktemp("cats"))


def test_split_halves_training_into_images_and_prior(root):
    data = CatHeadsDataModule(str(root), image_size=32, batch_size=2)
    data.setup("fit")
    train = [c.source[0].relative_to(root) for c in data.clips("train")]
    prior = [c.source[0].relative_to(root) for c in data.clips("prior")]
    assert len(train) == len(prior) == 4 and not set(train) & set(prior)
    assert {c.source[0].parent.name for c in data.clips("test")} == {"CAT_06"}
    assert data.datasets["prior"].keypoints.shape == (4, 7, 2)
    # validation: every 10th prior-half training image, labelled, never a test image
    val = [c.source[0].relative_to(root) for c in data.clips("val")]
    assert val == prior[:1] and data.clips("val")[0].keypoints is not None


def test_test_keypoints_are_the_seven_kept_points(root):
    data = CatHeadsDataModule(str(root), image_size=32, batch_size=2)
    data.setup("test")
    sample = data.datasets["test"][1]
    truth = read_cat_points(root / "CAT_06/00000001_000.jpg.cat")[list(CAT_HEAD_FROM_9)]
    assert torch.allclose(
        normalized_to_box_pixels(sample["keypoints"][None], sample["box"][None])[0], truth, atol=1e-4
    )


def test_a_test_list_and_its_errors(root, tmp_path):
    (tmp_path / "test.txt").write_text("CAT_01/00000000_000.jpg\nCAT_01/00000001_000.jpg\n")
    data = CatHeadsDataModule(str(root), test_list=str(tmp_path / "test.txt"))
    assert [c.source[0].name for c in data.clips("test")] == ["00000000_000.jpg", "00000001_000.jpg"]
    (tmp_path / "bad.txt").write_text("CAT_09/nothing.jpg\n")
    with pytest.raises(ValueError, match=r"names images that do not exist"):
        CatHeadsDataModule(str(root), test_list=str(tmp_path / "bad.txt")).clips("test")
