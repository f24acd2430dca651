"""MIRNet-v2 (TPAMI 2022): "Learning Enriched Features for Fast Image Restoration and Enhancement".

Zamir, Arora, Khan, Hayat, Khan, Yang, Shao. https://arxiv.org/abs/2205.01649 ·
reference code: github.com/swz30/MIRNetv2 (basicsr/models/archs/mirnet_v2_arch.py, commit 9014049).

Written from the paper and ``shared/docs/architecture-facts.md`` §2: key names and shapes equal the authors', so
their ``{'params': …}`` checkpoints load with ``strict=True``. As in the reference, ``n_RRG``, ``height``,
``width`` and ``scale`` are accepted but ignored: there are always 4 RRGs (RCB groups 1, 2, 4, 4), 3 scales, two
fusion passes per MRB and no upsampler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .common import (
    SKFF,
    VectorConv,
    check_config,
    key_indices,
    merge_declared,
    pixel_rows,
    row_factor,
    rows_to_map,
    tensor_shape,
    use_reference,
    vector_rows,
)
from .facts import GlobalOp, ModelFacts


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2)


class ContextBlock(nn.Module):
    """Global context (GCNet): attention-pooled context, transformed, broadcast-added.

    .. math::
        c = \\sum_{p} \\mathrm{softmax}_p(W_m x)_p\\, x_p,\\qquad y = x + W_2\\,\\mathrm{lrelu}(W_1 c)
    """

    def __init__(self, n_feat: int, bias: bool = False):
        super().__init__()
        self.conv_mask = nn.Conv2d(n_feat, 1, kernel_size=1, bias=bias)
        self.softmax = nn.Softmax(dim=2)
        self.channel_add_conv = nn.Sequential(
            VectorConv(n_feat, n_feat, kernel_size=1, bias=bias),
            _lrelu(),
            VectorConv(n_feat, n_feat, kernel_size=1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if use_reference():
            return self._forward_reference(x)
        # The context vector reaches the rest of the block only through self.channel_add_conv: the engine's
        # global-context hooks (engine/global_context.py) replace it there for tiles.
        add = self.channel_add_conv(attention_pool(x, self.conv_mask.weight, self.conv_mask.bias))
        k = row_factor(x.shape[1], x.shape[2] * x.shape[3])
        rows = pixel_rows(x, k)
        if rows is None or torch.is_grad_enabled():
            return x + add.to(x.dtype)
        return rows_to_map(rows + vector_rows(add.to(x.dtype), k), x)

    def _forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        mask = self.softmax(self.conv_mask(x).view(b, 1, h * w))  # [B,1,HW]
        context = torch.matmul(x.view(b, 1, c, h * w), mask.unsqueeze(3)).view(b, c, 1, 1)
        return x + self.channel_add_conv(context)


def _softmax_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


#: bf16 with at most 32 channels: the context's weighted sum as a blocked product (see :func:`_blocked_context`).
BLOCKED_CONTEXT = True


def _blocked_context(attn: torch.Tensor, pixels: torch.Tensor, k: int) -> torch.Tensor:
    """``attn^T @ pixels`` ([B, HW, 1], [B, HW, C] -> [B, 1, C]) as ``[k, HW/k] @ [HW/k, k·C]`` and the sum of
    the k diagonal blocks: k times the multiply-adds, but a product oneDNN runs well in bf16. At C = 16 and 256²
    the bf16 ``[1, 65536] @ [65536, 16]`` took 34 ms of a 310 ms bundled-model forward (one thread, AMX).
    """
    b, hw, c = pixels.shape
    blocks = attn.reshape(b, hw // k, k).transpose(1, 2) @ pixels.reshape(b, hw // k, k * c)  # [B, k, k·C]
    return blocks.view(b, k, k, c).diagonal(dim1=1, dim2=2).sum(-1).unsqueeze(1)


def attention_pool(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """GCNet's attention pooling ``c = sum_p softmax_p(w . x_p + b) x_p`` as two matrix products.

    Args:
        x: [B, C, H, W] in either memory layout (channels-last is read without a copy).
        weight: the 1×1 conv C → 1 weight, [1, C, 1, 1]; bias: [1] or None.

    Returns:
        [B, C, 1, 1]. The softmax runs in at least float32 (a normalisation over millions of pixels).
    """
    b, c, h, w = x.shape
    wvec = weight.reshape(c, 1).to(x.dtype)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        pixels = x.permute(0, 2, 3, 1).reshape(b, h * w, c)  # a view: [B, HW, C]
        logits = pixels @ wvec  # [B, HW, 1]
        if bias is not None:
            logits = logits + bias.to(x.dtype)
        attn = torch.softmax(logits, dim=1, dtype=_softmax_dtype(x.dtype)).to(x.dtype)
        k = row_factor(c, h * w) if x.dtype == torch.bfloat16 and BLOCKED_CONTEXT else 1
        if k >= 8:
            context = _blocked_context(attn, pixels, k)
        else:
            context = attn.transpose(1, 2) @ pixels  # [B, 1, C]
    else:
        pixels = x.reshape(b, c, h * w)
        logits = wvec.t() @ pixels  # [B, 1, HW]
        if bias is not None:
            logits = logits + bias.to(x.dtype)
        attn = torch.softmax(logits, dim=2, dtype=_softmax_dtype(x.dtype)).to(x.dtype)
        context = pixels @ attn.transpose(1, 2)  # [B, C, 1]
    return context.reshape(b, c, 1, 1)


class RCB(nn.Module):
    """Residual Contextual Block: grouped conv, LReLU, grouped conv, context block, LReLU, plus the input."""

    def __init__(self, n_feat: int, bias: bool = False, groups: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feat, n_feat, 3, stride=1, padding=1, bias=bias, groups=groups),
            _lrelu(),
            nn.Conv2d(n_feat, n_feat, 3, stride=1, padding=1, bias=bias, groups=groups),
        )
        self.act = _lrelu()
        self.gcnet = ContextBlock(n_feat, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if use_reference():
            return self.act(self.gcnet(self.body(x))) + x
        conv1, act1, conv2 = self.body
        # In-place activations on fresh conv outputs are safe under autograd too (a conv's backward does not
        # need its output); the residual add is in place only when no graph is being recorded.
        y = conv2(F.leaky_relu(conv1(x), act1.negative_slope, inplace=True))
        y = F.leaky_relu(self.gcnet(y), self.act.negative_slope, inplace=True)
        return y + x if torch.is_grad_enabled() else y.add_(x)


class _Down(nn.Module):
    """AvgPool 2×2 (ceil mode) then a bias-free 1×1 conv C → int(C·f). Keys: ``bot.1.weight``."""

    def __init__(self, in_channels: int, chan_factor: float):
        super().__init__()
        self.bot = nn.Sequential(
            nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
            nn.Conv2d(in_channels, int(in_channels * chan_factor), 1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bot(x)


class _Up(nn.Module):
    """A bias-free 1×1 conv C → int(C // f) *first*, then bilinear ×2. Keys: ``bot.0.weight``."""

    def __init__(self, in_channels: int, chan_factor: float):
        super().__init__()
        self.bot = nn.Sequential(
            nn.Conv2d(in_channels, int(in_channels // chan_factor), 1, stride=1, padding=0, bias=False),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bot(x)


class _Resample(nn.Module):
    """One resampling step by 2 under ``body.0`` (the reference's DownSample/UpSample with scale 2)."""

    def __init__(self, step: nn.Module):
        super().__init__()
        self.body = nn.Sequential(step)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class MRB(nn.Module):
    """Multi-scale Residual Block: three scales (C, C·f, C·f²), two rounds of RCB + SKFF exchange.

    Each RCB and SKFF is applied twice with the same weights, as in the reference.
    """

    def __init__(self, n_feat: int, chan_factor: float, bias: bool, groups: int):
        super().__init__()
        c0, c1, c2 = (int(n_feat * chan_factor**i) for i in range(3))
        self.dau_top = RCB(c0, bias=bias, groups=groups)
        self.dau_mid = RCB(c1, bias=bias, groups=groups)
        self.dau_bot = RCB(c2, bias=bias, groups=groups)
        self.down2 = _Resample(_Down(c0, chan_factor))
        self.down4 = nn.Sequential(_Resample(_Down(c0, chan_factor)), _Resample(_Down(c1, chan_factor)))
        self.up21_1 = _Resample(_Up(c1, chan_factor))
        self.up21_2 = _Resample(_Up(c1, chan_factor))
        self.up32_1 = _Resample(_Up(c2, chan_factor))
        self.up32_2 = _Resample(_Up(c2, chan_factor))
        self.conv_out = nn.Conv2d(n_feat, n_feat, kernel_size=1, padding=0, bias=bias)
        self.skff_top = SKFF(c0, 2, act=_lrelu())
        self.skff_mid = SKFF(c1, 2, act=_lrelu())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if use_reference():
            top, mid, bot = x, self.down2(x), self.down4(x)
        else:
            # down2 and down4 both begin with the same 2×2 average pool of x: pool once.
            pool, to_mid = self.down2.body[0].bot
            pooled = pool(x)
            top, mid, bot = x, to_mid(pooled), self.down4[1](self.down4[0].body[0].bot[1](pooled))
        top, mid, bot = self.dau_top(top), self.dau_mid(mid), self.dau_bot(bot)
        mid = self.skff_mid([mid, self.up32_1(bot)])
        top = self.skff_top([top, self.up21_1(mid)])
        top, mid, bot = self.dau_top(top), self.dau_mid(mid), self.dau_bot(bot)
        mid = self.skff_mid([mid, self.up32_2(bot)])
        top = self.skff_top([top, self.up21_2(mid)])
        if use_reference():
            return self.conv_out(top) + x
        return self.conv_out(top).add_(x)  # in place on the conv's fresh output: fine under autograd too


class RRG(nn.Module):
    """Recursive Residual Group: ``n_MRB`` MRBs and a 3×3 conv, plus the group input."""

    def __init__(self, n_feat: int, n_MRB: int, chan_factor: float, bias: bool, groups: int):
        super().__init__()
        blocks: list[nn.Module] = [MRB(n_feat, chan_factor, bias, groups) for _ in range(n_MRB)]
        blocks.append(nn.Conv2d(n_feat, n_feat, kernel_size=3, stride=1, padding=1, bias=bias))
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if use_reference():
            return self.body(x) + x
        return self.body(x).add_(x)  # the body ends with a conv, whose fresh output may be updated in place


#: Peak fp32 activation memory of a whole-image forward pass per input pixel and per unit of ``n_feat``: the
#: slope of peak RSS between 256² and 512² (fast formulation, channels-last, inference mode, CPU) was 4,190 B/px
#: at n_feat 80 and 890 B/px at n_feat 16, rounded up.
ACTIVATION_BYTES_PER_PIXEL_PER_FEAT = 55.0

GLOBAL_OPS = (
    GlobalOp(SKFF, consumer="conv_du"),
    GlobalOp(ContextBlock, consumer="channel_add_conv"),
)

#: What the engine may assume (see :class:`~mirnet_cli.models.facts.ModelFacts`). Global operations: every
#: SKFF's average pool and every RCB's GCNet context block.
#: bf16 stays close to fp32: 53.6-65.6 dB from fp32 on real photos for every bundled model and the golden
#: MIRNet / MIRNet-v2 networks (scripts/bf16_quality.py; README).
FACTS = ModelFacts(
    architecture="mirnet_v2", size_multiple=4, supports_fp16=True, supports_bf16=True, global_ops=GLOBAL_OPS,
    progress_blocks=(MRB,), channels_last=True,
)


class MIRNetV2(nn.Module):
    """MIRNet-v2.

    * default: ``out = conv_out(body(f)) + x`` with ``f = conv_in(x)`` (image-space global residual);
    * ``task='defocus_deblurring'`` (6 input channels, left view first): ``out = conv_out(body(f) + f)``
      (feature-space residual; the input is not added).

    Input: RGB in [0,1] (or L‖R for dual pixel), H and W multiples of 4. Output: [B,out_channels,H,W], unclamped.
    """

    architecture = "mirnet_v2"

    @property
    def facts(self) -> ModelFacts:
        """The engine's contract (:data:`FACTS`, with the activation memory of this width)."""
        return replace(FACTS, activation_bytes_per_pixel=ACTIVATION_BYTES_PER_PIXEL_PER_FEAT * self.config["n_feat"])

    def __init__(
        self,
        inp_channels: int = 3,
        out_channels: int = 3,
        n_feat: int = 80,
        chan_factor: float = 1.5,
        n_RRG: int = 4,
        n_MRB: int = 2,
        height: int = 3,
        width: int = 2,
        scale: int = 1,
        bias: bool = False,
        task: str | None = None,
    ):
        super().__init__()
        self.config = dict(
            inp_channels=inp_channels, out_channels=out_channels, n_feat=n_feat, chan_factor=chan_factor,
            n_RRG=n_RRG, n_MRB=n_MRB, height=height, width=width, scale=scale, bias=bias, task=task,
        )
        self.in_channels, self.out_channels = inp_channels, out_channels
        self.task = task
        self.feature_residual = task == "defocus_deblurring"
        if not self.feature_residual and inp_channels != out_channels:
            raise ValueError("MIRNet-v2 adds its input to the output unless task='defocus_deblurring'")
        widths = [int(n_feat * chan_factor**i) for i in range(3)]
        if any(c % 4 for c in widths):
            raise ValueError(
                f"n_feat={n_feat}, chan_factor={chan_factor} gives scale widths {widths}; the grouped convs "
                "(groups 1, 2, 4, 4) need every width to be a multiple of 4 (with chan_factor 1.5: n_feat a multiple of 16, e.g. 16, 32, 48, 64, 80)"
            )
        self.conv_in = nn.Conv2d(inp_channels, n_feat, kernel_size=3, padding=1, bias=bias)
        self.body = nn.Sequential(*[RRG(n_feat, n_MRB, chan_factor, bias, groups=g) for g in (1, 2, 4, 4)])
        self.conv_out = nn.Conv2d(n_feat, out_channels, kernel_size=3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.conv_in(x)
        deep = self.body(f)
        if self.feature_residual:
            return self.conv_out(deep + f)
        if use_reference():
            return self.conv_out(deep) + x
        return self.conv_out(deep).add_(x)


# --------------------------------------------------------------------------- recognising a MIRNet-v2 state dict
#: Bounds on every constructor argument accepted from a checkpoint (the authors' networks: 80 features, factor
#: 1.5, 2 MRBs; 3 or 6 input channels). ``n_RRG``, ``height``, ``width`` and ``scale`` are ignored by the network.
CONFIG_BOUNDS: dict[str, tuple[Any, ...]] = {
    "inp_channels": (1, 16), "out_channels": (1, 16), "n_feat": (4, 512), "chan_factor": (1.0, 4.0),
    "n_RRG": (1, 16), "n_MRB": (1, 16), "height": (1, 8), "width": (1, 8), "scale": (1, 8), "bias": (bool,),
    "task": (None, "defocus_deblurring"),
}


def matches_state_dict(state: Mapping[str, Any]) -> bool:
    """Whether the keys are MIRNet-v2's: ``conv_in`` and an RCB ``dau_top`` in the first MRB of the first group."""
    return "conv_in.weight" in state and "body.0.body.0.dau_top.body.0.weight" in state


def config_from_state_dict(state: Mapping[str, Any], declared: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``MIRNetV2(**config)`` arguments of a state dict, read from its keys and tensor shapes.

    * ``n_feat`` = rows of ``conv_in.weight`` [n_feat, inp_channels, 3, 3]; ``out_channels`` = rows of
      ``conv_out.weight``; ``bias`` = whether ``conv_in.bias`` exists;
    * ``chan_factor`` f from the widths of the middle and bottom scales, ``int(n·f)`` and ``int(n·f²)``;
    * ``n_MRB`` = the number of MRBs in the first group (there must be 4 groups);
    * ``task`` (not visible in the shapes): the declared value, else ``defocus_deblurring`` when the input and
      output channels differ; ``n_RRG``, ``height``, ``width``, ``scale``: the declared values, else the defaults.

    Args:
        state: the state dict (only keys and shapes are read).
        declared: a config from ``config.json``, safetensors metadata or the registry; it may only repeat what
            the tensors say.

    Returns:
        The config, every argument within :data:`CONFIG_BOUNDS`.

    Raises:
        ValueError: not MIRNet-v2 keys, a declared value the tensors contradict, or a value out of bounds.
    """
    if not matches_state_dict(state):
        raise ValueError("not a MIRNet-v2 state dict (no conv_in / body.0.body.0.dau_top keys)")
    n_feat, inp_channels, _, _ = tensor_shape(state, "conv_in.weight", 4)
    out_channels = tensor_shape(state, "conv_out.weight", 4)[0]
    c1 = tensor_shape(state, "body.0.body.0.dau_mid.body.0.weight", 4)[0]
    c2 = tensor_shape(state, "body.0.body.0.dau_bot.body.0.weight", 4)[0]
    groups = key_indices(state, r"body\.(\d+)\.")
    if groups != [0, 1, 2, 3]:
        raise ValueError(f"MIRNet-v2 always has 4 residual groups; these weights have {len(groups)}")
    check_config({"n_feat": n_feat}, CONFIG_BOUNDS)  # before any arithmetic on it
    wanted = (declared or {}).get("chan_factor")
    chan_factor = _chan_factor(n_feat, c1, c2, wanted)
    derived = dict(inp_channels=inp_channels, out_channels=out_channels, n_feat=n_feat, chan_factor=chan_factor,
                   n_MRB=len(key_indices(state, r"body\.0\.body\.(\d+)\.dau_top\.")), bias="conv_in.bias" in state)
    free = dict(n_RRG=4, height=3, width=2, scale=1,
                task="defocus_deblurring" if inp_channels != out_channels else None)
    return merge_declared(derived, declared, free, CONFIG_BOUNDS)


def _chan_factor(n_feat: int, c1: int, c2: int, wanted: Any = None) -> float:
    """The factor f with ``int(n·f) == c1`` and ``int(n·f²) == c2`` (the reference computes widths that way);
    ``wanted`` (a declared value) when it gives those widths."""
    candidates = [round(c1 / n_feat, 4), round(c1 / n_feat, 2), round(c1 / n_feat, 1), c1 / n_feat]
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        candidates.insert(0, wanted)
    for cand in candidates:
        if 0 < cand <= 16 and int(n_feat * cand) == c1 and int(n_feat * cand**2) == c2:
            return cand
    raise ValueError(f"no chan_factor gives the scale widths {n_feat}, {c1}, {c2} of these weights")
