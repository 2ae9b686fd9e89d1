"""η, the keypoint regressor: skeleton image → K keypoints via heatmaps and a soft-argmax."""

from __future__ import annotations

import kornia
import torch
from torch import Tensor, nn

from kpbottleneck.coordinates import pixels_to_normalized
from kpbottleneck.networks.unet import UNet


def soft_argmax(heatmaps: Tensor, temperature: Tensor | float = 1.0) -> Tensor:
    """Expected (x, y) under a spatial softmax of ``(B, K, H, W)`` logits, as ``(B, K, 2)`` in [-1, 1].

    Coordinates follow docs/conventions.md (pixel centres at ``(2 i + 1) / W - 1``).
    """
    temperature = torch.as_tensor(temperature, dtype=heatmaps.dtype, device=heatmaps.device)
    probabilities = kornia.geometry.subpix.spatial_softmax2d(heatmaps, temperature)
    pixels = kornia.geometry.subpix.spatial_expectation2d(probabilities, normalized_coordinates=False)
    return pixels_to_normalized(pixels, heatmaps.shape[-2:])


class HeatmapRegressor(nn.Module):
    """η: skeleton image ``(B, 1, H, W)`` → keypoints ``(B, K, 2)`` (normalised, (x, y)).

    A U-Net predicts one heatmap per keypoint at full resolution and a soft-argmax reads the
    coordinates, so the map is differentiable and translation-equivariant; the U-Net's bottleneck
    (``H / 2**depth``) gives the global context needed to tell e.g. a left arm from a right leg.
    """

    def __init__(
        self, num_keypoints: int, base_channels: int = 32, depth: int = 4, temperature: float = 1.0
    ) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.net = UNet(1, num_keypoints, base_channels, depth)
        self.temperature = temperature

    def heatmaps(self, skeleton: Tensor) -> Tensor:
        """Per-keypoint logits ``(B, K, H, W)``."""
        return self.net(skeleton)

    def forward(self, skeleton: Tensor) -> Tensor:
        return soft_argmax(self.heatmaps(skeleton), self.temperature)
