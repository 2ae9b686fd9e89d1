"""Deprecated (until 0.3): image augmentation is :mod:`datamodules.image_augmentation`; this module name
is kept for one release (it named image augmentation and keypoint jitter alike)."""

import warnings

from datamodules.image_augmentation import ColourJitter, LabelledAugmentation

warnings.warn(
    "datamodules.augment is deprecated (until 0.3): import from datamodules.image_augmentation",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["ColourJitter", "LabelledAugmentation"]
