"""The docs' tables of measured results, written at build time from the benchmarks' result files
(``benchmarks/results/<benchmark>/<machine kind>.jsonl``, :mod:`result_files`) into ``docs/_generated/``,
where the results and performance pages include them."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from result_files import load_results, markdown_table

Row = Mapping[str, Any]


def _seconds(row: Row) -> str:
    return " / ".join(f"{row['seconds'][step]:.0f}" for step in ("eta", "gan", "test"))


def _milliseconds(row: Row) -> str:
    ms = row["ms_per_batch"]
    return f"**{ms['median']:.0f}** ({ms['p10']:.0f}–{ms['p90']:.0f})"


MAIN_JOB_COLUMNS = {
    "seed": lambda r: r["seed"],
    "test error (%)": lambda r: f"{r['test_error']:.2f}",
    "mean-pose baseline (%)": lambda r: f"{r['mean_pose_baseline']:.2f}",
    "÷ baseline": lambda r: f"{r['ratio']:.3f}",
    "after linear post-processing (%)": lambda r: f"{r['post_processed']:.2f}",
    "η / KeypointGAN / test (s)": _seconds,
    "the three commands (min)": lambda r: f"{r['job_minutes']:.1f}",
}
TRAIN_STEP_COLUMNS = {
    "model (batch)": lambda r: f"{'KeypointGAN' if r['model'] == 'gan' else 'η'} ({r['batch_size']})",
    "size": lambda r: f"{r['size']} ({r['image_size']} px)",
    "ISA": lambda r: r.get("isa", ""),
    "precision": lambda r: r["precision"],
    "layout": lambda r: "channels-last" if r["channels_last"] else "standard",
    "ms per batch (p10–p90)": _milliseconds,
    "GFLOP per batch": lambda r: f"{r['gflop_per_batch']:.1f}",
    "GFLOP/s": lambda r: f"{r['gflop_per_s']:.0f}",
    "matmul GFLOP/s": lambda r: f"{r['matmul_gflop_per_s']:.0f}",
    "fraction of matmul rate": lambda r: f"{r['fraction_of_matmul_rate']:.2f}",
    "peak MiB": lambda r: f"{r['peak_memory_mib']:.0f}",
}


def _heading(machine: str, rows: list[dict[str, Any]]) -> str:
    cpus = sorted({row.get("cpu", "unknown") for row in rows})
    dates = sorted({row.get("date", "") for row in rows})
    return f"**`{machine}`** ({'; '.join(cpus)}; measured {dates[0]} to {dates[-1]})\n\n"


def main_job_tables() -> str:
    """Per machine kind and precision: each seed of the main job, and the median ratio."""
    parts = []
    for machine, rows in load_results("main_job").items():
        for precision in sorted({row["precision"] for row in rows}):
            seeds = [row for row in rows if row["precision"] == precision]
            seeds.sort(key=lambda row: row["seed"])
            median = statistics.median(row["ratio"] for row in seeds)
            parts.append(
                _heading(machine, seeds)
                + f"precision `{precision}`\n\n"
                + markdown_table(seeds, MAIN_JOB_COLUMNS)
                + f"\n\nMedian ÷ baseline over {len(seeds)} seeds: **{median:.3f}**; worst seed "
                + f"{max(row['ratio'] for row in seeds):.3f}.\n"
            )
    return "\n".join(parts) or "No main-job results have been measured yet.\n"


def train_step_tables() -> str:
    """Per machine kind: each measured configuration of the training step."""
    parts = []
    for machine, rows in load_results("train_step").items():
        parts.append(_heading(machine, rows) + markdown_table(rows, TRAIN_STEP_COLUMNS) + "\n")
    return "\n".join(parts) or "No training-step results have been measured yet.\n"


def write_all(out: Path) -> None:
    """Write every table file under ``out`` (only those whose text changed)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("main_job.md", main_job_tables()), ("train_step.md", train_step_tables())):
        path = out / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
