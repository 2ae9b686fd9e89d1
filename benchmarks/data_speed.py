"""Is the synthetic data a bottleneck? Batches per second of its training loader alone, to compare with
the training speed of the main job (``benchmarks/logging_overhead.py`` or the main job's log).

    python benchmarks/data_speed.py --batches 50 --batch-size 8 --workers 0 1 2

Prints one JSON line per worker count.
"""

from __future__ import annotations

import argparse
import json
import time

from datamodules import SyntheticDataModule


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    for workers in args.workers:
        data = SyntheticDataModule(
            image_size=args.image_size, batch_size=args.batch_size, num_workers=workers
        )
        data.setup("fit")
        loader = iter(data.train_dataloader())
        next(loader)  # worker start-up is not steady-state speed
        start = time.perf_counter()
        for _ in range(args.batches):
            next(loader)
        seconds = time.perf_counter() - start
        print(
            json.dumps(
                {
                    "workers": workers,
                    "batch_size": args.batch_size,
                    "image_size": args.image_size,
                    "batches_per_s": round(args.batches / seconds, 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
