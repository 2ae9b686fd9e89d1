"""VoxCeleb2 (Chung et al. 2018) talking-head videos with the MultiPIE prior (section 5.2, Figure 7).

Layout under ``root`` (as distributed)::

    mp4/id00012/<video id>/00001.mp4 ...      face-centred 224 × 224 clips

Every clip is a video; a training sample is a random frame pair of one clip within ``window`` (one
sample per clip and epoch: with a million clips, indexing every frame up front would take hours).
VoxCeleb2 has no landmarks: with ``w300_root``, test uses 300-W's test set and validation every 10th
image of 300-W's training subsets (never a test image).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from datamodules.clips import Clip, ClipDataModule
from datamodules.io import require_dir
from datamodules.multipie import multipie_prior
from datamodules.w300 import TEST_SUBSETS, VALIDATION_EVERY, w300_test_clips, w300_training_clips


class VoxCeleb2DataModule(ClipDataModule):
    """VoxCeleb2 frame pairs + MultiPIE prior (see the module docstring).

    Args:
        root: VoxCeleb2's directory (holding ``mp4``).
        multipie_root: MultiPIE's ``.pts`` tree, the prior.
        w300_root: 300-W's directory: its training images for validation, its test set for test (optional).
        kwargs: the settings of :class:`~datamodules.clips.ClipDataModule` (``image_size``,
            ``batch_size``, ``num_workers``, ``window``, ``max_prior_samples``, ``eval_frame_stride``, ...).
    """

    activities = tuple(TEST_SUBSETS)
    pairs_per_clip = True

    def __init__(self, root: str, multipie_root: str, w300_root: str | None = None, **kwargs: Any) -> None:
        super().__init__(root, "face68", **kwargs)
        self.multipie_root = multipie_root
        self.w300_root = w300_root

    def list_clips(self, split: str) -> list[Clip]:
        if split == "train":
            clips = sorted(require_dir(self.root / "mp4", "VoxCeleb2 videos").glob("id*/*/*.mp4"))
            if not clips:
                raise ValueError(f"VoxCeleb2 videos: no mp4/id*/<video>/<clip>.mp4 under {self.root}")
            return [Clip(path) for path in clips]
        if split == "test" and self.w300_root:
            return w300_test_clips(require_dir(self.w300_root, "300-W (test)"))
        if split == "val" and self.w300_root:  # 300-W's training images: never a test image
            return w300_training_clips(require_dir(self.w300_root, "300-W (validation)"))[::VALIDATION_EVERY]
        return []

    def prior_poses(self) -> tuple[Tensor, Tensor | None]:
        return multipie_prior(self.multipie_root), None
