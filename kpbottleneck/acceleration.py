"""Speed options shared by the LightningModules: ``torch.compile`` and the channels-last memory format.

Both leave the numbers a network computes the same up to floating-point rounding, and neither changes a
checkpoint: :meth:`torch.nn.Module.compile` compiles a module in place (its ``state_dict`` keys stay
``encoder.net...``, not ``encoder._orig_mod.net...``), and the memory format is a layout, not a value.

``channels_last=None`` (the modules' default) follows the hardware when the Trainer sets the model up
(:func:`resolve_channels_last`, :func:`kpbottleneck.hardware.channels_last_helps`): on a CPU, and on a GPU
with 16-bit precisions.

Channels-last under bf16 on a CPU with AMX goes further: it changes no number at all. oneDNN's AMX kernels
compute those convolutions channels-last in either layout (a standard-layout one pays a copy of its output
and of its input gradient back), and everything around them reads in the standard layout whatever would
sum in memory order (:class:`~kpbottleneck.networks.InstanceNorm`, the perceptual loss's terms,
:func:`clip_gradient_norm`). A seed then trains the same model with the option on or off, only faster
(``tests/kpbottleneck/test_keypoint_gan.py::test_channels_last_trains_the_same_numbers_under_bf16``).
Other CPUs' bf16 kernels (AVX512-BF16 without AMX) differ by layout in the last bits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn

from kpbottleneck.hardware import channels_last_helps


def prepare_networks(
    networks: Iterable[nn.Module], compile: bool = False, channels_last: bool = False
) -> None:
    """Compile each network in place (``compile``) and/or store its 4-D weights channels-last.

    Called from the modules' ``configure_model`` hook, so that a model used in plain Python stays eager
    and a model built for ``fit``, ``test`` or ``predict`` gets the options of its configuration.

    Example:
        >>> net = nn.Conv2d(3, 4, 3)
        >>> prepare_networks([net], channels_last=True)
        >>> net.weight.is_contiguous(memory_format=torch.channels_last)
        True
    """
    for network in networks:
        if channels_last:
            network.to(memory_format=torch.channels_last)
        if compile:
            network.compile()


def resolve_channels_last(channels_last: bool | None, trainer: pl.Trainer | None) -> bool:
    """The modules' ``channels_last`` option as set, or, when ``None``, whether it helps on the Trainer's
    device under its precision (said on the console); a model without a Trainer stays standard.

    Example:
        >>> resolve_channels_last(None, None), resolve_channels_last(True, None)
        (False, True)
    """
    if channels_last is not None or trainer is None:
        return bool(channels_last)
    device, precision = trainer.strategy.root_device, trainer.precision
    chosen = channels_last_helps(device, precision)
    layout = "channels-last" if chosen else "the standard layout"
    rank_zero_info(
        f"model.channels_last: null → {layout} for {precision} on {device.type} "
        "(set model.init_args.channels_last to choose)"
    )
    return chosen


def clip_gradient_norm(parameters: Sequence[nn.Parameter], max_norm: float) -> Tensor:
    """``torch.nn.utils.clip_grad_norm_`` (2-norm of all gradients, one multi-tensor call) whose result
    does not depend on the gradients' memory layout: channels-last gradients are read in the standard
    layout for the norm (a sum runs over memory in order, so their norm would differ in its last bits and
    the ``channels_last`` option would change every clipped step). Returns the norm before clipping.

    Example:
        >>> weight = nn.Parameter(torch.zeros(1, 2, 1, 1))
        >>> weight.grad = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
        >>> clip_gradient_norm([weight], 1.0), weight.grad.flatten()
        (tensor(5.), tensor([0.6000, 0.8000]))
    """
    grads = [p.grad.contiguous() for p in parameters if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads, foreach=True)
    torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, norm, foreach=True)
    return norm


def to_memory_format(images: Tensor, channels_last: bool) -> Tensor:
    """``images`` ``(B, C, H, W)`` in the channels-last layout when asked (a no-op when already so)."""
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def adam(
    parameters: Iterable[nn.Parameter], lr: float, betas: Sequence[float] = (0.9, 0.999), fused: bool = False
) -> torch.optim.Adam:
    """Adam with its fused kernel (``fused``: one launch per step for all parameters) or else its
    multi-tensor kernels on every device (PyTorch picks those by itself on CUDA only).

    A fused Adam unscales fp16 gradients inside its step, so Lightning refuses to clip its gradients
    under mixed precision; a module that clips them itself (:class:`KeypointGAN`) can use it whenever no
    gradient scaler is at work (:func:`uses_gradient_scaler`).

    Example:
        >>> adam([nn.Parameter(torch.zeros(2))], lr=1e-3, fused=True).defaults["fused"]
        True
    """
    if fused:
        return torch.optim.Adam(parameters, lr=lr, betas=(betas[0], betas[1]), fused=True)
    return torch.optim.Adam(parameters, lr=lr, betas=(betas[0], betas[1]), foreach=True)


def uses_gradient_scaler(trainer: pl.Trainer | None) -> bool:
    """Whether the Trainer's precision scales the loss (``16-mixed``): gradients are then scaled until
    Lightning unscales them in the optimiser step, and only Lightning's own clipping is correct.
    ``None`` (a module used without a Trainer) scales nothing."""
    return trainer is not None and getattr(trainer.precision_plugin, "scaler", None) is not None
