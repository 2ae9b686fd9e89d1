import pytest
import pytorch_lightning as pl
import torch

from kpbottleneck import RegressorPretraining
from kpbottleneck.acceleration import clip_gradient_norm, resolve_channels_last


def _parameters_with_gradients(layout: torch.memory_format) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(0)
    parameters = []
    # big enough that a sum in channels-last memory order rounds differently (it does for this one)
    for shape in ((64, 32, 3, 3), (8,), (4, 8, 1, 1)):
        parameter = torch.nn.Parameter(torch.zeros(shape))
        grad = torch.randn(shape, generator=generator) * torch.rand(shape, generator=generator).pow(4) * 10
        parameter.grad = grad.contiguous(memory_format=layout) if grad.dim() == 4 else grad
        parameters.append(parameter)
    return parameters


@pytest.mark.parametrize("max_norm", [0.5, 1e9])
def test_clip_gradient_norm_is_torchs_and_the_same_in_either_layout(max_norm):
    reference = _parameters_with_gradients(torch.contiguous_format)
    expected = torch.nn.utils.clip_grad_norm_(reference, max_norm, foreach=True)
    for layout in (torch.contiguous_format, torch.channels_last):
        parameters = _parameters_with_gradients(layout)
        assert torch.equal(clip_gradient_norm(parameters, max_norm), expected)
        assert all(torch.equal(p.grad, q.grad) for p, q in zip(parameters, reference, strict=True))
    unclipped = _parameters_with_gradients(torch.contiguous_format)
    hand_norm = torch.cat([p.grad.flatten() for p in unclipped]).norm()
    torch.testing.assert_close(expected, hand_norm)
    if max_norm < hand_norm:  # clipped to the bound
        clipped = torch.cat([p.grad.flatten() for p in reference]).norm()
        torch.testing.assert_close(clipped, torch.tensor(max_norm), rtol=1e-5, atol=0)


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_channels_last_none_follows_the_trainer(precision):
    trainer = pl.Trainer(accelerator="cpu", precision=precision, logger=False, enable_progress_bar=False)
    assert resolve_channels_last(None, trainer) is True  # on a CPU
    assert resolve_channels_last(False, trainer) is False  # as set, whatever the machine


def test_a_module_resolves_its_layout_when_the_trainer_sets_it_up():
    model = RegressorPretraining(image_size=32, regressor_channels=4, regressor_depth=2)
    assert model.channels_last is False  # plain Python: the standard layout
    trainer = pl.Trainer(accelerator="cpu", precision="32-true", logger=False, enable_progress_bar=False)
    model.trainer = trainer
    model.configure_model()
    assert model.channels_last is True
    assert model.regressor.net[0].weight.is_contiguous(memory_format=torch.channels_last)
