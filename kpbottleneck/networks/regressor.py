"""η, the keypoint regressor: skeleton image → K keypoints via coarse heatmaps and a soft-argmax."""

from __future__ import annotations

import kornia
import torch
from torch import Tensor, nn

from kpbottleneck.coordinates import pixels_to_normalized
from kpbottleneck.networks.unet import InstanceNorm


def soft_argmax(heatmaps: Tensor, temperature: Tensor | float = 1.0) -> Tensor:
    """Expected (x, y) under a spatial softmax of ``(B, K, H, W)`` logits, as ``(B, K, 2)`` in [-1, 1].

    Coordinates follow docs/conventions.md (pixel centres at ``(2 i + 1) / W - 1``), so they do not
    depend on the heatmaps' resolution: a ``16 x 16`` heatmap of a ``64 x 64`` image gives coordinates of
    that image.

    Example:
        >>> heatmaps = torch.full((1, 1, 4, 4), -1e4)
        >>> heatmaps[0, 0, 1, 3] = 0.0  # row 1, column 3
        >>> soft_argmax(heatmaps)
        tensor([[[ 0.7500, -0.2500]]])
    """
    temperature = torch.as_tensor(temperature, dtype=heatmaps.dtype, device=heatmaps.device)
    probabilities = kornia.geometry.subpix.spatial_softmax2d(heatmaps, temperature)
    pixels = kornia.geometry.subpix.spatial_expectation2d(probabilities, normalized_coordinates=False)
    return pixels_to_normalized(pixels, heatmaps.shape[-2:])


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> list[nn.Module]:
    padding = (kernel_size - stride) // 2 if stride > 1 else kernel_size // 2
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
        InstanceNorm(out_channels),
        nn.ReLU(inplace=True),
    ]


class HeatmapRegressor(nn.Module):
    """η: skeleton image ``(B, 1, H, W)`` → keypoints ``(B, K, 2)`` (normalised, (x, y)).

    The original implementation's η family: a plain convolutional encoder (a 7x7 and a 3x3 convolution
    at full resolution, then ``depth`` levels of a stride-2 convolution doubling the width and a 3x3
    convolution, instance norm and ReLU after each) whose 1x1 head gives one heatmap per keypoint at
    ``H / 2**depth``; a soft-argmax reads the coordinates. The original uses ``depth = 3`` and width 32
    (16 x 16 heatmaps of 128-pixel images).

    DESIGN: a skeleton image is smooth and its keypoints are where its segments meet, so coarse
    heatmaps with a soft-argmax locate them to a fraction of a heatmap cell; a full-resolution U-Net
    costs 8x the FLOPs at the same width and was less accurate (docs/results.md). The stride-2
    convolutions are 4x4 with padding 1: each output cell is then centred on a 2x2 block of input pixels,
    so the heatmap grid is the image's grid at half the resolution under the ``align_corners=False``
    convention and soft-argmax coordinates need no offset.

    Args:
        num_keypoints: K.
        base_channels: width at full resolution, doubled at each level (capped at ``max_channels``).
        depth: stride-2 levels; ``H`` and ``W`` must be divisible by ``2**depth``.
        temperature: of the soft-argmax.
        max_channels: cap on the width.

    Example:
        >>> HeatmapRegressor(17, base_channels=4, depth=2)(torch.rand(2, 1, 32, 32)).shape
        torch.Size([2, 17, 2])
    """

    def __init__(
        self,
        num_keypoints: int,
        base_channels: int = 32,
        depth: int = 3,
        temperature: float = 1.0,
        max_channels: int = 256,
    ) -> None:
        super().__init__()
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        self.num_keypoints, self.depth, self.temperature = num_keypoints, depth, temperature
        width = min(base_channels, max_channels)
        layers = [*_conv(1, width, 7), *_conv(width, width, 3)]
        for _ in range(depth):
            wider = min(2 * width, max_channels)
            layers += [*_conv(width, wider, 4, stride=2), *_conv(wider, wider, 3)]
            width = wider
        layers.append(nn.Conv2d(width, num_keypoints, 1))
        self.net = nn.Sequential(*layers)

    def heatmaps(self, skeleton: Tensor) -> Tensor:
        """Per-keypoint logits ``(B, K, H / 2**depth, W / 2**depth)``."""
        factor = 2**self.depth
        if skeleton.shape[-1] % factor or skeleton.shape[-2] % factor:
            raise ValueError(
                f"η of depth {self.depth} needs H and W divisible by {factor}, "
                f"got {tuple(skeleton.shape[-2:])} (model.regressor_depth)"
            )
        return self.net(skeleton)

    def forward(self, skeleton: Tensor) -> Tensor:
        return soft_argmax(self.heatmaps(skeleton), self.temperature)
