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
    "commit": lambda r: f"`{r.get('commit', 'unknown')}`",
}
TRAIN_STEP_COLUMNS = {
    "model (batch)": lambda r: f"{'KeypointGAN' if r['model'] == 'gan' else 'η'} ({r['batch_size']})",
    "precision, layout": lambda r: (
        f"{r['precision']}, {'channels-last' if r['channels_last'] else 'standard'}"
    ),
    "ms per batch (p10–p90)": _milliseconds,
    "GFLOP per batch": lambda r: f"{r['gflop_per_batch']:.1f}",
    "GFLOP/s (matmul's)": lambda r: f"{r['gflop_per_s']:.0f} ({r['matmul_gflop_per_s']:.0f})",
    "peak MiB": lambda r: f"{r['peak_memory_mib']:.0f}",
}


def _limits(row: Row) -> str:
    return " ".join(f"{name}={value}" for name, value in row.get("isa_limits", {}).items())


def _groups(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``rows`` by CPU and ISA limits, in order of first appearance."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row.get("cpu", "unknown"), _limits(row)), []).append(row)
    return groups


def _heading(machine: str, cpu: str, limits: str, rows: list[dict[str, Any]]) -> str:
    dates = sorted({row.get("date", "") for row in rows})
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    limited = f", limited by `{limits}`" if limits else ""
    return f"**`{machine}`**: {cpu}{limited}; measured {when}\n\n"


def main_job_tables() -> str:
    """Per machine kind, CPU (and ISA limits) and precision: each seed of the main job, the median ratio."""
    parts = []
    for machine, rows in load_results("main_job").items():
        for (cpu, limits), group in _groups(rows).items():
            for precision in sorted({row["precision"] for row in group}):
                seeds = sorted((r for r in group if r["precision"] == precision), key=lambda r: r["seed"])
                ratios = [row["ratio"] for row in seeds]
                parts.append(
                    _heading(machine, cpu, limits, seeds)
                    + f"precision `{precision}`\n\n"
                    + markdown_table(seeds, MAIN_JOB_COLUMNS)
                    + f"\n\nMedian ÷ baseline over {len(seeds)} seeds: **{statistics.median(ratios):.3f}**; "
                    + f"worst seed {max(ratios):.3f}.\n"
                )
    return "\n".join(parts) or "No main-job results have been measured yet.\n"


def train_step_tables() -> str:
    """Per machine kind and CPU (and ISA limits): each measured configuration of the training step."""
    parts = []
    for machine, rows in load_results("train_step").items():
        for (cpu, limits), group in _groups(rows).items():
            parts.append(
                _heading(machine, cpu, limits, group) + markdown_table(group, TRAIN_STEP_COLUMNS) + "\n"
            )
    return "\n".join(parts) or "No training-step results have been measured yet.\n"


def write_all(out: Path) -> None:
    """Write every table file under ``out`` (only those whose text changed)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("main_job.md", main_job_tables()), ("train_step.md", train_step_tables())):
        path = out / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
