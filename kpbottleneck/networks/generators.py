"""Φ, the pose encoder, and Ψ, the conditional image decoder (the two image translators of Fig. 2)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from kpbottleneck.networks.unet import UNet


class PoseEncoder(nn.Module):
    """Φ: image ``(B, 3, H, W)`` → skeleton-like image ``(B, 1, H, W)`` in (0, 1).

    DESIGN: the output starts as an almost empty skeleton image (``initial_intensity``, about the mean
    of rendered skeletons) instead of sigmoid(0) = 50 % grey: the last layer's bias is set to
    ``logit(initial_intensity)``. With Adam at 2e-4 a grey start takes thousands of steps to reach the
    dark background of real skeletons, and meanwhile the discriminator wins outright (Φ trained directly
    on rendered ground truth, as a check, reaches a far lower error in the same steps with this start).
    """

    def __init__(
        self, in_channels: int = 3, base_channels: int = 32, depth: int = 4, initial_intensity: float = 0.05
    ) -> None:
        super().__init__()
        if not 0.0 < initial_intensity < 1.0:
            raise ValueError(f"initial_intensity must lie in (0, 1), got {initial_intensity}")
        self.net = UNet(in_channels, 1, base_channels, depth)
        assert self.net.head.bias is not None
        nn.init.constant_(self.net.head.bias, math.log(initial_intensity / (1.0 - initial_intensity)))

    def forward(self, image: Tensor) -> Tensor:
        return torch.sigmoid(self.net(image))


class ConditionalDecoder(nn.Module):
    """Ψ: skeleton ``(B, 1, H, W)`` and appearance frame ``(B, 3, H, W)`` → image ``(B, 3, H, W)`` in (0, 1).

    With ``conditional=False`` (the unconditional ablation of Table 4) Ψ sees the skeleton alone and
    ``appearance`` must be ``None``.

    DESIGN: the skeleton and the appearance frame are stacked at the input of one U-Net (as pix2pix
    conditions a generator); the skips let the appearance frame's colours reach the output at full
    resolution, while where things are has to come from the skeleton.
    """

    def __init__(
        self, conditional: bool = True, base_channels: int = 32, depth: int = 4, out_channels: int = 3
    ) -> None:
        super().__init__()
        self.conditional = conditional
        self.net = UNet(1 + (out_channels if conditional else 0), out_channels, base_channels, depth)

    def forward(self, skeleton: Tensor, appearance: Tensor | None = None) -> Tensor:
        if self.conditional:
            if appearance is None:
                raise ValueError("this ConditionalDecoder is conditional: pass an appearance image")
            skeleton = torch.cat([skeleton, appearance], dim=1)
        elif appearance is not None:
            raise ValueError("this ConditionalDecoder is unconditional: appearance must be None")
        return torch.sigmoid(self.net(skeleton))
