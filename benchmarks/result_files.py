"""The benchmarks' result files, from which the docs' tables are made (``docs/conf.py``).

One file per benchmark and machine kind, ``benchmarks/results/<benchmark>/<machine kind>.jsonl``
(:func:`kpbottleneck.hardware.machine_kind`, e.g. ``cpu-avx512bf16-2threads``): one JSON object a line, one
line per configuration, so that measuring a configuration again replaces its line and the tables always show
what the scripts last measured. Scripts save with :func:`save_result`; the docs read with
:func:`load_results` and print with :func:`markdown_table`.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
#: Settings that make a CPU compute as a lesser one (e.g. an AVX-512 machine as an AVX2 one).
ISA_LIMITS = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), ``"unknown"`` where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _commit() -> str:
    here = Path(__file__).resolve().parent
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True)
    return run.stdout.strip() or "unknown"


def save_result(
    benchmark: str, record: Mapping[str, Any], key: Sequence[str], machine: str, root: Path = RESULTS
) -> Path:
    """Write ``record`` (with the date, the commit, the CPU's name and the :data:`ISA_LIMITS` in force
    added) into ``benchmark``'s file for ``machine``, replacing the line of the same CPU and limits whose
    ``key`` fields are the record's; returns the file. (The limits tell a real AVX2 machine from one
    limited to AVX2 by ``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``.)"""
    path = root / benchmark / f"{machine}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    limits = {name: os.environ[name] for name in ISA_LIMITS if name in os.environ}
    record = {**record, "machine": machine, "cpu": cpu_name(), "isa_limits": limits, "commit": _commit(),
              "date": datetime.date.today().isoformat()}  # fmt: skip
    lines = path.read_text().splitlines() if path.exists() else []
    fields = [*key, "cpu", "isa_limits"]
    kept = [
        line for line in lines if [json.loads(line).get(k) for k in fields] != [record.get(k) for k in fields]
    ]
    path.write_text("".join(f"{line}\n" for line in [*kept, json.dumps(record)]))
    return path


def load_results(benchmark: str, root: Path = RESULTS) -> dict[str, list[dict[str, Any]]]:
    """``benchmark``'s records by machine kind (files in name order, lines in file order)."""
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for path in sorted((root / benchmark).glob("*.jsonl"))
    }


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, Callable[[Mapping], Any]]) -> str:
    """A Markdown table of ``rows``, a column per ``columns`` entry (header → the cell of a row).

    Example:
        >>> columns = {"a": lambda row: row["a"], "twice": lambda row: 2 * row["a"]}
        >>> print(markdown_table([{"a": 1}, {"a": 2}], columns))
        | a | twice |
        |---|---|
        | 1 | 2 |
        | 2 | 4 |
    """
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell(row)) for cell in columns.values()) + " |" for row in rows]
    return "\n".join(lines)
