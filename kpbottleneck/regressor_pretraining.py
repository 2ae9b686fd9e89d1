"""η pre-training: learn to read keypoints off rendered skeletons, from the unpaired prior alone
(``experiments/*_pretrain.yaml``; the name ``KeypointRegressor`` is a deprecated alias)."""

from __future__ import annotations

from typing import Any

from pytorch_lightning.utilities import rank_zero_warn
from torch import Tensor, nn

from kpbottleneck.acceleration import adam
from kpbottleneck.contracts import LabelledBatch, PriorBatch
from kpbottleneck.keypoint_jitter import jitter_keypoints
from kpbottleneck.losses import keypoint_mse
from kpbottleneck.metrics import ImageSizeNormalizedError
from kpbottleneck.networks import HeatmapRegressor, check_image_size
from kpbottleneck.nonfinite import NonFinitePolicy, NonFiniteWatch
from kpbottleneck.recipe import TrainingRecipe
from kpbottleneck.rendering import Falloff, SkeletonRenderer
from kpbottleneck.schedules import check_decay_fraction
from kpbottleneck.skeletons import Skeleton, get_skeleton


class RegressorPretraining(TrainingRecipe):
    """Pre-trains η on ``β(jitter(p̄)) → jitter(p̄)`` with prior poses p̄; no image is ever used.

    The paper defers η's pre-training to its supplementary material and the original code never
    released it. DESIGN: each prior pose gets a random similarity (zoom, shift, rotation) so η sees
    poses beyond the prior's exact framing (the encoder's skeletons are never perfectly framed), then
    is rendered with the same β as the GAN stage and regressed with a masked MSE. Validation renders
    the ground-truth poses of the validation set and reports η's error in % of the image size.

    Its checkpoints feed ``KeypointGAN(regressor_checkpoint=...)``; the architecture arguments must
    match that model's.

    Args:
        skeleton, image_size, sigma, falloff, regressor_channels, regressor_depth: as :class:`KeypointGAN`'s.
        zoom, max_shift, max_rotation: ranges of the random similarity applied to each prior pose.
        lr: Adam's learning rate.
        lr_decay: fraction of the fit's batches (:func:`~kpbottleneck.schedules.training_batches`) at whose
            end the learning rate falls linearly to zero (0: constant).
        on_nonfinite, compile, channels_last: as :class:`KeypointGAN`'s (the watched value is η's loss;
            ``"skip"`` skips the batch).
    """

    def __init__(
        self,
        skeleton: str | Skeleton = "synthetic",
        image_size: int = 64,
        sigma: float = 0.2,
        falloff: Falloff = "exponential",
        regressor_channels: int = 32,
        regressor_depth: int = 3,
        zoom: tuple[float, float] = (0.9, 1.1),
        max_shift: float = 0.1,
        max_rotation: float = 15.0,
        lr: float = 1e-3,
        lr_decay: float = 0.0,
        on_nonfinite: NonFinitePolicy = "error",
        compile: bool = False,
        channels_last: bool | None = None,
    ) -> None:
        super().__init__()
        check_decay_fraction(lr_decay)
        self.save_hyperparameters()
        self.skeleton = get_skeleton(skeleton)
        check_image_size(image_size, regressor_depth, "model.regressor_depth")
        self.renderer = SkeletonRenderer(self.skeleton, image_size, sigma, falloff)
        self.regressor = HeatmapRegressor(self.skeleton.num_keypoints, regressor_channels, regressor_depth)
        self.val_error = ImageSizeNormalizedError()
        self.nonfinite = NonFiniteWatch()
        self.channels_last = bool(channels_last)  # until configure_model resolves None

    def forward(self, skeleton_images: Tensor) -> Tensor:
        """Keypoints ``(B, K, 2)`` of skeleton images ``(B, 1, H, W)``."""
        return self.regressor(skeleton_images)

    def training_step(self, batch: PriorBatch, batch_idx: int) -> Tensor | None:
        hp = self.hparams
        poses = jitter_keypoints(batch["prior_keypoints"], hp.zoom, hp.max_shift, hp.max_rotation)
        loss = keypoint_mse(self.regressor(self.renderer(poses)), poses, batch.get("prior_visibility"))
        if hp.on_nonfinite == "skip" and not bool(loss.isfinite()):
            self.log("train/skipped_steps", self.nonfinite.skip())
            return None  # Lightning skips the backward pass and the optimiser step
        self.watch_nonfinite({"regressor": loss}, {}, self.global_step)
        self.log("train/loss_regressor", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: LabelledBatch, batch_idx: int) -> None:
        """η's error on rendered ground-truth poses, when those are in the model's keypoint set (Human3.6M's
        validation frames carry the 17 evaluated joints only: then there is nothing to render)."""
        keypoints = batch["keypoints"]
        if keypoints.shape[1] != self.skeleton.num_keypoints:
            rank_zero_warn(
                f"validation targets have {keypoints.shape[1]} keypoints and skeleton {self.skeleton.name!r} "
                f"{self.skeleton.num_keypoints}: η's validation is skipped (set trainer.limit_val_batches: 0)"
            )
            return
        self.val_error.update(self.regressor(self.renderer(keypoints)), keypoints, batch.get("visibility"))
        self.log("val/regressor_error", self.val_error, prog_bar=True)

    def networks_to_prepare(self) -> list[nn.Module]:
        return [self.regressor]

    def configure_optimizers(self) -> Any:
        # not fused: Lightning clips the gradients when trainer.gradient_clip_val is set, which it refuses
        # to do for a fused optimiser under mixed precision
        optimizer = adam(self.regressor.parameters(), self.hparams.lr)
        schedulers = self.decay_schedulers([optimizer])
        if not schedulers:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedulers[0], "interval": "step"}}
