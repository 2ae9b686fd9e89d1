"""Random similarity jitter of keypoint sets (zoom, shift, rotation), used to pre-train η."""

from __future__ import annotations

import math

import torch
from kornia.geometry.conversions import convert_affinematrix_to_homography
from kornia.geometry.linalg import transform_points
from kornia.geometry.transform import get_rotation_matrix2d
from torch import Tensor


def random_similarity(
    batch_size: int,
    zoom: tuple[float, float] = (0.9, 1.1),
    max_shift: float = 0.1,
    max_rotation: float = 15.0,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> Tensor:
    """Random similarity transforms about the image centre, ``(B, 3, 3)`` in normalised coordinates.

    Args:
        zoom: range of the scale factor (uniform in log space).
        max_shift: translation drawn uniformly in ``[-max_shift, max_shift]`` per axis.
        max_rotation: rotation in degrees drawn uniformly in ``[-max_rotation, max_rotation]``.
    """

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return torch.rand(batch_size, *shape, generator=generator) * (high - low) + low

    scale = torch.exp(uniform(math.log(zoom[0]), math.log(zoom[1]), 1)).repeat(1, 2)
    angle = uniform(-max_rotation, max_rotation)
    affine = get_rotation_matrix2d(torch.zeros(batch_size, 2), angle, scale)
    affine[:, :, 2] += uniform(-max_shift, max_shift, 2)
    return convert_affinematrix_to_homography(affine).to(device)


def jitter_keypoints(
    keypoints: Tensor,
    zoom: tuple[float, float] = (0.9, 1.1),
    max_shift: float = 0.1,
    max_rotation: float = 15.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Apply one random similarity per sample to ``(B, K, 2)`` normalised keypoints."""
    transform = random_similarity(
        keypoints.shape[0], zoom, max_shift, max_rotation, generator, keypoints.device
    )
    return transform_points(transform.to(keypoints.dtype), keypoints)
