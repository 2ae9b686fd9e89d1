"""Non-finite losses and gradients during training: stop with a clear error, or skip the step.

``on_nonfinite="error"`` (the modules' default) must not slow the step down, so it records on the device,
with no host synchronisation, the first step at which each watched value (a loss term, a gradient norm)
was NaN or infinite, and reads that record on the host only at a few points: every
``trainer.log_every_n_steps`` batches, before any checkpoint is written, and at the end of training. The
error names the value and the step; a checkpoint holding weights updated from a non-finite value is never
written (the check runs first). ``on_nonfinite="skip"`` reads each optimiser step's loss and gradient
norm on the host (a few synchronisations a batch), leaves the weights and the optimiser's state untouched
when one is not finite, and counts the skipped optimiser steps (``train/skipped_steps``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from torch import Tensor

NonFinitePolicy = Literal["error", "skip"]


class NonFiniteError(RuntimeError):
    """A loss term or a gradient norm was NaN or infinite during training."""


class NonFiniteWatch(pl.Callback):
    """Remembers, per watched name, the first training step at which its value was not finite; as the
    callback that a module returns from ``configure_callbacks``, it reads that record every
    ``trainer.log_every_n_steps`` batches, before any checkpoint is written and at the end of training.

    Example:
        >>> watch = NonFiniteWatch()
        >>> watch.record({"loss": torch.tensor(1.0)}, step=0)
        >>> watch.check()  # all finite: nothing happens
        >>> watch.record({"loss": torch.tensor(float("nan"))}, step=7)
        >>> watch.check()
        Traceback (most recent call last):
        ...
        kpbottleneck.nonfinite.NonFiniteError: the loss was NaN or infinite at training step 7 ...
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.first_step: Tensor | None = None
        self.skipped = 0

    def skip(self) -> float:
        """Count one skipped optimiser step; return the count since this process started training (what
        the modules log as ``train/skipped_steps``)."""
        self.skipped += 1
        return float(self.skipped)

    def record(self, values: Mapping[str, Tensor], step: int) -> None:
        """Note which of ``values`` (scalars, on any one device) are not finite at ``step``, on their
        device. The names are a step's fixed set; another set starts the record afresh."""
        finite = torch.stack([value.detach().float() for value in values.values()]).isfinite()
        if list(values) != self.names or self.first_step is None or self.first_step.device != finite.device:
            self.names = list(values)
            self.first_step = torch.full((len(self.names),), -1, dtype=torch.long, device=finite.device)
        self.first_step = torch.where(~finite & (self.first_step < 0), step, self.first_step)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # (the Trainer's logger connector sets the attribute; Lightning's types do not declare it)
        if (batch_idx + 1) % getattr(trainer, "log_every_n_steps") == 0:  # noqa: B009
            self.check()

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        self.check()  # before the file is written: weights updated from a non-finite value are never saved

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`NonFiniteError` naming the value and step of the earliest non-finite record."""
        if self.first_step is None:
            return
        steps = self.first_step.tolist()
        pairs = enumerate(zip(steps, self.names, strict=True))
        bad = [(step, order, name) for order, (step, name) in pairs if step >= 0]
        if bad:  # the earliest step; within it, the first name recorded (the caller lists causes first)
            step, _, name = min(bad)
            raise NonFiniteError(
                f"the {name} was NaN or infinite at training step {step} (Lightning's global step); "
                f"training stopped before writing any checkpoint from then on. Lower the learning rate or "
                f"the loss weights, check the data, or set model.init_args.on_nonfinite: skip to skip such "
                f"steps"
            )
