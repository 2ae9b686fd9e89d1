"""Prepared frames: each split of a clip data set decoded once, sequentially, cropped to its boxes at the
training resolution and stored as one memory-mapped array, so that training reads frames at memory speed
instead of seeking in videos (the original implementation also trained from frames extracted in advance).

A prepared split is a folder of three files:

* ``frames.npy``: ``(N, 3, S, S)`` uint8, every frame of every clip of the split, clip after clip, cropped
  to its box at ``S`` = the data module's ``image_size`` (NumPy's ``.npy`` format, opened with
  ``mmap_mode="r"``: nothing is read until a frame is asked for, and loader workers share the page cache);
* ``boxes.npy``: ``(N, 4)`` float32, each frame's crop box in the original frame's pixels (what
  :meth:`~datamodules.clips.ClipCollection.box` gives: keypoints are normalised to it);
* ``index.json``: the image size and, per clip in the collection's order, its source, its frame count and
  the row of its first frame (``null`` for a clip that could not be read and was skipped).

DESIGN: a memory-mapped array, not LitData's chunked format. A training sample is two frames of one video
at a random distance (:class:`~datamodules.video.FramePairDataset`, with the resumable sampler of
:mod:`datamodules.sampling`), so the reader needs cheap random access to single frames by ``(video, t)``.
``benchmarks/litdata_random_access.py`` measures it on 4,500 prepared 128-px frames: ``StreamingDataset``
indexed at random gives 84–143 frames/s (litdata 0.2.76, 64 MB local chunks), below the ~400 a GPU step
needs, where the memory map gives ~100,000. No margin is stored around the box: the training
augmentations of video pairs are colour only, and the thin-plate-spline pairs of still images warp
within the crop.

    python -m datamodules.prepare --config experiments/h36m.yaml --data.init_args.prepared /data/h36m-128
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from datamodules.base import OnCorrupt

if TYPE_CHECKING:
    from datamodules.clips import ClipCollection

INDEX_FILE, FRAMES_FILE, BOXES_FILE = "index.json", "frames.npy", "boxes.npy"
_READ_ERRORS = (ValueError, OSError, IndexError)  # what reading a truncated or corrupt source raises


def _source_name(source: Path | tuple[Path, ...]) -> str:
    return str(source[0].parent if isinstance(source, tuple) else source)


def prepare_collection(
    collection: ClipCollection, folder: str | Path, on_corrupt: OnCorrupt = "raise"
) -> dict:
    """Decode every frame of every clip of ``collection`` once, in order, crop it to its box and write the
    prepared split to ``folder`` (module docstring). Returns the index written.

    A clip that cannot be read (a truncated or corrupt video, a missing image) raises ``ValueError`` naming
    its file with ``on_corrupt="raise"``; with ``"skip"`` it is left out with a warning that names it, and
    every other clip is kept. The files are written under temporary names and renamed at the end, so an
    interrupted preparation leaves no half-written split behind.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def unreadable(video: int, error: Exception) -> None:
        source = _source_name(collection.clips[video].source)
        if on_corrupt == "raise":
            raise ValueError(f"preparing {folder}: clip {source} cannot be read: {error}") from error
        warnings.warn(
            f"preparing {folder}: skipping clip {source}, which cannot be read: {error}", stacklevel=3
        )

    counts: list[int | None] = []
    for video in range(collection.num_videos):
        try:
            counts.append(collection.num_frames(video))
        except _READ_ERRORS as error:
            unreadable(video, error)
            counts.append(None)
    total, size = sum(count or 0 for count in counts), collection.image_size
    partial = folder / f"{FRAMES_FILE}.partial"
    frames = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(total, 3, size, size))
    boxes = np.zeros((total, 4), np.float32)
    clips: list[dict[str, Any] | None] = []
    row = 0
    for video, count in enumerate(counts):
        try:
            if count is None:
                clips.append(None)
                continue
            for t in range(count):
                image, box = collection.crop(video, t)
                frames[row + t] = (image * 255).round().to(torch.uint8).numpy()
                boxes[row + t] = box.numpy()
        except _READ_ERRORS as error:
            unreadable(video, error)
            clips.append(None)
            continue
        clips.append({"source": _source_name(collection.clips[video].source), "frames": count, "start": row})
        row += count
    frames.flush()
    del frames
    index = {"image_size": size, "frames": row, "clips": clips}
    np.save(folder / f"{BOXES_FILE}.partial.npy", boxes[:row])
    os.replace(folder / f"{BOXES_FILE}.partial.npy", folder / BOXES_FILE)
    os.replace(partial, folder / FRAMES_FILE)
    (folder / INDEX_FILE).write_text(json.dumps(index, indent=1))
    return index


class PreparedFrames:
    """The frames of a prepared split (module docstring), for a collection of the same clips.

    Args:
        folder: the prepared split's folder.
        sources: the collection's clip sources, in its order (checked against the index).
        image_size: the collection's crop size (checked against the prepared one).

    Raises ``FileNotFoundError`` when the folder holds no prepared split and ``ValueError`` when it was
    prepared from other clips or at another size, both naming the folder and the command that prepares it.
    """

    def __init__(
        self, folder: str | Path, sources: Sequence[Path | tuple[Path, ...]], image_size: int
    ) -> None:
        self.folder = Path(folder)
        command = "python -m datamodules.prepare --config <your config>"
        again = f"prepare it again with {command}"
        if not (self.folder / INDEX_FILE).is_file():
            raise FileNotFoundError(
                f"prepared frames: {self.folder / INDEX_FILE} does not exist; prepare it with {command}"
            )
        index = json.loads((self.folder / INDEX_FILE).read_text())
        if index["image_size"] != image_size:
            raise ValueError(
                f"prepared frames {self.folder}: prepared at image_size {index['image_size']}, the data "
                f"module's is {image_size}; {again}"
            )
        names = [_source_name(source) for source in sources]
        same = len(index["clips"]) == len(names) and all(
            clip is None or clip["source"] == name for clip, name in zip(index["clips"], names, strict=True)
        )  # (a skipped clip's name is not recorded)
        if not same:
            raise ValueError(
                f"prepared frames {self.folder}: prepared from {len(index['clips'])} other clips than the "
                f"data module's {len(names)}; {again}"
            )
        self.clips: list[dict[str, Any] | None] = index["clips"]
        self._kept = [clip for clip in self.clips if clip is not None]
        self._frames: np.ndarray | None = None
        self.boxes = torch.from_numpy(np.load(self.folder / BOXES_FILE))

    @property
    def frames(self) -> np.ndarray:
        """The ``(N, 3, S, S)`` uint8 memory map, opened on first use in each process."""
        if self._frames is None:
            self._frames = np.load(self.folder / FRAMES_FILE, mmap_mode="r")
        return self._frames

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_frames": None}  # a worker maps the file itself instead of a copy

    def kept(self, items: Sequence[Any]) -> list[Any]:
        """Of ``items``, one per clip of the index, those of the clips that were prepared (not skipped)."""
        return [item for item, clip in zip(items, self.clips, strict=True) if clip is not None]

    def num_frames(self, video: int) -> int:
        """Frames of the ``video``-th prepared clip (skipped clips not counted)."""
        return self._kept[video]["frames"]

    def row(self, video: int, t: int) -> int:
        clip = self._kept[video]
        if not 0 <= t < clip["frames"]:
            raise IndexError(
                f"prepared frames {self.folder}: clip {clip['source']} has {clip['frames']} frames, {t} asked"
            )
        return clip["start"] + t

    def frame(self, video: int, t: int) -> Tensor:
        """Frame ``t`` of the ``video``-th prepared clip, ``(3, S, S)`` float in [0, 1]."""
        return torch.from_numpy(np.array(self.frames[self.row(video, t)])).float() / 255

    def box(self, video: int, t: int) -> Tensor:
        return self.boxes[self.row(video, t)]
