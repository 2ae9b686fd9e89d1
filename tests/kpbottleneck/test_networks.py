import pytest
import torch

import kpbottleneck
from kpbottleneck.networks import (
    ConditionalDecoder,
    HeatmapRegressor,
    InstanceNorm,
    MultiScaleDiscriminator,
    PatchDiscriminator,
    PoseEncoder,
    UNet,
    check_image_size,
    soft_argmax,
)


@pytest.mark.parametrize("size", [64, 128])
def test_shapes_at_paper_sizes(size):
    image = torch.rand(2, 3, size, size)
    skeleton = PoseEncoder(base_channels=4, depth=4)(image)
    assert skeleton.shape == (2, 1, size, size) and skeleton.min() > 0 and skeleton.max() < 1
    assert ConditionalDecoder(True, 4, 4)(skeleton, image).shape == (2, 3, size, size)
    assert ConditionalDecoder(False, 4, 4)(skeleton).shape == (2, 3, size, size)
    keypoints = HeatmapRegressor(17, 4, 4)(skeleton)
    assert keypoints.shape == (2, 17, 2) and keypoints.abs().max() <= 1
    scores = MultiScaleDiscriminator(1, 4, 3, 2)(skeleton)
    assert len(scores) == 2 and scores[0].shape[-1] > scores[1].shape[-1]


def test_unet_checks_divisibility():
    with pytest.raises(ValueError, match="divisible by 8"):
        UNet(3, 1, 4, depth=3)(torch.rand(1, 3, 20, 20))


def test_decoder_conditioning_is_enforced():
    with pytest.raises(ValueError, match="pass an appearance image"):
        ConditionalDecoder(True, 4, 2)(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="must be None"):
        ConditionalDecoder(False, 4, 2)(torch.rand(1, 1, 8, 8), torch.rand(1, 3, 8, 8))


def test_soft_argmax_reads_a_peak_at_pixel_centres():
    heatmaps = torch.full((1, 2, 4, 8), -1e4)
    heatmaps[0, 0, 1, 5] = 0.0
    heatmaps[0, 1, 3, 0] = 0.0
    expected = torch.tensor([[[(2 * 5 + 1) / 8 - 1, (2 * 1 + 1) / 4 - 1], [1 / 8 - 1, 7 / 4 - 1]]])
    torch.testing.assert_close(soft_argmax(heatmaps), expected)


def test_soft_argmax_of_uniform_is_centre_and_differentiable():
    heatmaps = torch.zeros(1, 1, 5, 7, requires_grad=True)
    coords = soft_argmax(heatmaps)
    torch.testing.assert_close(coords, torch.zeros(1, 1, 2), atol=1e-6, rtol=0)
    coords[..., 0].sum().backward()
    assert heatmaps.grad[0, 0, :, -1].sum() > 0 > heatmaps.grad[0, 0, :, 0].sum()


def test_patch_discriminator_layers():
    scores = PatchDiscriminator(1, 4, num_layers=2)(torch.rand(3, 1, 32, 32))
    assert scores.shape == (3, 1, 6, 6)


def test_regressor_gradients_reach_input():
    skeleton = torch.rand(1, 1, 16, 16, requires_grad=True)
    HeatmapRegressor(3, 4, 2)(skeleton).sum().backward()
    assert skeleton.grad.abs().sum() > 0


def test_pose_encoder_starts_from_an_almost_empty_skeleton_image():
    torch.manual_seed(0)
    output = PoseEncoder(3, 8, 2, initial_intensity=0.05)(torch.rand(4, 3, 32, 32))
    assert 0.03 < output.mean().item() < 0.1  # not sigmoid(0) = 0.5
    with pytest.raises(ValueError, match="initial_intensity"):
        PoseEncoder(initial_intensity=1.0)


@pytest.mark.parametrize(
    ("model", "depths", "option"),
    [
        ("KeypointGAN", {"unet_depth": 4}, "unet_depth"),
        ("KeypointGAN", {"unet_depth": 2, "regressor_depth": 4}, "regressor_depth"),
        ("RegressorPretraining", {"regressor_depth": 4}, "regressor_depth"),
    ],
)
def test_an_image_size_the_networks_cannot_halve_is_refused_when_the_model_is_built(model, depths, option):
    message = rf"model\.image_size=60 must be a multiple of 2\*\*model\.{option} = 16"
    with pytest.raises(ValueError, match=message):
        getattr(kpbottleneck, model)(image_size=60, **depths)  # before any VGG or network is built
    assert check_image_size(48, 4) == 48


def test_instance_norm_gives_channels_last_inputs_the_same_bits_back_channels_last():
    """On a CPU, channels-last inputs are normalised in the standard layout (PyTorch's channels-last group
    norm is much slower there): same values and gradients to the bit, and the layout kept."""
    torch.manual_seed(0)
    norm = InstanceNorm(6)
    torch.nn.init.normal_(norm.weight), torch.nn.init.normal_(norm.bias)
    x = torch.randn(3, 6, 5, 7)
    results = []
    for layout in (torch.contiguous_format, torch.channels_last):
        inputs = x.clone(memory_format=layout).requires_grad_()
        out = norm(inputs)
        (out * torch.arange(out.numel()).view_as(out).sin()).sum().backward()
        results.append((out, inputs.grad, norm.weight.grad.clone(), norm.bias.grad.clone()))
        norm.zero_grad()
    (standard, *standard_grads), (channels_last, *channels_last_grads) = results
    assert channels_last.is_contiguous(memory_format=torch.channels_last)
    assert standard.is_contiguous() and not channels_last.is_contiguous()
    assert torch.equal(standard, channels_last)
    assert all(torch.equal(a, b) for a, b in zip(standard_grads, channels_last_grads, strict=True))
    expected = torch.nn.functional.instance_norm(x, weight=norm.weight, bias=norm.bias)
    torch.testing.assert_close(standard, expected)


@pytest.mark.parametrize("depth", [0, 2, 3])
def test_regressor_heatmaps_are_coarse_by_its_depth(depth):
    regressor = HeatmapRegressor(5, 4, depth)
    assert regressor.heatmaps(torch.rand(2, 1, 32, 32)).shape == (2, 5, 32 // 2**depth, 32 // 2**depth)


def test_regressor_names_its_depth_setting_when_a_size_does_not_divide():
    with pytest.raises(ValueError, match=r"divisible by 8.*model\.regressor_depth"):
        HeatmapRegressor(5, 4, 3)(torch.rand(1, 1, 20, 20))


def test_regressor_strided_grid_is_the_image_grid_at_half_resolution():
    """η's stride-2 convolutions centre each output cell on a 2x2 block of input pixels, so the soft-argmax
    of coarse heatmaps reads coordinates of the image without an offset (align_corners=False)."""
    regressor = HeatmapRegressor(1, 1, depth=1)
    strided = next(m for m in regressor.net if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2))
    box = torch.nn.Conv2d(1, 1, strided.kernel_size, strided.stride, strided.padding, bias=False)
    torch.nn.init.ones_(box.weight)
    image = torch.zeros(1, 1, 16, 16)
    image[..., 6:8, 10:12] = 1.0  # a 2x2 block centred on pixel (x, y) = (10.5, 6.5)
    with torch.no_grad():
        read = soft_argmax(box(image) * 100.0)
    expected = (2 * torch.tensor([10.5, 6.5]) + 1) / 16 - 1
    torch.testing.assert_close(read[0, 0], expected)
