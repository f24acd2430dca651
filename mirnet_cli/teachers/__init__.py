"""Teachers for knowledge distillation (``mirnet train --teacher SOURCE``).

A teacher is any network whose outputs a compact student learns to reproduce: any checkpoint
:func:`~mirnet_cli.loading.checkpoint.load_model` accepts (MIRNet, MIRNet-v2: the authors' 5.9 M-parameter
checkpoints make a student many times faster), or one of the foreign architectures below, recognised by their
published keys:

========  ==========================================  ===============================================
name      published file (keys and shapes)            task
========  ==========================================  ===============================================
iat       IAT ``best_Epoch_lol_v1.pth`` (Apache-2.0)   low light (:mod:`.iat`)
ffdnet    KAIR ``ffdnet_color.pth`` (MIT)              denoise, with a noise level σ (:mod:`.kair`)
dncnn     KAIR ``dncnn_color_blind.pth`` (MIT)         denoise, blind (:mod:`.kair`)
========  ==========================================  ===============================================

Teachers are data, like every checkpoint: read with ``weights_only=True`` (or safetensors), every tensor a finite
float (BatchNorm's integer batch counters are dropped, they are statistics of training, not weights), keys and
shapes compared with the architecture before loading, strictly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError

# name → (matches(state), build(state), description)
FOREIGN: dict[str, tuple[Callable[[Mapping[str, Any]], bool], Callable[[Mapping[str, Any]], nn.Module], str]] = {}


def _register() -> None:
    from . import iat, kair

    FOREIGN["iat"] = (iat.matches_state_dict, iat.build_from_state_dict, "IAT (low light)")
    FOREIGN["ffdnet"] = (kair.matches_ffdnet, kair.build_ffdnet, "FFDNet colour (denoise, noise level σ)")
    FOREIGN["dncnn"] = (kair.matches_dncnn, kair.build_dncnn, "DnCNN colour blind (denoise)")


_register()


class Teacher(nn.Module):
    """A loaded teacher: ``forward(x)`` maps RGB ``[N, 3, H, W]`` in [0, 1] to its output in [0, 1].

    Attributes:
        architecture: ``mirnet``, ``mirnet_v2``, ``iat``, ``ffdnet`` or ``dncnn``.
        provenance: ``{"source", "sha256", "architecture", "parameters"}`` (plus ``sigma`` for FFDNet), recorded
            in the student's training config and export.
    """

    def __init__(self, net: nn.Module, architecture: str, provenance: dict[str, Any], size_multiple: int = 1):
        super().__init__()
        self.net = net.eval()
        self.architecture = architecture
        self.provenance = provenance
        self.size_multiple = size_multiple
        for p in self.net.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # IAT's 1e-4 layer scales make subnormal floats, which x86 CPUs compute ~100× slower: flushing them to
        # zero made IAT 6× faster on a 600×400 photo (16 s → 2.5 s, one thread) and changes nothing visible.
        torch.set_flush_denormal(True)
        h, w = x.shape[-2:]
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:  # reflect needs the pad smaller than the side; replicate always works
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
        return self.net(x)[..., :h, :w].clamp(0.0, 1.0)


def load_teacher(source: str | Path, *, sigma: float | None = None) -> Teacher:
    """Load a distillation teacher from ``source`` (a file, an export folder, a registry name, ``hf://``, URL).

    Args:
        source: where the weights are.
        sigma: FFDNet's noise level in 8-bit units (default 25); refused for other architectures.

    Raises:
        CheckpointError: one line naming the source and the reason (unsafe pickle, not a known network, keys or
            shapes that do not match, non-finite weights, ``sigma`` for a network that takes none).
    """
    from ..loading.checkpoint import (
        check_weights,
        load_checkpoint_path,
        load_state_dict_strict,
        read_checkpoint,
        resolve_source,
    )
    from ..loading.sources import sha256_file
    from ..models import mirnet_v1, mirnet_v2

    # Recipes name teachers as $MIRNET_TRAIN_DATA/teachers/…: expand variables like every training data path.
    path, hint = resolve_source(os.path.expandvars(str(source)))
    file = path / "model.safetensors" if path.is_dir() else path
    provenance: dict[str, Any] = {"source": str(source), "sha256": sha256_file(file) if file.is_file() else None}
    state: dict[str, torch.Tensor] = {}
    if path.is_file():
        state, _ = read_checkpoint(path)
    if path.is_dir() or mirnet_v2.matches_state_dict(state) or mirnet_v1.matches_state_dict(state):
        if sigma is not None:
            raise CheckpointError(f"{source}: teacher_sigma is for FFDNet teachers; this is a MIRNet checkpoint")
        model = load_checkpoint_path(path, config_hint=hint)
        provenance.update(architecture=model.architecture, parameters=sum(p.numel() for p in model.parameters()))
        return Teacher(model, model.architecture, provenance, size_multiple=model.facts.size_multiple)
    # BatchNorm's batch counters are integers by nature: the only non-float tensors a teacher may carry.
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    name = next((n for n, (matches, _, _) in FOREIGN.items() if matches(state)), None)
    if name is None:
        sample = ", ".join(list(state)[:3])
        known = ", ".join(["MIRNet", "MIRNet-v2", *(d for _, _, d in FOREIGN.values())])
        raise CheckpointError(f"{source}: not a teacher mirnet knows ({known}); first keys: {sample}")
    build = FOREIGN[name][1]
    check_weights(state, source)
    if sigma is not None and name != "ffdnet":
        raise CheckpointError(f"{source}: teacher_sigma is for FFDNet teachers; this is {name}")
    net = build(state)
    counters = {k: v for k, v in net.state_dict().items() if k.endswith("num_batches_tracked")}
    load_state_dict_strict(net, {**counters, **state}, source)
    if name == "ffdnet":
        net.sigma = 25.0 if sigma is None else float(sigma)
        if not 0 < net.sigma <= 255:
            raise CheckpointError(f"{source}: teacher_sigma must be in (0, 255], got {sigma}")
        provenance["sigma"] = net.sigma
    provenance.update(architecture=name, parameters=sum(p.numel() for p in net.parameters()))
    return Teacher(net, name, provenance)


__all__ = ["FOREIGN", "Teacher", "load_teacher"]
