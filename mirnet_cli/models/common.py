"""Building blocks shared by both MIRNet generations."""

from __future__ import annotations

import torch
from torch import nn


class SKFF(nn.Module):
    """Selective Kernel Feature Fusion (MIRNet §3.2).

    Given ``k`` branches ``L_i`` of shape [B,C,H,W]:

    .. math::
        U = \\sum_i L_i,\\quad z = \\mathrm{act}(W_{du} \\cdot \\mathrm{GAP}(U)),\\quad
        s_i = \\mathrm{softmax}_i(W_i z),\\quad V = \\sum_i s_i \\odot L_i

    Args:
        in_channels: C.
        height: number of branches fused (3 in v1, 2 in v2).
        reduction: channel reduction of the squeeze conv; its width is ``max(int(C/reduction), 4)``.
        act: ``nn.PReLU()`` in v1, ``nn.LeakyReLU(0.2)`` in v2 (the latter has no state-dict key).

    State-dict keys: ``conv_du.0.weight``, [``conv_du.1.weight`` for PReLU], ``fcs.{i}.weight``.
    """

    def __init__(self, in_channels: int, height: int, act: nn.Module, reduction: int = 8, bias: bool = False):
        super().__init__()
        self.height = height
        d = max(int(in_channels / reduction), 4)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(nn.Conv2d(in_channels, d, 1, padding=0, bias=bias), act)
        self.fcs = nn.ModuleList([nn.Conv2d(d, in_channels, 1, stride=1, bias=bias) for _ in range(height)])
        self.softmax = nn.Softmax(dim=1)

    def forward(self, inp_feats: list[torch.Tensor]) -> torch.Tensor:
        feats = torch.stack(inp_feats, dim=1)  # [B, k, C, H, W]
        feats_z = self.conv_du(self.avg_pool(feats.sum(dim=1)))
        attention = torch.stack([fc(feats_z) for fc in self.fcs], dim=1)  # [B, k, C, 1, 1]
        attention = self.softmax(attention)
        return (feats * attention).sum(dim=1)
