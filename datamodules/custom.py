"""A user's own data: frame pairs from a folder of videos (or of frame folders), a prior from a pose file.

Layout::

    <root>/clip_a.mp4                 a video (any container FFmpeg reads: .mp4, .avi, .mov, .mkv, ...)
    <root>/clip_b/000001.jpg ...      or a folder of frames (sorted by name)

    poses.npy   (N, K, 2) or (N, K, 3) with visibility      or      poses.csv  with <name>_x, <name>_y columns
    labels.csv  (optional) source, frame, <name>_x, <name>_y: ground truth for validation / test, in pixels
                of the original frames (the format kpbottleneck.writers.KeypointWriter writes); the same
                format for labelled training frames (train_labels), for the post-processing comparison

Frames are padded to a centred square and resized (as ``predict_keypoints`` does), so the method sees
the whole frame: crop your videos around the subject first if it is small in the frame. Prior poses in
pixels (``prior_units="pixels"``) are each normalised to a square box around them whose side is
``prior_margin`` (default 1.25) times the pose's extent: set it to how tightly your frames frame the
subject (a person filling 80 % of the frame: 1.25; a face crop with 1.6 times the landmarks' extent: 1.6),
or the prior's poses come out at another scale than the frames' ones;
``"normalized"`` poses are taken as they are ([-1, 1], docs/conventions.md).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any, Literal

import torch
from PIL import Image
from torch import Tensor

from datamodules.clips import Clip, ClipDataModule
from datamodules.io import read_pose_file, require_dir
from datamodules.media import IMAGE_SUFFIXES
from datamodules.mocap import MOCAP, mocap_prior
from kpbottleneck.coordinates import box_pixels_to_normalized, letterbox_box, square_box
from kpbottleneck.skeletons import H36M17, Skeleton
from kpbottleneck.video_io import VIDEO_SUFFIXES, index_video


def folder_clips(root: Path) -> list[Clip]:
    """Every video file and every folder of frame images directly under ``root``."""
    clips = []
    for entry in sorted(require_dir(root, "video folder (data.root)").iterdir()):
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            clips.append(Clip(entry))
        elif entry.is_dir():
            frames = tuple(sorted(p for p in entry.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
            if frames:
                clips.append(Clip(frames))
    if not clips:
        raise ValueError(f"video folder (data.root) {root} holds no video file and no folder of frames")
    return clips


@functools.cache
def frame_size(source: Path) -> tuple[int, int]:
    """``(H, W)`` of an image file, or of the frames of a video file (read once per file: a labels file
    names the same video on many rows)."""
    if source.suffix.lower() in VIDEO_SUFFIXES:
        return index_video(source).size
    with Image.open(source) as image:
        return image.height, image.width


def read_labels(path: Path, skeleton: Skeleton) -> list[Clip]:
    """One-frame clips of the labelled frames of a ``labels.csv`` (sources relative to the file's folder)."""
    keypoints, visibility = read_pose_file(path, skeleton)
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows or "source" not in rows[0]:
        raise ValueError(f"labels file {path}: expected a 'source' column (and 'frame' for videos)")
    clips = []
    for row, points, visible in zip(rows, keypoints, visibility, strict=True):
        source = (path.parent / row["source"]).resolve()
        frame = int(row.get("frame") or 0)
        if not source.is_file():
            raise FileNotFoundError(f"labels file {path}: source {row['source']!r} ({source}) does not exist")
        box = letterbox_box(*frame_size(source))
        is_video = source.suffix.lower() in VIDEO_SUFFIXES
        clips.append(
            Clip(
                source if is_video else (source,),
                (frame,) if is_video else None,
                points[None],
                visible[None],
                box[None],
            )
        )
    return clips


class VideoFolderDataModule(ClipDataModule):
    """Your own videos and poses (see the module docstring).

    Args:
        root: the folder of videos / frame folders.
        prior: the prior pose file (``.npy`` or ``.csv``), or ``"mocap"``: the human prior that ships with
            the library (:mod:`datamodules.mocap`; needs ``skeleton: h36m17``).
        skeleton: the keypoint set of the prior: a built-in name or a ``Skeleton`` (in a config: a mapping
            with ``name``, ``keypoint_names``, ``edges`` and optional ``flip_pairs``).
        prior_units: ``"pixels"`` (each pose boxed and normalised) or ``"normalized"`` (already [-1, 1]).
        prior_margin: side of a pixel pose's box over the pose's extent (module docstring).
        labels: optional ``labels.csv`` with ground truth for validation and test.
        train_labels: optional ``labels.csv`` (same format) of training frames: the labelled split that
            ``KeypointEvaluation(post_processing=True)`` fits its linear map on (comparison only; the
            method itself never sees them).
        kwargs: the settings of :class:`~datamodules.clips.ClipDataModule` (``image_size``,
            ``batch_size``, ``num_workers``, ``window``, ``max_prior_samples``, ``eval_frame_stride``, ...).
    """

    def __init__(
        self,
        root: str,
        prior: str,
        skeleton: str | Skeleton,
        prior_units: Literal["pixels", "normalized"] = "pixels",
        prior_margin: float = 1.25,
        labels: str | None = None,
        train_labels: str | None = None,
        **kwargs: Any,
    ) -> None:
        if prior_units not in ("pixels", "normalized"):
            raise ValueError(f"data.prior_units must be 'pixels' or 'normalized', got {prior_units!r}")
        super().__init__(root, skeleton, **kwargs)
        if prior == MOCAP and self.skeleton.name != H36M17.name:
            raise ValueError(
                f"data.prior=mocap is a prior of {H36M17.name!r} poses; data.skeleton is "
                f"{self.skeleton.name!r} (set data.skeleton and model.skeleton to h36m17)"
            )
        self.prior = prior if prior == MOCAP else Path(prior)
        if prior_margin < 1.0:
            raise ValueError(
                f"data.prior_margin must be >= 1 (a box around the whole pose), got {prior_margin}"
            )
        self.prior_units, self.prior_margin = prior_units, prior_margin
        self.labels = None if labels is None else Path(labels)
        self.train_labels = None if train_labels is None else Path(train_labels)

    def list_clips(self, split: str) -> list[Clip]:
        if split == "train":
            return folder_clips(self.root)
        if split in ("val", "test") and self.labels is not None:
            return read_labels(self.labels, self.skeleton)
        if split == "post_processing" and self.train_labels is not None:
            return read_labels(self.train_labels, self.skeleton)
        return []

    def prior_poses(self) -> tuple[Tensor, Tensor | None]:
        if self.prior == MOCAP:
            return mocap_prior(), None
        keypoints, visibility = read_pose_file(self.prior, self.skeleton)
        if self.prior_units == "pixels":
            boxes = torch.stack(
                [square_box(p, v, self.prior_margin) for p, v in zip(keypoints, visibility, strict=True)]
            )
            keypoints = box_pixels_to_normalized(keypoints, boxes)
        return keypoints, visibility
