import pytest
import torch

from datamodules.base import KeypointDataModule, PairsWithPriorDataset
from datamodules.poses import PoseDataset
from datamodules.random_data import RandomDataModule


def test_pairs_with_prior_merges_samples():
    pairs = [{"image": torch.zeros(1)}, {"image": torch.ones(1)}]
    prior = [{"prior_keypoints": torch.full((1, 2), 7.0)}]
    dataset = PairsWithPriorDataset(pairs, prior)
    assert len(dataset) == 2
    assert set(dataset[1]) == {"image", "prior_keypoints"} and dataset[1]["prior_keypoints"][0, 0] == 7


def test_empty_prior_is_an_error():
    with pytest.raises(ValueError, match="prior pose dataset is empty"):
        PairsWithPriorDataset([{"image": torch.zeros(1)}], [])


def test_base_requires_build_datasets_and_missing_loaders_are_named():
    with pytest.raises(NotImplementedError, match="must implement build_datasets"):
        KeypointDataModule("synthetic").setup("fit")
    data = RandomDataModule()
    data.setup("fit")
    del data.datasets["test"]
    with pytest.raises(RuntimeError, match="no 'test' dataset"):
        data.test_dataloader()


def test_random_batches():
    data = RandomDataModule(image_size=16, batch_size=4, num_train=8)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["image"].shape == (4, 3, 16, 16) and batch["prior_keypoints"].shape == (4, 17, 2)


class _Unreadable(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        raise AssertionError("a prior-only loader must not read frames")


class _PriorOnly(KeypointDataModule):
    def build_datasets(self, stage):
        poses = PoseDataset(torch.arange(3.0)[:, None, None].expand(3, 17, 2).clone())
        return {"pairs": _Unreadable(), "prior": poses}


def test_prior_only_batches_draw_prior_poses_and_never_read_frames():
    torch.manual_seed(0)
    data = _PriorOnly("synthetic", batch_size=4, prior_only=True)
    data.setup("fit")
    batches = list(data.train_dataloader())
    assert len(batches) == 2  # as many samples as frame pairs, though the prior has only 3 poses
    for batch in batches:
        assert set(batch) == {"prior_keypoints", "prior_visibility"}
        assert batch["prior_keypoints"].shape == (4, 17, 2)
    drawn = torch.cat([b["prior_keypoints"][:, 0, 0] for b in batches])
    assert set(drawn.tolist()) <= {0.0, 1.0, 2.0} and len(set(drawn.tolist())) > 1
