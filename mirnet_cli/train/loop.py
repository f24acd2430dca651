"""The training loop: single process or DDP (``torchrun``), resumable, atomic checkpoints, exported result.

Files under ``OUT/``:

* ``checkpoints/iter_XXXXXXXX.pt`` (the last ``keep_last``) and ``checkpoints/best.pt`` — model, optimiser,
  AMP scaler, iteration and RNG states; readable with ``torch.load(weights_only=True)``;
* ``log.jsonl`` and ``log.csv`` — one row per logged iteration and per validation;
* ``model.safetensors`` + ``config.json`` — the exported model (``mirnet_cli.load_model(OUT)`` loads it).

The learning rate is a pure function of the iteration, ``η(i) = η_min + ½(η₀ − η_min)(1 + cos(π i / T))``
(cosine annealing over the run's ``T`` iterations), so ``--resume`` with a larger ``--iters`` simply continues
on the longer schedule.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..errors import MirnetError
from .config import TrainConfig, config_json

CKPT_RE = re.compile(r"iter_(\d{8})\.pt$")


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier loss ``mean(sqrt((x − y)² + ε²))`` (a smooth L1; MIRNet §4, ε = 1e-3)."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def cosine_lr(iteration: int, total: int, lr: float, eta_min: float) -> float:
    return eta_min + 0.5 * (lr - eta_min) * (1 + math.cos(math.pi * min(iteration, total) / max(total, 1)))


# ------------------------------------------------------------------------------------------- distributed
class Dist:
    """Rank facts; a single process when not started by torchrun."""

    def __init__(self, device_spec: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        from ..engine.device import resolve_device

        if self.world > 1:
            cuda = torch.cuda.is_available() and device_spec in ("auto", "cuda") or device_spec.startswith("cuda")
            if cuda:
                torch.cuda.set_device(self.local_rank)
                self.device = torch.device("cuda", self.local_rank)
            else:
                self.device = torch.device("cpu")
            if not dist.is_initialized():
                dist.init_process_group("nccl" if cuda else "gloo")
        else:
            self.device = resolve_device(device_spec)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


# ------------------------------------------------------------------------------------------- checkpoints
def _rng_state() -> dict[str, Any]:
    version, state, gauss = random.getstate()
    return {"torch": torch.get_rng_state(), "python": [version, list(state), gauss],
            "numpy": np.random.get_state()[1].tolist()}


def _set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    version, state, gauss = st["python"]
    random.setstate((version, tuple(state), gauss))
    np.random.set_state(("MT19937", np.array(st["numpy"], dtype=np.uint32), 624, 0, 0.0))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    from ..io.atomic import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def latest_checkpoint(out: Path) -> Path | None:
    found = sorted(p for p in (out / "checkpoints").glob("iter_*.pt") if CKPT_RE.search(p.name))
    return found[-1] if found else None


def _prune(out: Path, keep: int) -> None:
    found = sorted(p for p in (out / "checkpoints").glob("iter_*.pt") if CKPT_RE.search(p.name))
    for old in found[: max(0, len(found) - max(keep, 1))]:
        old.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------- logging
class RunLog:
    """Append-only JSONL + CSV logs (rank 0 only)."""

    FIELDS = ["kind", "iteration", "loss", "lr", "patch", "batch", "seconds", "psnr", "ssim"]

    def __init__(self, out: Path, enabled: bool):
        self.enabled = enabled
        self.jsonl, self.csv = out / "log.jsonl", out / "log.csv"
        if enabled and not self.csv.exists():
            with self.csv.open("w", newline="") as fh:
                csv.writer(fh).writerow(self.FIELDS)

    def write(self, **row: Any) -> None:
        if not self.enabled:
            return
        with self.jsonl.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        with self.csv.open("a", newline="") as fh:
            csv.writer(fh).writerow([row.get(k, "") for k in self.FIELDS])


# ------------------------------------------------------------------------------------------- model
def build_training_model(cfg: TrainConfig) -> nn.Module:
    from ..models import build_model

    if cfg.init:
        from ..loading.checkpoint import load_model

        model = load_model(cfg.init)
        cfg.arch, cfg.model = model.architecture, dict(model.config)
        return model.train()
    if cfg.data.synthetic is None and not cfg.model:
        cfg.model = {}
    return build_model(cfg.arch, **cfg.model).train()


def validate(model: nn.Module, pairs, max_images: int | None = None) -> dict[str, float]:
    """Mean PSNR / SSIM (RGB, 8-bit quantised output, no crop) over the validation pairs."""
    from ..engine.inference import InferenceEngine
    from ..metrics import psnr, quantize, ssim

    was_training = model.training
    engine = InferenceEngine(model, device=str(next(model.parameters()).device), precision="fp32", tile=0)
    scores_p, scores_s = [], []
    for _name, inp, tgt in pairs[:max_images]:
        out = engine.restore(inp)
        q = quantize(out, 8)
        scores_p.append(psnr(q, tgt))
        scores_s.append(ssim(q * 255.0, tgt * 255.0, data_range=255))
    model.train(was_training)
    return {"psnr": float(np.mean(scores_p)), "ssim": float(np.mean(scores_s))}


# ------------------------------------------------------------------------------------------- the loop
def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True,
          log: Any = None) -> dict[str, Any]:
    """Train (or continue training) according to ``cfg``. Returns a summary dict (rank 0)."""
    from torch.utils.data import DataLoader

    from ..loading.checkpoint import save_pretrained
    from .data import PatchDataset, StageBatchSampler, clean_images, paired_samples, validation_pairs

    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    d = Dist(cfg.device)
    out = Path(cfg.out)
    if d.main:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    d.barrier()

    start_iter, best, state = 0, -math.inf, None
    if resume:
        ckpt = latest_checkpoint(out)
        if ckpt is None:
            raise MirnetError(f"{out}: nothing to resume (no checkpoints/iter_*.pt)")
        state = torch.load(str(ckpt), map_location="cpu", weights_only=True)
        saved = json.loads(state["config"])
        cfg.arch, cfg.model = saved["arch"], saved["model"]
        start_iter, best = int(state["iteration"]), float(state.get("best_psnr", -math.inf))
        cfg.init = None
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)

    model = build_training_model(cfg).to(d.device)
    if state is not None:
        model.load_state_dict(state["model"])
    net: nn.Module = model
    if d.world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, betas=tuple(cfg.optim.betas),
                           weight_decay=cfg.optim.weight_decay)
    amp_dtype = _amp_dtype(cfg.amp, d.device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        if "scaler" in state and state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])

    data = cfg.data
    if not data.train_dir:
        raise MirnetError("no training data: give --train-dir (paired folders, or clean photos with --synthetic)")
    if data.synthetic:
        dataset = PatchDataset(cfg.seed, clean=clean_images(data.train_dir, data.exclude), mode=data.synthetic,
                               scale=data.scale)
    else:
        dataset = PatchDataset(cfg.seed, pairs=paired_samples(data.train_dir, data.exclude))
    workers = data.workers if data.workers is not None else (4 if d.device.type == "cuda" else 0)
    total = cfg.schedule.iters
    loader = DataLoader(dataset, batch_sampler=StageBatchSampler(cfg, start_iter, total, d.rank, d.world),
                        num_workers=workers, pin_memory=d.device.type == "cuda",
                        persistent_workers=False)
    val_pairs = validation_pairs(cfg) if d.main else []
    runlog = RunLog(out, d.main)
    if d.main:
        (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        say(f"training {cfg.arch} {cfg.model or '(defaults)'}: {sum(p.numel() for p in model.parameters()):,} "
            f"params, iterations {start_iter}→{total}, {len(dataset)} training image(s), device {d.device}"
            + (f", {d.world} processes" if d.world > 1 else ""))

    bar = None
    if d.main and progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start_iter, desc="train", unit="it", file=sys.stderr)
    it = start_iter
    t0 = time.perf_counter()
    recent: list[float] = []
    last_val: dict[str, float] = {}

    def checkpoint(iteration: int, tag_best: bool = False) -> None:
        st = {"iteration": iteration, "model": model.state_dict(), "optimizer": opt.state_dict(),
              "scaler": scaler.state_dict() if scaler.is_enabled() else {}, "rng": _rng_state(),
              "best_psnr": best, "config": config_json(cfg)}
        save_checkpoint(out / "checkpoints" / f"iter_{iteration:08d}.pt", st)
        _prune(out, cfg.schedule.keep_last)
        if tag_best:
            save_checkpoint(out / "checkpoints" / "best.pt", st)

    net.train()
    for inp, tgt in loader:
        stage, patch, batch = cfg.stage_at(it)
        lr = cosine_lr(it, total, cfg.optim.lr, cfg.optim.eta_min)
        for group in opt.param_groups:
            group["lr"] = lr
        inp = inp.to(d.device, non_blocking=True)
        tgt = tgt.to(d.device, non_blocking=True)
        with torch.autocast(d.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            loss = charbonnier(net(inp).float(), tgt, cfg.optim.charbonnier_eps)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.optim.grad_clip:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        scaler.step(opt)
        scaler.update()
        it += 1
        recent.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{recent[-1]:.4f}", patch=patch, batch=batch)
        if d.main and (it % cfg.schedule.log_every == 0 or it == total):
            runlog.write(kind="train", iteration=it, loss=float(np.mean(recent)), lr=lr, patch=patch, batch=batch,
                         seconds=round(time.perf_counter() - t0, 3))
            recent.clear()
        is_best = False
        if d.main and val_pairs and (it % cfg.schedule.val_every == 0 or it == total):
            last_val = validate(model, val_pairs)
            runlog.write(kind="val", iteration=it, **last_val, seconds=round(time.perf_counter() - t0, 3))
            say(f"iteration {it}: validation PSNR {last_val['psnr']:.2f} dB, SSIM {last_val['ssim']:.4f}")
            if last_val["psnr"] > best:
                best, is_best = last_val["psnr"], True
        if d.main and (it % cfg.schedule.checkpoint_every == 0 or it == total or is_best):
            checkpoint(it, tag_best=is_best)
    if bar is not None:
        bar.close()
    d.barrier()

    summary: dict[str, Any] = {"iterations": it, "seconds": round(time.perf_counter() - t0, 1),
                               "best_val_psnr": None if best == -math.inf else best, "last_val": last_val}
    if d.main:
        if it > start_iter or not (out / "model.safetensors").exists():
            card = {"task": cfg.task, "training": {"iterations": it, "config": cfg.to_dict(),
                                                   "best_val_psnr": summary["best_val_psnr"],
                                                   "last_val": last_val, "torch": torch.__version__}}
            save_pretrained(model, out, card=card)
        say(f"done: {it} iterations; model exported to {out}/model.safetensors + config.json")
    d.close()
    return summary


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    amp = (amp or "auto").lower()
    if device.type != "cuda" or amp in ("off", "none", "fp32", "false"):
        if amp in ("fp16", "bf16") and device.type != "cuda":
            raise MirnetError(f"--amp {amp} is only for CUDA (on the CPU it is slow or unsupported); use --amp off")
        return None
    if amp in ("auto", "fp16"):
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    raise MirnetError(f"--amp must be auto, fp16, bf16 or off, not {amp!r}")
