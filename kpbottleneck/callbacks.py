"""Callbacks: side jobs of training that any LightningModule can use."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning import Callback
from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger
from pytorch_lightning.utilities import rank_zero_info
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch import Tensor
from torchvision.utils import make_grid, save_image

from kpbottleneck.contracts import PairBatch, keypoint_model
from kpbottleneck.detector import KeypointDetector, held_detector
from kpbottleneck.visualization import draw_skeleton, keypoint_grid


def not_yet_in(trainer: pl.Trainer, defaults: list[Callback]) -> list[Callback]:
    """The ``defaults`` whose type the trainer has no callback of: what a LightningModule's
    ``configure_callbacks`` returns so that callbacks the user configured take precedence."""
    # (the Trainer's callback connector sets the attribute; Lightning's types do not declare it)
    present = {type(callback) for callback in getattr(trainer, "callbacks")}  # noqa: B009
    return [callback for callback in defaults if type(callback) not in present]


def collect_random_state() -> dict[str, Any]:
    """This process's torch, CUDA, NumPy and Python generator states, as tensors and plain Python values.

    Only tensors and primitives, so a checkpoint holding them loads with ``torch.load(weights_only=True)``
    (the default of torch ≥ 2.6 and of Lightning's resume).
    """
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    assert isinstance(keys, np.ndarray)
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


class CheckpointOnTermination(Callback):
    """Writes ``<dirpath>/terminated.ckpt`` when a training run is stopped by SIGTERM (a scheduler's
    pre-emption, ``kill``): Lightning finishes the batch under way, then this checkpoint is written, and
    ``fit --ckpt_path <dirpath>/terminated.ckpt`` continues the run.

    Other exceptions write nothing (their state may be what went wrong), nor does a run stopped before its
    first optimiser step. ``dirpath``: default, the folder of the Trainer's ``ModelCheckpoint``, else its
    ``default_root_dir``.
    """

    def __init__(self, dirpath: str | Path | None = None, filename: str = "terminated") -> None:
        self.dirpath, self.filename = dirpath, filename

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, SIGTERMException) or trainer.global_step == 0:
            return
        folder = (
            self.dirpath or getattr(trainer.checkpoint_callback, "dirpath", None) or trainer.default_root_dir
        )
        path = Path(folder) / f"{self.filename}.ckpt"
        trainer.save_checkpoint(path)
        rank_zero_info(f"SIGTERM: checkpoint of step {trainer.global_step} written to {path}")


class RandomStateCheckpoint(Callback):
    """Store every process's random generators (torch, CUDA, NumPy, Python) in checkpoints and restore them.

    Lightning restores weights, optimisers and loop counters but not the random state of the training
    step (D's history draws, any dropout); with this callback, and the data modules' resumable training
    loaders (:mod:`datamodules.sampling`: order and per-sample randomness that do not depend on this
    state), a run resumed from a checkpoint, written at the end of an epoch or in its middle, continues
    exactly as the uninterrupted run would. Under DDP every rank's state is gathered and each rank gets
    its own back.
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


def log_image(trainer: pl.Trainer, key: str, image: torch.Tensor, save_files: bool = True) -> None:
    """Send one picture ``(3, H, W)`` in [0, 1] to every logger of the trainer, whatever its kind.

    W&B gets an image panel ``key``, TensorBoard an image ``key``; loggers that cannot show images (CSV)
    and a trainer without logger get a PNG ``<log dir>/images/<key>_<step>.png`` when ``save_files``.
    """
    step = trainer.global_step
    savers = [logger for logger in trainer.loggers if not isinstance(logger, WandbLogger | TensorBoardLogger)]
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            pixels = (image.detach().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
            logger.log_image(key=key, images=[pixels], step=step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image.detach().clamp(0, 1).cpu(), step)
    if save_files and (savers or not trainer.loggers):
        folder = Path((savers[0].log_dir if savers else None) or trainer.default_root_dir) / "images"
        folder.mkdir(parents=True, exist_ok=True)
        save_image(image, folder / f"{key.replace('/', '_')}_{step:07d}.png")


@torch.no_grad()
def pipeline_images(
    detector: KeypointDetector, batch: PairBatch, bottleneck: bool = True
) -> dict[str, Tensor]:
    """Every image of a training step on ``batch`` (for logging), each ``(B, 3, S, S)`` in [0, 1]: x, x′,
    Φ(x), β(η(Φ(x))), x̂ (from β(η(Φ(x))), or from Φ(x) without the ``bottleneck``), the prior skeleton ȳ
    and the keypoints η(Φ(x)) drawn over x."""
    image = batch["image"]
    appearance = batch["appearance_image"] if detector.conditional else None
    skeleton_image = detector.encoder(image)
    keypoints = detector.regressor(skeleton_image)
    clean = detector.renderer(keypoints)
    reconstruction = detector.decoder(clean if bottleneck else skeleton_image, appearance)

    def rgb(grey: Tensor) -> Tensor:
        return grey.expand(-1, 3, -1, -1)

    return {
        "x": image,
        "x′": batch["appearance_image"],
        "Φ(x)": rgb(skeleton_image),
        "β(η(Φ(x)))": rgb(clean),
        "x̂": reconstruction,
        "ȳ": rgb(detector.renderer(batch["prior_keypoints"])),
        "keypoints": draw_skeleton(image, keypoints, detector.skeleton, scale=1).to(image),
    }


class TrainingSamples(Callback):
    """Every ``every_n_batches`` training batches, log one picture of the whole pipeline on the batch's
    first ``num_samples`` samples: a row per sample with the target frame x, the appearance frame x′, the
    predicted skeleton Φ(x), the clean skeleton β(η(Φ(x))), the reconstruction x̂, a prior skeleton ȳ and
    the keypoints drawn over x (left limbs blue, right red).

    Logger-agnostic (see :func:`log_image`); needs a LightningModule with a ``detector`` and a
    ``bottleneck`` hyper-parameter (:class:`~kpbottleneck.KeypointGAN`), :func:`pipeline_images`. Only
    rank 0 draws.
    """

    def __init__(self, every_n_batches: int = 500, num_samples: int = 4) -> None:
        if every_n_batches < 1 or num_samples < 1:
            raise ValueError("every_n_batches and num_samples must be >= 1")
        self.every_n_batches = every_n_batches
        self.num_samples = num_samples

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not trainer.is_global_zero or trainer.fit_loop.total_batch_idx % self.every_n_batches:
            return
        detector = held_detector(pl_module, "TrainingSamples")
        first = cast(PairBatch, {key: value[: self.num_samples] for key, value in batch.items()})
        # name → (n, 3, S, S)
        panels = pipeline_images(detector, first, pl_module.hparams.get("bottleneck", True))
        rows = torch.stack(list(panels.values()), dim=1).flatten(0, 1)  # sample-major
        log_image(trainer, "train/samples", make_grid(rows, nrow=len(panels), padding=2, pad_value=1.0))


class PredictionPlot(Callback):
    """Write a picture of predicted (and, where the batch has them, ground-truth) skeletons over the
    first ``num_images`` test images: ``<log dir>/test_predictions.png``, also sent to the loggers that
    show images (W&B, TensorBoard).

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
        # every rank asks: under DDP ``trainer.log_dir`` is a broadcast that all processes must join
        folder = Path(trainer.log_dir or trainer.default_root_dir)
        if not self._images or not trainer.is_global_zero:
            return
        target = torch.cat(self._targets) if len(self._targets) == len(self._images) else None
        skeleton = keypoint_model(pl_module, "PredictionPlot").skeleton
        grid = keypoint_grid(torch.cat(self._images), torch.cat(self._predicted), skeleton, target)
        path = folder / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(grid, path)
        rank_zero_info(f"Predicted keypoints over test images written to {path}")
        log_image(trainer, "test/predictions", grid, save_files=False)
