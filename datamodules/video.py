"""Datasets over any indexed collection of videos: frame pairs for training, labelled frames for testing.

A *video collection* is any object with ``num_videos``, ``num_frames(video)`` and ``frame(video, t)``
(an image ``(3, H, W)`` in [0, 1]); labelled collections also have ``keypoints(video, t)`` ``(K, 2)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.tps import random_tps_warp


class VideoCollection(Protocol):
    @property
    def num_videos(self) -> int: ...

    def num_frames(self, video: int) -> int: ...

    def frame(self, video: int, t: int) -> Tensor: ...


class LabelledVideoCollection(VideoCollection, Protocol):
    def keypoints(self, video: int, t: int) -> Tensor: ...


def frame_index(videos: VideoCollection, frame_stride: int = 1) -> list[tuple[int, int]]:
    """``(video, frame)`` of every ``frame_stride``-th frame of every video of the collection."""
    return [(v, t) for v in range(videos.num_videos) for t in range(0, videos.num_frames(v), frame_stride)]


class FramePairDataset(Dataset):
    """Pairs ``(x, x′)`` of two frames of one video: sample ``i`` is frame ``t`` of its video as the
    target and a frame ``t ± d`` as the appearance, ``d`` uniform in ``window`` (clipped to the video).

    Args:
        videos: the collection.
        window: ``(min, max)`` frame distance between x and x′ (the original samples in a window).
        frame_stride: use every ``frame_stride``-th frame as a target (1: all frames).
        per_video: one sample per video with a random target frame instead (for collections of very
            many videos, whose frames are then counted only when a video is first read).
        augment: applied to the two frames together (``(x, x′) → (x, x′)``), e.g.
            :meth:`~datamodules.image_augmentation.ColourJitter.same`: one colour jitter for both frames,
            since Ψ cannot know a colour shift that only x has.
        tps_fraction: the share of samples made as the paper's still-image pair ``(g1(x), g2(x))`` of
            the target frame instead (two random thin-plate-spline warps,
            :func:`~datamodules.tps.random_tps_warp`); each sample draws its kind. The paper makes TPS
            pairs for image data sets only and video pairs for videos; mixing the two is this library's
            option (default 0: video pairs only), for footage whose frames within ``window`` differ too
            little for Ψ to need the skeleton.
    """

    def __init__(
        self,
        videos: VideoCollection,
        window: tuple[int, int] = (5, 30),
        frame_stride: int = 1,
        per_video: bool = False,
        augment: Callable[[Tensor, Tensor], Sequence[Tensor]] | None = None,
        tps_fraction: float = 0.0,
    ) -> None:
        low, high = window
        if not 0 <= low <= high:
            raise ValueError(f"window must satisfy 0 <= min <= max, got {window}")
        if not 0.0 <= tps_fraction <= 1.0:
            raise ValueError(f"tps_fraction must be in [0, 1], got {tps_fraction}")
        self.tps_fraction = tps_fraction
        self.videos = videos
        self.window = (low, high)
        self.per_video = per_video
        self.augment = augment
        self.index = (
            [(v, -1) for v in range(videos.num_videos)] if per_video else frame_index(videos, frame_stride)
        )

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        video, t = self.index[index]
        last = self.videos.num_frames(video) - 1
        if t < 0:  # per_video: a random target frame
            t = int(torch.randint(last + 1, ()))
        if self.tps_fraction > 0 and torch.rand(()) < self.tps_fraction:
            image, appearance = random_tps_warp(self.videos.frame(video, t).expand(2, -1, -1, -1))
        else:
            distance = int(torch.randint(self.window[0], self.window[1] + 1, ()))
            other = t + distance if torch.rand(()) < 0.5 else t - distance
            if not 0 <= other <= last:  # fall back to the other direction, then clip
                other = min(max(2 * t - other, 0), last)
            image, appearance = self.videos.frame(video, t), self.videos.frame(video, other)
        if self.augment is not None:
            image, appearance = self.augment(image, appearance)
        return {"image": image, "appearance_image": appearance}


class LabelledFrameDataset(Dataset):
    """Frames with ground-truth keypoints: ``{"image", "keypoints", "visibility"}``, plus whatever the
    collection's optional ``annotations(video, t)`` adds (``activity``, ``box``); the visibility comes
    from its optional ``visibility(video, t)`` (default: all visible). ``augment`` transforms each sample,
    e.g. :class:`datamodules.image_augmentation.LabelledAugmentation` (keypoint-aware affine and flips)."""

    def __init__(
        self,
        videos: LabelledVideoCollection,
        frame_stride: int = 1,
        augment: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.videos = videos
        self.index = frame_index(videos, frame_stride)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        video, t = self.index[index]
        keypoints = self.videos.keypoints(video, t)
        visibility = getattr(self.videos, "visibility", None)
        sample = {
            "image": self.videos.frame(video, t),
            "keypoints": keypoints,
            "visibility": (
                visibility(video, t) if visibility else torch.ones(keypoints.shape[0], dtype=torch.bool)
            ),
        }
        annotations = getattr(self.videos, "annotations", None)
        if annotations is not None:
            sample.update(annotations(video, t))
        return sample if self.augment is None else self.augment(sample)


class FrameDataset(Dataset):
    """Every ``frame_stride``-th frame of every video, image only: ``{"image"}`` (e.g. still images for
    :class:`~datamodules.tps.ThinPlateSplinePairDataset`)."""

    def __init__(self, videos: VideoCollection, frame_stride: int = 1) -> None:
        self.videos = videos
        self.index = frame_index(videos, frame_stride)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"image": self.videos.frame(*self.index[index])}
