"""Video files in and out through PyAV (FFmpeg): random access to single frames, and an overlay writer.

DESIGN: PyAV, because its wheels bundle FFmpeg (nothing to install on a fresh machine), it exposes
container seeking, and torchvision ≥ 0.24 no longer decodes video. Frame ``t`` of :class:`VideoReader` is,
by definition, the ``t``-th frame that a plain sequential decode of the file gives; a decoder gives its
frames in presentation-timestamp order. So a :class:`VideoIndex` (the frame count and the position and
timestamp of every key frame) is read from the packets alone, without decoding (:func:`index_video`):
the ``t``-th frame is the packet with the ``t``-th smallest timestamp. That holds for B-frames in any
container whose demuxer gives presentation timestamps (MP4, MKV, and FFmpeg's AVI demuxer, which
rebuilds them) and for variable frame rates (only the order of the timestamps is used). Where the packets
cannot give the order (a packet without a timestamp, or two with the same one), the file is indexed by
decoding it once instead, and a warning names it. Frame ``t`` is then read by seeking to the last key
frame at or before position ``t`` and decoding forward, counting frames from the key frame. Reading
frames in increasing order continues decoding instead of seeking again, so a whole clip costs one
decode pass.
"""

from __future__ import annotations

import bisect
import itertools
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
_FORWARD_DECODE_LIMIT = 64  # frames: decoding this far forward is cheaper than a seek in practice


def _timestamp(frame: Any) -> int | None:
    return frame.pts if frame.pts is not None else frame.dts


@dataclass(frozen=True)
class VideoIndex:
    """What random access to a video needs, computed once per file (module docstring).

    Attributes:
        num_frames: frames in a sequential decode.
        key_frames: ``(position, timestamp)`` of each key frame, by position.
        fps: the stream's average (or guessed) frame rate.
        size: ``(height, width)`` of the frames.
        method: ``"packets"`` (read from the demuxed packets) or ``"decoding"`` (the fallback).
    """

    num_frames: int
    key_frames: tuple[tuple[int, int | None], ...]
    fps: float
    size: tuple[int, int]
    method: str


def _packet_key_frames(container: Any, stream: Any) -> tuple[int, list[tuple[int, int | None]]] | None:
    """``(count, key frames)`` from the packets' timestamps, or ``None`` when they cannot give the order."""
    timestamps, keys = [], []
    for packet in container.demux(stream):
        if packet.size == 0:  # the flush packet at the end
            continue
        if packet.pts is None:
            return None
        timestamps.append(packet.pts)
        if packet.is_keyframe:
            keys.append(packet.pts)
    order = sorted(timestamps)
    if any(a == b for a, b in itertools.pairwise(order)):
        return None
    position = {timestamp: rank for rank, timestamp in enumerate(order)}
    return len(order), sorted((position[timestamp], timestamp) for timestamp in keys)


def _decoded_key_frames(container: Any, stream: Any) -> tuple[int, list[tuple[int, int | None]]]:
    count, keys = 0, []
    for decoded in container.decode(stream):
        if decoded.key_frame:
            keys.append((count, _timestamp(decoded)))
        count += 1
    return count, keys


def index_video(path: str | Path) -> VideoIndex:
    """The :class:`VideoIndex` of a video file: from its packets, or by decoding it where they cannot give
    the frame order (a warning says so).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for one that holds
    no decodable video stream or no frames.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file {path} does not exist")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"video file {path} has no video stream")
            stream = container.streams.video[0]
            found, method = _packet_key_frames(container, stream), "packets"
            if found is None or (found[0] and not found[1]):
                warnings.warn(
                    f"video file {path}: its packets do not give the frame order (missing or repeated "
                    "timestamps); indexing it by decoding the whole file",
                    stacklevel=2,
                )
                container.seek(0, stream=stream)
                found, method = _decoded_key_frames(container, stream), "decoding"
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            size = (stream.codec_context.height, stream.codec_context.width)
    except av.FFmpegError as error:
        raise ValueError(f"video file {path} cannot be decoded: {error}") from error
    count, keys = found
    if not count:
        raise ValueError(f"video file {path} has no frames")
    return VideoIndex(count, tuple(keys), fps, size, method)


class VideoReader:
    """Frames of one video file as ``(3, H, W)`` float tensors in [0, 1], indexed by their position in a
    sequential decode (module docstring).

    Args:
        path: the video file.
        index: its :class:`VideoIndex`, when already computed (a reader reopened after being closed, or in
            another process); default: :func:`index_video`.

    Picklable (the file is reopened in each DataLoader worker; the index travels). Raises
    ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for one that holds no
    decodable video stream.
    """

    def __init__(self, path: str | Path, index: VideoIndex | None = None) -> None:
        self.path = Path(path)
        self.index = index_video(self.path) if index is None else index
        self._container: Any = None
        self._frames: Any = None
        self._last = -1  # position of the frame that self._frames gave last

    @property
    def num_frames(self) -> int:
        return self.index.num_frames

    @property
    def fps(self) -> float:
        return self.index.fps

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the frames."""
        return self.index.size

    def __len__(self) -> int:
        return self.num_frames

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_container": None, "_frames": None, "_last": -1}

    def frame(self, index: int) -> Tensor:
        """Frame ``index`` (0-based position in a sequential decode) as ``(3, H, W)`` float in [0, 1]."""
        if not 0 <= index < self.num_frames:
            raise IndexError(f"video file {self.path} has {self.num_frames} frames; frame {index} requested")
        try:
            if self._frames is None or not 0 < index - self._last <= _FORWARD_DECODE_LIMIT:
                self._seek(index)
            for decoded in self._frames:
                self._last += 1
                if self._last == index:
                    return torch.from_numpy(decoded.to_ndarray(format="rgb24")).permute(2, 0, 1).float() / 255
        except av.FFmpegError as error:
            raise ValueError(f"video file {self.path}: frame {index} cannot be decoded: {error}") from error
        raise ValueError(f"video file {self.path}: frame {index} was not found when decoding")

    def _seek(self, index: int) -> None:
        """Position the decoder just before the last key frame at or before ``index``: after this,
        the next frame that ``self._frames`` gives is at position ``self._last + 1``."""
        if self._container is None:
            self._container = av.open(str(self.path))
        stream = self._container.streams.video[0]
        key_frames = self.index.key_frames
        position, timestamp = key_frames[bisect.bisect_right(key_frames, (index, float("inf"))) - 1]
        if position == 0 or timestamp is None:
            self._restart(stream)
            return
        self._container.seek(timestamp, stream=stream, backward=True, any_frame=False)
        self._frames = self._container.decode(stream)
        # frames that a seek lets out before the key frame (e.g. B-frames of an open GOP) are skipped
        for decoded in self._frames:
            if decoded.key_frame and _timestamp(decoded) == timestamp:
                self._frames = _prepend(decoded, self._frames)
                self._last = position - 1
                return
        self._restart(stream)  # the key frame did not come back after the seek: count from the start

    def _restart(self, stream: Any) -> None:
        self._container.seek(0, stream=stream, backward=True, any_frame=False)
        self._frames = self._container.decode(stream)
        self._last = -1

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._frames, self._last = None, None, -1


def _prepend(first: Any, rest: Any) -> Any:
    yield first
    yield from rest


class VideoWriter:
    """Writes ``(3, H, W)`` frames in [0, 1] to a video file (MPEG-4 part 2, which every FFmpeg build
    encodes); odd sizes are padded by one pixel, as yuv420p needs even sides. A context manager."""

    def __init__(self, path: str | Path, fps: float = 25.0, codec: str = "mpeg4") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.codec = codec
        self._container: Any = av.open(str(self.path), mode="w")
        self._stream: Any = None

    def write(self, frame: Tensor) -> None:
        height, width = frame.shape[-2:]
        if self._stream is None:
            self._stream = self._container.add_stream(self.codec, rate=self.fps)
            self._stream.width, self._stream.height = width + width % 2, height + height % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.bit_rate = 4_000_000
        padded = F.pad(frame.detach().float().cpu().clamp(0, 1), (0, width % 2, 0, height % 2))
        pixels = (padded.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
        self._container.mux(self._stream.encode(video_frame))

    def close(self) -> None:
        if self._stream is not None:
            self._container.mux(self._stream.encode(None))
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
