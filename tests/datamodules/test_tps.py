import pytest
import torch

import datamodules.tps as tps
from datamodules.tps import ThinPlateSplinePairDataset, random_tps_warp


def _square(size=32):
    image = torch.zeros(1, 1, size, size)
    image[..., 10:14, 10:14] = 1.0
    return image


def _centre(image):
    ys, xs = torch.nonzero(image[0, 0] > 0.5, as_tuple=True)
    return xs.float().mean().item(), ys.float().mean().item()


def test_identity_warp_leaves_the_image_unchanged():
    image = _square()
    out = random_tps_warp(image, deformation=0.0, zoom=(1.0, 1.0), max_shift=0.0, max_rotation=0.0)
    torch.testing.assert_close(out, image, atol=1e-5, rtol=0)


def test_content_moves_to_the_moved_control_points(monkeypatch):
    def shift_right(batch, *args, **kwargs):
        matrix = torch.eye(3).repeat(batch, 1, 1)
        matrix[:, 0, 2] = 0.25  # a quarter of the half-width: 4 px at 32 px
        return matrix

    monkeypatch.setattr(tps, "random_similarity", shift_right)
    x, y = _centre(random_tps_warp(_square(), deformation=0.0))
    assert x == pytest.approx(11.5 + 4.0, abs=0.1)
    assert y == pytest.approx(11.5, abs=0.1)


def test_pairs_share_appearance_but_differ_in_geometry():
    torch.manual_seed(0)
    image = torch.rand(3, 1, 1).expand(3, 32, 32).clone()
    image[:, 8:24, 12:20] = 0.0
    pairs = ThinPlateSplinePairDataset([{"image": image}], deformation=0.08)
    assert len(pairs) == 1
    sample = pairs[0]
    assert sample["image"].shape == sample["appearance_image"].shape == (3, 32, 32)
    assert not torch.allclose(sample["image"], sample["appearance_image"], atol=1e-3)
    # same colours on both sides: a smooth warp only moves pixels around
    torch.testing.assert_close(sample["image"].amax((1, 2)), sample["appearance_image"].amax((1, 2)))
