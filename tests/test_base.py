import pytest
import torch

from datamodules.base import KeypointDataModule, PairsWithPriorDataset
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
