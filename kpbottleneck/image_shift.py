"""Shifts of the skeleton images that D compares, the same for both of D's sides: random, or onto the
image centre.

D, a PatchGAN, sees where a skeleton sits as well as its shape, so it pushes the predicted skeletons to
where the prior's poses sit in their frames, which on footage whose subject sits elsewhere (a prior from
other shots) displaces every keypoint by one constant offset (docs/live_action.md, "Diagnosis"), and with
few prior poses it lets D learn them by heart. Shifting every image D sees, prior and predicted alike, by
its own random offset blurs where the skeletons sit for D while keeping their shapes; moving every image's
centroid onto the image centre hides where they sit altogether. Both are differentiable, so Φ still gets
D's gradient through them.
"""

from __future__ import annotations

import torch
from kornia.geometry.transform import translate
from torch import Tensor


def centre_images(images: Tensor) -> Tensor:
    """Translate each image of ``(B, C, H, W)`` so that the centroid of its intensities (summed over the
    channels) sits at the image's centre; zeros fill in. Bilinear, differentiable in ``images``.

    Convention: pixel centres at integer coordinates, the image centre at ``((W - 1) / 2, (H - 1) / 2)``.

    Example: a dot in a corner moves to the centre.
        >>> image = torch.zeros(1, 1, 3, 3)
        >>> image[0, 0, 0, 0] = 1.0
        >>> centre_images(image)[0, 0]
        tensor([[0., 0., 0.],
                [0., 1., 0.],
                [0., 0., 0.]])
    """
    _check_images(images)
    _, _, height, width = images.shape
    mass = images.sum(1)  # (B, H, W)
    total = mass.sum((1, 2)).clamp_min(1e-6)
    xs = torch.arange(width, device=images.device, dtype=images.dtype)
    ys = torch.arange(height, device=images.device, dtype=images.dtype)
    centroid = torch.stack([(mass.sum(1) * xs).sum(1), (mass.sum(2) * ys).sum(1)], dim=1) / total[:, None]
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], device=images.device, dtype=images.dtype)
    return translate(images, centre - centroid, padding_mode="zeros", align_corners=False)


def random_shift(images: Tensor, max_shift: float, generator: torch.Generator | None = None) -> Tensor:
    """Translate each image of ``(B, C, H, W)`` by its own random offset, each axis uniform in
    ``[-max_shift, max_shift]`` times the image's side; zeros (a skeleton image's background) fill in.

    Bilinear, so the result is differentiable in ``images``; ``max_shift = 0`` returns ``images`` and
    draws nothing from the random state.

    Example: a shift of at most 0 leaves the images as they are.
        >>> images = torch.rand(2, 1, 8, 8)
        >>> random_shift(images, 0.0) is images
        True
    """
    _check_images(images)
    if not 0.0 <= max_shift < 1.0:
        raise ValueError(f"max_shift must be in [0, 1), got {max_shift}")
    if max_shift == 0.0:
        return images
    batch, _, height, width = images.shape
    pixels = (torch.rand(batch, 2, generator=generator) * 2 - 1) * max_shift * torch.tensor([width, height])
    return translate(images, pixels.to(images), padding_mode="zeros", align_corners=False)


def _check_images(images: Tensor) -> None:
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
