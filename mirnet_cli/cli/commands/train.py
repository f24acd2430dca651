"""`mirnet train`: train or fine-tune MIRNet / MIRNet-v2 (one process, or `torchrun … -m mirnet_cli train`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

# flag name → dotted config key (the same keys --set and the config file use)
FLAG_KEYS = {
    "arch": "arch", "task": "task", "out": "out", "seed": "seed", "device": "device", "init": "init",
    "teacher": "teacher",
    "train_dir": "data.train_dir", "val_dir": "data.val_dir", "synthetic": "data.synthetic", "workers": "data.workers",
    "iters": "schedule.iters", "batch_size": "schedule.batch_size", "patch_size": "schedule.patch_size",
    "checkpoint_every": "schedule.checkpoint_every", "val_every": "schedule.val_every",
    "keep_last": "schedule.keep_last", "lr": "optim.lr",
}


def build_config(config: Path | None, flags: dict[str, Any], sets: list[str], *, resume: bool = False):
    """Defaults < config file < flags < ``--set``. With ``--resume`` and no ``--config``, the run's own
    ``OUT/train_config.json`` is the base, so ``mirnet train --out RUN --resume --iters N`` is enough."""
    import json

    from ...train.config import TrainConfig, apply_set, load_config, set_value

    def assemble(base: TrainConfig) -> TrainConfig:
        for name, value in flags.items():
            if name == "amp":
                # --amp keeps an explicit fp16/bf16 choice of the config; --no-amp turns AMP off
                if value is False or (value is True and base.amp == "off"):
                    base.amp = "auto" if value else "off"
            elif value is not None:
                set_value(base, FLAG_KEYS.get(name, name), str(value) if isinstance(value, Path) else value)
        return apply_set(base, sets)

    cfg = assemble(load_config(config))
    saved = Path(cfg.out).expanduser() / "train_config.json"
    if resume and config is None and saved.is_file():
        try:
            values = json.loads(saved.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            values = None
        if isinstance(values, dict):
            cfg = assemble(TrainConfig.from_dict(values))
    return cfg


def train(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML or TOML file of settings.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a setting: key=value, e.g. model.n_feat=16, optim.lr=1e-4 (repeatable).")] = None,
    arch: Annotated[str | None, typer.Option(help="mirnet_v2 (default) or mirnet.")] = None,
    task: Annotated[str | None, typer.Option(help="Task key recorded in the export (denoise, oldphoto, …).")] = None,
    train_dir: Annotated[Path | None, typer.Option(help="Paired folder (low/+high/, input/+target/, …), or "
                                                      "clean photos with --synthetic.")] = None,
    val_dir: Annotated[Path | None, typer.Option(help="Validation folder, same layout as --train-dir.")] = None,
    synthetic: Annotated[str | None, typer.Option(
        help="Degrade clean photos on the fly: denoise, lowlight, sr or oldphoto.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder: checkpoints, logs and the exported model.")] = None,
    iters: Annotated[int | None, typer.Option(min=1, help="Total iterations (extend a finished run with --resume).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Batch per process (scales the progressive batches).")] = None,
    patch_size: Annotated[int | None, typer.Option(min=8, help="Fixed patch size (disables progressive patches).")] = None,
    lr: Annotated[float | None, typer.Option(help="Initial learning rate (cosine-annealed to optim.eta_min).")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(min=1, help="Checkpoint every N iterations.")] = None,
    val_every: Annotated[int | None, typer.Option(min=1, help="Validate every N iterations.")] = None,
    keep_last: Annotated[int | None, typer.Option(min=1, help="Checkpoints kept besides best.pt.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = None,
    amp: Annotated[bool | None, typer.Option(
        "--amp/--no-amp", help="Mixed precision on CUDA (fp16 + GradScaler; --set amp=bf16 for bfloat16). "
                               "Default: on for CUDA, never on the CPU.")] = None,
    workers: Annotated[int | None, typer.Option(min=0, help="DataLoader workers (default 0 on CPU, 4 on CUDA).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for initialisation, patches and degradations.")] = None,
    init: Annotated[str | None, typer.Option(
        help="Fine-tune from any weights load_model accepts: registry name, file, folder, hf://, URL.")] = None,
    teacher: Annotated[str | None, typer.Option(
        help="Distil from this network: any weights load_model accepts, or an IAT / FFDNet / DnCNN file. Its "
             "output is the target of unpaired inputs ({dir, unpaired: true} sources) and is blended into the "
             "others' (--set teacher_weight=0.5; FFDNet: --set teacher_sigma=50).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train or fine-tune on paired data, or on clean photos with synthetic degradations.

    Defaults follow the papers: Charbonnier loss, Adam 2e-4 cosine-annealed to 1e-6, progressive patches
    128→224 for MIRNet-v2 (128 px × 16 for v1). Writes checkpoints, log.jsonl/log.csv and finally
    OUT/model.safetensors + OUT/config.json, usable with --weights OUT everywhere.

    Multi-GPU: torchrun --nproc_per_node N -m mirnet_cli train ...

    Example: mirnet train --synthetic denoise --train-dir photos/ --set model.n_feat=16 --iters 2000 --out runs/dn

    Distillation: mirnet train --teacher official.pth --train-dir pairs/ --set model.n_feat=16 --out runs/student
    """
    from ...errors import MirnetError
    from ...train.loop import TrainingInterrupted
    from ...train.loop import train as run_training

    flags = {"arch": arch, "task": task, "out": out, "seed": seed, "device": device, "init": init,
             "teacher": teacher, "train_dir": train_dir, "val_dir": val_dir, "synthetic": synthetic, "workers": workers, "iters": iters,
             "batch_size": batch_size, "patch_size": patch_size, "checkpoint_every": checkpoint_every,
             "val_every": val_every, "keep_last": keep_last, "lr": lr,
             "amp": amp}
    from ...train.config import TrainConfigError

    run_dir: Path | None = None
    existed = True
    try:
        cfg = build_config(config, flags, list(set_ or []), resume=resume)
        run_dir = Path(cfg.out).expanduser()
        existed = run_dir.exists()
        log = (lambda text: None) if quiet else None
        run_training(cfg, resume=resume, progress=not quiet, log=log)
    except TrainingInterrupted as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(130) from None
    except MirnetError as exc:
        if run_dir is not None and not existed:
            _remove_if_empty(run_dir)
        typer.echo(f"error: {exc}", err=True)
        # a setting or usage error exits 2 like every other command; a problem found in the data or weights, 1
        raise typer.Exit(2 if isinstance(exc, TrainConfigError) else 1) from None


def _remove_if_empty(folder: Path) -> None:
    """Remove a run folder this call created that holds no file (only empty folders): a run that never started."""
    import shutil

    try:
        if folder.is_dir() and not any(p.is_file() or p.is_symlink() for p in folder.rglob("*")):
            shutil.rmtree(folder)
    except OSError:
        pass
