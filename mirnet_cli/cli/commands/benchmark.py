"""``mirnet benchmark``: score a model on a test set (PSNR/SSIM as the authors did) and/or time it.

Heavy imports (torch, numpy, the benchmark package) happen inside the function so ``mirnet --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import typer

from ...architectures import ARCHITECTURES
from ...datasets._registry import DATASETS, dataset_choices, dataset_help, find_spec
from ._options import Backend, Context, Device, MaxMemory, Precision, Quiet, Threads, Tile, TileOverlap
from ._run import fail as _fail

#: The test sets, one paragraph each (Click rewraps a paragraph as a whole), shown at the end of
#: ``mirnet benchmark --help`` (from the dataset registry).
EPILOG = dataset_help().replace("\n", "\n\n")


def _parse_sizes(text: str) -> list[int]:
    from ...errors import MirnetError

    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise MirnetError(f"--sizes must be comma-separated integers, got {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise MirnetError(f"--sizes must be positive integers, got {text!r}")
    return sizes


def _registry_entry(name: str) -> Any:
    try:
        from ...loading.registry import load_registry

        return load_registry().get(name)
    except Exception:  # no registry, or a path/URL rather than a name
        return None


def paper_metrics_for(entry: Any, dataset: str) -> dict[str, Any] | None:
    """The entry's ``paper_metrics`` if they are for ``dataset`` (matched loosely by name), else ``None``."""
    pm = getattr(entry, "paper_metrics", None) if entry is not None else None
    if not pm:
        return None
    named = str(pm.get("dataset", "")).lower().replace("-", "").replace(" ", "")
    spec = find_spec(dataset)
    if spec is None or not spec.paper or spec.name not in named:
        return None
    return dict(pm)


def _search_nlmeans(ds: Any, *, limit: int | None, info: Any) -> tuple[Any, dict[str, Any]]:
    """Non-local means with the h that scores best (mean PSNR) on ``ds``, and ``{"h", "h_search"}``."""
    from ...benchmark.baselines import NLMeans, search_nlmeans_h
    from ...benchmark.quality import run_quality

    def score(net: Any) -> float:
        r = run_quality(net, ds, device="cpu", precision="fp32", tile=0, limit=limit, progress=False,
                        log=lambda _: None)
        info(f"  nlmeans h = {net.h:g}: {r['mean']['psnr']:.2f} dB")
        return r["mean"]["psnr"]

    info("searching the non-local means strength h on this test set (best mean PSNR)")
    h, scores = search_nlmeans_h(score)
    return NLMeans(h).eval(), {"h": h, "h_search": {f"{k:g}": round(v, 4) for k, v in scores.items()}}


def benchmark(
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help=f"Test set adapter: {dataset_choices()} (layouts below)."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder of the test set (layout per adapter)."
    ),
    input_dir: Path | None = typer.Option(None, "--input-dir", help="Inputs for --dataset folder."),
    pair_pattern: str | None = typer.Option(
        None,
        "--pair-pattern",
        help="--dataset folder: pair input and target stems by pattern, * being the shared part, e.g. "
        "'*_noise=*_gt' pairs 01_noise.png with 01_gt.png (targets may sit in the input folder).",
    ),
    target_dir: Path | None = typer.Option(
        None, "--target-dir", help="Targets for --dataset folder (matched by file name)."
    ),
    task: str | None = typer.Option(
        None,
        "--task",
        help="Registry task key picking the default model (denoise, deblur, enhance:lowlight, "
        "enhance:contrast, super-resolve:x4); default: the dataset's task.",
    ),
    weights: str | None = typer.Option(
        None,
        "--weights",
        "-w",
        metavar="SOURCE",
        help="Checkpoint: a file or folder, a registry name, hf://owner/repo/file[@rev] or an https URL.",
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        metavar="NAME",
        help="official, bundled or a registry name; or an architecture (mirnet, mirnet_v2) with random weights "
        "for --speed only.",
    ),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        help="Score a classical baseline instead of a network: identity, nlmeans (OpenCV non-local means; its "
        "strength h is searched on the test set and reported; nlmeans:h=12 fixes it), clahe (CLAHE + gamma, low "
        "light; also clahe-gamma), autolevels (per-channel 0.5/99.5 % stretch, contrast) or bicubic (SR).",
    ),
    scale: int | None = typer.Option(None, "--scale", help="Super-resolution factor (realsr / folder)."),
    degrade: str | None = typer.Option(
        None, "--degrade", help="synthetic: degrade the clean images with denoise, lowlight, sr or oldphoto."
    ),
    seed: int = typer.Option(0, "--seed", help="synthetic: seed of the degradations."),
    names: str | None = typer.Option(
        None, "--names", help="Comma-separated input file stems to keep (e.g. held-back images)."
    ),
    device: Device = "auto",
    precision: Precision = "auto",
    tile: Tile = "auto",
    tile_overlap: TileOverlap = 32,
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N images."),
    json_out: str | None = typer.Option(
        None, "--json", metavar="PATH", help="Write all results (per image) as JSON to PATH (- for stdout)."
    ),
    csv_path: Path | None = typer.Option(None, "--csv", metavar="PATH", help="Write per-image metrics as CSV."),
    save_images: Path | None = typer.Option(
        None,
        "--save-images",
        help="Save outputs as lossless PNG named by input (DND: also the submission .mat files).",
    ),
    compare_image: Path | None = typer.Option(
        None, "--compare-image", help="Write a PNG grid input | output | target of the first few images."
    ),
    speed: bool = typer.Option(False, "--speed", help="Time the model (latency, MP/s, memory, FLOPs)."),
    sizes: str = typer.Option(
        "256,512,1024", "--sizes", help="Square input sizes for --speed, comma-separated."
    ),
    repeats: int = typer.Option(10, "--repeats", min=1, help="Timed runs per size."),
    warmup: int = typer.Option(2, "--warmup", min=0, help="Untimed warm-up runs per size."),
    large_mp: float = typer.Option(
        12.0,
        "--large-mp",
        min=0.0,
        help="Megapixels of the synthetic photo run through the engine (0 = skip).",
    ),
    reference: bool = typer.Option(
        False,
        "--reference",
        help="Also time spandrel_extra_arches' MIRNet2 with the same weights (if installed).",
    ),
    plain: bool = typer.Option(
        True, "--plain/--no-plain",
        help="--speed: also time the plain path (eager fp32 NCHW, the authors' code) in alternating runs."),
    large_image: Path | None = typer.Option(
        None, "--large-image", metavar="PHOTO", help="--speed: run this photo through the engine instead of a "
        "synthetic --large-mp one."),
    large_whole: bool = typer.Option(
        False, "--large-whole", help="--speed: also run the large photo whole (tile 0): time ratio and PSNR of the "
        "tiled vs the whole-image output."),
    context: Context = "auto",
    max_memory: MaxMemory = None,
    backend: Backend = "auto",
    threads: Threads = "auto",
    quiet: Quiet = False,
) -> None:
    """Benchmark a model: quality on a test set (--dataset) and/or speed (--speed).

    Quality follows the authors' evaluation per test set (RGB PSNR/SSIM; Y channel with a border crop for
    super-resolution; PSNR/SSIM/MAE for DPDD) and shows the input-vs-target baseline and the paper's numbers.
    """
    from ...errors import MirnetError

    def info(message: str) -> None:
        if not quiet:
            typer.echo(message, err=True)

    if dataset is None and input_dir is not None:
        dataset = "folder"
    if dataset is None and not speed:
        raise _fail(f"nothing to do: pass --dataset ({', '.join(DATASETS)}) and/or --speed")
    to_stdout = json_out == "-"
    # With --json - the JSON alone goes to stdout; the tables go to stderr.
    table_out = (lambda text: typer.echo(text, err=True)) if to_stdout else typer.echo

    try:
        from ._options import check_engine_options, check_json_path, check_threads

        # Every option is checked before any data is read or any model is chosen (exit 2, one line).
        json_path = check_json_path(json_out)
        size_list = _parse_sizes(sizes) if speed else []
        if baseline is None:
            check_engine_options(SimpleNamespace(tile=tile, device=device, precision=precision, context=context,
                                                 max_memory=max_memory, backend=backend, threads=threads))
    except MirnetError as exc:
        raise _fail(str(exc)) from None

    try:
        from ...benchmark.report import format_quality_table, format_speed_table, write_csv, write_json
        from ...datasets import dataset_task, load_dataset

        tile_value: Any = tile

        ds = None
        if dataset is not None:
            ds = load_dataset(
                dataset, data_dir, input_dir=input_dir, target_dir=target_dir, scale=scale, task=task,
                pair_pattern=pair_pattern,
                degrade=degrade, seed=seed,
            )
            if names:
                from ...datasets import select_names

                ds = select_names(ds, names.split(","))
            info(f"{ds.name}: {len(ds)} image(s), layout {ds.layout}")
            from ...io.discovery import ensure_no_output_is_input

            files = [p for sample in ds.samples for p in (*sample.inputs, sample.target) if p is not None]
            outputs = [json_path, csv_path, compare_image]
            if save_images is not None:
                outputs += [Path(save_images).expanduser() / f"{sample.name}.png" for sample in ds.samples]
            ensure_no_output_is_input([p for p in outputs if p is not None], files)

        # ----- model
        net = None
        label = None
        entry = None
        baseline_params: dict[str, Any] | None = None
        if baseline is not None:
            from ...benchmark.baselines import make_baseline, parse_baseline

            base_name, params = parse_baseline(baseline)
            net, label, source = make_baseline(baseline), f"baseline:{base_name}", None
            precision, tile_value = "fp32", 0
            baseline_params = dict(getattr(net, "config", {}) or {})
            if base_name == "nlmeans" and "h" not in params and ds is not None and ds.protocol.has_targets:
                net, baseline_params = _search_nlmeans(ds, limit=limit, info=info)
        elif weights is not None:
            source = weights
        elif model is not None and model.lower().replace("-", "_") in ARCHITECTURES:
            if ds is not None:
                raise MirnetError(
                    f"--model {model} builds a randomly initialised network, which only makes sense with --speed "
                    "alone; pass --weights for quality"
                )
            from ... import build_model

            net, label, source = build_model(model), f"{model} (random weights)", None
        else:
            from ...restore.selection import choose_weights

            task_key = task or (dataset_task(ds.name, ds.protocol.scale, degrade) if ds is not None else None)
            if task_key is None and model in (None, "official", "bundled"):
                raise MirnetError("pass --weights, --model NAME or --task to choose the model")
            # Same choice as the restore commands: --model NAME, else official (cached or downloadable),
            # else the bundled compact model with a notice.
            choice = choose_weights(task_key or "", model=model)
            if choice.notice:
                info(f"note: {choice.notice}")
            source = choice.source
            if model is None:
                info(f"using the default model for {task_key}: {source}")
        if net is None:
            from ... import load_model

            net = load_model(source)
            label = str(source)
            entry = _registry_entry(str(source))

        runs: list[dict[str, Any]] = []
        speed_result = None
        if ds is not None:
            from ...benchmark.quality import run_quality

            paper = paper_metrics_for(entry, ds.name)
            result = run_quality(
                net,
                ds,
                device=device,
                precision=precision,
                tile=tile_value,
                tile_overlap=tile_overlap,
                limit=limit,
                save_images=save_images,
                compare_image=compare_image,
                model_name=label,
                paper=paper,
                progress=not quiet and sys.stderr.isatty(),
                log=info,
            )
            if baseline_params is not None:
                result["baseline"] = {"name": label.split(":", 1)[1], **baseline_params}
            runs.append(result)
            table_out(format_quality_table(runs))
            if baseline_params:
                typer.echo(f"{label}: " + ", ".join(f"{k} = {v:g}" for k, v in baseline_params.items()
                                                     if not isinstance(v, dict)), err=True)
            if ds.protocol.notes and not quiet:
                typer.echo(f"protocol: {ds.protocol.notes}", err=True)
            if not quiet and ds.protocol.has_targets:
                if paper is None:
                    typer.echo("paper numbers: none recorded for this model and dataset", err=True)
                else:
                    # The paper's numbers are means over the full test set; a subset only gives a rough range.
                    typer.echo(
                        f"paper numbers: {paper.get('dataset')}, {paper.get('protocol', '')}", err=True
                    )

        if speed:
            from ...benchmark.speed import run_speed

            speed_result = run_speed(
                net,
                sizes=size_list,
                repeats=repeats,
                warmup=warmup,
                device=device,
                precision=precision,
                large_mp=large_mp,
                tile=tile_value,
                tile_overlap=tile_overlap,
                reference=reference,
                model_name=label,
                progress=not quiet and sys.stderr.isatty(),
                log=info,
                backend=backend,
                plain=plain,
                large_image=large_image,
                large_whole=large_whole,
                context=context,
                max_memory=max_memory,
                threads=check_threads(threads),
            )
            table_out(format_speed_table(speed_result))

        if json_out is not None:
            # One dataset per run, so its result is the top level ({"dataset", "model", "protocol", "images",
            # "mean", …}) that other tools read; speed figures ride along under "speed".
            payload: dict[str, Any] = dict(runs[0]) if runs else {"model": label}
            if speed_result is not None:
                payload["speed"] = speed_result
            if to_stdout:
                from ...benchmark.report import jsonable

                typer.echo(json.dumps(jsonable(payload), indent=2, allow_nan=False))
            else:
                write_json(payload, json_path)
                info(f"wrote {json_path}")
        if csv_path is not None:
            if runs:
                write_csv(runs, csv_path)
                info(f"wrote {csv_path}")
            else:
                info("--csv ignored: it holds per-image quality metrics and no dataset was run")
    except MirnetError as exc:
        raise _fail(str(exc)) from None
