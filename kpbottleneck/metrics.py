"""Keypoint-error metrics as torchmetrics ``Metric``s: sum states, so DDP sync is exact."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from kpbottleneck.coordinates import normalized_to_unit


def per_image_error(prediction: Tensor, target: Tensor, visibility: Tensor | None = None) -> Tensor:
    """Mean over visible keypoints of the Euclidean distance, per image: ``(B, K, 2)`` → ``(B,)``.

    Coordinates are mapped from [-1, 1] to [0, 1] first, so the error is a fraction of the image size.
    """
    distance = torch.linalg.vector_norm(normalized_to_unit(prediction) - normalized_to_unit(target), dim=-1)
    if visibility is None:
        return distance.mean(-1)
    weight = visibility.to(distance.dtype)
    return (distance * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)


class ImageSizeNormalizedError(Metric):
    """Mean keypoint error normalised by the image size, in % (Simplified Human3.6M protocol).

    ``update(prediction (B, K, 2), target (B, K, 2), visibility (B, K) | None)`` with normalised
    keypoints; images without any visible keypoint are not counted.
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_state("error_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, prediction: Tensor, target: Tensor, visibility: Tensor | None = None) -> None:
        errors = per_image_error(prediction.detach(), target, visibility)
        counted = torch.ones_like(errors, dtype=torch.bool) if visibility is None else visibility.any(-1)
        self.error_sum += errors[counted].sum().double()
        self.count += counted.sum()

    def compute(self) -> Tensor:
        return (100.0 * self.error_sum / self.count.clamp_min(1)).float()
