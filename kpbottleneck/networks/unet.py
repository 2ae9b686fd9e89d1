"""A configurable U-Net, the image-to-image translation backbone of Φ, Ψ and η."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class InstanceNorm(nn.GroupNorm):
    """Instance normalisation with a learnt scale and shift per channel, as one group per channel.

    The same function as ``nn.InstanceNorm2d(channels, affine=True)`` (each channel of each image
    normalised over its pixels, ``eps=1e-5``) with the same parameters (``weight``, ``bias``: checkpoints
    load either way), computed by one fused kernel instead of a batch-norm over a reshaped input with
    repeated weights: half the operators, and about twice as fast on a CPU.

    Channels-last inputs on a CPU are normalised in the standard layout and given back channels-last:
    PyTorch's CPU group norm is far slower on channels-last tensors than on standard ones, forward and
    backward (enough to make the whole channels-last step slower than the standard one), much more
    than the two layout copies cost, and the copies leave every number as the standard layout computes it.

    Shape:
        ``(B, C, H, W)`` → ``(B, C, H, W)``, in the input's memory layout.

    Example:
        >>> x = torch.randn(2, 4, 8, 8)
        >>> torch.allclose(InstanceNorm(4)(x), nn.InstanceNorm2d(4, affine=True)(x), atol=1e-5)
        True
        >>> y = InstanceNorm(4)(x.contiguous(memory_format=torch.channels_last))
        >>> y.is_contiguous(memory_format=torch.channels_last), torch.equal(y, InstanceNorm(4)(x))
        (True, True)
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        channels_last = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        if x.device.type != "cpu" or not channels_last:
            return super().forward(x)
        return super().forward(x.contiguous()).contiguous(memory_format=torch.channels_last)


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by instance normalisation and a leaky ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        InstanceNorm(out_channels),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        InstanceNorm(out_channels),
        nn.LeakyReLU(0.2, inplace=True),
    )


def check_image_size(image_size: int, depth: int, option: str = "model.unet_depth") -> int:
    """``image_size`` if networks of ``depth`` 2x down-samplings can take it, else a ``ValueError`` naming the
    ``model.image_size`` setting and ``option``, the depth's (raised when a model is built, before training).

    Example:
        >>> check_image_size(64, 4)
        64
    """
    if image_size < 2**depth or image_size % 2**depth:
        raise ValueError(
            f"model.image_size={image_size} must be a multiple of 2**{option} = {2**depth} "
            f"(the networks halve it {depth} times), e.g. {max(round(image_size / 2**depth), 1) * 2**depth}"
        )
    return image_size


class UNet(nn.Module):
    """U-Net: ``(B, C_in, H, W)`` → ``(B, C_out, H, W)`` with ``depth`` 2x down/up-samplings and skips.

    DESIGN: instance normalisation (CycleGAN's default for these generators) rather than batch norm, so
    that outputs do not depend on the other samples of a batch, the per-GPU batch of DDP included.
    ``H`` and ``W`` must be divisible by ``2**depth``.

    Args:
        in_channels, out_channels: channels of the input and of the (linear) output.
        base_channels: channels at full resolution; doubled at each level up to ``max_channels``.
        depth: number of down-sampling steps.
        max_channels: cap on the channel count.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        base_channels: int = 32,
        depth: int = 4,
        max_channels: int = 256,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        widths = [min(base_channels * 2**level, max_channels) for level in range(depth + 1)]
        self.depth = depth
        self.stem = conv_block(in_channels, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(widths[i], widths[i], 4, stride=2, padding=1), conv_block(widths[i], widths[i + 1])
            )
            for i in range(depth)
        )
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(widths[i + 1], widths[i], 3, padding=1),
            )
            for i in reversed(range(depth))
        )
        self.merge = nn.ModuleList(conv_block(2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        factor = 2**self.depth
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(
                f"UNet of depth {self.depth} needs H and W divisible by {factor}, got {tuple(x.shape[-2:])}"
            )
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        h = skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            h = merge(torch.cat([up(h), skips.pop()], dim=1))
        return self.head(h)
