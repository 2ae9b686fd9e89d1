"""Learning-rate schedules of the training recipes (as ``LambdaLR`` factors)."""

from __future__ import annotations

from collections.abc import Callable


def check_decay_fraction(fraction: float) -> float:
    """``fraction`` if it lies in [0, 1], else a ``ValueError`` naming the ``lr_decay`` setting."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"lr_decay is a fraction of training in [0, 1], got {fraction}")
    return fraction


def linear_decay(total: int, fraction: float) -> Callable[[int], float]:
    """CycleGAN's "linear" policy as a ``LambdaLR`` factor of the step index ``s``: 1 until the last
    ``fraction`` of ``total`` steps, then falling linearly to reach 0 at ``s = total``."""
    decay = max(round(total * check_decay_fraction(fraction)), 1)
    return lambda step: min(1.0, max(total - step, 0) / decay)
