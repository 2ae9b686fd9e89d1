"""Learning-rate schedules of the training recipes (as ``LambdaLR`` factors)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytorch_lightning as pl


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


def training_batches(trainer: pl.Trainer, steps_per_batch: int = 1) -> int:
    """Batches a fit runs, the one count that ``lr_decay`` schedules over in every module.

    ``trainer.max_steps`` counts optimiser steps: ``steps_per_batch`` of them per batch (1 with one
    optimiser; KeypointGAN steps two per batch). ``trainer.max_epochs`` counts passes over the training
    loader. With both, the fit stops at whichever comes first; with neither, it never ends and no schedule
    can be made (``ValueError``).
    """
    estimated = trainer.estimated_stepping_batches  # Lightning's: min(epochs × batches, max_steps)
    batches = estimated if trainer.max_steps == -1 else min(estimated, trainer.max_steps // steps_per_batch)
    if not math.isfinite(batches):
        raise ValueError(
            "lr_decay needs to know when training ends: set trainer.max_steps or trainer.max_epochs "
            f"(got max_steps={trainer.max_steps}, max_epochs={trainer.max_epochs})"
        )
    return max(int(batches), 1)
