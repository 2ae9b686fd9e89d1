"""Random tensors shaped like real batches: a smoke-test data source for configs and tests."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch.utils.data import Dataset, TensorDataset

from datamodules.base import KeypointDataModule
from datamodules.poses import PoseDataset
from kpbottleneck.skeletons import Skeleton


class _Named(Dataset):
    """Rename the tensors of a :class:`TensorDataset` item into a dict."""

    def __init__(self, dataset: TensorDataset, *names: str) -> None:
        self.dataset = dataset
        self.names = names

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, self.dataset[index], strict=True))


class RandomDataModule(KeypointDataModule):
    """Uniform-noise images and uniformly random keypoints in [-0.8, 0.8] (fixed ``seed``).

    Nothing can be learnt from it; it exercises every code path of training, validation, testing,
    prediction and evaluation in seconds. Evaluation image ``i`` belongs to activity ``i % num_activities``.
    """

    def __init__(
        self,
        skeleton: str | Skeleton = "synthetic",
        image_size: int = 32,
        batch_size: int = 4,
        num_workers: int | None = 0,
        num_train: int = 16,
        num_prior: int = 16,
        num_val: int = 8,
        num_activities: int = 1,
        prior_only: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(skeleton, image_size, batch_size, num_workers, prior_only=prior_only)
        self.num_train, self.num_prior, self.num_val, self.seed = num_train, num_prior, num_val, seed
        self.activities = tuple(f"activity{i}" for i in range(num_activities)) if num_activities > 1 else ()

    def build_datasets(self, stage: str) -> Mapping[str, Dataset]:
        gen = torch.Generator().manual_seed(self.seed)
        size, k = self.image_size, self.skeleton.num_keypoints

        def images(n: int) -> torch.Tensor:
            return torch.rand(n, 3, size, size, generator=gen)

        def keypoints(n: int) -> torch.Tensor:
            return torch.rand(n, k, 2, generator=gen) * 1.6 - 0.8

        pairs = _Named(
            TensorDataset(images(self.num_train), images(self.num_train)), "image", "appearance_image"
        )
        prior = PoseDataset(keypoints(self.num_prior))
        activity = torch.arange(self.num_val) % max(len(self.activities), 1)
        visible = torch.ones(self.num_val, k, dtype=torch.bool)
        val = _Named(
            TensorDataset(images(self.num_val), keypoints(self.num_val), visible, activity),
            "image",
            "keypoints",
            "visibility",
            "activity",
        )
        return {"pairs": pairs, "prior": prior, "val": val, "test": val, "post_processing": val}
