"""Callbacks: side jobs of training that any LightningModule can use."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from pytorch_lightning import Callback


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
