"""The networks of KeypointGAN as plain ``nn.Module`` classes: Φ, Ψ, η and D."""

from kpbottleneck.networks.discriminator import MultiScaleDiscriminator, PatchDiscriminator
from kpbottleneck.networks.generators import ConditionalDecoder, PoseEncoder
from kpbottleneck.networks.regressor import HeatmapRegressor, soft_argmax
from kpbottleneck.networks.unet import InstanceNorm, UNet, check_image_size

__all__ = [
    "ConditionalDecoder",
    "HeatmapRegressor",
    "InstanceNorm",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "PoseEncoder",
    "UNet",
    "check_image_size",
    "soft_argmax",
]
