import pytest
import torch

from datamodules.image_augmentation import ColourJitter, LabelledAugmentation
from datamodules.video import FramePairDataset
from kpbottleneck.skeletons import SYNTHETIC


def _sample():
    image = torch.zeros(3, 32, 32)
    image[:, 16, 24] = 1.0  # a bright pixel where the left wrist is
    keypoints = torch.zeros(17, 2)
    keypoints[SYNTHETIC.index("left_wrist")] = torch.tensor([0.5, 1 / 32])  # pixel (23.5, 16)
    visibility = torch.ones(17, dtype=torch.bool)
    visibility[SYNTHETIC.index("right_wrist")] = False
    return {"image": image, "keypoints": keypoints, "visibility": visibility, "activity": torch.tensor(3)}


def test_flip_mirrors_the_image_and_swaps_left_and_right_keypoints():
    flip = LabelledAugmentation(SYNTHETIC, flip_probability=1.0, zoom=(1, 1), max_shift=0, max_rotation=0)
    out = flip(_sample())
    left, right = SYNTHETIC.index("left_wrist"), SYNTHETIC.index("right_wrist")
    assert out["image"][0].nonzero().tolist() == [[16, 7]]  # column 24 → 31 - 24
    assert torch.allclose(
        out["keypoints"][right], torch.tensor([-0.5, 1 / 32]), atol=1e-6
    )  # now the right one
    assert out["visibility"][left].item() is False and out["visibility"][right].item() is True
    assert out["activity"] == 3


def test_affine_moves_image_and_keypoints_together():
    torch.manual_seed(1)
    augment = LabelledAugmentation(
        SYNTHETIC, flip_probability=0.0, zoom=(0.8, 1.2), max_shift=0.1, max_rotation=20
    )
    out = augment(_sample())
    weights = out["image"][0] / out["image"][0].sum()
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    centre = torch.stack([(weights * xs).sum(), (weights * ys).sum()])
    wrist = (out["keypoints"][SYNTHETIC.index("left_wrist")] + 1) * 32 / 2 - 0.5
    assert torch.allclose(centre, wrist, atol=0.75)


def test_colour_jitter_is_reproducible_under_a_seed():
    image = torch.rand(3, 8, 8)
    torch.manual_seed(5)
    first = ColourJitter(0.4)(image)
    torch.manual_seed(5)
    assert torch.equal(first, ColourJitter(0.4)(image)) and first.shape == image.shape


class _StillVideo:
    """One video whose every frame is the same image: a pair's two frames differ only by augmentation."""

    num_videos = 1

    def __init__(self):
        self.image = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))

    def num_frames(self, video):
        return 6

    def frame(self, video, t):
        return self.image.clone()


def test_a_pair_shares_one_colour_jitter():
    jitter = ColourJitter(0.5)
    shared = FramePairDataset(_StillVideo(), window=(1, 3), augment=jitter.same)
    for index in range(len(shared)):
        sample = shared[index]
        assert torch.equal(sample["image"], sample["appearance_image"])
        assert not torch.equal(sample["image"], _StillVideo().image)  # jittered all the same
    first, second = jitter(_StillVideo().image), jitter(_StillVideo().image)
    assert not torch.equal(first, second)  # separate calls draw separately


def test_the_old_module_name_still_imports_and_warns(monkeypatch):
    import importlib
    import sys

    monkeypatch.delitem(sys.modules, "datamodules.augment", raising=False)
    with pytest.warns(DeprecationWarning, match="import from datamodules.image_augmentation"):
        old = importlib.import_module("datamodules.augment")
    assert old.ColourJitter is ColourJitter and old.LabelledAugmentation is LabelledAugmentation
