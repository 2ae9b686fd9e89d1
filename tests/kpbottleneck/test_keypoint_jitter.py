import pytest
import torch

from kpbottleneck.keypoint_jitter import jitter_keypoints, random_similarity


def test_identity_without_jitter():
    keypoints = torch.rand(4, 6, 2)
    torch.testing.assert_close(jitter_keypoints(keypoints, (1.0, 1.0), 0.0, 0.0), keypoints)


def test_is_a_similarity_within_ranges():
    gen = torch.Generator().manual_seed(3)
    transform = random_similarity(64, zoom=(0.8, 1.25), max_shift=0.1, max_rotation=20.0, generator=gen)
    linear = transform[:, :2, :2]
    scale = torch.sqrt(torch.linalg.det(linear))
    assert ((scale >= 0.8 - 1e-5) & (scale <= 1.25 + 1e-5)).all()
    torch.testing.assert_close(
        linear @ linear.transpose(1, 2), scale[:, None, None] ** 2 * torch.eye(2).expand(64, 2, 2)
    )
    assert transform[:, :2, 2].abs().max() <= 0.1 + 1e-6
    angles = torch.rad2deg(torch.atan2(linear[:, 1, 0], linear[:, 0, 0])).abs()
    assert angles.max() <= 20.0 + 1e-3 and angles.max() > 5.0


def test_the_old_module_name_still_imports_and_warns(monkeypatch):
    import importlib
    import sys

    monkeypatch.delitem(sys.modules, "kpbottleneck.augmentation", raising=False)
    with pytest.warns(DeprecationWarning, match="import from kpbottleneck.keypoint_jitter"):
        old = importlib.import_module("kpbottleneck.augmentation")
    assert old.jitter_keypoints is jitter_keypoints and old.random_similarity is random_similarity
