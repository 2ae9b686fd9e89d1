"""Losses: least-squares GAN (eq. 5) and the VGG-19 perceptual loss Γ (eq. 4).

LSGAN. Eq. 5 as printed gives the prior (real) samples the target 0 and the predicted ones the target 1;
we use the usual labels of Mao et al. (real → 1, fake → 0), which is the same game with the two labels
renamed. Discriminator: ``½ [E (D(ȳ) − 1)² + E D(y)²]`` (the ½ as in the original implementation);
generator: ``E (D(y) − 1)²``. Multi-scale discriminators give a list of score maps; the loss is their mean.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from pytorch_lightning.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.models import VGG19_Weights
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.models.vgg import make_layers

log = logging.getLogger(__name__)


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


def _vgg19_layer_indices() -> dict[str, int]:
    """Map ``conv{b}_{i}`` / ``relu{b}_{i}`` names to indices of torchvision's VGG-19 ``features``."""
    names: dict[str, int] = {}
    index = 0
    for block, convs in enumerate(_VGG19_CONVS_PER_BLOCK, start=1):
        for conv in range(1, convs + 1):
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            index += 2
        index += 1  # max pooling
    return names


_VGG19_CONVS_PER_BLOCK = (2, 2, 4, 4, 4)  # torchvision's configuration "E"
VGG19_LAYERS = _vgg19_layer_indices()
PIXELS = "pixels"
DEFAULT_PERCEPTUAL_LAYERS = (PIXELS, "relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def torchvision_vgg19_cache_path() -> Path:
    """Where torchvision keeps the ImageNet VGG-19 weights once downloaded (we never download them)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG19_Weights.IMAGENET1K_V1.url).name


def load_vgg19_features_state(path: str | Path) -> dict[str, Tensor]:
    """Read a VGG-19 state dict (whole torchvision model, or its ``features`` alone) from ``path``.

    Returns the ``features`` entries with their ``features.`` prefix removed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"VGG-19 weights file {path} (model.vgg_weights) does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"VGG-19 weights file {path}: expected a state dict, got {type(state).__name__}")
    if any(key.startswith("features.") for key in state):
        state = {
            key.removeprefix("features."): value
            for key, value in state.items()
            if key.startswith("features.")
        }
    return state


class PerceptualLoss(nn.Module):
    """Γ of eq. 4: ``Σ_l w_l · mean (Γ_l(x̂) − Γ_l(x))²`` over VGG-19 layers (and optionally pixels).

    Inputs are images ``(B, 3, H, W)`` in [0, 1]; ImageNet normalisation happens inside.

    Weights come from ``weights`` (a file path) if given, else from the torchvision cache if the file is
    there; nothing is ever downloaded. DESIGN (fallback, DESIGN.md §1): with neither, the network is a
    fixed VGG-19 randomly initialised from the seed ``random_seed`` — random convolutional features still
    measure local structure at several scales, so training works, if less well — and a warning says so
    once. The frozen VGG is not stored in checkpoints (it is rebuilt the same way on load), which keeps
    them small; ``pretrained`` tells which path was taken.

    Args:
        layers: names from :data:`VGG19_LAYERS` (``"relu3_2"``...) and/or ``"pixels"``.
        layer_weights: one weight per layer (default: all 1).
        weights: path to a torchvision VGG-19 state dict.
        random_seed: seed of the fallback initialisation.
    """

    def __init__(
        self,
        layers: Sequence[str] = DEFAULT_PERCEPTUAL_LAYERS,
        layer_weights: Sequence[float] | None = None,
        weights: str | Path | None = None,
        random_seed: int = 0,
    ) -> None:
        super().__init__()
        self.layers = tuple(layers)
        unknown = [name for name in self.layers if name != PIXELS and name not in VGG19_LAYERS]
        if unknown or not self.layers:
            raise ValueError(
                f"Unknown perceptual layers {unknown}; expected names from {[PIXELS, *VGG19_LAYERS]}"
            )
        self.layer_weights = tuple(layer_weights) if layer_weights is not None else (1.0,) * len(self.layers)
        if len(self.layer_weights) != len(self.layers):
            raise ValueError(f"{len(self.layer_weights)} layer_weights for {len(self.layers)} layers")
        self._taps = {
            VGG19_LAYERS[name]: weight
            for name, weight in zip(self.layers, self.layer_weights, strict=True)
            if name != PIXELS
        }
        self._pixel_weight = sum(
            w for n, w in zip(self.layers, self.layer_weights, strict=True) if n == PIXELS
        )
        depth = max(self._taps, default=-1) + 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(random_seed)
            self.features = make_layers(vgg_cfgs["E"])[:depth]
        for layer in self.features:  # a tapped conv output must survive the ReLU after it
            if isinstance(layer, nn.ReLU):
                layer.inplace = False
        state = self._find_weights(weights)
        self.pretrained = state is not None
        if state is not None:
            own = self.features.state_dict()
            missing = [key for key in own if key not in state]
            if missing:
                raise ValueError(
                    f"VGG-19 weights {weights or torchvision_vgg19_cache_path()} lack {missing[:4]}"
                )
            self.features.load_state_dict({key: state[key] for key in own})
        else:
            rank_zero_warn(
                "No ImageNet VGG-19 weights (set model.vgg_weights or place them in the torchvision cache at "
                f"{torchvision_vgg19_cache_path()}): the perceptual loss uses a fixed, seeded random VGG-19."
            )
        self.features.requires_grad_(False)  # no dropout or batch norm: train/eval modes agree
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.register_state_dict_post_hook(_drop_features_from_state_dict)
        self.register_load_state_dict_pre_hook(_restore_features_into_state_dict)

    @staticmethod
    def _find_weights(weights: str | Path | None) -> dict[str, Tensor] | None:
        if weights is not None:
            return load_vgg19_features_state(weights)
        cached = torchvision_vgg19_cache_path()
        if cached.is_file():
            log.info("Perceptual loss: ImageNet VGG-19 weights from the torchvision cache %s", cached)
            return load_vgg19_features_state(cached)
        return None

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        loss = prediction.new_zeros(())
        if self._pixel_weight:
            loss = loss + self._pixel_weight * F.mse_loss(prediction, target)
        if not self._taps:
            return loss
        # The target's features need no graph unless the target itself asks for gradients: this skips
        # half the VGG backward pass of a training step.
        with torch.set_grad_enabled(target.requires_grad and torch.is_grad_enabled()):
            target_features = self._features(target)
        predicted_features = self._features(prediction)
        for (weight, predicted), (_, reference) in zip(predicted_features, target_features, strict=True):
            loss = loss + weight * F.mse_loss(predicted, reference)
        return loss

    def _features(self, images: Tensor) -> list[tuple[float, Tensor]]:
        """``(weight, features)`` of ``images`` at each tapped VGG layer, in network order."""
        h = (images - self.mean) / self.std
        tapped = []
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in self._taps:
                tapped.append((self._taps[index], h))
        return tapped


def _drop_features_from_state_dict(
    module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict
) -> None:
    for key in [key for key in state_dict if key.startswith(prefix + "features.")]:
        del state_dict[key]


def _restore_features_into_state_dict(
    module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict, *args: object
) -> None:
    for key, value in module.features.state_dict().items():
        state_dict.setdefault(prefix + "features." + key, value)


def keypoint_mse(prediction: Tensor, target: Tensor, visibility: Tensor | None = None) -> Tensor:
    """Mean squared error of ``(B, K, 2)`` keypoints over the visible ``(B, K)`` ones only."""
    squared = (prediction - target).pow(2).sum(-1)
    if visibility is None:
        return squared.mean() / 2.0
    weight = visibility.to(squared.dtype)
    return (squared * weight).sum() / (2.0 * weight.sum().clamp_min(1.0))
