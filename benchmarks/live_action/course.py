"""A live-action run's course, read off the weights ``run.py`` keeps every half validation interval.

    python benchmarks/live_action/course.py --out /tmp/la              # every run with a gan/course/

For each kept checkpoint (``<run>/gan/course/step=*.ckpt``, then ``last.ckpt``) of each run, the test error
against the pseudo labels (the benchmark's metric, on its test frames, as ``kpbottleneck test`` computes it)
beside the label-free scores of :mod:`kpbottleneck.model_selection` on the run's *training* frames (no
label is read): how well each score, chosen without labels, picks a checkpoint. Writes
``<out>/course.json`` (every checkpoint) and ``<out>/course.md`` (per run: the last checkpoint's error, the
best one's, and the one each score picks).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import torch
import yaml
from run import REPO
from torch import Tensor

from datamodules import VideoFolderDataModule
from kpbottleneck.detector import KeypointDetector
from kpbottleneck.metrics import per_image_error
from kpbottleneck.model_selection import SCORES, selection_frames
from kpbottleneck.skeletons import Skeleton


def datamodule(run_dir: Path) -> VideoFolderDataModule:
    """The run's data, as its ``gan.yaml`` and ``experiments/my_videos.yaml`` set it (no workers)."""
    defaults = yaml.safe_load((REPO / "experiments" / "my_videos.yaml").read_text())["data"]["init_args"]
    config = yaml.safe_load((run_dir / "gan.yaml").read_text())
    image_size = config["model"]["init_args"]["image_size"]  # the CLI links it to the data's
    settings = {**defaults, **config["data"]["init_args"], "num_workers": 0, "image_size": image_size}
    settings["skeleton"] = Skeleton(**settings["skeleton"])
    return VideoFolderDataModule(**settings)


@torch.no_grad()
def test_errors(detector: KeypointDetector, test: list[dict[str, Tensor]]) -> dict[str, Any]:
    """On the test frames: the mean per-image error (% of the image side), the same with each keypoint's
    mean offset from its label removed (what is left once a constant shift per keypoint, fitted on the
    labels, is taken out: the part of the error that is not a displaced definition of the keypoint), and
    the offset averaged over the keypoints (x, y)."""
    prediction = torch.cat([detector(batch["image"]) for batch in test])
    target = torch.cat([batch["keypoints"] for batch in test])
    offset = (prediction - target).mean(dim=0, keepdim=True)
    return {
        "test_error": round(float(per_image_error(prediction, target)[0].mean()) * 100, 3),
        "test_error_offset_removed": round(
            float(per_image_error(prediction - offset, target)[0].mean()) * 100, 3
        ),
        "mean_offset": [round(float(v) * 50, 2) for v in offset.mean(dim=(0, 1))],  # [-1, 1] → % of the side
    }


def checkpoints(run_dir: Path) -> list[Path]:
    """The course's checkpoints in order, and ``last.ckpt`` unless the course already ends at its step."""
    course = sorted((run_dir / "gan" / "course").glob("step=*.ckpt"))
    max_steps = yaml.safe_load((run_dir / "gan.yaml").read_text())["trainer"]["max_steps"]
    ends_there = bool(course) and course[-1].name == f"step={max_steps:06d}.ckpt"
    return course if ends_there else [*course, run_dir / "gan" / "last.ckpt"]


def read_run(run_dir: Path) -> dict[str, Any]:
    data = datamodule(run_dir)
    data.setup("fit")
    data.setup("test")
    frames, test = selection_frames(data), list(data.test_dataloader())  # read once for every checkpoint
    course = []
    for path in checkpoints(run_dir):
        detector = KeypointDetector.from_checkpoint(path).eval()
        row: dict[str, Any] = {"checkpoint": path.name, **test_errors(detector, test)}
        row |= {name: round(float(score(detector, frames)), 5) for name, score in SCORES.items()}
        course.append(row)
        print(json.dumps({"run": str(run_dir), **row}), flush=True)
    return {"run": "/".join(run_dir.parts[-3:]), "course": course}


def picked(course: list[dict[str, Any]], score: str) -> dict[str, Any]:
    """The checkpoint with the lowest ``score`` (the last of equals)."""
    return min(reversed(course), key=lambda row: row[score])


def table(runs: list[dict[str, Any]]) -> str:
    """Per run: the last checkpoint's test error (its offset-free part and mean offset beside it), the best
    checkpoint's (chosen with the labels) and the one each score picks; then each score's rank correlation
    with the test error along the runs."""
    names = list(SCORES)
    lines = [
        "| run | checkpoints | last: test error (%) | last: offset removed (%) | last: mean offset x, y (%) "
        "| best, by the labels (%) | " + " | ".join(f"picked by {n} (%)" for n in names) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(names),
    ]
    for run_ in runs:
        course, last = run_["course"], run_["course"][-1]
        best = min(course, key=lambda row: row["test_error"])
        cells = [f"{picked(course, n)['test_error']:.2f} ({step(picked(course, n))})" for n in names]
        offset = ", ".join(f"{v:+.1f}" for v in last["mean_offset"])
        lines.append(
            f"| {run_['run']} | {len(course)} | {last['test_error']:.2f} | "
            f"{last['test_error_offset_removed']:.2f} | {offset} | {best['test_error']:.2f} ({step(best)}) | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    for name in names:
        rhos = [
            spearman([r[name] for r in run_["course"]], [r["test_error"] for r in run_["course"]])
            for run_ in runs
        ]
        lines.append(
            f"Spearman ρ of {name} with the test error along each run: "
            + ", ".join(f"{rho:.2f}" for rho in rhos)
            + f" (median {statistics.median(rhos):.2f}).  "
        )
    return "\n".join(lines) + "\n"


def step(row: dict[str, Any]) -> str:
    """A checkpoint's batch, e.g. ``"batch 500"`` for ``step=001000.ckpt`` (two optimiser steps a batch)."""
    name = row["checkpoint"]
    return f"batch {int(name[5:11]) // 2}" if name.startswith("step=") else "last"


def spearman(a: list[float], b: list[float]) -> float:
    ranks = [torch.tensor(v).argsort().argsort().float() for v in (a, b)]
    return float(torch.corrcoef(torch.stack(ranks))[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "live_action")
    parser.add_argument(
        "--runs", nargs="*", default=None, help="run folders (default: every one under --out)"
    )
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    folders = [Path(r) for r in args.runs] if args.runs else sorted(args.out.glob("*/*/seed*"))
    runs = [read_run(f) for f in folders if (f / "test.log").is_file() and (f / "gan" / "course").is_dir()]
    (args.out / "course.json").write_text(json.dumps(runs, indent=1) + "\n")
    (args.out / "course.md").write_text(table(runs))
    print(table(runs))


if __name__ == "__main__":
    main()
