"""Why prepared frames are a memory map and not LitData's format: random access to single frames of a prepared
split through ``litdata.StreamingDataset`` (after ``litdata.optimize``, 64 MB chunks, local disk) against the
memory-mapped ``frames.npy`` itself. Needs ``pip install litdata`` (not a dependency of the library).

    python benchmarks/data_speed.py --kind h36m        # writes outputs/data_speed/h36m/prepared128/
    python benchmarks/litdata_random_access.py outputs/data_speed/h36m/prepared128/train

Prints one JSON line: frames, seconds of ``optimize``, random frames per second of each (2,000 frames drawn
with seed 0, the same for both; one frame checked equal).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import litdata
import numpy as np


class Frames:
    """The ``optimize`` function: frame ``i`` of a prepared split (a class: its worker pickles it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, index: int) -> dict:
        return {"index": index, "frame": np.array(np.load(self.path, mmap_mode="r")[index])}


def rate(read, picks: list[int]) -> float:
    start = time.perf_counter()
    for index in picks:
        read(index)
    return len(picks) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("split", type=Path, help="a prepared split's folder (holding frames.npy)")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    frames = np.load(args.split / "frames.npy", mmap_mode="r")
    picks = np.random.default_rng(0).integers(0, len(frames), args.samples).tolist()
    with tempfile.TemporaryDirectory() as output:
        start = time.perf_counter()
        litdata.optimize(
            fn=Frames(args.split / "frames.npy"), inputs=list(range(len(frames))), output_dir=output,
            chunk_bytes="64MB", num_workers=1,
        )  # fmt: skip
        optimize_s = time.perf_counter() - start
        streaming = litdata.StreamingDataset(output)
        assert np.array_equal(streaming[picks[0]]["frame"], frames[picks[0]])
        streamed = rate(streaming.__getitem__, picks)
    mapped = rate(lambda index: np.array(frames[index]), picks)
    print(json.dumps({
        "litdata": litdata.__version__, "frames": len(frames), "frame_bytes": int(np.prod(frames.shape[1:])),
        "optimize_s": round(optimize_s, 1), "litdata_random_frames_per_s": round(streamed),
        "memmap_random_frames_per_s": round(mapped),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
