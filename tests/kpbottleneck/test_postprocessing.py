import pytest
import torch

from kpbottleneck.postprocessing import LinearKeypointMap, map_keypoints


def _linear_data(n=64, k=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    prediction = torch.rand(n, k, 2, generator=gen) * 2 - 1
    matrix = torch.randn(2 * k, 2 * k, generator=gen) * 0.3
    bias = torch.randn(2 * k, generator=gen) * 0.1
    target = (prediction.flatten(1) @ matrix + bias).reshape(n, k, 2)
    return prediction, target


def test_recovers_an_exact_linear_relation():
    prediction, target = _linear_data()
    linear_map = LinearKeypointMap(3)
    linear_map.update(prediction[:40], target[:40])
    linear_map.update(prediction[40:], target[40:])  # accumulating in batches changes nothing
    weights = linear_map.compute()
    assert weights.shape == (3, 7, 2)
    torch.testing.assert_close(map_keypoints(weights, prediction), target, atol=1e-4, rtol=0)


def test_invisible_targets_drop_out_of_their_own_fit_only():
    prediction, target = _linear_data()
    visibility = torch.ones(64, 3, dtype=torch.bool)
    visibility[::3, 1] = False
    corrupted = target.clone()
    corrupted[~visibility] = 100.0  # garbage where the ground truth is missing
    linear_map = LinearKeypointMap(3)
    linear_map.update(prediction, corrupted, visibility)
    regressed = map_keypoints(linear_map.compute(), prediction)
    torch.testing.assert_close(regressed, target, atol=1e-4, rtol=0)


def test_a_keypoint_never_visible_is_an_error():
    prediction, target = _linear_data(k=2)
    linear_map = LinearKeypointMap(2)
    linear_map.update(prediction, target, torch.tensor([[True, False]]).repeat(64, 1))
    with pytest.raises(RuntimeError, match="never visible"):
        linear_map.compute()


def test_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match=r"must both be \(B, 3, 2\)"):
        LinearKeypointMap(3).update(torch.zeros(2, 4, 2), torch.zeros(2, 4, 2))
