"""Image augmentation with albumentations: colour jitter for training frames, and keypoint-aware geometry
(affine + horizontal flip) for labelled frames, where a flip also swaps left and right through the
:class:`~kpbottleneck.skeletons.Skeleton`.

Random parameters (or albumentations' seed) are drawn with torch, so Lightning's seeding makes them
reproducible; albumentations applies them (to the image and, with ``KeypointParams``, to the keypoints).
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
import torch
from torch import Tensor

from kpbottleneck.coordinates import normalized_to_pixels, pixels_to_normalized
from kpbottleneck.skeletons import Skeleton


def to_pixels(image: Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] → ``(H, W, 3)`` uint8, albumentations' image layout."""
    return np.ascontiguousarray((image.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy())


def from_pixels(pixels: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float() / 255


class ColourJitter:
    """Brightness, contrast and saturation by up to ``strength``, hue by ``strength / 4``."""

    def __init__(self, strength: float) -> None:
        self.transform = A.Compose([A.ColorJitter(strength, strength, strength, strength / 4, p=1.0)])

    def __call__(self, image: Tensor) -> Tensor:
        return self.same(image)[0]

    def same(self, *images: Tensor) -> list[Tensor]:
        """One draw of the jitter applied to every image (e.g. both frames of a training pair)."""
        seed = int(torch.randint(2**31 - 1, ()))
        jittered = []
        for image in images:
            self.transform.set_random_seed(seed)
            jittered.append(from_pixels(self.transform(image=to_pixels(image))["image"]))
        return jittered


class LabelledAugmentation:
    """Keypoint-aware augmentation of a labelled sample ``{"image", "keypoints", "visibility", ...}``:
    a random affine (zoom, shift, rotation) and, with probability ``flip_probability``, a horizontal flip
    that also exchanges left and right keypoints (through ``skeleton``), so that a "left wrist" stays the
    subject's left wrist.

    Args:
        skeleton: the keypoint set of the samples' ``keypoints``.
        flip_probability: chance of a horizontal flip.
        zoom, max_shift, max_rotation: affine ranges (shift as a fraction of the image, degrees).
    """

    def __init__(
        self,
        skeleton: Skeleton,
        flip_probability: float = 0.5,
        zoom: tuple[float, float] = (0.9, 1.1),
        max_shift: float = 0.05,
        max_rotation: float = 10.0,
    ) -> None:
        self.skeleton = skeleton
        self.flip_probability = flip_probability
        self.zoom = zoom
        self.max_shift = max_shift
        self.max_rotation = max_rotation

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        image, keypoints = sample["image"], sample["keypoints"]
        size = tuple(image.shape[-2:])
        scale = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * float(torch.rand(()))
        shift = [self.max_shift * (2 * float(torch.rand(())) - 1) for _ in range(2)]
        angle = self.max_rotation * (2 * float(torch.rand(())) - 1)
        flip = float(torch.rand(())) < self.flip_probability
        steps = [A.Affine(scale=scale, translate_percent={"x": shift[0], "y": shift[1]}, rotate=angle, p=1.0)]
        if flip:
            steps.append(A.HorizontalFlip(p=1.0))
        transform = A.Compose(steps, keypoint_params=A.KeypointParams(format="xy", remove_invisible=False))
        result = transform(image=to_pixels(image), keypoints=normalized_to_pixels(keypoints, size).numpy())
        moved = pixels_to_normalized(
            torch.as_tensor(np.asarray(result["keypoints"]), dtype=torch.float32), size
        )
        visibility = sample.get("visibility", torch.ones(keypoints.shape[0], dtype=torch.bool))
        if flip:
            moved = self.skeleton.swap_left_right(moved)
            visibility = visibility[list(self.skeleton.flip_permutation)]
        return {**sample, "image": from_pixels(result["image"]), "keypoints": moved, "visibility": visibility}
