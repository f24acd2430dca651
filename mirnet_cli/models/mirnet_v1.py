"""MIRNet (ECCV 2020): "Learning Enriched Features for Real Image Restoration and Enhancement".

Zamir, Arora, Khan, Hayat, Khan, Yang, Shao. https://arxiv.org/abs/2003.06792 ·
reference code: github.com/swz30/MIRNet (networks/MIRNet_model.py, commit 6934e83).

Written from the paper and from the facts in ``shared/docs/architecture-facts.md`` §1. The module tree, the
state-dict key names and the tensor shapes equal the authors', so their checkpoints load with ``strict=True``.
Two quirks of the reference are kept on purpose because they are visible in its state dicts:

* the ``width`` DAU columns of one scale are *one* module (``blocks.s.1`` duplicates ``blocks.s.0``);
* one PReLU slope is shared by every DAU of the network (a default-argument ``nn.PReLU()`` in the reference;
  here one instance per model, which is what a single-model process computes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .common import SKFF, key_indices, merge_declared, tensor_shape
from .facts import GlobalOp, ModelFacts


class AntiAliasDownsample(nn.Module):
    """Blur-then-subsample by 2 (Zhang, "Making CNNs shift-invariant again", ICML 2019).

    Reflection pad by 1, then a depthwise 3×3 conv with stride 2 using the persistent buffer ``filt``
    ([C,1,3,3], initialised to the binomial kernel [1,2,1]⊗[1,2,1]/16). The buffer is part of the state dict,
    and loaded values are used as they are.
    """

    def __init__(self, channels: int):
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        filt = a[:, None] * a[None, :]
        filt = filt / filt.sum()
        self.register_buffer("filt", filt[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


class SpatialAttention(nn.Module):
    """x · σ(conv5×5([max_c x, mean_c x])). Key: ``spatial.conv.weight``."""

    def __init__(self, kernel_size: int = 5):
        super().__init__()
        self.spatial = nn.Module()
        self.spatial.conv = nn.Conv2d(2, 1, kernel_size, stride=1, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial.conv(pooled))


class ChannelAttention(nn.Module):
    """x · σ(W₂ ReLU(W₁ GAP(x))) with a reduction of 8. Keys: ``conv_du.0``, ``conv_du.2``."""

    def __init__(self, channels: int, reduction: int = 8, bias: bool = False):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1, padding=0, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // reduction, channels, 1, padding=0, bias=bias),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(self.avg_pool(x))


class DAU(nn.Module):
    """Dual Attention Unit: body (conv, PReLU, conv), then [SA ‖ CA] → 1×1 conv, plus the input."""

    def __init__(self, n_feat: int, act: nn.Module, kernel_size: int = 3, reduction: int = 8, bias: bool = False):
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(
            nn.Conv2d(n_feat, n_feat, kernel_size, padding=pad, bias=bias),
            act,
            nn.Conv2d(n_feat, n_feat, kernel_size, padding=pad, bias=bias),
        )
        self.SA = SpatialAttention()
        self.CA = ChannelAttention(n_feat, reduction, bias=bias)
        self.conv1x1 = nn.Conv2d(n_feat * 2, n_feat, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.body(x)
        res = self.conv1x1(torch.cat([self.SA(res), self.CA(res)], dim=1))
        return res + x


class ResidualDownSample(nn.Module):
    """Halve the resolution and double the channels: top (1×1, PReLU, 3×3, PReLU, blur-down, 1×1) + bot."""

    def __init__(self, in_channels: int, bias: bool = False):
        super().__init__()
        c = in_channels
        self.top = nn.Sequential(
            nn.Conv2d(c, c, 1, stride=1, padding=0, bias=bias),
            nn.PReLU(),
            nn.Conv2d(c, c, 3, stride=1, padding=1, bias=bias),
            nn.PReLU(),
            AntiAliasDownsample(c),
            nn.Conv2d(c, c * 2, 1, stride=1, padding=0, bias=bias),
        )
        self.bot = nn.Sequential(AntiAliasDownsample(c), nn.Conv2d(c, c * 2, 1, stride=1, padding=0, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(x) + self.bot(x)


class ResidualUpSample(nn.Module):
    """Double the resolution and halve the channels: top (1×1, PReLU, deconv, PReLU, 1×1) + bot (bilinear, 1×1)."""

    def __init__(self, in_channels: int, bias: bool = False):
        super().__init__()
        c = in_channels
        self.top = nn.Sequential(
            nn.Conv2d(c, c, 1, stride=1, padding=0, bias=bias),
            nn.PReLU(),
            nn.ConvTranspose2d(c, c, 3, stride=2, padding=1, output_padding=1, bias=bias),
            nn.PReLU(),
            nn.Conv2d(c, c // 2, 1, stride=1, padding=0, bias=bias),
        )
        self.bot = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(c, c // 2, 1, stride=1, padding=0, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(x) + self.bot(x)


class _Resample(nn.Module):
    """A chain of log2(factor) residual resampling blocks under ``body``."""

    def __init__(self, block: type[nn.Module], in_channels: int, factor: int, stride: int, grow: bool):
        super().__init__()
        blocks = []
        for _ in range(int(math.log2(factor))):
            blocks.append(block(in_channels))
            in_channels = int(in_channels * stride) if grow else int(in_channels // stride)
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class MSRB(nn.Module):
    """Multi-Scale Residual Block: ``height`` parallel scales, ``width`` DAU columns, SKFF exchange between
    scales after every column, then all scales brought back to full resolution and fused."""

    def __init__(self, n_feat: int, height: int, width: int, stride: int, bias: bool, dau_act: nn.Module):
        super().__init__()
        self.n_feat, self.height, self.width = n_feat, height, width
        # One DAU per scale repeated over the columns: the reference shares the module (same keys, same tensors).
        self.blocks = nn.ModuleList(
            [nn.ModuleList([DAU(int(n_feat * stride**i), act=dau_act)] * width) for i in range(height)]
        )
        feats = [int((stride**i) * n_feat) for i in range(height)]
        scales = [2**i for i in range(1, height)]
        self.last_up = nn.ModuleDict(
            {f"{i}": _Resample(ResidualUpSample, int(n_feat * stride**i), 2**i, stride, grow=False) for i in range(1, height)}
        )
        scales.reverse()
        self.down = nn.ModuleDict()
        for i, feat in enumerate(feats):
            for scale in scales[i:]:
                self.down[f"{feat}_{scale}"] = _Resample(ResidualDownSample, feat, scale, stride, grow=True)
        self.up = nn.ModuleDict()
        for i, feat in enumerate(reversed(feats)):
            for scale in scales[i:]:
                self.up[f"{feat}_{scale}"] = _Resample(ResidualUpSample, feat, scale, stride, grow=False)
        self.conv_out = nn.Conv2d(n_feat, n_feat, kernel_size=3, padding=1, bias=bias)
        self.selective_kernel = nn.ModuleList(
            [SKFF(int(n_feat * stride**i), height, act=nn.PReLU()) for i in range(height)]
        )

    def _resize(self, t: torch.Tensor, j: int, k: int) -> torch.Tensor:
        """Bring scale k's features to scale j."""
        if j == k:
            return t
        diff = 2 ** abs(j - k)
        return self.up[f"{t.size(1)}_{diff}"](t) if j < k else self.down[f"{t.size(1)}_{diff}"](t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        inp = x
        for j in range(self.height):
            inp = self.blocks[j][0](inp if j == 0 else self.down[f"{inp.size(1)}_2"](inp))
            outs.append(inp)
        for i in range(1, self.width):
            fused = [
                self.selective_kernel[j]([self._resize(outs[k], j, k) for k in range(self.height)])
                for j in range(self.height)
            ]
            outs = [self.blocks[j][i](fused[j]) for j in range(self.height)]
        full = [outs[k] if k == 0 else self.last_up[f"{k}"](outs[k]) for k in range(self.height)]
        out = self.selective_kernel[0](full)  # reused on purpose, as in the reference
        return self.conv_out(out) + x


class RRG(nn.Module):
    """Recursive Residual Group: ``n_MSRB`` MSRBs and a 3×3 conv, plus the group input."""

    def __init__(self, n_feat: int, n_MSRB: int, height: int, width: int, stride: int, bias: bool, dau_act: nn.Module):
        super().__init__()
        blocks: list[nn.Module] = [MSRB(n_feat, height, width, stride, bias, dau_act) for _ in range(n_MSRB)]
        blocks.append(nn.Conv2d(n_feat, n_feat, 3, padding=1, bias=False))
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


#: Peak fp32 activation memory of a whole-image forward pass per input pixel and per unit of ``n_feat``: the
#: slope of peak RSS between 256² and 512² was 1,100 B/px at n_feat 16 (CPU, channels-last, inference), rounded
#: up; about 4,500 B/px at the default width 64.
ACTIVATION_BYTES_PER_PIXEL_PER_FEAT = 70.0

GLOBAL_OPS = (
    GlobalOp(SKFF, consumer="conv_du"),
    GlobalOp(ChannelAttention, consumer="conv_du"),
)

#: What the engine may assume (see :class:`~mirnet_cli.models.facts.ModelFacts`). Global operations: every
#: SKFF's average pool and every DAU's channel attention.
#: bf16 stays close to fp32: the bundled models' bf16 outputs were 52.5-58.2 dB from fp32 on real photos.
FACTS = ModelFacts(
    architecture="mirnet", size_multiple=4, supports_fp16=True, supports_bf16=True, global_ops=GLOBAL_OPS,
    progress_blocks=(MSRB,), channels_last=True,
)


class MIRNet(nn.Module):
    """MIRNet v1. ``out = conv_out(body(conv_in(x))) + x`` (global residual, so in_channels == out_channels).

    Args use the authors' names and defaults; every released v1 checkpoint is ``MIRNet()`` (31.8 M params).
    Input: RGB in [0,1], [B,3,H,W] with H and W multiples of 4 (pad first). Output: same shape, unclamped.
    """

    architecture = "mirnet"

    @property
    def facts(self) -> ModelFacts:
        """The engine's contract (:data:`FACTS`, with the activation memory of this width)."""
        return replace(FACTS, activation_bytes_per_pixel=ACTIVATION_BYTES_PER_PIXEL_PER_FEAT * self.config["n_feat"])

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        n_feat: int = 64,
        kernel_size: int = 3,
        stride: int = 2,
        n_RRG: int = 3,
        n_MSRB: int = 2,
        height: int = 3,
        width: int = 2,
        bias: bool = False,
    ):
        super().__init__()
        if in_channels != out_channels:
            raise ValueError("MIRNet v1 adds its input to the output, so in_channels must equal out_channels")
        self.config = dict(
            in_channels=in_channels, out_channels=out_channels, n_feat=n_feat, kernel_size=kernel_size,
            stride=stride, n_RRG=n_RRG, n_MSRB=n_MSRB, height=height, width=width, bias=bias,
        )
        self.in_channels, self.out_channels = in_channels, out_channels
        pad = (kernel_size - 1) // 2
        dau_act = nn.PReLU()  # one slope shared by every DAU (see module docstring)
        self.conv_in = nn.Conv2d(in_channels, n_feat, kernel_size, padding=pad, bias=bias)
        self.body = nn.Sequential(*[RRG(n_feat, n_MSRB, height, width, stride, bias, dau_act) for _ in range(n_RRG)])
        self.conv_out = nn.Conv2d(n_feat, out_channels, kernel_size, padding=pad, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.body(self.conv_in(x))) + x


# --------------------------------------------------------------------------- recognising a MIRNet state dict
#: Bounds on every constructor argument accepted from a checkpoint (the released networks: 64 features, 3 RRGs of
#: 2 MSRBs, 3 scales, 2 DAU columns, stride 2, 3×3 kernels).
CONFIG_BOUNDS: dict[str, tuple[Any, ...]] = {
    "in_channels": (1, 16), "out_channels": (1, 16), "n_feat": (8, 512), "kernel_size": (1, 11),
    "stride": (1, 4), "n_RRG": (1, 16), "n_MSRB": (1, 16), "height": (1, 5), "width": (1, 8), "bias": (bool,),
}


def matches_state_dict(state: Mapping[str, Any]) -> bool:
    """Whether the keys are MIRNet's: ``conv_in`` and the first DAU of the first MSRB of the first RRG."""
    return "conv_in.weight" in state and "body.0.body.0.blocks.0.0.body.0.weight" in state


def config_from_state_dict(state: Mapping[str, Any], declared: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``MIRNet(**config)`` arguments of a state dict, read from its keys and tensor shapes.

    * ``n_feat``, ``in_channels``, ``kernel_size`` from ``conv_in.weight`` [n_feat, in, k, k]; ``out_channels``
      from ``conv_out.weight``; ``bias`` = whether ``conv_in.bias`` exists;
    * ``n_RRG``, ``n_MSRB``, ``height`` (scales) and ``width`` (DAU columns) by counting blocks;
    * ``stride`` = the width of the second scale over ``n_feat`` (with one scale it is not visible: the declared
      value, else 2).

    ``declared`` (``config.json``, metadata, the registry) may only repeat what the tensors say. Returns the config,
    every argument within :data:`CONFIG_BOUNDS`; raises ``ValueError`` for keys that are not MIRNet's, a declared
    value the tensors contradict, or a value out of bounds.
    """
    if not matches_state_dict(state):
        raise ValueError("not a MIRNet state dict (no conv_in / body.0.body.0.blocks keys)")
    n_feat, in_channels, kernel_size, kernel_w = tensor_shape(state, "conv_in.weight", 4)
    if kernel_size != kernel_w or kernel_size % 2 == 0:
        raise ValueError(f"conv_in.weight has a {kernel_size}×{kernel_w} kernel; MIRNet uses odd square kernels")
    out_channels = tensor_shape(state, "conv_out.weight", 4)[0]
    height = len(key_indices(state, r"body\.0\.body\.0\.blocks\.(\d+)\.0\.body\.0\.weight"))
    derived: dict[str, Any] = dict(
        in_channels=in_channels, out_channels=out_channels, n_feat=n_feat, kernel_size=kernel_size,
        n_RRG=len(key_indices(state, r"body\.(\d+)\.")),
        n_MSRB=len(key_indices(state, r"body\.0\.body\.(\d+)\.blocks\.")), height=height,
        width=len(key_indices(state, r"body\.0\.body\.0\.blocks\.0\.(\d+)\.body\.0\.weight")),
        bias="conv_in.bias" in state,
    )
    free: dict[str, Any] = {}
    if height > 1:
        second = tensor_shape(state, "body.0.body.0.blocks.1.0.body.0.weight", 4)[0]
        if second % n_feat:
            raise ValueError(f"the second scale has {second} channels, not a multiple of n_feat={n_feat}")
        derived["stride"] = second // n_feat
    else:
        free["stride"] = 2
    return merge_declared(derived, declared, free, CONFIG_BOUNDS)
