import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from kpbottleneck import losses
from kpbottleneck.losses import (
    VGG19_LAYERS,
    PerceptualLoss,
    keypoint_mse,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)


def test_lsgan_hand_computed():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.5, 1.0])
    # ½ [mean((1-1)², (0-1)²) + mean(0.25, 1)] = ½ [0.5 + 0.625]
    torch.testing.assert_close(lsgan_discriminator_loss(real, fake), torch.tensor(0.5625))
    torch.testing.assert_close(lsgan_generator_loss(fake), torch.tensor(0.125))
    # Multi-scale: mean over scales.
    torch.testing.assert_close(lsgan_generator_loss([fake, torch.ones(3)]), torch.tensor(0.0625))


def test_keypoint_mse_masks_invisible():
    prediction = torch.zeros(1, 2, 2)
    target = torch.tensor([[[1.0, 1.0], [10.0, 10.0]]])
    visible = torch.tensor([[True, False]])
    torch.testing.assert_close(keypoint_mse(prediction, target, visible), torch.tensor(1.0))
    torch.testing.assert_close(keypoint_mse(prediction, target), torch.tensor(50.5))


def test_layer_names():
    assert VGG19_LAYERS["relu1_2"] == 3 and VGG19_LAYERS["relu3_2"] == 13 and VGG19_LAYERS["relu5_2"] == 31


@pytest.fixture
def no_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints" / losses.torchvision_vgg19_cache_path().name


def test_fallback_is_seeded_and_warns(no_cache):
    with pytest.warns(UserWarning, match="seeded random VGG-19"):
        first = PerceptualLoss(("relu2_2",))
    second = PerceptualLoss(("relu2_2",))
    assert not first.pretrained
    torch.testing.assert_close(first.features[5].weight, second.features[5].weight)
    x = torch.rand(2, 3, 16, 16)
    assert first(x, x) == 0
    assert first(x, torch.rand(2, 3, 16, 16)) > 0


def _save_vgg_state(path, seed, prefix="features."):
    torch.manual_seed(seed)
    features = make_layers(cfgs["E"])
    torch.save({prefix + k: v for k, v in features.state_dict().items()}, path)
    return features


@pytest.mark.parametrize("prefix", ["features.", ""])
def test_weights_from_path(tmp_path, no_cache, prefix):
    reference = _save_vgg_state(tmp_path / "vgg.pth", seed=7, prefix=prefix)
    loss = PerceptualLoss(("relu1_2", "relu3_1"), weights=str(tmp_path / "vgg.pth"))
    assert loss.pretrained
    torch.testing.assert_close(loss.features[10].weight, reference[10].weight)
    assert len(loss.features) == VGG19_LAYERS["relu3_1"] + 1


def test_weights_from_torchvision_cache(no_cache):
    no_cache.parent.mkdir(parents=True)
    reference = _save_vgg_state(no_cache, seed=3)
    loss = PerceptualLoss(("relu1_2",))
    assert loss.pretrained
    torch.testing.assert_close(loss.features[2].weight, reference[2].weight)


def test_bad_weights_and_layers(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.pth \(model.vgg_weights\) does not exist"):
        PerceptualLoss(weights=str(tmp_path / "missing.pth"))
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match=r"partial\.pth lack"):
        PerceptualLoss(("relu1_2",), weights=str(tmp_path / "partial.pth"))
    with pytest.raises(ValueError, match="Unknown perceptual layers"):
        PerceptualLoss(("relu9_9",))


def test_vgg_is_kept_out_of_state_dict_and_restored(no_cache):
    loss = PerceptualLoss(("pixels", "relu1_2"))
    assert list(loss.state_dict()) == []
    other = PerceptualLoss(("pixels", "relu1_2"))
    other.load_state_dict(loss.state_dict())  # strict: no missing keys
    assert all(not p.requires_grad for p in loss.parameters())


def test_gradient_flows_to_prediction(no_cache):
    prediction = torch.rand(1, 3, 16, 16, requires_grad=True)
    PerceptualLoss(("pixels", "relu2_1"))(prediction, torch.rand(1, 3, 16, 16)).backward()
    assert prediction.grad.abs().sum() > 0


@pytest.mark.parametrize("target_requires_grad", [False, True])
def test_value_and_gradients_match_a_direct_computation(no_cache, target_requires_grad):
    torch.manual_seed(0)
    layers = ("pixels", "conv1_2", "relu2_1")  # conv1_2 is followed by an in-place ReLU in torchvision
    loss = PerceptualLoss(layers, layer_weights=(0.5, 2.0, 3.0))
    prediction = torch.rand(2, 3, 16, 16, requires_grad=True)
    target = torch.rand(2, 3, 16, 16, requires_grad=target_requires_grad)
    value = loss(prediction, target)
    inputs = [prediction, target] if target_requires_grad else [prediction]
    grads = torch.autograd.grad(value, inputs)

    mean, std = torch.tensor(losses.IMAGENET_MEAN), torch.tensor(losses.IMAGENET_STD)
    vgg = loss.features

    def tap(images, index):
        return vgg[: index + 1]((images - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))

    expected = 0.5 * ((prediction - target) ** 2).mean()
    for weight, name in ((2.0, "conv1_2"), (3.0, "relu2_1")):
        index = VGG19_LAYERS[name]
        expected = expected + weight * ((tap(prediction, index) - tap(target, index)) ** 2).mean()
    expected_grads = torch.autograd.grad(expected, inputs)
    torch.testing.assert_close(value, expected)
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want)
