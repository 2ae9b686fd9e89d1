import pytest
import torch

from datamodules.poses import PoseDataset


def test_cap_is_a_seeded_subset():
    poses = torch.arange(40.0).view(10, 2, 2)
    capped = PoseDataset(poses, max_samples=3, seed=5)
    again = PoseDataset(poses, max_samples=3, seed=5)
    assert len(capped) == 3 and torch.equal(capped.keypoints, again.keypoints)
    assert all(any(torch.equal(p, q) for q in poses) for p in capped.keypoints)
    assert len(PoseDataset(poses, max_samples=50)) == 10


def test_mean_pose_ignores_invisible():
    poses = torch.tensor([[[0.0, 0.0]], [[1.0, 1.0]], [[9.0, 9.0]]])
    visible = torch.tensor([[True], [True], [False]])
    torch.testing.assert_close(PoseDataset(poses, visible).mean_pose(), torch.tensor([[0.5, 0.5]]))


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(N, K, 2\)"):
        PoseDataset(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="does not match"):
        PoseDataset(torch.zeros(3, 4, 2), torch.ones(3, 5, dtype=torch.bool))
