"""How fast does :class:`kpbottleneck.video_io.VideoReader` read frames, sequentially and at random, compared
with decoding the whole clip for every frame pair (what a reader without seeking would do)?

    python benchmarks/video_decoding.py --frames 300 --size 256 --gop 25 --pairs 50

Writes a test clip (MPEG-4, one key frame every ``--gop`` frames) to a temporary folder and prints one
JSON line per access pattern, in milliseconds per frame.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import av
import torch

from kpbottleneck.video_io import VideoReader


def write_clip(path: Path, frames: int, size: int, gop: int) -> None:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.gop_size = gop
        generator = torch.Generator().manual_seed(0)
        for _ in range(frames):
            pixels = (torch.rand(size, size, 3, generator=generator) * 255).byte().numpy()
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--gop", type=int, default=25)
    parser.add_argument("--pairs", type=int, default=50, help="random frame pairs (window 5 to 30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        write_clip(path, args.frames, args.size, args.gop)
        generator = torch.Generator().manual_seed(0)
        targets = torch.randint(0, args.frames - 30, (args.pairs,), generator=generator).tolist()
        offsets = torch.randint(5, 31, (args.pairs,), generator=generator).tolist()
        pairs = [(t, t + d) for t, d in zip(targets, offsets, strict=True)]

        reader = VideoReader(path)
        start = time.perf_counter()
        for t in range(args.frames):
            reader.frame(t)
        sequential = (time.perf_counter() - start) / args.frames

        reader = VideoReader(path)
        start = time.perf_counter()
        for first, second in pairs:
            reader.frame(first)
            reader.frame(second)
        random_pairs = (time.perf_counter() - start) / (2 * args.pairs)

        start = time.perf_counter()
        for _ in range(min(args.pairs, 5)):
            with av.open(str(path)) as container:
                for _frame in container.decode(video=0):
                    _frame.to_ndarray(format="rgb24")
        whole_clip = (time.perf_counter() - start) / min(args.pairs, 5) / 2  # one decode serves a pair

        setting = {"frames": args.frames, "size": args.size, "gop": args.gop}
        for pattern, seconds in (
            ("sequential", sequential),
            ("random pairs (seek)", random_pairs),
            ("random pairs (decode whole clip)", whole_clip),
        ):
            print(json.dumps({"access": pattern, "ms_per_frame": round(1000 * seconds, 2), **setting}))


if __name__ == "__main__":
    main()
