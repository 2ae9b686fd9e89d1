"""Clips of real data on disk as a video collection (:mod:`datamodules.video`): frames read from image files
or video files, cropped to a box, resized, optionally colour-jittered, with keypoints in the crop's frame.

Every real data source lists its clips as :class:`Clip` records and hands them to :class:`ClipCollection`,
which :class:`~datamodules.video.FramePairDataset` and :class:`~datamodules.video.LabelledFrameDataset`
then sample. Single images are clips of one frame.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.base import KeypointDataModule, OnCorrupt
from datamodules.image_augmentation import ColourJitter
from datamodules.poses import PoseDataset
from datamodules.prepared import PreparedFrames
from datamodules.tps import ThinPlateSplinePairDataset
from datamodules.video import FrameDataset, FramePairDataset, LabelledFrameDataset
from kpbottleneck.coordinates import box_pixels_to_normalized, crop_to_box, letterbox_box, square_box
from kpbottleneck.inference import read_image
from kpbottleneck.skeletons import Skeleton
from kpbottleneck.video_io import VideoIndex, VideoReader

MAX_OPEN_VIDEOS = 32  # per ClipCollection, so per DataLoader worker


@dataclass(frozen=True)
class Clip:
    """One clip (or one still image) of a data set.

    Args:
        source: a video file, or the clip's frame image files in order.
        frames: indices of the clip's frames in ``source`` (``None``: all).
        keypoints: ``(T, K, 2)`` ground truth or prior poses in pixels of the original frames, one per
            entry of ``frames`` (``None``: unlabelled).
        visibility: ``(T, K)`` bool (``None``: all visible).
        boxes: ``(T, 4)`` square crop boxes ``(x0, y0, x1, y1)`` in pixel edges (``None``: boxes around the
            keypoints when there are any, else the whole frame, padded to a square).
        activity: index of the clip's activity / category in the data module's ``activities``.
    """

    source: Path | tuple[Path, ...]
    frames: tuple[int, ...] | None = None
    keypoints: Tensor | None = None
    visibility: Tensor | None = None
    boxes: Tensor | None = None
    activity: int = 0

    def __len__(self) -> int:
        if self.frames is not None:
            return len(self.frames)
        if isinstance(self.source, tuple):
            return len(self.source)
        raise ValueError(
            f"clip {self.source}: give its frames (the number of frames of a video is not known)"
        )

    def part(self, start: int, stop: int, step: int = 1) -> Clip:
        """Frames ``start:stop:step`` of the clip, with their annotations."""
        frames = (
            tuple(range(len(self)))[start:stop:step] if self.frames is None else self.frames[start:stop:step]
        )
        keep = slice(start, stop, step)
        return replace(
            self,
            frames=frames,
            keypoints=None if self.keypoints is None else self.keypoints[keep],
            visibility=None if self.visibility is None else self.visibility[keep],
            boxes=None if self.boxes is None else self.boxes[keep],
        )

    def halves(self) -> tuple[Clip, Clip]:
        """The first and the second half of the clip (the paper's image / prior split of each video)."""
        middle = len(self) // 2
        return self.part(0, middle), self.part(middle, len(self))


class ClipCollection:
    """A labelled video collection over :class:`Clip` records (see :mod:`datamodules.video`).

    Args:
        clips: the clips.
        image_size: side of the square crops.
        margin: box margin around the keypoints, for clips with keypoints but no boxes.
        jitter: colour jitter strength for the frames (0: none); training frames only.
    """

    def __init__(
        self, clips: Sequence[Clip], image_size: int, margin: float = 1.25, jitter: float = 0.0
    ) -> None:
        self.clips = [clip for clip in clips if clip.frames is None or len(clip.frames) > 0]
        self.image_size = image_size
        self.margin = margin
        self.jitter = ColourJitter(jitter) if jitter > 0 else None
        self._videos: OrderedDict[Path, VideoReader] = OrderedDict()  # most recently used last
        # every video's index, kept when its reader is closed and sent to the loader workers with the
        # collection: a video is indexed once per collection, however often it is evicted and met again
        self._indices: dict[Path, VideoIndex] = {}
        self.prepared: PreparedFrames | None = None

    def use_prepared(self, folder: str | Path) -> None:
        """Read the frames (and boxes) from the prepared split in ``folder`` (:mod:`datamodules.prepared`)
        instead of the sources; clips skipped at preparation are left out."""
        self.prepared = PreparedFrames(folder, [clip.source for clip in self.clips], self.image_size)
        self.clips = self.prepared.kept(self.clips)

    @property
    def num_videos(self) -> int:
        return len(self.clips)

    def num_frames(self, video: int) -> int:
        if self.prepared is not None:
            return self.prepared.num_frames(video)
        clip = self.clips[video]
        if clip.frames is None and not isinstance(clip.source, tuple):
            return self._reader(clip.source).num_frames  # a whole video: counted when first needed
        return len(clip)

    def _reader(self, path: Path) -> VideoReader:
        """The open reader of ``path``. At most :data:`MAX_OPEN_VIDEOS` stay open (least recently used
        closed first): a data set of a million clips must not exhaust a worker's file descriptors. A
        reopened video keeps the index of its first opening."""
        if path in self._videos:
            self._videos.move_to_end(path)
            return self._videos[path]
        reader = self._videos[path] = VideoReader(path, self._indices.get(path))
        self._indices[path] = reader.index
        while len(self._videos) > MAX_OPEN_VIDEOS:
            self._videos.popitem(last=False)[1].close()
        return reader

    def _original(self, clip: Clip, t: int) -> Tensor:
        index = t if clip.frames is None else clip.frames[t]
        if isinstance(clip.source, tuple):
            return read_image(clip.source[index])
        return self._reader(clip.source).frame(index)

    def box(self, video: int, t: int, original: Tensor | None = None) -> Tensor:
        """The crop box ``(4,)`` of frame ``t`` of clip ``video`` in its original pixels."""
        if self.prepared is not None:
            return self.prepared.box(video, t)
        clip = self.clips[video]
        if clip.boxes is not None:
            return clip.boxes[t]
        if clip.keypoints is not None:
            visibility = None if clip.visibility is None else clip.visibility[t]
            return square_box(clip.keypoints[t], visibility, self.margin)
        if original is None:
            original = self._original(clip, t)
        return letterbox_box(*original.shape[-2:])

    def crop(self, video: int, t: int) -> tuple[Tensor, Tensor]:
        """Frame ``t`` of clip ``video`` cropped from its source ``(3, S, S)``, and its box ``(4,)``."""
        original = self._original(self.clips[video], t)
        box = self.box(video, t, original)
        return crop_to_box(original, box, self.image_size), box

    def frame(self, video: int, t: int) -> Tensor:
        image = self.crop(video, t)[0] if self.prepared is None else self.prepared.frame(video, t)
        return image if self.jitter is None else self.jitter(image)

    def keypoints(self, video: int, t: int) -> Tensor:
        """Keypoints ``(K, 2)`` of frame ``t``, normalised to its crop (docs/conventions.md)."""
        clip = self.clips[video]
        if clip.keypoints is None:
            raise ValueError(f"clip {clip.source} has no keypoints")
        return box_pixels_to_normalized(clip.keypoints[t][None], self.box(video, t)[None])[0]

    def visibility(self, video: int, t: int) -> Tensor:
        clip = self.clips[video]
        if clip.visibility is None:
            return torch.ones(clip.keypoints.shape[1], dtype=torch.bool)  # type: ignore[union-attr]
        return clip.visibility[t]

    def annotations(self, video: int, t: int) -> dict[str, Tensor]:
        """Per-frame extras of evaluation batches: ``activity`` and the crop ``box`` (for pixel errors)."""
        return {"activity": torch.tensor(self.clips[video].activity), "box": self.box(video, t)}

    def all_keypoints(self) -> tuple[Tensor, Tensor]:
        """Every frame's keypoints normalised to its crop ``(N, K, 2)`` and visibility ``(N, K)``: a prior."""
        keypoints, visibility = [], []
        for video, clip in enumerate(self.clips):
            if clip.keypoints is None:
                raise ValueError(f"clip {clip.source} has no keypoints for the prior")
            boxes = torch.stack([self.box(video, t) for t in range(len(clip))])
            keypoints.append(box_pixels_to_normalized(clip.keypoints, boxes))
            visibility.append(torch.stack([self.visibility(video, t) for t in range(len(clip))]))
        if not keypoints:
            raise ValueError("no clip with keypoints: the prior would be empty")
        return torch.cat(keypoints), torch.cat(visibility)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_videos": OrderedDict()}


class ClipDataModule(KeypointDataModule):
    """Base of the real-data modules: a subclass lists its :class:`Clip` records per split in
    :meth:`clips`; this builds the datasets from them.

    Splits: ``"train"`` (unlabelled frames for the pairs), ``"prior"`` (poses only), ``"val"``, ``"test"``
    and ``"post_processing"`` (labelled training frames for the supervised post-processing; optional). Video
    sources make pairs of two frames within ``window``; still-image sources (``still_images = True``) make
    the paper's ``(g1(x), g2(x))`` thin-plate-spline pairs.

    Args:
        root: the data set's directory, as distributed.
        skeleton: the keypoint set of the prior (and so of the model).
        image_size, batch_size, num_workers, on_corrupt, prior_only: see :class:`KeypointDataModule`.
        window: ``(min, max)`` frame distance between x and x′ (video sources).
        tps_fraction: video sources: the share of pairs made as the still-image sources' TPS pair of one
            frame instead of two frames (:class:`~datamodules.video.FramePairDataset`; 0: none).
        max_prior_samples: cap the prior to this many poses (Table 5).
        eval_frame_stride: use every n-th frame of the validation / test / post-processing clips.
        jitter: albumentations colour-jitter strength of the training frames (0: none), one draw per pair.
        seed: seed of the prior cap.
        prepared: folder of the prepared frames (:mod:`datamodules.prepared`; one subfolder per split,
            written by ``python -m datamodules.prepare``): the frames are read from there instead of the
            videos and images (``None``: from the sources).
    """

    #: the splits whose frames are read (the prior's poses need none)
    frame_splits: tuple[str, ...] = ("train", "val", "test", "post_processing")

    still_images: bool = False
    pairs_per_clip: bool = False  # one random pair per clip and epoch (sources with very many clips)

    def __init__(
        self,
        root: str,
        skeleton: str | Skeleton,
        image_size: int = 128,
        batch_size: int = 16,
        num_workers: int | None = 0,
        window: tuple[int, int] = (5, 30),
        max_prior_samples: int | None = None,
        eval_frame_stride: int = 1,
        jitter: float = 0.0,
        tps_fraction: float = 0.0,
        on_corrupt: OnCorrupt = "skip",
        prior_only: bool = False,
        seed: int = 0,
        prepared: str | None = None,
    ) -> None:
        super().__init__(skeleton, image_size, batch_size, num_workers, on_corrupt, prior_only)
        self.root = Path(root)
        self.prepared = None if prepared is None else Path(prepared)
        self.window = (window[0], window[1])
        self.tps_fraction = tps_fraction
        self.max_prior_samples = max_prior_samples
        self.eval_frame_stride = eval_frame_stride
        self.jitter = jitter
        self.seed = seed
        self._clips: dict[str, list[Clip]] = {}
        self._read: dict[Hashable, Any] = {}

    def cached(self, key: Hashable, read: Callable[[], Any]) -> Any:
        """``read()`` once per ``key``: annotations that several splits share are read from disk once."""
        if key not in self._read:
            self._read[key] = read()
        return self._read[key]

    def list_clips(self, split: str) -> list[Clip]:
        """The clips of ``split`` (subclasses; an unsupported split returns ``[]``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement list_clips(split)")

    def clips(self, split: str) -> list[Clip]:
        """:meth:`list_clips`, read once; evaluation clips keep every ``eval_frame_stride``-th frame."""
        if split not in self._clips:
            clips = self.list_clips(split)
            if split in ("val", "test", "post_processing") and self.eval_frame_stride > 1:
                clips = [clip.part(0, len(clip), self.eval_frame_stride) for clip in clips]
            self._clips[split] = clips
        return self._clips[split]

    def collection(self, split: str, jitter: float = 0.0, prepared: bool = True) -> ClipCollection:
        """The clips of ``split``, with their frames from the prepared folder when there is one (and
        ``prepared``) and the split has frames."""
        collection = ClipCollection(self.clips(split), self.image_size, jitter=jitter)
        if prepared and self.prepared is not None and split in self.frame_splits:
            folder = self.prepared / split
            if split == "post_processing" and not folder.exists():  # prepared before 0.2: its old name
                folder = self.prepared / "regression"
            collection.use_prepared(folder)
        return collection

    def prior_poses(self) -> tuple[Tensor, Tensor | None]:
        """Prior poses ``(N, K, 2)`` normalised to their boxes and visibility ``(N, K)`` (``None``: all)."""
        return self.collection("prior").all_keypoints()

    def prior_dataset(self) -> PoseDataset:
        keypoints, visibility = self.prior_poses()
        if keypoints.shape[1] != self.skeleton.num_keypoints:
            raise ValueError(
                f"{type(self).__name__}: prior poses have {keypoints.shape[1]} keypoints, skeleton "
                f"{self.skeleton.name!r} has {self.skeleton.num_keypoints}"
            )
        return PoseDataset(keypoints, visibility, self.max_prior_samples, self.seed)

    def build_datasets(self, stage: str) -> Mapping[str, Dataset]:
        datasets: dict[str, Dataset] = {}
        for split in ("val", "test"):
            if self.clips(split):
                datasets[split] = LabelledFrameDataset(self.collection(split))
        if stage == "fit":
            if self.still_images:  # both warps of one jittered image: one jitter per pair by construction
                datasets["pairs"] = ThinPlateSplinePairDataset(
                    FrameDataset(self.collection("train", self.jitter))
                )
            else:  # one jitter draw for both frames of a pair
                augment = ColourJitter(self.jitter).same if self.jitter > 0 else None
                datasets["pairs"] = FramePairDataset(
                    self.collection("train"),
                    self.window,
                    per_video=self.pairs_per_clip,
                    augment=augment,
                    tps_fraction=self.tps_fraction,
                )
            datasets["prior"] = self.prior_dataset()
        if stage == "test" and self.clips("post_processing"):
            datasets["post_processing"] = LabelledFrameDataset(self.collection("post_processing"))
        return datasets

    def mean_prior_pose(self) -> Tensor:
        prior = self.datasets.get("prior")
        return prior.mean_pose() if isinstance(prior, PoseDataset) else self.prior_dataset().mean_pose()
