"""300-W (Sagonas et al. 2013), the paper's Table 3: faces in the wild with 68 landmarks.

Layout under ``root`` (the iBUG release as used by Ren et al. 2014)::

    afw/*.jpg + same-name .pts          training
    helen/trainset/*.jpg + .pts         training
    lfpw/trainset/*.png + .pts          training
    helen/testset, lfpw/testset         test, "common" subset
    ibug/*.jpg + .pts                   test, "challenging" subset

Images are cropped to a square box around the landmarks (margin 1.25; the usual 300-W face box) and
the error is the inter-ocular normalised error in %. Training (fine-tuning, section 5.2) uses
thin-plate-spline pairs ``(g1(x), g2(x))`` of the training images with MultiPIE as the prior.
DESIGN: ``activities`` are the two test subsets, so "all" is the mean of the common and challenging
errors (not the image-weighted full set, which the per-subset columns let one compute).
Validation: every 10th image of the training subsets (``afw``, ``helen/trainset``, ``lfpw/trainset``),
held out of the training pairs, so that choosing a checkpoint or a setting never looks at a test image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from datamodules.clips import Clip, ClipDataModule
from datamodules.io import read_pts, require_dir
from datamodules.multipie import multipie_prior
from kpbottleneck.coordinates import square_box

TRAIN_SUBSETS = ("afw", "helen/trainset", "lfpw/trainset")
VALIDATION_EVERY = 10  # every 10th training image is held out for validation
TEST_SUBSETS = {"common": ("helen/testset", "lfpw/testset"), "challenging": ("ibug",)}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def landmarked_images(folder: Path, activity: int = 0) -> list[Clip]:
    """One-frame clips of every image in ``folder`` that has a same-name ``.pts`` file (68 points)."""
    images = sorted(
        p for p in require_dir(folder, "300-W images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
    )
    clips = []
    for image in images:
        points = image.with_suffix(".pts")
        if not points.is_file():
            raise FileNotFoundError(f"300-W image {image} has no landmark file {points.name}")
        clips.append(Clip((image,), None, read_pts(points)[None], None, None, activity))
    return clips


def w300_training_clips(root: Path) -> list[Clip]:
    """The landmarked images of 300-W's training subsets (afw, helen/trainset, lfpw/trainset)."""
    return [clip for subset in TRAIN_SUBSETS for clip in landmarked_images(root / subset)]


def w300_test_clips(root: Path) -> list[Clip]:
    return [
        clip
        for activity, subsets in enumerate(TEST_SUBSETS.values())
        for subset in subsets
        for clip in landmarked_images(root / subset, activity)
    ]


class W300DataModule(ClipDataModule):
    """300-W (see the module docstring).

    Args:
        root: the 300-W directory.
        multipie_root: MultiPIE's ``.pts`` tree, the prior.
        kwargs: the settings of :class:`~datamodules.clips.ClipDataModule` (``image_size``,
            ``batch_size``, ``num_workers``, ``window``, ``max_prior_samples``, ``eval_frame_stride``, ...).
    """

    activities = tuple(TEST_SUBSETS)
    still_images = True

    def __init__(self, root: str, multipie_root: str, **kwargs: Any) -> None:
        super().__init__(root, "face68", **kwargs)
        self.multipie_root = multipie_root

    def list_clips(self, split: str) -> list[Clip]:
        if split == "test":
            return w300_test_clips(self.root)
        clips = w300_training_clips(self.root)
        if split == "val":  # held out of training (every 10th image): never a test image
            return clips[::VALIDATION_EVERY]
        if split == "post_processing":
            return clips
        if split == "train":
            # the landmarks only place the face box of a training image; the images themselves are unlabelled
            kept = [clip for i, clip in enumerate(clips) if i % VALIDATION_EVERY]
            return [Clip(c.source, None, None, None, self._box(c)) for c in kept]
        return []

    def _box(self, clip: Clip) -> Tensor:
        return square_box(clip.keypoints[0])[None]  # type: ignore[index]

    def prior_poses(self) -> tuple[Tensor, Tensor | None]:
        return multipie_prior(self.multipie_root), None
