"""TrainingRecipe: what every training LightningModule of the library does the same way.

The default callbacks (exact resume, a checkpoint on SIGTERM, the non-finite watch), the speed options
``compile`` and ``channels_last``, the check that the data's skeleton is the model's, and the learning-rate
decay over the fit's batches. :class:`~kpbottleneck.KeypointGAN` and
:class:`~kpbottleneck.RegressorPretraining` are recipes; each says which networks it trains.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from torch import nn

from kpbottleneck.acceleration import prepare_networks, resolve_channels_last
from kpbottleneck.callbacks import CheckpointOnTermination, RandomStateCheckpoint, not_yet_in
from kpbottleneck.nonfinite import NonFiniteWatch
from kpbottleneck.schedules import linear_decay, training_batches
from kpbottleneck.skeletons import Skeleton, check_data_skeleton


class TrainingRecipe(pl.LightningModule):
    """Base of the training modules. A subclass sets ``skeleton`` and ``nonfinite`` (a
    :class:`~kpbottleneck.nonfinite.NonFiniteWatch`), has the hyper-parameters ``compile``,
    ``channels_last`` and ``lr_decay``, and says what it trains in :meth:`networks_to_prepare`."""

    skeleton: Skeleton
    nonfinite: NonFiniteWatch
    channels_last: bool

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
