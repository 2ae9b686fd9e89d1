"""Video files in and out through PyAV (FFmpeg): random access to single frames, and an overlay writer.

DESIGN: PyAV, because its wheels bundle FFmpeg (nothing to install on a fresh machine), it exposes
container seeking, and torchvision ≥ 0.24 no longer decodes video. Frame ``t`` of :class:`VideoReader` is,
by definition, the ``t``-th frame that a plain sequential decode of the file gives. Timestamps cannot
define it: AVI files with packed B-frames (as many cameras write) carry none that can be trusted, and a
variable frame rate leaves no arithmetic between index and time. So the reader decodes the file once when
it is opened (decoding only, no colour conversion) and keeps the position of every key frame in that
order; frame ``t`` is then read by seeking to the last key frame at or before position ``t`` and decoding
forward, counting frames from the key frame. Reading frames in increasing order continues decoding
instead of seeking again, so a whole clip costs one decode pass after the opening one.
"""

from __future__ import annotations

import bisect
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


class VideoReader:
    """Frames of one video file as ``(3, H, W)`` float tensors in [0, 1], indexed by their position in a
    sequential decode (module docstring).

    Picklable (the file is reopened in each DataLoader worker). Raises ``FileNotFoundError`` for a
    missing file and ``ValueError`` naming the file for one that holds no decodable video stream.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video file {self.path} does not exist")
        #: ``(position, timestamp)`` of each key frame, in decode-output order
        self.key_frames: list[tuple[int, int | None]] = []
        count = 0
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise ValueError(f"video file {self.path} has no video stream")
                stream = container.streams.video[0]
                for decoded in container.decode(stream):
                    if decoded.key_frame:
                        self.key_frames.append((count, _timestamp(decoded)))
                    count += 1
                self.fps = float(stream.average_rate or stream.guessed_rate or 25)
                self.size = (stream.codec_context.height, stream.codec_context.width)
        except av.FFmpegError as error:
            raise ValueError(f"video file {self.path} cannot be decoded: {error}") from error
        if not count:
            raise ValueError(f"video file {self.path} has no frames")
        self.num_frames = count
        self._container: Any = None
        self._frames: Any = None
        self._last = -1  # position of the frame that self._frames gave last

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
        position, timestamp = self.key_frames[bisect.bisect_right(self.key_frames, (index, float("inf"))) - 1]
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
