"""The unpaired pose prior: a dataset of keypoint sets, optionally capped to N samples (Table 5)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset


class PoseDataset(Dataset):
    """Unpaired prior poses ``{"prior_keypoints" (K, 2), "prior_visibility" (K,)}``.

    Args:
        keypoints: ``(N, K, 2)`` normalised poses.
        visibility: ``(N, K)`` bool (default: all visible).
        max_samples: keep a random subset of this many poses (the paper's 50 / 500 / 5000), drawn with
            ``seed`` so that every run and every process keeps the same subset.
        seed: seed of that subset.
    """

    def __init__(
        self,
        keypoints: Tensor,
        visibility: Tensor | None = None,
        max_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
            raise ValueError(f"prior keypoints must have shape (N, K, 2), got {tuple(keypoints.shape)}")
        if visibility is None:
            visibility = torch.ones(keypoints.shape[:2], dtype=torch.bool)
        if visibility.shape != keypoints.shape[:2]:
            raise ValueError(
                f"prior visibility {tuple(visibility.shape)} does not match {tuple(keypoints.shape[:2])}"
            )
        if max_samples is not None and max_samples < keypoints.shape[0]:
            if max_samples < 1:
                raise ValueError(f"max_samples must be >= 1, got {max_samples}")
            keep = torch.randperm(keypoints.shape[0], generator=torch.Generator().manual_seed(seed))[
                :max_samples
            ]
            keypoints, visibility = keypoints[keep], visibility[keep]
        self.keypoints = keypoints.float()
        self.visibility = visibility.bool()

    def __len__(self) -> int:
        return self.keypoints.shape[0]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"prior_keypoints": self.keypoints[index], "prior_visibility": self.visibility[index]}

    def mean_pose(self) -> Tensor:
        """Mean of the visible prior poses, ``(K, 2)``: the "always predict the mean pose" baseline."""
        weight = self.visibility[..., None].float()
        return (self.keypoints * weight).sum(0) / weight.sum(0).clamp_min(1.0)
