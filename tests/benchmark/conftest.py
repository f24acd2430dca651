"""Tiny synthetic datasets and tiny models for the benchmark tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

# The test sets on disk live with the dataset tests; re-exported for the benchmark tests (lol_dir is a fixture).
from tests.datasets.conftest import lol_dir, make_pairs, noisy_of, rand_u8, write_rgb  # noqa: F401


class IdentityNet(nn.Module):
    """Returns its (first three) input channels: an honest model whose scores must equal the input baseline."""

    size_multiple = 4
    architecture = "identity"

    def __init__(self, in_channels: int = 3):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = 3
        self.zero = nn.Parameter(torch.zeros(()))  # so .to(device/dtype) and parameter counting work

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] % 4 == 0 and x.shape[-2] % 4 == 0, "engine must pad to a multiple of 4"
        return x[:, :3] + self.zero


class TinyConv(nn.Module):
    """A small conv net (deterministic weights) that changes the image."""

    size_multiple = 4
    architecture = "tiny"

    def __init__(self, in_channels: int = 3):
        super().__init__()
        self.in_channels = in_channels
        torch.manual_seed(0)
        self.conv = nn.Conv2d(in_channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :3] + 0.05 * torch.tanh(self.conv(x))


@pytest.fixture
def identity_model() -> IdentityNet:
    return IdentityNet()
