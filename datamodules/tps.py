"""Frame pairs from still images: two random thin-plate-spline warps ``(g1(x), g2(x))`` (paper, sec. 4).

Where a data set has no videos (300-W faces, cat heads), the pair ``(x, x′)`` is made from one image:
each side gets its own random smooth deformation, so the geometry differs between the two while the
appearance is shared, which is what the conditional decoder needs.
"""

from __future__ import annotations

from typing import Any

import torch
from kornia.geometry.linalg import transform_points
from kornia.geometry.transform import get_tps_transform, warp_image_tps
from torch import Tensor
from torch.utils.data import Dataset

from kpbottleneck.keypoint_jitter import random_similarity


def random_tps_warp(
    images: Tensor,
    grid_size: int = 5,
    deformation: float = 0.05,
    zoom: tuple[float, float] = (0.95, 1.05),
    max_shift: float = 0.05,
    max_rotation: float = 10.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Warp each image ``(B, C, H, W)`` by its own random thin-plate spline (kornia).

    Control points on a ``grid_size × grid_size`` lattice over the image (normalised coordinates,
    docs/conventions.md) move by a random similarity (``zoom``, ``max_shift``, ``max_rotation`` in
    degrees) plus Gaussian noise of standard deviation ``deformation``; the content at each control
    point is carried to its moved position. Pixels warped in from outside repeat the border.
    """
    batch = images.shape[0]
    axis = torch.linspace(-1.0, 1.0, grid_size)
    source = torch.cartesian_prod(axis, axis).flip(-1).expand(batch, -1, -1)  # (B, N, 2), (x, y)
    similarity = random_similarity(batch, zoom, max_shift, max_rotation, generator)
    target = transform_points(similarity, source)
    target = target + deformation * torch.randn(target.shape, generator=generator)
    source, target = source.to(images), target.to(images)
    kernel, affine = get_tps_transform(target, source)
    return warp_image_tps(images, source, kernel, affine, align_corners=False, padding_mode="border")


class ThinPlateSplinePairDataset(Dataset):
    """Training pairs ``{"image": g1(x), "appearance_image": g2(x)}`` from a dataset of still images.

    Args:
        images: a dataset whose items are dicts with ``"image"`` ``(3, H, W)`` in [0, 1].
        **warp: arguments of :func:`random_tps_warp` (``grid_size``, ``deformation``, ...).

    The warps are drawn from torch's global generator, which Lightning seeds (and reseeds per worker).
    """

    def __init__(self, images: Dataset, **warp: Any) -> None:
        self.images = images
        self.warp = warp

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        image = self.images[index]["image"]
        pair = random_tps_warp(torch.stack([image, image]), **self.warp)
        return {"image": pair[0], "appearance_image": pair[1]}
