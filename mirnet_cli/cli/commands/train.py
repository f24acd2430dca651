"""`mirnet train`: train or fine-tune MIRNet / MIRNet-v2 (single process, or `torchrun … -m mirnet_cli train`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


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
    batch_size: Annotated[int | None, typer.Option(min=1, help="Fixed batch size.")] = None,
    patch_size: Annotated[int | None, typer.Option(min=8, help="Fixed patch size (disables progressive patches).")] = None,
    lr: Annotated[float | None, typer.Option(help="Initial learning rate (cosine-annealed).")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(min=1)] = None,
    val_every: Annotated[int | None, typer.Option(min=1)] = None,
    keep_last: Annotated[int | None, typer.Option(min=1, help="Checkpoints kept besides best.pt.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = None,
    amp: Annotated[str | None, typer.Option(help="auto (fp16 on CUDA), fp16, bf16 or off.")] = None,
    workers: Annotated[int | None, typer.Option(min=0, help="DataLoader workers.")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    init: Annotated[str | None, typer.Option(help="Fine-tune from any checkpoint load_model accepts.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Train or fine-tune on paired data or on clean photos with synthetic degradations.

    Defaults follow the papers: Charbonnier loss, Adam 2e-4 cosine-annealed to 1e-6, progressive patches for
    MIRNet-v2. The result is OUT/model.safetensors + OUT/config.json, usable with --weights everywhere.

    Example: mirnet train --synthetic denoise --train-dir photos/ --set model.n_feat=16 --iters 2000 --out runs/dn
    """
    from ...errors import MirnetError
    from ...train.config import apply_set, load_config
    from ...train.loop import train as run_training

    try:
        cfg = load_config(config)
        flags = {"arch": arch, "task": task, "out": out, "seed": seed, "device": device, "amp": amp,
                 "init": init, "data.train_dir": train_dir, "data.val_dir": val_dir, "data.synthetic": synthetic,
                 "data.workers": workers, "schedule.iters": iters, "schedule.batch_size": batch_size,
                 "schedule.patch_size": patch_size, "schedule.checkpoint_every": checkpoint_every,
                 "schedule.val_every": val_every, "schedule.keep_last": keep_last, "optim.lr": lr}
        for key, value in flags.items():
            if value is not None:
                obj, *path = key.split(".")
                target = cfg
                for part in [obj, *path][:-1]:
                    target = getattr(target, part)
                setattr(target, key.split(".")[-1], str(value) if isinstance(value, Path) else value)
        apply_set(cfg, list(set_ or []))
        log = (lambda text: None) if quiet else None
        run_training(cfg, resume=resume, progress=not quiet, log=log)
    except MirnetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
