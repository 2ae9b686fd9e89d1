"""TrainingRecipe: what every training LightningModule of the library does the same way.

The default callbacks (exact resume, a checkpoint on SIGTERM, the non-finite watch), the speed options
``compile`` and ``channels_last``, the check that the data's skeleton (and a resumed checkpoint's) is the
model's, the learning-rate decay over the fit's batches, and, for manual optimisation, the optimiser step
with gradient clipping and the non-finite guard. :class:`~kpbottleneck.KeypointGAN` and
:class:`~kpbottleneck.RegressorPretraining` are recipes; each says which networks it trains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities import AttributeDict
from pytorch_lightning.core.optimizer import LightningOptimizer
from torch import Tensor, nn
from torch.optim import Optimizer

from kpbottleneck.acceleration import (
    clip_gradient_norm,
    prepare_networks,
    resolve_channels_last,
    uses_gradient_scaler,
)
from kpbottleneck.callbacks import CheckpointOnTermination, RandomStateCheckpoint, not_yet_in
from kpbottleneck.nonfinite import NonFiniteWatch
from kpbottleneck.schedules import linear_decay, training_batches
from kpbottleneck.skeletons import Skeleton, check_data_skeleton


class TrainingRecipe(pl.LightningModule):
    """Base of the training modules. A subclass sets ``skeleton`` and ``nonfinite`` (a
    :class:`~kpbottleneck.nonfinite.NonFiniteWatch`), has the hyper-parameters ``skeleton``,
    ``image_size``, ``compile``, ``channels_last``, ``lr_decay`` and ``on_nonfinite``, and says what it
    trains in :meth:`networks_to_prepare`."""

    skeleton: Skeleton
    nonfinite: NonFiniteWatch
    channels_last: bool

    @property
    def hparams(self) -> AttributeDict:
        """The hyper-parameters saved by ``__init__`` (Lightning's, typed as what ``save_hyperparameters``
        makes of them: read by attribute)."""
        hparams = super().hparams
        assert isinstance(hparams, AttributeDict)
        return hparams

    def networks_to_prepare(self) -> list[nn.Module]:
        """The networks that ``compile`` and ``channels_last`` apply to in the Trainer's current stage."""
        raise NotImplementedError

    def default_callbacks(self) -> list[pl.Callback]:
        """Callbacks the module adds unless the Trainer has its own of the same kind."""
        return [RandomStateCheckpoint(), CheckpointOnTermination()]

    def configure_callbacks(self) -> list[pl.Callback]:
        """:meth:`default_callbacks` (a Trainer that has its own keeps it) and the reader of this model's
        non-finite record (:mod:`kpbottleneck.nonfinite`)."""
        return [*not_yet_in(self.trainer, self.default_callbacks()), self.nonfinite]

    def configure_model(self) -> None:
        """The speed options ``compile`` and ``channels_last`` (:func:`prepare_networks`), ``None``
        resolved from the Trainer's device and precision."""
        self.channels_last = resolve_channels_last(self.hparams.channels_last, self._trainer)
        prepare_networks(self.networks_to_prepare(), self.hparams.compile, self.channels_last)

    def setup(self, stage: str) -> None:
        check_data_skeleton(self.skeleton, self._trainer)

    def decay_schedulers(
        self, optimizers: Sequence[torch.optim.Optimizer]
    ) -> list[torch.optim.lr_scheduler.LambdaLR]:
        """One ``LambdaLR`` per optimiser for ``lr_decay`` (CycleGAN's linear policy over the fit's
        batches, :func:`~kpbottleneck.schedules.training_batches`), each stepped once a batch; ``[]``
        without decay. Every optimiser steps once a batch, so a batch is ``len(optimizers)`` steps."""
        if not self.hparams.lr_decay:
            return []
        factor = linear_decay(training_batches(self.trainer, len(optimizers)), self.hparams.lr_decay)
        return [torch.optim.lr_scheduler.LambdaLR(optimizer, factor) for optimizer in optimizers]

    def step_schedulers(self) -> None:
        """Step the :meth:`decay_schedulers` once (manual optimisation: once a batch)."""
        if not self.hparams.lr_decay:
            return
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            if scheduler is not None:
                scheduler.step()

    def manual_step(
        self, optimizer: Optimizer | LightningOptimizer, loss: Tensor, clip: float
    ) -> Tensor | None:
        """Back-propagate ``loss`` and step ``optimizer`` (manual optimisation), its gradients clipped to
        norm ``clip`` (0: not clipped): by Lightning under a gradient scaler (it knows when they are
        unscaled), else here, in one multi-tensor call (Lightning refuses to clip for the fused Adam used
        then). Returns the gradients' norm before clipping when it was computed here.

        With ``on_nonfinite="skip"`` a non-finite loss or gradient norm leaves the weights and the
        optimiser's state as they were (read on the host: a synchronisation) and counts the step in
        ``train/skipped_steps``."""
        skip = self.hparams.on_nonfinite == "skip"
        optimizer.zero_grad()
        if skip and not bool(loss.isfinite()):
            self.log("train/skipped_steps", self.nonfinite.skip())
            return None
        self.manual_backward(loss)
        norm = None
        if clip > 0 and uses_gradient_scaler(self._trainer):
            raw = optimizer.optimizer if isinstance(optimizer, LightningOptimizer) else optimizer
            self.clip_gradients(raw, gradient_clip_val=clip, gradient_clip_algorithm="norm")
        elif clip > 0 or skip:
            parameters = [p for group in optimizer.param_groups for p in group["params"]]
            norm = clip_gradient_norm(parameters, clip if clip > 0 else float("inf"))
            if skip and not bool(norm.isfinite()):
                optimizer.zero_grad()
                self.log("train/skipped_steps", self.nonfinite.skip())
                return None
        optimizer.step()
        return norm

    def watch_nonfinite(
        self, losses: Mapping[str, Tensor], norms: Mapping[str, Tensor | None], step: int
    ) -> None:
        """With ``on_nonfinite="error"``, give the step's loss terms (``"<name> loss"``) and the gradient
        norms :meth:`manual_step` returned (``"gradient norm of the <name>"``) to the non-finite watch
        (``"skip"`` has dealt with them in :meth:`manual_step`)."""
        if self.hparams.on_nonfinite != "error":
            return
        watched = {f"{name} loss": value for name, value in losses.items()}
        watched |= {f"gradient norm of the {name}": norm for name, norm in norms.items() if norm is not None}
        self.nonfinite.record(watched, step)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the class as LightningCLI does, so ``kpbottleneck predict --ckpt_path`` also takes
        checkpoints of models built in Python."""
        hparams = checkpoint.setdefault("hyper_parameters", {})
        hparams.setdefault("_class_path", f"{type(self).__module__}.{type(self).__qualname__}")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse, before any weight is copied, a checkpoint (``--ckpt_path``) of another skeleton or image
        size: its keypoints would not be this model's, or its networks would see another scale."""
        theirs = checkpoint.get("hyper_parameters", {})
        for key, ours in (("skeleton", self.skeleton.name), ("image_size", self.hparams.image_size)):
            if key not in theirs:
                continue
            value = theirs[key]
            value = getattr(value, "name", value.get("name") if isinstance(value, Mapping) else value)
            if value != ours:
                raise ValueError(
                    f"checkpoint of a model with {key}={value!r}; this model has model.{key}={ours!r} "
                    f"(set model.init_args.{key} to the checkpoint's, or use a checkpoint of this model)"
                )
