"""Device and precision resolution (no GPU needed: CUDA/MPS availability is monkeypatched)."""

from __future__ import annotations

import warnings

import pytest
import torch

from mirnet_cli.engine import device as dev
from mirnet_cli.engine.device import (
    cpu_has_native_bf16,
    parse_precision,
    resolve_device,
    resolve_precision,
)
from mirnet_cli.errors import MirnetError


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def test_cpu_and_auto_without_gpu(no_gpu):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto must not warn
        assert resolve_device("auto") == torch.device("cpu")
        assert resolve_device(" CPU ") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch, one_gpu):
    assert resolve_device("auto") == torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")


@pytest.mark.parametrize(
    ("spec", "reason"),
    [("cuda", "no CUDA GPU was found"), ("cuda:1", "no CUDA GPU was found"), ("mps", "MPS")],
)
def test_unavailable_named_device_is_an_error_with_the_hint(no_gpu, monkeypatch, spec, reason):
    monkeypatch.setattr(torch.version, "cuda", "12.4")  # a CUDA build whose GPU is missing
    with pytest.raises(MirnetError) as info:
        resolve_device(spec)
    message = str(info.value)
    assert f"device {spec} is not available" in message and reason in message
    assert "--device auto" in message and "\n" not in message


def test_cuda_reason_names_a_cpu_only_build_or_the_driver_error(no_gpu, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(MirnetError, match="no CUDA support"):
        resolve_device("cuda")

    def broken_driver():
        warnings.warn("CUDA initialization: The NVIDIA driver on your system is too old (found version 9000).\n"
                      "Please update your GPU driver.", UserWarning, stacklevel=2)
        return False

    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", broken_driver)
    with pytest.raises(MirnetError, match="CUDA could not start: CUDA initialization: The NVIDIA driver"):
        resolve_device("cuda")


def test_cuda_index(one_gpu):
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(MirnetError, match="cuda:3 does not exist"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "gpu", ""])
def test_invalid_device(spec):
    with pytest.raises(MirnetError, match="invalid device"):
        resolve_device(spec)


def test_precision_auto():
    assert resolve_precision("auto", torch.device("cpu")) == torch.float32
    assert resolve_precision("auto", torch.device("mps")) == torch.float32
    assert resolve_precision("auto", torch.device("cuda", 0)) == torch.float16
    assert resolve_precision("auto", torch.device("cuda", 0), supports_half=False) == torch.float32
    assert resolve_precision("fp32", "cuda") == torch.float32
    assert resolve_precision("half", "mps") == torch.float16


def test_fp16_on_cpu_is_refused():
    with pytest.raises(MirnetError, match="fp16 is not supported on the CPU; use --precision fp32"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(MirnetError, match="fp16 is not supported on the CPU"):
        resolve_precision(torch.float16, "cpu")


def test_bf16_on_cpu_only_when_native(monkeypatch):
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(MirnetError, match="500x slower"):
        resolve_precision("bf16", "cpu")
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("bfloat16", "cpu") == torch.bfloat16


def test_bf16_on_this_cpu_matches_its_flags():
    """Real check against this machine: bf16 is accepted exactly when /proc/cpuinfo says it is native."""
    if cpu_has_native_bf16():
        assert resolve_precision("bf16", "cpu") == torch.bfloat16
    else:
        with pytest.raises(MirnetError, match="no native support"):
            resolve_precision("bf16", "cpu")


def test_bf16_on_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(MirnetError, match="bf16 is not supported on this GPU"):
        resolve_precision("bf16", "cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("bf16", "cuda") == torch.bfloat16
    with pytest.raises(MirnetError, match="bf16 is not supported on mps"):
        resolve_precision("bf16", "mps")


def test_cpu_has_native_bf16_reads_flags(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    native = tmp_path / "native"
    native.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n")
    amx = tmp_path / "amx"
    amx.write_text("flags\t\t: fpu amx_tile amx_bf16\n")
    assert not cpu_has_native_bf16(plain)
    assert cpu_has_native_bf16(native)
    assert cpu_has_native_bf16(amx)
    assert not cpu_has_native_bf16(tmp_path / "missing")


def test_parse_precision():
    assert parse_precision("AUTO") == "auto"
    assert parse_precision("float16") == "fp16"
    assert parse_precision(torch.bfloat16) == "bf16"
    assert parse_precision(torch.float32) == "fp32"
    with pytest.raises(MirnetError, match="invalid precision"):
        parse_precision("int8")
    with pytest.raises(MirnetError, match="unsupported precision"):
        parse_precision(torch.int8)


def test_choose_threads_uses_the_idle_cores(monkeypatch):
    from mirnet_cli.engine import cpu

    monkeypatch.setattr(cpu, "_chosen_threads", None)
    monkeypatch.delenv("MIRNET_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
        applied = []
        monkeypatch.setattr(torch, "set_num_threads", applied.append)
        monkeypatch.setattr(cpu, "idle_cores", lambda sample=0.2: 3)  # another program keeps the rest busy
        assert cpu.choose_threads() == 3 and applied == [3]
        assert cpu.choose_threads() == 3  # chosen once per process
        assert cpu.choose_threads(2) == 2 and applied[-1] == 2  # an explicit number wins
        monkeypatch.setattr(cpu, "_chosen_threads", None)
        monkeypatch.setenv("MIRNET_THREADS", "5")
        assert cpu.choose_threads() == 5
    finally:
        monkeypatch.undo()
        torch.set_num_threads(before)


def test_idle_cores_counts_what_others_leave(monkeypatch):
    import psutil

    from mirnet_cli.engine.cpu import idle_cores

    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 2)
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval=None: 50.0)  # one core busy
    assert idle_cores() == 1
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval=None: 3.0)
    assert idle_cores() == 2
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval=None: 100.0)
    assert idle_cores() == 1  # never 0
