"""D, the discriminator on skeleton images: PatchGAN, optionally at several scales."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from kpbottleneck.networks.unet import InstanceNorm


class PatchDiscriminator(nn.Module):
    """PatchGAN (pix2pix): ``(B, C, H, W)`` → ``(B, 1, h, w)`` real/fake scores, one per image patch.

    Args:
        in_channels: channels of the judged image (1 for skeletons).
        base_channels: channels of the first layer, doubled per layer up to 8x.
        num_layers: number of stride-2 layers; the receptive field grows with it (3 layers: 70 px).
    """

    def __init__(self, in_channels: int = 1, base_channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base_channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        channels = base_channels
        for index in range(1, num_layers + 1):
            out_channels = base_channels * min(2**index, 8)
            stride = 2 if index < num_layers else 1
            layers += [
                nn.Conv2d(channels, out_channels, 4, stride=stride, padding=1),
                InstanceNorm(out_channels),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels = out_channels
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: Tensor) -> Tensor:
        return self.net(image)


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` PatchGANs, the ``s``-th judging the image average-pooled ``2**s`` times.

    Returns a list of score maps, one per scale (the original "multi_gan" discriminator).
    """

    def __init__(
        self, in_channels: int = 1, base_channels: int = 64, num_layers: int = 3, num_scales: int = 2
    ) -> None:
        super().__init__()
        if num_scales < 1:
            raise ValueError(f"num_scales must be >= 1, got {num_scales}")
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, base_channels, num_layers) for _ in range(num_scales)
        )

    def forward(self, image: Tensor) -> list[Tensor]:
        scores = []
        for index, discriminator in enumerate(self.scales):
            if index:
                image = F.avg_pool2d(image, 3, stride=2, padding=1, count_include_pad=False)
            scores.append(discriminator(image))
        return scores
