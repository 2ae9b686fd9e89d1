"""What the machine computes fast: the precision and the memory layout a run uses when its config is silent.

bf16 pays only where the hardware computes it natively: NVIDIA GPUs from Ampere on (tensor cores), and
CPUs with AMX or AVX512-BF16 instructions, where oneDNN's bf16 convolutions run about twice as fast as
fp32 ones. Elsewhere (an AVX2-only CPU: most laptops, many cloud machines) PyTorch emulates bf16 in fp32
arithmetic plus conversions, 10-15x slower than plain fp32, so the default there is ``32-true``.

Channels-last pays on every CPU, in bf16 and in fp32 alike: oneDNN's convolutions of the narrow networks
used here run faster on that layout (benchmarks/train_step.py, ``--no-channels-last`` to compare). On a GPU
it pays with 16-bit precisions (tensor cores work in that layout) and is left off in fp32.

Convention:
    The CPU's capability is the one ATen dispatches to (``torch.backends.cpu.get_cpu_capability()``), so
    ``ATEN_CPU_CAPABILITY=avx2`` makes a machine with AVX-512 choose as an AVX2 machine does.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

BF16_PRECISIONS = ("bf16-mixed", "bf16-true", "bf16")


def _device_type(device: torch.device | str) -> str:
    return torch.device(device).type


def native_bf16_reason(device: torch.device | str = "cpu") -> str | None:
    """Why ``device`` computes bf16 natively (e.g. ``"CPU with AMX"``), or ``None`` where it does not.

    Example:
        >>> native_bf16_reason("meta") is None
        True
    """
    kind = _device_type(device)
    if kind == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False):
            return f"GPU with bf16 tensor cores ({torch.cuda.get_device_name(device)})"
        return None
    if kind != "cpu" or not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return None
    if cpu_has_amx():
        return "CPU with AMX"
    if _cpu_has("_is_avx512_bf16_supported"):
        return "CPU with AVX512-BF16"
    return None


def _cpu_has(check: str) -> bool:
    """``torch.cpu.<check>()`` (cpuinfo's flags), ``False`` where this PyTorch has no such check."""
    function = getattr(torch.cpu, check, None)
    return bool(function()) if function is not None else False


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles (whose oneDNN bf16 kernels compute channels-last in either layout,
    :mod:`kpbottleneck.acceleration`)."""
    return _cpu_has("_is_amx_tile_supported")


def has_native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bf16 natively (:func:`native_bf16_reason`)."""
    return native_bf16_reason(device) is not None


class PrecisionChoice(NamedTuple):
    """A precision for the Trainer and the reason it was chosen."""

    precision: str
    reason: str


def default_precision(device: torch.device | str = "cpu") -> PrecisionChoice:
    """``bf16-mixed`` where ``device`` computes bf16 natively, else ``32-true``, with the reason.

    Example:
        >>> default_precision("meta")
        PrecisionChoice(precision='32-true', reason='meta has no native bf16')
    """
    reason = native_bf16_reason(device)
    if reason is not None:
        return PrecisionChoice("bf16-mixed", reason)
    kind = _device_type(device)
    if kind == "cpu":
        why = f"CPU without AMX or AVX512-BF16 (ATen capability {torch.backends.cpu.get_cpu_capability()})"
        return PrecisionChoice("32-true", f"{why}: bf16 would be emulated")
    return PrecisionChoice("32-true", f"{kind} has no native bf16")


def channels_last_helps(device: torch.device | str, precision: str | int | None) -> bool:
    """Whether networks on ``device`` under the Trainer ``precision`` should be channels-last: always on a
    CPU, with bf16 or fp16 on a GPU.

    Example:
        >>> channels_last_helps("cpu", "32-true"), channels_last_helps("cuda", "32-true")
        (True, False)
    """
    kind = _device_type(device)
    if kind == "cpu":
        return True
    return kind == "cuda" and (str(precision) in BF16_PRECISIONS or str(precision).startswith("16"))


def machine_kind(device: torch.device | str = "cpu") -> str:
    """A short name for what ``device`` computes with, to name benchmark results by: on a CPU the ATen
    capability, refined by the bf16 instructions it has (``cpu-amx``, ``cpu-avx512bf16``, ``cpu-avx512``,
    ``cpu-avx2``), with the threads torch uses; on a GPU its name (``cuda-nvidia-h200``).

    Example:
        >>> machine_kind("meta")
        'meta'
    """
    kind = _device_type(device)
    if kind == "cuda":
        return "cuda-" + "-".join(torch.cuda.get_device_name(device).lower().split())
    if kind != "cpu":
        return kind
    reason = native_bf16_reason("cpu")
    isa = {"CPU with AMX": "amx", "CPU with AVX512-BF16": "avx512bf16"}.get(
        reason or "", torch.backends.cpu.get_cpu_capability().lower().replace("_", "")
    )
    return f"cpu-{isa}-{torch.get_num_threads()}threads"


def accelerator_device(accelerator: str | None) -> torch.device:
    """The device type a Trainer's ``accelerator`` setting runs on (``"auto"``: CUDA when available)."""
    name = str(accelerator or "auto").lower()
    if name in ("auto", "gpu", "cuda"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:  # an accelerator torch has no device type for (e.g. "tpu"): no bf16 assumed
        return torch.device("meta")
