"""Reading networks out of checkpoints: safely, by network name, across the library's key layouts.

A KeypointGAN checkpoint names its networks ``detector.encoder.*``, ``detector.regressor.*``,
``detector.decoder.*`` and ``discriminator.*``; one written before KeypointGAN held a
:class:`~kpbottleneck.detector.KeypointDetector` says ``encoder.*``… without ``detector.``; a
:class:`~kpbottleneck.RegressorPretraining` checkpoint has η's ``regressor.*`` alone. Every reader here takes
all three.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

#: The networks of a detector, by their names in its ``state_dict``.
DETECTOR_NETWORKS = ("encoder", "regressor", "decoder")


def read_checkpoint(path: str | Path, option: str = "checkpoint") -> dict[str, Any]:
    """The contents of the checkpoint at ``path`` on the CPU, read as tensors and plain containers only
    (a checkpoint cannot run code when it is read); errors name the file and ``option``, the setting
    that gave it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} ({option}) does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"checkpoint {path} ({option}) holds objects other than tensors and plain containers, "
            f"which are not loaded for safety: {str(error).splitlines()[0]}"
        ) from error


def detector_weights(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The detector's weights in a ``state_dict`` of any layout above, under the detector's own names.

    Example:
        >>> sorted(detector_weights({"detector.encoder.w": 1, "regressor.b": 2, "discriminator.w": 3}))
        ['encoder.w', 'regressor.b']
    """
    weights = {}
    for key, value in state_dict.items():
        name = key.removeprefix("detector.")
        if name.split(".", 1)[0] in DETECTOR_NETWORKS:
            weights[name] = value
    return weights


def network_weights(state_dict: Mapping[str, Tensor], network: str) -> dict[str, Tensor]:
    """The weights of ``network`` (e.g. ``"regressor"``, ``"discriminator"``) in a ``state_dict`` of any
    layout above, under the network's own names.

    Example:
        >>> network_weights({"detector.regressor.w": 1, "discriminator.w": 2}, "regressor")
        {'w': 1}
    """
    state = {**state_dict, **detector_weights(state_dict)}
    return {
        key.removeprefix(f"{network}."): value
        for key, value in state.items()
        if key.startswith(f"{network}.")
    }


def load_networks(
    networks: Mapping[str, nn.Module], path: str | Path, option: str = "checkpoint", architecture: str = ""
) -> None:
    """Load each of ``networks`` (name → module) from the checkpoint at ``path``; a network the checkpoint
    lacks, or whose weights do not fit, is an error naming the file, ``option`` and the network, with
    ``architecture`` (the model's options that set the shapes) to say what was expected."""
    state = read_checkpoint(path, option).get("state_dict", {})
    for network, module in networks.items():
        weights = network_weights(state, network)
        if not weights:
            raise ValueError(f"checkpoint {path} ({option}): its state_dict has no '{network}.*' weights")
        own = module.state_dict()
        mismatched = [k for k in own if k not in weights or weights[k].shape != own[k].shape]
        if mismatched:
            raise ValueError(
                f"checkpoint {path} ({option}) does not fit this model's {network} ({architecture}); "
                f"first mismatching weights: {mismatched[:3]}"
            )
        module.load_state_dict({k: weights[k] for k in own})


def detector_networks_from_before(
    module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict, *args: object
) -> None:
    """A ``load_state_dict`` pre-hook for a module holding a detector as ``detector``: the networks of a
    checkpoint written before it did (``encoder.*``…) load as ``detector.encoder.*``… ."""
    for key in [key for key in state_dict if key.startswith(prefix)]:
        name = key.removeprefix(prefix)
        if name.split(".", 1)[0] in DETECTOR_NETWORKS:
            state_dict[f"{prefix}detector.{name}"] = state_dict.pop(key)


def hold_weights_until_built(module: nn.Module, name: str) -> None:
    """Let ``module`` load and save the weights of a child ``name`` that it builds only when first needed
    (e.g. KeypointGAN's D, which inference never builds): until then, a loaded ``state_dict``'s ``name.*``
    weights are held aside (:func:`take_held_weights` hands them to the child once built) and written back
    into ``module.state_dict()``, so a checkpoint loaded and saved again loses nothing."""
    if "_held_weights" not in module.__dict__:
        module.register_load_state_dict_pre_hook(_hold_weights)
        module.register_state_dict_post_hook(_add_held_weights)
    _held(module)[name] = {}


def take_held_weights(module: nn.Module, name: str, child: nn.Module) -> nn.Module:
    """Load into ``child`` the weights held for it by :func:`hold_weights_until_built` (if any were
    loaded) and make it ``module``'s child ``name``; returns ``child``."""
    held = _held(module)[name]
    if held:
        child.load_state_dict(held)
        held.clear()
    module._modules[name] = child
    return child


def _held(module: nn.Module) -> dict[str, dict[str, Tensor]]:
    """The weights held per child name (kept in the module's ``__dict__``: copies and pickles carry them)."""
    return module.__dict__.setdefault("_held_weights", {})


def _hold_weights(module: nn.Module, state_dict: dict, prefix: str, *args: object) -> None:
    for name, held in _held(module).items():
        if name not in module._modules:
            key_prefix = f"{prefix}{name}."
            for key in [key for key in state_dict if key.startswith(key_prefix)]:
                held[key.removeprefix(key_prefix)] = state_dict.pop(key)


def _add_held_weights(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for name, held in _held(module).items():
        if name not in module._modules:
            for key, value in held.items():
                state_dict[f"{prefix}{name}.{key}"] = value
