"""Label-free scores of a trained detector, for choosing a checkpoint without labelled frames.

Each score takes a :class:`~kpbottleneck.detector.KeypointDetector` and a fixed set of training frames
(:func:`selection_frames`) and returns a number, lower for a better detector:

* ``equivariance``: how far the keypoints of a warped frame land from the warped keypoints of the frame
  (:func:`equivariance_error`, :mod:`kpbottleneck.equivariance`); a detector whose keypoints sit on the
  image's features moves them with it.
* ``prior_distance``: the Chamfer distance between the set of predicted poses and the set of prior poses
  (:func:`pose_set_distance`): small when the predictions look like the prior *and* cover it.
* ``skeleton_reliance``: Ψ's reconstruction error with the frame's own skeleton over that with another
  frame's (:func:`skeleton_reliance`): 1 when Ψ ignores the skeleton, lower the more pose it carries.

Convention: keypoints ``(N, K, 2)`` normalised to ``[-1, 1]`` (docs/conventions.md); errors in % of the
image side, as the library's keypoint error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning import Callback
from torch import Tensor

from kpbottleneck.coordinates import normalized_to_unit
from kpbottleneck.detector import KeypointDetector, held_detector
from kpbottleneck.equivariance import equivariance_distances, random_similarities, warp_images

Frames = dict[str, Tensor]


def selection_frames(data: pl.LightningDataModule, count: int = 64, seed: int = 0) -> Frames:
    """The first ``count`` training samples of ``data`` (set up for ``fit``) as its training loader deals
    them out after ``seed_everything(seed)`` in a single process: ``{"image", "appearance_image",
    "prior_keypoints"}``. The same ones whatever the Trainer's state (a resumed or a distributed fit:
    the loader is made as without a Trainer), and the global random state is left as it was."""
    trainer, data.trainer = data.trainer, None
    batches, drawn = [], 0
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            for batch in data.train_dataloader():
                batches.append(batch)
                drawn += batch["image"].shape[0]
                if drawn >= count:
                    break
    finally:
        data.trainer = trainer
    keys = ("image", "appearance_image", "prior_keypoints")
    return {key: torch.cat([b[key] for b in batches])[:count] for key in keys}


@torch.no_grad()
def equivariance_error(detector: Callable[[Tensor], Tensor], images: Tensor, seed: int = 0) -> Tensor:
    """Mean distance (% of the side) between the keypoints ``detector`` finds in warped images and its
    keypoints of the images ``(N, C, S, S)`` warped the same way
    (:func:`~kpbottleneck.equivariance.random_similarities` drawn with ``seed``), over the keypoints that
    stay inside the image."""
    size = images.shape[-1]
    matrix = random_similarities(images.shape[0], size, seed=seed)
    distance, inside = equivariance_distances(
        detector(warp_images(images, matrix)), detector(images), matrix, size
    )
    return distance[inside].mean() * 100


def pose_distances(a: Tensor, b: Tensor) -> Tensor:
    """``(N, M)`` mean keypoint distances (% of the side) between poses ``a`` ``(N, K, 2)`` and ``b``
    ``(M, K, 2)``."""
    difference = normalized_to_unit(a)[:, None] - normalized_to_unit(b)[None]
    return torch.linalg.vector_norm(difference, dim=-1).mean(dim=-1) * 100


def pose_set_distance(predicted: Tensor, prior: Tensor) -> Tensor:
    """Symmetric Chamfer distance between two sets of poses: the mean over each set of the distance to the
    nearest pose of the other, averaged over both directions (% of the side).

    In the example, the predicted pose has its twin in the prior (0) and the prior's two poses are 0 and 10 %
    from it (mean 5): (0 + 5) / 2.

    Example: a pose against itself and a copy moved right by a tenth of the side.
        >>> pose = torch.zeros(1, 2, 2)
        >>> pose_set_distance(pose, torch.cat([pose, pose + torch.tensor([0.2, 0.0])]))
        tensor(2.5000)
    """
    distances = pose_distances(predicted, prior)
    return (distances.amin(dim=1).mean() + distances.amin(dim=0).mean()) / 2


@torch.no_grad()
def skeleton_reliance(detector: KeypointDetector, images: Tensor, appearance: Tensor) -> Tensor:
    """Ψ's mean absolute reconstruction error with each frame's own skeleton over that with the skeleton of
    another frame of the set (the next one)."""
    skeleton = detector.renderer(detector(images))
    own = (detector.decoder(skeleton, appearance) - images).abs().mean()
    other = (detector.decoder(skeleton.roll(1, dims=0), appearance) - images).abs().mean()
    return own / other


SCORES: dict[str, Callable[[KeypointDetector, Frames], Tensor]] = {
    "equivariance": lambda detector, frames: equivariance_error(detector, frames["image"]),
    "prior_distance": lambda detector, frames: pose_set_distance(
        detector(frames["image"]), frames["prior_keypoints"]
    ),
    "skeleton_reliance": lambda detector, frames: skeleton_reliance(
        detector, frames["image"], frames["appearance_image"]
    ),
}


class LabelFreeScore(Callback):
    """Every ``every_n_batches`` training batches, log one of the :data:`SCORES` (``select/<score>``) of the
    model's detector on a fixed set of training frames, for a ``ModelCheckpoint`` to choose the checkpoint
    by, with no label::

        callbacks:
          - class_path: kpbottleneck.model_selection.LabelFreeScore
            init_args: {score: equivariance, every_n_batches: 250}
          - class_path: pytorch_lightning.callbacks.ModelCheckpoint
            init_args: {monitor: select/equivariance, mode: min, filename: best, every_n_train_steps: 500}

    ``every_n_train_steps`` counts optimiser steps, two a batch for KeypointGAN: it must be twice
    ``every_n_batches`` so that each checkpoint is judged by its own score. The frames
    (:func:`selection_frames`, ``count`` of them) are drawn once when fitting starts, without touching the
    random state that training uses (a fit gives the same weights with or without this callback); the
    detector is scored in evaluation mode, as it is tested. Needs a LightningModule with a ``detector``.
    """

    def __init__(self, score: str = "equivariance", every_n_batches: int = 250, count: int = 64) -> None:
        if score not in SCORES:
            raise ValueError(f"LabelFreeScore(score={score!r}): expected one of {sorted(SCORES)}")
        if every_n_batches < 1 or count < 2:
            raise ValueError("LabelFreeScore needs every_n_batches >= 1 and count >= 2")
        self.score, self.every_n_batches, self.count = score, every_n_batches, count
        self.frames: Frames | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = getattr(trainer, "datamodule", None)  # (set by fit; the Trainer's type does not declare it)
        if not isinstance(data, pl.LightningDataModule):
            raise ValueError(
                "LabelFreeScore draws its frames from the Trainer's datamodule; the fit has none"
            )
        frames = selection_frames(data, self.count)
        self.frames = {key: value.to(pl_module.device) for key, value in frames.items()}

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if (trainer.fit_loop.total_batch_idx + 1) % self.every_n_batches or self.frames is None:
            return
        detector = held_detector(pl_module, "LabelFreeScore")
        training = detector.training
        detector.eval()
        try:
            value = SCORES[self.score](detector, self.frames)
        finally:
            detector.train(training)
        pl_module.log(f"select/{self.score}", value, on_step=True, on_epoch=False, sync_dist=True)
