"""Prepare a clip data set's frames once, for training at memory speed (:mod:`datamodules.prepared`).

    python -m datamodules.prepare --config experiments/h36m.yaml --data.init_args.prepared /data/h36m-128
    kpbottleneck fit --config experiments/h36m.yaml --data.init_args.prepared /data/h36m-128

It takes the arguments of ``kpbottleneck fit`` and builds the data module exactly as training does (the
model's ``image_size`` included), then writes every split that has frames to ``<prepared>/<split>/``. Each
video is decoded once, sequentially. The data module's ``on_corrupt`` decides what an unreadable clip
does: ``raise`` stops with its name, ``skip`` leaves it out with a warning. Prints one JSON line per split:
clips, skipped clips, frames, bytes and seconds.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from datamodules.clips import ClipDataModule
from datamodules.prepared import prepare_collection


def prepare(data: ClipDataModule, splits: Sequence[str] = ClipDataModule.frame_splits) -> list[dict]:
    """Write the prepared frames of ``splits`` of ``data`` under ``data.prepared``; one summary per split."""
    if data.prepared is None:
        raise ValueError("data.init_args.prepared: give the folder to write the prepared frames to")
    summaries = []
    for split in splits:
        collection = data.collection(split, prepared=False)
        if not collection.clips:
            continue
        start = time.perf_counter()
        index = prepare_collection(collection, data.prepared / split, data.on_corrupt)
        size = sum(path.stat().st_size for path in (data.prepared / split).iterdir())
        summaries.append(
            {
                "split": split,
                "clips": len(index["clips"]),
                "skipped": sum(clip is None for clip in index["clips"]),
                "frames": index["frames"],
                "image_size": index["image_size"],
                "bytes": size,
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
    return summaries


def main(args: Sequence[str] | None = None) -> None:
    from kpbottleneck.cli import KeypointCLI  # (the package's CLI imports the data modules)

    data = KeypointCLI(args=list(sys.argv[1:] if args is None else args), run=False).datamodule
    if not isinstance(data, ClipDataModule):
        raise ValueError(f"data: {type(data).__name__} reads no clips from disk; nothing to prepare")
    for summary in prepare(data):
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
