"""kpbottleneck: self-supervised learning of interpretable 2D keypoints from unlabelled videos.

An implementation of KeypointGAN (Jakab, Gupta, Bilen, Vedaldi, CVPR 2020) in PyTorch Lightning.
"""

from kpbottleneck.keypoint_gan import KeypointGAN
from kpbottleneck.keypoint_regressor import KeypointRegressor  # deprecated alias (until 0.3)
from kpbottleneck.regressor_pretraining import RegressorPretraining
from kpbottleneck.rendering import SkeletonRenderer, render_skeleton
from kpbottleneck.skeletons import SKELETONS, Skeleton, get_skeleton

__version__ = "0.1.0"

__all__ = [
    "SKELETONS",
    "KeypointGAN",
    "KeypointRegressor",
    "RegressorPretraining",
    "Skeleton",
    "SkeletonRenderer",
    "__version__",
    "get_skeleton",
    "render_skeleton",
]
