"""Callbacks: side jobs of training that any LightningModule can use."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning import Callback
from pytorch_lightning.utilities import rank_zero_info
from torchvision.utils import save_image

from kpbottleneck.visualization import keypoint_grid


def collect_random_state() -> dict[str, Any]:
    """This process's torch, CUDA, NumPy and Python generator states, as tensors and plain Python values.

    Only tensors and primitives, so a checkpoint holding them loads with ``torch.load(weights_only=True)``
    (the default of torch ≥ 2.6 and of Lightning's resume).
    """
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached_gaussian],
        "python": random.getstate(),
    }


def restore_random_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`collect_random_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


class RandomStateCheckpoint(Callback):
    """Store every process's random generators (torch, CUDA, NumPy, Python) in checkpoints and restore them.

    Lightning restores weights, optimisers and loop counters but not the random state that drives
    shuffling, the prior poses drawn per sample and any augmentation; with this callback a run resumed
    from a checkpoint saved at the end of an epoch continues exactly as the uninterrupted run would.
    (A checkpoint saved mid-epoch restarts that epoch's data order; Lightning's default DataLoader has
    no resumable position.) Under DDP every rank's state is gathered and each rank gets its own back.
    """

    def state_dict(self) -> dict[str, Any]:
        state = collect_random_state()
        if dist.is_available() and dist.is_initialized():
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, state)
            return {"per_rank": gathered}
        return {"per_rank": [state]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        per_rank = state_dict["per_rank"]
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        if rank < len(per_rank):
            restore_random_state(per_rank[rank])


class PredictionPlot(Callback):
    """Write a picture of predicted (and, where the batch has them, ground-truth) skeletons over the
    first ``num_images`` test images: ``<log dir>/test_predictions.png``, also sent to the logger when it
    can show images (``log_image``, e.g. W&B).

    Works with any LightningModule whose ``forward(images)`` returns ``(B, K, 2)`` keypoints and which
    has a ``skeleton`` attribute.
    """

    def __init__(self, num_images: int = 16, filename: str = "test_predictions.png") -> None:
        self.num_images = num_images
        self.filename = filename
        self._images: list[torch.Tensor] = []
        self._predicted: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._images, self._predicted, self._targets = [], [], []

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: dict[str, Any],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        missing = self.num_images - sum(len(images) for images in self._images)
        if missing <= 0:
            return
        images = batch["image"][:missing]
        with torch.no_grad():
            self._predicted.append(pl_module(images).cpu())
        self._images.append(images.cpu())
        if "keypoints" in batch:
            self._targets.append(batch["keypoints"][:missing].cpu())

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._images or not trainer.is_global_zero:
            return
        target = torch.cat(self._targets) if len(self._targets) == len(self._images) else None
        grid = keypoint_grid(torch.cat(self._images), torch.cat(self._predicted), pl_module.skeleton, target)
        path = Path(trainer.log_dir or trainer.default_root_dir) / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(grid, path)
        rank_zero_info(f"Predicted keypoints over test images written to {path}")
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key="test/predictions", images=[grid])
