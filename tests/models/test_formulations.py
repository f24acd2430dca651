"""The fast formulation of forward (default) and the authors' (reference_forward) agree with the golden outputs,
in both memory layouts and with gradients on (training runs the same code)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirnet_cli import load_model
from mirnet_cli.models.common import reference_forward, use_reference
from tests.conftest import FIXTURES

CASES = [FIXTURES / "golden" / "v1_nfeat16", FIXTURES / "golden" / "v2_nfeat16"]


def _outputs(case, size: str):
    x = torch.from_numpy(np.load(case / f"input_{size}.npy"))
    ref64 = torch.from_numpy(np.load(case / f"output_{size}.npy"))
    ref32 = torch.from_numpy(np.load(case / f"output_{size}_float32.npy"))
    return x, ref64, ref32


def _check(case, size: str = "64x64") -> None:
    model = load_model(case / "weights.safetensors")
    x, ref64, ref32 = _outputs(case, size)
    m64 = model.double()
    with torch.no_grad():
        with reference_forward():
            assert use_reference()
            reference = m64(x)
        assert not use_reference()
        fast = m64(x)
    trained = m64(x)  # gradients on: the out-of-place branches
    assert trained.requires_grad
    for name, out in (("reference", reference), ("fast", fast), ("fast with grad", trained.detach())):
        err = (out - ref64).abs().max().item()
        assert err < 1e-9, f"{case.name} {name}: float64 error {err:.3g}"
    m32 = model.float()
    with torch.no_grad():
        nchw = m32(x.float())
        m32 = m32.to(memory_format=torch.channels_last)
        channels_last = m32(x.float().contiguous(memory_format=torch.channels_last))
    assert (channels_last - ref32).abs().max().item() < 1e-4
    assert (channels_last - nchw).abs().max().item() < 1e-5  # the layout changes only the rounding


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_both_formulations_match_the_golden_outputs(case):
    _check(case)
    _check(case, "40x56")


def test_gradients_of_the_fast_formulation_equal_the_reference():
    model = load_model(CASES[1] / "weights.safetensors").double()
    x, _, _ = _outputs(CASES[1], "40x56")
    model(x).square().mean().backward()
    fast = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with reference_forward():
        model(x).square().mean().backward()
    for a, b in zip(fast, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
