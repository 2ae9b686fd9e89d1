"""Keypoint evaluation as a Lightning callback: add it to any Trainer whose LightningModule outputs keypoints.

The LightningModule needs ``forward(images (B, 3, H, W)) -> keypoints (B, K, 2)`` and a ``skeleton``
attribute (:class:`~kpbottleneck.contracts.KeypointModel`); the data module, for activities, the baseline
and the post-processing, what :class:`~kpbottleneck.contracts.KeypointData` lists. If the module's
``validation_step`` / ``test_step`` returns ``{"keypoints": ...}`` those predictions are reused instead of
running the model again. Evaluation batches carry ``keypoints`` ``(B, K, 2)`` and
optionally ``visibility`` ``(B, K)``, ``activity`` ``(B,)`` (ids into the data module's ``activities``)
and, for pixel errors, ``box`` ``(B, 4)`` (the crop in original pixels):
:class:`~kpbottleneck.contracts.LabelledBatch`.

Everything is computed with torchmetrics sum states, so the logged numbers are the same on one process
and under DDP (the data modules' evaluation loaders never repeat a sample).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning import Callback
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor

from kpbottleneck.contracts import LabelledBatch, keypoint_data, keypoint_model
from kpbottleneck.metrics import (
    ImageSizeNormalizedError,
    InterOcularNormalizedError,
    KeypointError,
    PixelError,
)
from kpbottleneck.postprocessing import LinearKeypointMap, map_keypoints
from kpbottleneck.skeletons import Skeleton

ErrorKind = Literal["image_size", "pixels", "inter_ocular"]


class KeypointEvaluation(Callback):
    """Logs keypoint errors on validation and test, per activity where the data has activities, beside the
    "always predict the mean prior pose" baseline, and prints a table like the paper's at the end of test.

    Logged (``stage`` is ``val`` or ``test``): ``{stage}/keypoint_error`` (the mean over activities of the
    per-activity means), ``{stage}/keypoint_error/<activity>``, ``{stage}/keypoint_error_flip_tolerant``
    and ``{stage}/flip_accuracy`` (with ``flip_tolerant``), ``{stage}/mean_pose_error`` (with
    ``mean_pose_baseline``) and ``test/keypoint_error_post_processed`` (with ``post_processing``).

    Args:
        error: ``"image_size"`` (% of the image size, Simplified Human3.6M), ``"pixels"`` (original-image
            pixels, Human3.6M) or ``"inter_ocular"`` (% of the outer-eye-corner distance, 300-W; uses the
            skeleton's ``normalizer``).
        flip_tolerant: also report the error against the better of the target and its left/right swap,
            and the fraction of images whose left/right assignment was right (``image_size`` only).
        mean_pose_baseline: also report the error of the prior's mean pose (the data module's
            ``mean_prior_pose()``, asked once and then kept in the callback's checkpoint state), so every
            run shows how far it is from chance.
        post_processing: at test time, fit a linear map from predicted to ground-truth keypoints on
            the data module's labelled training split (``post_processing_dataloader()``) and also report the
            error of the mapped keypoints (only to compare with methods that need it).
        pixel_image_size: ``(H, W)`` for ``"pixels"`` when batches carry no ``box``.
        evaluated_keypoints: indices of the model's keypoints that the targets hold, in the targets'
            order (e.g. the 17 evaluated Human3.6M joints of a 32- or 28-joint model); default: all.
            Flip pairs and the normaliser follow the selection.
        name: the row label of the printed table (default: the LightningModule's class name).
    """

    def __init__(
        self,
        error: ErrorKind = "image_size",
        flip_tolerant: bool = True,
        mean_pose_baseline: bool = True,
        post_processing: bool = False,
        pixel_image_size: Sequence[int] = (128, 128),
        evaluated_keypoints: list[int] | None = None,
        name: str | None = None,
    ) -> None:
        if error not in ("image_size", "pixels", "inter_ocular"):
            raise ValueError(f"error must be 'image_size', 'pixels' or 'inter_ocular', got {error!r}")
        self.error = error
        self.flip_tolerant = flip_tolerant and error == "image_size"
        self.mean_pose_baseline = mean_pose_baseline
        self.post_processing = post_processing
        self.pixel_image_size = tuple(pixel_image_size)
        self.evaluated_keypoints = None if evaluated_keypoints is None else list(evaluated_keypoints)
        self.name = name
        self.metrics: dict[str, KeypointError] = {}
        self._mean_pose: Tensor | None = None
        self._prior_mean_pose: Tensor | None = None  # (K, 2), all the model's keypoints, on the CPU
        self._post_processing_map: Tensor | None = None

    # --------------------------------------------------------------------------------------- helpers
    @staticmethod
    def _activities(trainer: pl.Trainer) -> tuple[str, ...]:
        data = keypoint_data(trainer)
        return tuple(data.activities) if data is not None and data.activities else ("all",)

    def _select(self, keypoints: Tensor) -> Tensor:
        return keypoints if self.evaluated_keypoints is None else keypoints[..., self.evaluated_keypoints, :]

    def _evaluated_skeleton(self, pl_module: pl.LightningModule) -> Skeleton:
        skeleton = keypoint_model(pl_module, "KeypointEvaluation").skeleton
        return skeleton if self.evaluated_keypoints is None else skeleton.subset(self.evaluated_keypoints)

    def _new_metric(
        self, pl_module: pl.LightningModule, num_activities: int, flip: bool = False
    ) -> KeypointError:
        skeleton = self._evaluated_skeleton(pl_module)
        if self.error == "pixels":
            metric: KeypointError = PixelError(self.pixel_image_size, num_activities)
        elif self.error == "inter_ocular":
            if skeleton.normalizer is None:
                raise ValueError(
                    f"KeypointEvaluation(error='inter_ocular'): skeleton {skeleton.name!r} has no normalizer "
                    "(the two outer eye corner indices)"
                )
            metric = InterOcularNormalizedError(skeleton.normalizer, num_activities)
        else:
            metric = ImageSizeNormalizedError(skeleton.flip_permutation if flip else None, num_activities)
        return metric.to(pl_module.device)

    def _start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        count = len(self._activities(trainer))
        self.metrics = {"model": self._new_metric(pl_module, count)}
        if self.flip_tolerant:
            self.metrics["flip_tolerant"] = self._new_metric(pl_module, count, flip=True)
        self._mean_pose = None
        if self.mean_pose_baseline:
            if self._prior_mean_pose is None:
                data = keypoint_data(trainer)
                if data is None:
                    rank_zero_info(
                        "KeypointEvaluation: the data module has no mean_prior_pose() (not a KeypointData); "
                        "no baseline"
                    )
                    return
                self._prior_mean_pose = data.mean_prior_pose().detach().cpu()
            self._mean_pose = self._select(self._prior_mean_pose.to(pl_module.device))
            self.metrics["mean_pose"] = self._new_metric(pl_module, count)

    def state_dict(self) -> dict[str, Any]:
        """The prior's mean pose, kept in checkpoints: a later ``test --ckpt_path`` reports the baseline
        without rebuilding the prior (hundreds of thousands of pose files for Human3.6M)."""
        return {"mean_prior_pose": self._prior_mean_pose}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._prior_mean_pose = state_dict.get("mean_prior_pose")

    def _update(
        self,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: LabelledBatch,
        post_processing_map: Tensor | None,
    ) -> None:
        if "keypoints" not in batch:
            return
        if isinstance(outputs, dict) and "keypoints" in outputs:
            predicted = outputs["keypoints"]
        else:
            with torch.no_grad():
                predicted = pl_module(batch["image"])
        predicted = self._select(predicted)
        target = batch["keypoints"]
        extra = {"boxes": batch["box"]} if "box" in batch else {}
        visibility, activity = batch.get("visibility"), batch.get("activity")
        candidates = {"model": predicted, "flip_tolerant": predicted}
        if self._mean_pose is not None:
            candidates["mean_pose"] = self._mean_pose.expand_as(target)
        if post_processing_map is not None:
            candidates["post_processed"] = map_keypoints(post_processing_map, predicted)
        for key, metric in self.metrics.items():
            metric.update(candidates[key], target, visibility, activity, **extra)

    def _results(self) -> dict[str, tuple[float, list[float]]]:
        """Per metric key: the overall value and the per-activity values (DDP-synced: every process must
        call this, never rank 0 alone)."""
        return {
            key: (float(metric.compute()), metric.compute_per_activity().tolist())
            for key, metric in self.metrics.items()
        }

    def _log(self, stage: str, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        results = self._results()
        activities = self._activities(trainer)
        names = {
            "model": "keypoint_error",
            "flip_tolerant": "keypoint_error_flip_tolerant",
            "mean_pose": "mean_pose_error",
            "post_processed": "keypoint_error_post_processed",
        }
        values: dict[str, float] = {}
        for key, (overall, per_activity) in results.items():
            values[f"{stage}/{names[key]}"] = overall
            if key == "model" and len(activities) > 1:
                for activity, value in zip(activities, per_activity, strict=True):
                    if not math.isnan(value):
                        values[f"{stage}/{names[key]}/{activity}"] = value
        if "flip_tolerant" in self.metrics:
            flip_tolerant = self.metrics["flip_tolerant"]
            assert isinstance(flip_tolerant, ImageSizeNormalizedError)
            accuracy = float(flip_tolerant.flip_accuracy())
            values[f"{stage}/flip_accuracy"] = accuracy
            results["flip_accuracy"] = (accuracy, [])
        finite = {name: value for name, value in values.items() if not math.isnan(value)}
        # Already reduced over processes by the metrics: no second reduction.
        pl_module.log_dict(finite, sync_dist=False, rank_zero_only=False)
        return results

    # ----------------------------------------------------------------------------------------- hooks
    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start(trainer, pl_module)

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: LabelledBatch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._update(pl_module, outputs, batch, None)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._log("val", trainer, pl_module)

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start(trainer, pl_module)
        self._post_processing_map = None
        if self.post_processing:
            self._post_processing_map = self._fit_post_processing(trainer, pl_module)
            self.metrics["post_processed"] = self._new_metric(pl_module, len(self._activities(trainer)))

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: LabelledBatch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._update(pl_module, outputs, batch, self._post_processing_map)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        results = self._log("test", trainer, pl_module)
        if trainer.is_global_zero and not math.isnan(results["model"][0]):
            method = self.name or type(pl_module).__name__
            print(results_table(results, self._activities(trainer), method, self.error))

    def _fit_post_processing(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Tensor:
        data = keypoint_data(trainer)
        if data is None:
            raise RuntimeError(
                "KeypointEvaluation(post_processing=True) needs a data module with "
                "post_processing_dataloader() (labelled training images to fit the linear map on)"
            )
        count = self._evaluated_skeleton(pl_module).num_keypoints
        fit = LinearKeypointMap(count).to(pl_module.device)
        with torch.no_grad():
            for batch in data.post_processing_dataloader():
                images = batch["image"].to(pl_module.device)
                # the model runs under the Trainer's precision (e.g. bf16 autocast), as in the test steps
                # whose predictions the map corrects; the map's sums stay in float64
                with trainer.precision_plugin.test_step_context():
                    predicted = self._select(pl_module(images))
                visibility = batch.get("visibility")
                fit.update(
                    predicted,
                    batch["keypoints"].to(pl_module.device),
                    None if visibility is None else visibility.to(pl_module.device),
                )
        return fit.compute()


def results_table(
    results: dict[str, tuple[float, list[float]]], activities: Sequence[str], method: str, error: str
) -> str:
    """The test results as a text table: rows are methods/settings (``results``' keys ``model``,
    ``flip_tolerant``, ``post_processed``, ``mean_pose``: the overall error and one per activity), columns
    all and each activity; ``error`` is the unit (``image_size``, ``pixels`` or ``inter_ocular``).

    Example:
        >>> results = {"model": (2.5, []), "mean_pose": (7.5, [])}
        >>> print(results_table(results, (), "GAN", "image_size"))  # doctest: +NORMALIZE_WHITESPACE
        Keypoint error (% of image size), test set
                                      all
        GAN                          2.50
        mean prior pose (baseline)   7.50
    """
    unit = {"image_size": "% of image size", "pixels": "pixels", "inter_ocular": "% of inter-ocular"}
    rows = {
        "model": method,
        "flip_tolerant": f"{method} (flip-tolerant)",
        "post_processed": f"{method} + linear post-processing",
        "mean_pose": "mean prior pose (baseline)",
    }
    columns = ["all", *activities] if len(activities) > 1 else ["all"]
    width = max(len(label) for label in rows.values()) + 2
    header = f"{'':<{width}}" + "".join(f"{column:>12}" for column in columns)
    lines = [f"Keypoint error ({unit[error]}), test set", header]
    for key, label in rows.items():
        if key not in results:
            continue
        overall, per_activity = results[key]
        cells = [overall, *per_activity] if len(columns) > 1 else [overall]
        lines.append(f"{label:<{width}}" + "".join(f"{value:>12.2f}" for value in cells))
    if "flip_accuracy" in results:
        lines.append(f"left/right assignment correct: {100 * results['flip_accuracy'][0]:.1f}% of images")
    return "\n".join(lines)
