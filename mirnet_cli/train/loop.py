"""The training loop: single process or DDP (``torchrun``), resumable, atomic checkpoints, exported result.

Files under ``OUT/``:

* ``checkpoints/iter_XXXXXXXX.pt`` (the last ``keep_last``) and ``checkpoints/best.pt`` (best validation PSNR) —
  model, optimiser, AMP scaler, iteration, stage and RNG states; readable with ``torch.load(weights_only=True)``
  (see :mod:`mirnet_cli.train.state`);
* ``log.jsonl`` and ``log.csv`` — one row per logged iteration (``kind: train``, mean loss over the window) and
  per validation (``kind: val``, PSNR/SSIM); a resumed run first drops the rows after its checkpoint, so the curve
  continues without duplicates;
* ``train_config.json`` — the resolved settings; ``samples/iter_XXXXXXXX/*.png`` when ``data.val_samples`` > 0;
* ``model.safetensors`` + ``config.json`` — the exported model (``mirnet_cli.load_model(OUT)`` loads it).

Recipe: loss ``L = mean(√((ŷ − y)² + ε²))`` (Charbonnier, ε = 1e-3; ``optim.loss`` also offers l1/mse), Adam
(β₁ 0.9, β₂ 0.999), learning rate ``η(i) = η_min + ½(η₀ − η_min)(1 + cos(π i / T))`` over the run's ``T``
iterations. The lr is a pure function of the iteration, so ``--resume`` with a larger ``--iters`` continues on the
longer schedule (which re-lays the cosine and the progressive stages over the new ``T``).

Multi-GPU / multi-node: ``torchrun --nproc_per_node N -m mirnet_cli train …`` — the process group comes from the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``; NCCL on CUDA, Gloo on CPU), every rank trains on its own
samples with batch ``batch`` (so the global batch is ``N × batch``), and only rank 0 validates, logs and writes.
Resuming reads the checkpoint on every rank, so multi-node runs need ``--out`` on a shared file system.

Around the loop, in :mod:`.runtime`: the ranks (:class:`Dist`), the log files (:class:`RunLog`) and the stop
signals; checkpoint files in :mod:`.state`.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import MirnetError
from .config import TrainConfig, TrainConfigError, config_json, copy_config
from .runtime import Dist, RunLog, _atomic_text, _StopFlag, _StopNow
from .state import (
    FORMAT,
    checkpoint_files,
    get_rng_state,
    latest_checkpoint,
    load_training_state,
    prune_checkpoints,
    save_checkpoint,
    set_rng_state,
)

__all__ = [
    "Dist",
    "RunLog",
    "TrainingInterrupted",
    "build_training_model",
    "charbonnier",
    "cosine_lr",
    "latest_checkpoint",
    "save_checkpoint",
    "train",
    "validate",
    "WeightAverage",
]

MAX_BAD_STEPS = 20  # consecutive non-finite losses/gradients before giving up


class TrainingInterrupted(MirnetError):
    """Ctrl-C / SIGTERM: a checkpoint was written and the run can continue with ``--resume``."""

    def __init__(self, iteration: int, out: Path):
        self.iteration, self.out = iteration, out
        super().__init__(f"interrupted at iteration {iteration}; checkpoint written to {out}/checkpoints "
                         "(continue with --resume)")


# ------------------------------------------------------------------------------------------------ losses / lr
def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier loss ``mean(√((x − y)² + ε²))``, a smooth L1 (MIRNet §4, ε = 1e-3)."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def _loss_fn(name: str, eps: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "l1":
        return lambda p, t: (p - t).abs().mean()
    if name == "mse":
        return lambda p, t: ((p - t) ** 2).mean()
    return lambda p, t: charbonnier(p, t, eps)


class WeightAverage:
    """Exponential moving average of a model's weights (``optim.ema``), kept beside the trained model.

    After each optimiser step ``θ̄ ← d·θ̄ + (1 − d)·θ`` with ``d = min(decay, (1 + n)/(10 + n))`` for the ``n``-th
    update, so the average follows the first steps of a run closely (timm's ModelEmaV3 warm-up); buffers are
    copied. Checkpoints store it as ``params_ema`` (the key BasicSR uses, which :func:`mirnet_cli.load_model`
    prefers), with ``ema_updates``.

    Reference: Polyak & Juditsky, "Acceleration of stochastic approximation by averaging", SIAM J. Control Optim.
    1992.
    """

    def __init__(self, model: nn.Module, decay: float, state: dict[str, Any] | None = None):
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0
        if state is not None and isinstance(state.get("params_ema"), dict):
            self.model.load_state_dict(state["params_ema"])
            self.updates = int(state.get("ema_updates", 0))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(list(self.model.parameters()), [p.detach() for p in model.parameters()], 1.0 - d)
        for b_avg, b in zip(self.model.buffers(), model.buffers(), strict=True):
            b_avg.copy_(b)


def cosine_lr(iteration: int, total: int, lr: float, eta_min: float) -> float:
    """``η(i) = η_min + ½(η₀ − η_min)(1 + cos(π·min(i, T)/T))`` for the 0-based iteration ``i`` of ``T``."""
    return eta_min + 0.5 * (lr - eta_min) * (1 + math.cos(math.pi * min(iteration, total) / max(total, 1)))


# ------------------------------------------------------------------------------------------------ model
def build_training_model(cfg: TrainConfig) -> nn.Module:
    """The network to train: ``build_model(cfg.arch, **cfg.model)``, or the ``cfg.init`` checkpoint to fine-tune.

    With ``init`` the architecture and constructor arguments come from the checkpoint; explicit ``model.*``
    settings must agree with them (a different width cannot reuse the weights). ``cfg.arch``/``cfg.model`` are
    updated to what was built.
    """
    from ..models import build_model, canonical_architecture

    if cfg.init:
        from ..loading.checkpoint import load_model

        model = load_model(cfg.init)
        loaded = dict(model.config)
        clash = {k: v for k, v in cfg.model.items() if k not in loaded or loaded[k] != v}
        if clash == {"bias": True} and loaded.get("bias") is False:
            return _with_zero_biases(model, cfg)
        if clash:
            raise TrainConfigError(f"--init {cfg.init} is a {model.architecture} with "
                                   f"{', '.join(f'{k}={loaded.get(k)!r}' for k in clash)}; it cannot be trained as "
                                   f"{', '.join(f'{k}={v!r}' for k, v in clash.items())} (drop those model.* settings)")
        cfg.arch, cfg.model = model.architecture, loaded
        return model.train()
    try:
        return build_model(canonical_architecture(cfg.arch), **cfg.model).train()
    except (TypeError, ValueError) as exc:
        raise TrainConfigError(f"model settings {cfg.model or '{}'} for {cfg.arch}: {exc}") from None


def _with_zero_biases(model: nn.Module, cfg: TrainConfig) -> nn.Module:
    """A bias-free checkpoint grown into ``bias: true``: its weights, and every new bias at zero — the same function
    at the first step, with the freedom to learn offsets (tone curves: a network without biases maps a darker input
    to a proportionally darker output, up to its attention's non-linearity)."""
    from ..models import build_model

    grown = build_model(model.architecture, **{**dict(model.config), "bias": True})
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected or not all(k.endswith(".bias") for k in missing):  # pragma: no cover - the constructor's contract
        raise TrainConfigError(f"--init {cfg.init}: cannot grow biases ({(unexpected or missing)[0]})")
    with torch.no_grad():
        for name, param in grown.named_parameters():
            if name in missing:
                param.zero_()
    cfg.arch, cfg.model = grown.architecture, dict(grown.config)
    return grown.train()


# ------------------------------------------------------------------------------------------------ validation
def _save_png(path: Path, img: np.ndarray) -> None:
    """A validation sample as an 8-bit PNG, written atomically like every other output."""
    from ..io.images import write_image

    write_image(path, np.asarray(img, dtype=np.float32)[..., :3], bit_depth=8)


def validate(model: nn.Module, pairs: list[tuple[str, np.ndarray, np.ndarray]], *,
             samples_dir: Path | None = None, samples: int = 0) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM over the validation pairs.

    The output goes through :class:`~mirnet_cli.engine.inference.InferenceEngine` (padding to a multiple of 4, no
    tiling, fp32) and is quantised to 8 bits, as the authors' scripts score their saved PNGs; RGB, no border crop
    (``PSNR = 10 log₁₀(1/MSE)``, SSIM of Wang et al. on the 0–255 scale). The first ``samples`` outputs are saved
    as ``samples_dir/<name>.png`` (with ``<name>_input.png`` next to them the first time).
    """
    from ..engine.inference import InferenceEngine
    from ..metrics import psnr, quantize, ssim

    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        engine = InferenceEngine(model, device=str(device), precision="fp32", tile=0)
        scores_p, scores_s = [], []
        for i, (name, inp, tgt) in enumerate(pairs):
            out = quantize(engine.restore(inp), 8)
            scores_p.append(min(psnr(out, tgt), 100.0))
            scores_s.append(ssim(out * 255.0, tgt * 255.0, data_range=255))
            if samples_dir is not None and i < samples:
                _save_png(samples_dir / f"{name}.png", out)
                first = samples_dir.parent / "inputs" / f"{name}.png"
                if not first.exists() and inp.shape[-1] in (1, 3):
                    _save_png(first, inp)
    finally:
        model.train(was_training)
    return {"psnr": float(np.mean(scores_p)), "ssim": float(np.mean(scores_s))}


# ------------------------------------------------------------------------------------------------ helpers
def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: ``auto`` → fp16 on CUDA, nothing elsewhere.

    ``bf16`` also works on a CPU with native bfloat16 arithmetic (x86 ``avx512_bf16`` / ``amx_bf16``), where it
    can speed training up; without those instructions PyTorch emulates bf16 very slowly, so it is refused. fp16
    is CUDA-only.
    """
    amp = str(amp or "auto").lower()
    if amp not in ("auto", "fp16", "bf16", "off"):
        raise TrainConfigError(f"amp must be auto, fp16, bf16 or off, not {amp!r}")
    if device.type != "cuda":
        if amp == "bf16" and device.type == "cpu":
            from ..engine.device import cpu_has_native_bf16

            if not cpu_has_native_bf16():
                raise TrainConfigError("amp bf16 on the CPU needs native bfloat16 instructions (avx512_bf16 or "
                                       "amx_bf16), which this CPU lacks; use --no-amp")
            return torch.bfloat16
        if amp in ("fp16", "bf16"):
            raise TrainConfigError(f"amp {amp} is not supported on {device.type} (fp16 needs CUDA; bf16 CUDA or a "
                                   "CPU with native bf16); use --no-amp")
        return None
    if amp == "off":
        return None
    if amp == "bf16":
        if not torch.cuda.is_bf16_supported():
            raise TrainConfigError("amp bf16 needs a GPU with bfloat16 support (Ampere or newer); use fp16")
        return torch.bfloat16
    return torch.float16


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


# ------------------------------------------------------------------------------------------------ the loop
def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True,
          log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or continue training) according to ``cfg``; export ``OUT/model.safetensors`` + ``config.json``.

    Args:
        cfg: the settings (not modified; a copy is filled in with the checkpoint's architecture when resuming).
        resume: continue from the newest readable ``OUT/checkpoints/iter_*.pt`` (model, optimiser, scaler, RNG,
            iteration; the data stream and progressive stage follow from the iteration). A finished run resumed
            with a larger ``schedule.iters`` continues training.
        progress: a tqdm bar on a terminal; plain lines every ``schedule.print_every`` iterations otherwise.
        log: where status lines go (default: stderr). Pass ``lambda s: None`` for silence.

    Returns:
        ``{"iterations", "seconds", "losses", "best_val_psnr", "best_iteration", "last_val", "out"}`` (``losses``:
        this process's per-iteration losses of this call).

    Raises:
        MirnetError: bad settings or data, nothing to resume, a fresh run into a folder that holds one, divergence.
        TrainingInterrupted: Ctrl-C or SIGTERM (after writing a checkpoint).
    """
    cfg = copy_config(cfg).check()
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    d = Dist(cfg.device)
    try:
        return _train(cfg, d, resume=resume, progress=progress, say=say)
    finally:
        d.close()


def _train(cfg: TrainConfig, d: Dist, *, resume: bool, progress: bool, say: Callable[[str], None]) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    from ..loading.checkpoint import save_pretrained
    from .data import (
        PatchDataset,
        StageBatchSampler,
        build_sources,
        data_path,
        validation_pairs,
        worker_init,
    )

    out = Path(cfg.out).expanduser()
    data = cfg.data
    if not data.train_dir and not data.sources:
        raise TrainConfigError("no training data: give --train-dir (paired folders, or clean photos with --synthetic)")
    amp_dtype = _amp_dtype(cfg.amp, d.device)
    teacher = None
    if cfg.teacher:  # before any folder is made: a teacher that cannot be loaded leaves nothing behind
        from ..teachers import load_teacher

        try:
            teacher = load_teacher(cfg.teacher, sigma=cfg.teacher_sigma)
        except MirnetError as exc:  # a teacher that cannot be had is a usage error (exit 2), like a bad --weights
            raise TrainConfigError(f"--teacher: {exc}") from None
    if cfg.threads and d.device.type == "cpu":
        # On a small shared CPU, threads mostly wait for each other: one thread can train several times more
        # iterations per CPU-second than two.
        torch.set_num_threads(cfg.threads)

    # ---- resume or fresh start -------------------------------------------------------------------------
    start_iter, best, best_iter, state, ckpt_path, elapsed = 0, -math.inf, 0, None, None, 0.0
    if resume:
        ckpt_path, state = load_training_state(out)
        saved = json.loads(state["config"]) if isinstance(state.get("config"), str) else {}
        arch = state.get("arch") or saved.get("arch", cfg.arch)
        model_cfg = state.get("model_config") or saved.get("model", cfg.model)
        asked_other = any(k not in model_cfg or model_cfg[k] != v for k, v in cfg.model.items())
        if d.main and (arch != cfg.arch or asked_other):
            say(f"note: resuming the checkpoint's {arch} {model_cfg} (the settings asked for {cfg.arch} "
                f"{cfg.model or '(defaults)'})")
        cfg.arch, cfg.model, cfg.init = arch, dict(model_cfg), None
        start_iter = int(state["iteration"])
        best = float(state.get("best_psnr", -math.inf))
        best_iter = int(state.get("best_iteration", 0))
        elapsed = float(state.get("elapsed", 0.0))  # training seconds before this process
    elif checkpoint_files(out):
        raise MirnetError(f"{out} already holds a training run (checkpoints/iter_*.pt); pass --resume to continue "
                          "it, or choose another --out")
    if d.main:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    d.barrier()

    _seed_everything(cfg.seed)
    model = build_training_model(cfg).to(d.device)
    if state is not None:
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise MirnetError(f"{ckpt_path}: does not fit {cfg.arch} {cfg.model} ({str(exc).splitlines()[0]})") from None
    # A run that turns the average on when resumed starts it from the checkpoint's weights.
    ema = WeightAverage(model, cfg.optim.ema, state) if cfg.optim.ema > 0 else None
    scored = ema.model if ema is not None else model  # what is validated and exported
    net: nn.Module = model
    if d.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[d.local_rank] if d.device.type == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, betas=tuple(cfg.optim.betas),
                           weight_decay=cfg.optim.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        if state.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state.get("rng", {}))
    if d.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    loss_fn = _loss_fn(cfg.optim.loss, cfg.optim.charbonnier_eps)

    # ---- data ----------------------------------------------------------------------------------------
    max_patch = max(patch for _, patch, _ in cfg.stages())
    common = dict(flips=data.flips, min_size=max_patch, small_images=data.small_images, cache_mb=data.cache_mb)
    # Every file is probed once before training (one line per bad file, counted, a minimum of good ones);
    # a file that fails only later is skipped by the dataset.
    report = say if d.main else (lambda text: None)
    scale = list(data.scales) if data.scales else data.scale
    dataset = PatchDataset(cfg.seed, sources=build_sources(data, scale, say=report), scale=scale,
                           exposure=tuple(data.exposure) if data.exposure else None, teacher=teacher,
                           teacher_weight=cfg.teacher_weight, zoom=data.zoom,
                           teacher_cache=data_path(cfg.teacher_cache) if cfg.teacher_cache else None, **common)
    workers = data.workers if data.workers is not None else (4 if d.device.type == "cuda" else 0)
    total = cfg.schedule.iters
    loader = DataLoader(dataset, batch_sampler=StageBatchSampler(cfg, start_iter, total, d.rank, d.world),
                        num_workers=workers, pin_memory=d.device.type == "cuda",
                        worker_init_fn=worker_init if workers else None,
                        prefetch_factor=2 if workers else None)
    val_pairs = validation_pairs(cfg) if d.main else []
    runlog = RunLog(out, d.main)
    if d.main:
        runlog.truncate_after(start_iter)
        _atomic_text(out / "train_config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
        if teacher is not None:  # what the student learned from, with the file's digest
            _atomic_text(out / "teacher.json", json.dumps(teacher.provenance, indent=2) + "\n")
        stages = cfg.stages()
        stage_text = ", ".join(f"{p}px×{b}" + (f" from {s}" if s else "") for s, p, b in stages)
        say(f"training {cfg.arch} {cfg.model or '(defaults)'}: {sum(p.numel() for p in model.parameters()):,} "
            f"parameters, iterations {start_iter}→{total}, {len(dataset)} training image(s)"
            + (f" ({data.synthetic})" if data.synthetic and len(dataset.sources) == 1 else "")
            + (f" from {', '.join(f'{s.describe()} ×{s.weight:g}' for s in dataset.sources)}"
               if len(dataset.sources) > 1 else "")
            + f", {len(val_pairs)} validation, "
            f"patches {stage_text}, device {d.device}"
            + (f", AMP {str(amp_dtype).replace('torch.', '')}" if amp_dtype else "")
            + (f", teacher {teacher.architecture} ({teacher.provenance['parameters']:,} parameters, weight "
               f"{cfg.teacher_weight:g})" if teacher is not None else "")
            + (f", {d.world} processes" if d.world > 1 else "")
            + (f", resumed from {ckpt_path.name}" if ckpt_path else ""))

    tty = progress and d.main and sys.stderr.isatty()
    bar = None
    if tty:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start_iter, desc="train", unit="it", file=sys.stderr, dynamic_ncols=True)
    it = start_iter
    t0 = time.perf_counter() - elapsed  # "seconds" in the logs count the whole run, across resumes
    window: list[float] = []
    losses: list[float] = []
    last_val: dict[str, float] = {}
    bad_steps = 0

    def emit(text: str) -> None:
        if bar is not None:
            bar.write(text, file=sys.stderr)
        else:
            say(text)

    def checkpoint(iteration: int, tag_best: bool = False) -> None:
        stage, patch, batch = cfg.stage_at(max(iteration - 1, 0))
        st = {"format": FORMAT, "version": 1, "iteration": iteration, "arch": cfg.arch,
              "model_config": dict(model.config), "model": model.state_dict(), "optimizer": opt.state_dict(),
              "scaler": scaler.state_dict() if scaler.is_enabled() else {},
              **({"params_ema": ema.model.state_dict(), "ema_updates": ema.updates} if ema is not None else {}),
              "scheduler": {"name": "cosine", "total": total, "lr": cfg.optim.lr, "eta_min": cfg.optim.eta_min,
                            "last_lr": opt.param_groups[0]["lr"]},
              "stage": {"index": stage, "patch": patch, "batch": batch},
              "rng": get_rng_state(), "best_psnr": best, "best_iteration": best_iter,
              "config": config_json(cfg), "world_size": d.world,
              "elapsed": time.perf_counter() - t0, "torch": str(torch.__version__)}
        save_checkpoint(out / "checkpoints" / f"iter_{iteration:08d}.pt", st)
        prune_checkpoints(out, cfg.schedule.keep_last)
        if tag_best:
            save_checkpoint(out / "checkpoints" / "best.pt", st)

    net.train()
    batches = iter(loader)
    with _StopFlag(d.world == 1) as stop:
        while it < total:
            if stop.set:
                if d.main:
                    checkpoint(it)
                if bar is not None:
                    bar.close()
                raise TrainingInterrupted(it, out)
            try:
                with stop.interruptible():  # a signal here drops the iteration: the model is still at `it`
                    try:
                        inp, tgt = next(batches)
                    except StopIteration:
                        break
                    _, patch, batch = cfg.stage_at(it)
                    lr = cosine_lr(it, total, cfg.optim.lr, cfg.optim.eta_min)
                    inp = inp.to(d.device, non_blocking=True)
                    tgt = tgt.to(d.device, non_blocking=True)
                    with torch.autocast(d.device.type, dtype=amp_dtype or torch.float32,
                                        enabled=amp_dtype is not None):
                        pred = net(inp)
                    loss = loss_fn(pred.float(), tgt)
            except _StopNow:
                continue
            except Exception:
                if stop.set:  # workers die on Ctrl-C before the flag is seen
                    continue
                raise
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if stop.set:  # a signal during the backward pass: drop this step rather than finish the iteration
                continue
            if scaler.is_enabled():
                # GradScaler skips steps with inf/NaN gradients by itself; clip on unscaled gradients.
                if cfg.optim.grad_clip:
                    scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                scaler.step(opt)
                scaler.update()
                if ema is not None:  # a step the scaler skipped left the weights as they were
                    ema.update(model)
            else:
                # The gradients are already all-reduced, so every rank takes the same decision here.
                norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip or math.inf)
                if torch.isfinite(norm):
                    opt.step()
                    if ema is not None:
                        ema.update(model)
                    bad_steps = 0
                else:
                    bad_steps += 1
                    if bad_steps >= MAX_BAD_STEPS:
                        raise MirnetError(f"training diverged at iteration {it + 1}: {bad_steps} non-finite "
                                          f"gradients in a row (lower --lr, or set optim.grad_clip)")
            it += 1
            value = float(loss.detach())
            losses.append(value)
            window.append(value)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2e}", patch=patch, batch=batch, refresh=False)
            if it % cfg.schedule.log_every == 0 or it == total:
                mean_loss = d.mean(float(np.mean(window)))  # every rank takes part in the all-reduce
                window.clear()
                runlog.write(kind="train", iteration=it, loss=mean_loss, lr=lr, patch=patch, batch=batch,
                             seconds=round(time.perf_counter() - t0, 3))
            if d.main and bar is None and progress and it % cfg.schedule.print_every == 0:
                emit(f"iteration {it}/{total}: loss {value:.4f}, lr {lr:.2e}, patch {patch}, batch {batch}, "
                     f"{time.perf_counter() - t0:.0f} s")
            is_best = False
            if d.main and val_pairs and (it % cfg.schedule.val_every == 0 or it == total):
                samples_dir = out / "samples" / f"iter_{it:08d}" if data.val_samples > 0 else None
                last_val = validate(scored, val_pairs, samples_dir=samples_dir, samples=data.val_samples)
                runlog.write(kind="val", iteration=it, **last_val, seconds=round(time.perf_counter() - t0, 3))
                emit(f"iteration {it}: validation PSNR {last_val['psnr']:.2f} dB, SSIM {last_val['ssim']:.4f}")
                if last_val["psnr"] > best:
                    best, best_iter, is_best = last_val["psnr"], it, True
            if d.main and (it % cfg.schedule.checkpoint_every == 0 or it == total or is_best):
                checkpoint(it, tag_best=is_best)
    if bar is not None:
        bar.close()
    d.barrier()

    summary: dict[str, Any] = {
        "iterations": it, "seconds": round(time.perf_counter() - t0 - elapsed, 1), "losses": losses,
        "best_val_psnr": None if best == -math.inf else best, "best_iteration": best_iter or None,
        "last_val": last_val, "out": str(out)}
    if d.main:
        if it > start_iter or not (out / "model.safetensors").exists():
            card = {"task": cfg.task, "training": {
                "iterations": it, "config": cfg.to_dict(),
                "teacher": teacher.provenance if teacher is not None else None, "best_val_psnr": summary["best_val_psnr"],
                "best_iteration": summary["best_iteration"], "last_val": last_val, "torch": str(torch.__version__)}}
            save_pretrained(scored, out, card=card)
        say(f"done: {it} iterations in {summary['seconds']:.0f} s; model exported to {out}/model.safetensors "
            "+ config.json" + (f" (best validation PSNR {best:.2f} dB at iteration {best_iter})"
                               if best != -math.inf else ""))
    return summary
