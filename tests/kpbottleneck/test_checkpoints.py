import copy

import pytest
import torch
from torch import nn

from kpbottleneck.checkpoints import (
    detector_networks_from_before,
    hold_weights_until_built,
    network_weights,
    take_held_weights,
)


class _Lazy(nn.Module):
    """A module whose child ``late`` is built on first use, as KeypointGAN's D."""

    def __init__(self):
        super().__init__()
        self.early = nn.Linear(2, 2)
        hold_weights_until_built(self, "late")

    def late(self):
        return self._modules.get("late") or take_held_weights(self, "late", nn.Linear(2, 3))


def _trained():
    torch.manual_seed(0)
    module = _Lazy()
    module.late()
    return module


def test_weights_of_a_child_not_built_yet_are_held_saved_again_and_given_to_it_when_built():
    state = _trained().state_dict()
    fresh = _Lazy()
    fresh.load_state_dict(state)  # strict: the held keys count as loaded
    assert "late" not in fresh._modules
    assert set(fresh.state_dict()) == set(state)  # saved again without being built
    assert torch.equal(fresh.state_dict()["late.weight"], state["late.weight"])
    copied = copy.deepcopy(fresh)  # copies carry what is held
    for module in (fresh, copied):
        assert torch.equal(module.late().weight, state["late.weight"])
        assert set(module.state_dict()) == set(state)  # once built, saved as a child, not twice


def test_a_child_built_before_loading_loads_as_any_child():
    state = _trained().state_dict()
    built = _Lazy()
    built.late()
    built.load_state_dict(state)
    assert torch.equal(built.late().bias, state["late.bias"])


def test_a_child_built_without_held_weights_keeps_its_own():
    module = _Lazy()
    torch.manual_seed(1)
    expected = nn.Linear(2, 3).weight.detach().clone()
    torch.manual_seed(1)
    assert torch.equal(module.late().weight, expected)


def test_networks_of_every_layout_are_found_by_name():
    old = {"encoder.w": 1, "regressor.w": 2, "discriminator.w": 3}
    new = {"detector.encoder.w": 1, "detector.regressor.w": 2, "discriminator.w": 3}
    for state in (old, new):
        assert network_weights(state, "regressor") == {"w": 2}
        assert network_weights(state, "discriminator") == {"w": 3}


def test_an_old_layout_loads_into_a_module_holding_a_detector():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.detector = nn.ModuleDict({"encoder": nn.Linear(1, 1)})
            self.register_load_state_dict_pre_hook(detector_networks_from_before)

    source = Holder()
    old = {key.removeprefix("detector."): value for key, value in source.state_dict().items()}
    target = Holder()
    target.load_state_dict(old)
    assert torch.equal(target.detector.encoder.weight, source.detector.encoder.weight)
    with pytest.raises(RuntimeError, match="Unexpected"):
        target.load_state_dict({**old, "stray.w": torch.zeros(1)})
