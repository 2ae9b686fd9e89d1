"""Counting what a piece of training code launches: ATen operators, and CUDA kernels and copies.

Launch counts, not times, are what a Python-bound step is made of, and they do not depend on the machine:
a test can guard them on a CPU (``tests/kpbottleneck/test_keypoint_gan.py``) and
``benchmarks/train_step.py`` reports them beside its timings.
"""

from __future__ import annotations

from types import TracebackType

import torch
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile


def _is_operator(event: FunctionEvent) -> bool:
    return event.name.startswith("aten::")


def _top_level(event: FunctionEvent) -> bool:
    """An operator not called by another operator (``aten::linear`` counts, its ``aten::addmm`` does not)."""
    parent = event.cpu_parent
    while parent is not None:
        if _is_operator(parent):
            return False
        parent = parent.cpu_parent
    return True


class OperatorCounter:
    """Context manager that counts, over the code it encloses, divided by ``steps``:

    * ``operators``: top-level ATen operator calls, those of the backward pass included;
    * ``kernel_launches`` and ``memory_copies``: CUDA runtime launches and ``cudaMemcpy*`` calls (only
      when CUDA is available).

    Example:
        >>> with OperatorCounter() as counter:
        ...     _ = torch.ones(3).add(1).sum()
        >>> counter.per_step["operators"]
        3.0
    """

    def __init__(self, steps: int = 1) -> None:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.steps = steps
        self.cuda = torch.cuda.is_available()
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.cuda else [])
        self._profile = profile(activities=activities)
        self.per_step: dict[str, float] = {}

    def __enter__(self) -> OperatorCounter:
        self._profile.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._profile.__exit__(kind, error, traceback)
        if kind is not None:
            return
        events = self._profile.events()
        counts = {"operators": sum(_is_operator(e) and _top_level(e) for e in events)}
        if self.cuda:
            counts["kernel_launches"] = sum("LaunchKernel" in e.name for e in events)
            counts["memory_copies"] = sum(e.name.startswith("cudaMemcpy") for e in events)
        self.per_step = {name: count / self.steps for name, count in counts.items()}
