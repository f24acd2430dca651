"""IAT, the Illumination-Adaptive Transformer (BMVC 2022), as a distillation teacher for low light.

Cui, Li, Gu, Su, Ma, Yu, Dai, Harada: "You Only Need 90K Parameters to Adapt Light: a Light Weight Transformer
for Image Enhancement and Exposure Correction", https://arxiv.org/abs/2205.14871. Written for mirnet from the
paper's description; module names and tensor shapes equal the published checkpoints' (``IAT_enhance/
best_Epoch_lol_v1.pth``, Apache-2.0), so they load with ``strict=True``.

The image is first enhanced pixel-wise by a local branch, ``y = x ⊙ M(x) + A(x)``, then a global branch predicts
one colour matrix ``C`` and one gamma ``γ`` for the whole image from a 4× downsampled view:

.. math::
    \\hat y = \\operatorname{clamp}(C\\,y,\\ 10^{-8},\\ 1)^{\\gamma}

The global branch sees the whole image: run it on whole photos (as :class:`~mirnet_cli.train.data.PatchDataset`
does for teacher targets), not on patches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


class ChannelAffine(nn.Module):
    """Per-pixel colour normalisation: ``x ↦ (x Cᵀ) ⊙ α + β`` over the channel axis of an NCHW tensor."""

    def __init__(self, dim: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))
        self.color = nn.Parameter(torch.eye(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("bchw,dc->bdhw", x, self.color)
        return y * self.alpha.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


class _ConvMlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ConvBlock(nn.Module):
    """The local branch's block: depth-wise position embedding, a 5×5 depth-wise "attention" between two 1×1
    convolutions, and a 1×1 MLP, each residual scaled by a learned per-channel ``γ``."""

    def __init__(self, dim: int = 16, mlp_ratio: float = 4.0):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = ChannelAffine(dim)
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.attn = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.norm2 = ChannelAffine(dim)
        self.gamma_1 = nn.Parameter(1e-4 * torch.ones(1, dim, 1, 1))
        self.gamma_2 = nn.Parameter(1e-4 * torch.ones(1, dim, 1, 1))
        self.mlp = _ConvMlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed(x)
        x = x + self.gamma_1 * self.conv2(self.attn(self.conv1(self.norm1(x))))
        return x + self.gamma_2 * self.mlp(self.norm2(x))


class LocalBranch(nn.Module):
    """Pixel-wise multiply (``ReLU``) and add (``tanh``) maps, each from three :class:`ConvBlock` with a skip."""

    def __init__(self, in_dim: int = 3, dim: int = 16, blocks: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_dim, dim, 3, padding=1)
        self.relu = nn.LeakyReLU(0.2)
        self.mul_blocks = nn.Sequential(*[ConvBlock(dim) for _ in range(blocks)])
        self.add_blocks = nn.Sequential(*[ConvBlock(dim) for _ in range(blocks)])
        self.mul_end = nn.Sequential(nn.Conv2d(dim, 3, 3, padding=1), nn.ReLU())
        self.add_end = nn.Sequential(nn.Conv2d(dim, 3, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.relu(self.conv1(x))
        return self.mul_end(self.mul_blocks(f) + f), self.add_end(self.add_blocks(f) + f)


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class QueryAttention(nn.Module):
    """Ten learned queries attend over all positions (multi-head, ``softmax(q kᵀ / √d) v``, then a projection)."""

    def __init__(self, dim: int, heads: int, queries: int = 10):
        super().__init__()
        self.heads = heads
        self.q = nn.Parameter(torch.ones(1, queries, dim))
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        h, d = self.heads, c // self.heads
        k = self.k(x).view(b, n, h, d).transpose(1, 2)
        v = self.v(x).view(b, n, h, d).transpose(1, 2)
        q = self.q.expand(b, -1, -1).reshape(b, -1, h, d).transpose(1, 2)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * d ** -0.5, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, -1, c))


class QueryBlock(nn.Module):
    def __init__(self, dim: int = 64, heads: int = 4, mlp_ratio: float = 4.0):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = QueryAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed(x)
        x = self.attn(self.norm1(x.flatten(2).transpose(1, 2)))  # no residual: the queries replace the tokens
        return x + self.mlp(self.norm2(x))


class _ConvEmbedding(nn.Module):
    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_ch, out_ch // 2, 3, stride=2, padding=1), nn.BatchNorm2d(out_ch // 2), nn.GELU(),
            nn.Conv2d(out_ch // 2, out_ch, 3, stride=2, padding=1), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class GlobalBranch(nn.Module):
    """One gamma and one 3×3 colour matrix per image (query 0 → gamma, queries 1–9 → the matrix's entries)."""

    def __init__(self, in_ch: int = 3, dim: int = 64, heads: int = 4):
        super().__init__()
        self.gamma_base = nn.Parameter(torch.ones(1))
        self.color_base = nn.Parameter(torch.eye(3))
        self.conv_large = _ConvEmbedding(in_ch, dim)
        self.generator = QueryBlock(dim, heads)
        self.gamma_linear = nn.Linear(dim, 1)
        self.color_linear = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.generator(self.conv_large(x))
        gamma = self.gamma_linear(q[:, :1]).view(-1, 1) + self.gamma_base
        color = self.color_linear(q[:, 1:]).view(-1, 3, 3) + self.color_base
        return gamma, color


class IAT(nn.Module):
    """The whole network: ``forward(x)`` takes RGB in [0, 1] (NCHW) and returns the enhanced image in (0, 1]."""

    architecture = "iat"

    def __init__(self, in_dim: int = 3):
        super().__init__()
        self.local_net = LocalBranch(in_dim)
        self.global_net = GlobalBranch(in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mul, add = self.local_net(x)
        y = x * mul + add
        gamma, color = self.global_net(x)
        y = torch.einsum("bchw,bdc->bdhw", y, color)
        return y.clamp(1e-8, 1.0) ** gamma.view(-1, 1, 1, 1)


def matches_state_dict(state: Mapping[str, Any]) -> bool:
    return "local_net.mul_blocks.0.norm1.color" in state and "global_net.generator.attn.q" in state


def build_from_state_dict(state: Mapping[str, Any]) -> nn.Module:
    del state  # one published configuration
    return IAT()


__all__ = ["IAT", "build_from_state_dict", "matches_state_dict"]
