"""Deprecated (until 0.3): the keypoint jitter is :mod:`kpbottleneck.keypoint_jitter`; this module name is
kept for one release (it named keypoint jitter and image augmentation alike)."""

import warnings

from kpbottleneck.keypoint_jitter import jitter_keypoints, random_similarity

warnings.warn(
    "kpbottleneck.augmentation is deprecated (until 0.3): import from kpbottleneck.keypoint_jitter",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["jitter_keypoints", "random_similarity"]
