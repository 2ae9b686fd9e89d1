import pytest
import torch

from kpbottleneck import hardware
from kpbottleneck.hardware import (
    accelerator_device,
    channels_last_helps,
    default_precision,
    has_native_bf16,
    machine_kind,
    native_bf16_reason,
)


def _cpu(monkeypatch, capability: str, amx: bool = False, avx512_bf16: bool = False) -> None:
    """Pretend to be a CPU of ATen ``capability`` with (or without) AMX and AVX512-BF16."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)


@pytest.mark.parametrize(
    ("capability", "amx", "avx512_bf16", "reason"),
    [
        ("AVX512", True, True, "CPU with AMX"),
        ("AVX512", False, True, "CPU with AVX512-BF16"),
        ("AVX512", False, False, None),  # AVX-512 without bf16 instructions (e.g. Skylake)
        ("AVX2", False, False, None),
        ("AVX2", True, True, None),  # ATEN_CPU_CAPABILITY=avx2 on an AMX machine chooses as AVX2 does
    ],
)
def test_native_bf16_on_cpus(monkeypatch, capability, amx, avx512_bf16, reason):
    _cpu(monkeypatch, capability, amx, avx512_bf16)
    assert native_bf16_reason("cpu") == reason
    assert has_native_bf16(torch.device("cpu")) is (reason is not None)


def test_a_torch_without_the_cpu_checks_has_no_native_bf16(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert not has_native_bf16("cpu")


def test_default_precision_follows_the_cpu(monkeypatch):
    _cpu(monkeypatch, "AVX512", amx=True, avx512_bf16=True)
    assert default_precision("cpu") == ("bf16-mixed", "CPU with AMX")
    _cpu(monkeypatch, "AVX2")
    precision, reason = default_precision("cpu")
    assert precision == "32-true" and "AVX2" in reason and "emulated" in reason


def test_default_precision_on_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Test GPU")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert default_precision("cuda").precision == "bf16-mixed"
    assert "Test GPU" in default_precision("cuda").reason
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert default_precision("cuda") == ("32-true", "cuda has no native bf16")


@pytest.mark.parametrize(
    ("device", "precision", "expected"),
    [
        ("cpu", "32-true", True),
        ("cpu", "bf16-mixed", True),
        ("cuda", "bf16-mixed", True),
        ("cuda", "16-mixed", True),
        ("cuda", "32-true", False),
        ("meta", "bf16-mixed", False),
    ],
)
def test_channels_last_on_cpus_and_with_16_bits_on_gpus(device, precision, expected):
    assert channels_last_helps(device, precision) is expected


def test_accelerator_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert accelerator_device("auto") == accelerator_device(None) == torch.device("cpu")
    assert accelerator_device("gpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert accelerator_device("auto").type == "cuda" and accelerator_device("cpu").type == "cpu"
    assert accelerator_device("tpu") == torch.device("meta")


def test_an_unknown_cpu_check_reads_false():
    """The CPU checks are private PyTorch functions: each is looked up by name, with a fallback."""
    assert hardware._cpu_has("_no_such_check") is False


@pytest.mark.parametrize(
    ("capability", "amx", "avx512_bf16", "kind"),
    [
        ("AVX512", True, True, "cpu-amx-3threads"),
        ("AVX512", False, True, "cpu-avx512bf16-3threads"),
        ("AVX512", False, False, "cpu-avx512-3threads"),
        ("AVX2", True, True, "cpu-avx2-3threads"),  # as ATen dispatches (ATEN_CPU_CAPABILITY=avx2)
    ],
)
def test_machine_kind_names_what_the_cpu_computes_with(monkeypatch, capability, amx, avx512_bf16, kind):
    _cpu(monkeypatch, capability, amx, avx512_bf16)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert machine_kind("cpu") == kind


def test_machine_kind_of_a_gpu_is_its_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert machine_kind("cuda") == "cuda-nvidia-h200"
