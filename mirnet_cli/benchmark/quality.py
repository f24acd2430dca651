"""Quality benchmark: run a model over a test set and score it the way the authors did.

For each sample: load → model through the :class:`~mirnet_cli.engine.inference.InferenceEngine` (which pads to
the model's size multiple, tiles if asked, and crops back) → clamp to [0, 1] → quantise as the protocol says
(8-bit PNG for most tasks; the clamped float output for SIDD and DPDD, like the authors' scripts) → metrics
(:mod:`mirnet_cli.metrics`). The *input* is scored against the target too ("identity baseline": noisy /
low-light / bicubic / L+R-mean input), so every row shows the gain.

The result is a plain dict (JSON-ready apart from ``inf`` PSNRs, see :func:`mirnet_cli.benchmark.report.write_json`)::

    {"dataset": "lol", "model": "...", "protocol": {...}, "count": 15,
     "images": [{"name": "1", "psnr": ..., "ssim": ..., "input_psnr": ..., "input_ssim": ..., ...}, ...],
     "mean": {"psnr": ..., "ssim": ..., "input_psnr": ..., ...},
     "groups": {"indoor": {...}, "outdoor": {...}},     # DPDD with label files only
     "paper": {"psnr": ..., "ssim": ..., ...} | None, ...}
"""

from __future__ import annotations

import io
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Dataset, Protocol, Sample
from ..errors import MirnetError
from ..metrics import crop_border, mae, psnr, quantize, rgb_to_y, ssim

__all__ = ["input_preview", "make_engine", "run_quality", "score", "write_png"]

_PROTOCOL = "protocol"
_LPIPS_MODEL: Any = None


# --------------------------------------------------------------------------------------------------------------
# metrics per protocol


def _lpips(output: np.ndarray, target: np.ndarray) -> float | None:
    """LPIPS-Alex distance (``normalize=True`` on [0, 1] inputs, as the DPDD script), or ``None`` if unusable."""
    global _LPIPS_MODEL
    try:
        import lpips
        import torch
    except ImportError:
        return None
    if _LPIPS_MODEL is None:
        try:
            _LPIPS_MODEL = lpips.LPIPS(net="alex", verbose=False).eval()
        except Exception:  # weights not downloadable offline etc.: report no LPIPS rather than fail
            _LPIPS_MODEL = False
    if _LPIPS_MODEL is False:
        return None
    with torch.inference_mode():
        a = torch.from_numpy(np.ascontiguousarray(output, dtype=np.float32)).permute(2, 0, 1)[None]
        b = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)).permute(2, 0, 1)[None]
        return float(_LPIPS_MODEL(b, a, normalize=True).item())


def score(output: np.ndarray, target: np.ndarray, protocol: Protocol) -> dict[str, float]:
    """Metrics of ``output`` against ``target`` (both ``H×W×3`` float in [0, 1]) under ``protocol``.

    The output is scored as given: clamping/quantisation is the caller's job (see :func:`run_quality`).

    * RGB protocols: PSNR with peak 1 on [0, 1]; SSIM per channel (window from ``protocol.ssim``) averaged;
      MAE; LPIPS when listed and ``lpips`` is installed.
    * Y protocols (SR): optional border crop, MATLAB ``rgb2ycbcr`` luma rounded like uint8, PSNR and SSIM with
      peak 255.
    """
    if output.shape != target.shape:
        raise MirnetError(f"output shape {output.shape} differs from target shape {target.shape}")
    o = crop_border(output, protocol.crop, matlab=protocol.crop_style == "matlab")
    t = crop_border(target, protocol.crop, matlab=protocol.crop_style == "matlab")
    ssim_kwargs = dict(protocol.ssim)
    out: dict[str, float] = {}
    if protocol.color == "y":
        oy, ty = rgb_to_y(o, round_to_uint8=True), rgb_to_y(t, round_to_uint8=True)
        if "psnr" in protocol.metrics:
            out["psnr"] = psnr(oy, ty, data_range=255.0)
        if "ssim" in protocol.metrics:
            out["ssim"] = ssim(oy, ty, data_range=255.0, **ssim_kwargs)
    else:
        if "psnr" in protocol.metrics:
            out["psnr"] = psnr(o, t, data_range=1.0)
        if "ssim" in protocol.metrics:
            out["ssim"] = ssim(o, t, data_range=1.0, **ssim_kwargs)
    if "mae" in protocol.metrics:
        out["mae"] = mae(o, t)
    if "lpips" in protocol.metrics:
        value = _lpips(o, t)
        if value is not None:
            out["lpips"] = value
    return out


def input_preview(x: np.ndarray) -> np.ndarray:
    """The RGB image an input represents: itself, or the mean of the L and R views of a 6-channel input."""
    if x.shape[-1] == 3:
        return x
    if x.shape[-1] == 6:
        return 0.5 * (x[..., :3] + x[..., 3:])
    raise MirnetError(f"cannot show a {x.shape[-1]}-channel input as RGB")


# --------------------------------------------------------------------------------------------------------------
# engine


def make_engine(
    model: Any,
    device: str = "auto",
    precision: str = "auto",
    tile: Any = "auto",
    tile_overlap: int = 32,
    progress: bool = False,
) -> Any:
    """An :class:`~mirnet_cli.engine.inference.InferenceEngine` for ``model`` (``.run(x[1,C,H,W]) → [1,3,H,W]``).

    ``tile="auto"`` runs whole images whenever they fit in memory, as the authors' scripts do; tiling (only for
    images too large for the device) slightly changes MIRNet-v2 outputs, and ``results["engine"]`` records it.
    """
    from ..engine.inference import InferenceEngine

    return InferenceEngine(
        model, device=device, precision=precision, tile=tile, tile_overlap=tile_overlap, progress=progress
    )


def _model_in_channels(model: Any) -> int | None:
    value = getattr(model, "in_channels", None)
    if value is None:
        config = getattr(model, "config", None) or {}
        value = config.get("inp_channels", config.get("in_channels"))
    return int(value) if value is not None else None


def _describe(value: Any) -> str | None:
    return None if value is None else str(value).replace("torch.", "")


# --------------------------------------------------------------------------------------------------------------
# outputs


def write_png(path: str | Path, rgb: np.ndarray, bits: int = 8) -> Path:
    """Write an ``H×W×3`` float RGB image in [0, 1] as a lossless 8- or 16-bit PNG, atomically (the I/O layer's
    :func:`~mirnet_cli.io.images.write_image`)."""
    from ..io.images import write_image

    return write_image(path, np.asarray(rgb, dtype=np.float32), bit_depth=bits)


def _write_mat(path: Path, variables: dict[str, Any]) -> Path:
    import scipy.io

    from ..io.atomic import atomic_write_bytes

    buf = io.BytesIO()
    scipy.io.savemat(buf, variables)
    return atomic_write_bytes(path, buf.getvalue())


def _bundle_dnd(mat_dir: Path, names: list[str]) -> str | None:
    """Bundle per-crop ``Idenoised_crop`` files into the 50 per-image files of the DND server
    (``bundled/%04d.mat`` with ``Idenoised`` (1×20 cell), ``israw`` False, ``eval_version`` "1.0"), as the authors'
    ``bundle_submissions_srgb``. Only when the crops are the full set named ``%04d_%02d`` / ``%04d_%d``."""
    import scipy.io

    found: dict[tuple[int, int], str] = {}
    for name in names:
        m = re.fullmatch(r"(\d{4})_(\d{1,2})", name)
        if m:
            found[(int(m.group(1)), int(m.group(2)))] = name
    if set(found) != {(i, b) for i in range(1, 51) for b in range(1, 21)}:
        return None
    out_dir = mat_dir / "bundled"
    for i in range(1, 51):
        cell = np.empty((20,), dtype=object)
        for b in range(1, 21):
            cell[b - 1] = scipy.io.loadmat(str(mat_dir / f"{found[(i, b)]}.mat"))["Idenoised_crop"]
        _write_mat(out_dir / f"{i:04d}.mat", {"Idenoised": cell, "israw": False, "eval_version": "1.0"})
    return str(out_dir)


def _thumb(img: np.ndarray, height: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    width = max(1, round(w * height / h))
    interp = cv2.INTER_AREA if height < h else cv2.INTER_CUBIC
    return np.clip(cv2.resize(img.astype(np.float32), (width, height), interpolation=interp), 0, 1)


def _write_compare(path: Path, rows: list[tuple[str, list[np.ndarray], str]]) -> Path:
    """A PNG grid: one row per sample (input | output | target) under a caption line (name, output PSNR)."""
    import cv2

    gap, header = 4, 22
    width = max(sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1) for _, tiles, _ in rows)
    canvas_rows = []
    for name, tiles, caption in rows:
        h = tiles[0].shape[0]
        row = np.full((h + header, width, 3), 255, np.uint8)
        x = 0
        for tile, label in zip(tiles, ("input", "output", "target"), strict=False):
            row[header:, x : x + tile.shape[1]] = np.rint(tile * 255).astype(np.uint8)
            text = {"input": f"input {name}", "output": f"output {caption}".strip()}.get(label, label)
            # cv2 draws on BGR/RGB alike; black text on the white caption strip.
            cv2.putText(
                row, text, (x + 3, header - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA
            )
            x += tile.shape[1] + gap
        canvas_rows.append(row)
        canvas_rows.append(np.full((gap, width, 3), 255, np.uint8))
    return write_png(path, np.concatenate(canvas_rows[:-1], axis=0))


# --------------------------------------------------------------------------------------------------------------
# runner


def _mean(records: list[dict[str, Any]]) -> dict[str, float]:
    keys: list[str] = []
    for r in records:
        for k, v in r.items():
            if isinstance(v, float) and k not in ("seconds",) and k not in keys:
                keys.append(k)
    out: dict[str, float] = {}
    for k in keys:
        values = [r[k] for r in records if isinstance(r.get(k), float)]
        if values:
            out[k] = float(np.mean(values))  # inf PSNRs (identical images) give inf, as they should
    return out


def run_quality(
    model: Any,
    dataset: Dataset,
    *,
    engine: Any = None,
    device: str = "auto",
    precision: str = "auto",
    tile: Any = "auto",
    tile_overlap: int = 32,
    limit: int | None = None,
    save_images: str | Path | None = None,
    compare_image: str | Path | None = None,
    compare_count: int = 4,
    model_name: str | None = None,
    paper: dict[str, Any] | None = None,
    quantize_bits: int | None | str = _PROTOCOL,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run ``model`` over ``dataset`` and score it.

    Args:
        model: an ``nn.Module`` (``mirnet_cli.load_model``/``build_model``), or anything the engine accepts.
        dataset: from :func:`mirnet_cli.datasets.load_dataset`.
        engine: a ready engine with ``.run``; default: :func:`make_engine` with ``device``/``precision``/``tile``.
        limit: score only the first N samples.
        save_images: folder for the outputs, lossless PNG named by input stem (16-bit for DPDD). For DND this
            is required and also receives ``submission/<stem>.mat`` (``Idenoised_crop``) and, for the full
            50×20 crop set, ``submission/bundled/``.
        compare_image: PNG path for an input | output | target grid of the first ``compare_count`` samples.
        model_name: label for the results (default: ``model.source`` or the architecture).
        paper: the paper's numbers (registry ``paper_metrics``), stored as ``results["paper"]``.
        quantize_bits: override the protocol's output quantisation (8, 16 or ``None`` = float).
        progress: show a tqdm bar on stderr.
        log: receives one-line notes (e.g. where the DND bundle went).

    Returns:
        The results dict described in the module docstring.

    Raises:
        MirnetError: channel mismatch between model and data, DND without ``save_images``, unreadable files.
    """
    from tqdm import tqdm

    protocol = dataset.protocol
    bits = protocol.quantize_bits if quantize_bits == _PROTOCOL else quantize_bits
    samples: list[Sample] = dataset.samples[:limit] if limit else list(dataset.samples)
    if not samples:
        raise MirnetError(f"{dataset.name}: no samples to evaluate")
    is_dnd = dataset.name == "dnd"
    if is_dnd and save_images is None:
        raise MirnetError(
            "dnd has no public ground truth: pass --save-images DIR to write the submission files"
        )
    save_dir = Path(save_images).expanduser() if save_images is not None else None
    save_bits = 16 if dataset.name == "dpdd" or bits == 16 else 8
    mat_dir = save_dir / "submission" if (save_dir is not None and is_dnd) else None

    if engine is None:
        engine = make_engine(model, device=device, precision=precision, tile=tile, tile_overlap=tile_overlap)
    expected_c = _model_in_channels(model)

    import torch

    records: list[dict[str, Any]] = []
    compare_rows: list[tuple[str, list[np.ndarray], str]] = []
    start = time.perf_counter()
    bar = tqdm(samples, desc=dataset.name, unit="img", disable=not progress, file=sys.stderr, leave=False)
    for sample in bar:
        x, target = sample.load()
        if expected_c is not None and x.shape[-1] != expected_c:
            kind = "dual-pixel L+R" if x.shape[-1] == 6 else "RGB"
            raise MirnetError(
                f"{sample.inputs[0]}: the model takes {expected_c} input channels but {dataset.name} gives "
                f"{x.shape[-1]} ({kind}); use a model for this task"
            )
        t0 = time.perf_counter()
        y = engine.run(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None])
        seconds = time.perf_counter() - t0
        out = y[0].permute(1, 2, 0).float().numpy()
        out = np.clip(out, 0.0, 1.0)
        if bits is not None:
            out = quantize(out, int(bits))
        rec: dict[str, Any] = {"name": sample.name}
        if sample.group is not None:
            rec["group"] = sample.group
        rec.update({"height": int(x.shape[0]), "width": int(x.shape[1]), "seconds": seconds})
        if target is not None and protocol.has_targets:
            rec.update(score(out, target, protocol))
            base = score(input_preview(x), target, protocol)
            rec.update({f"input_{k}": v for k, v in base.items()})
        records.append(rec)

        if save_dir is not None:
            write_png(save_dir / f"{sample.name}.png", out, bits=save_bits)
        if mat_dir is not None:
            _write_mat(mat_dir / f"{sample.name}.mat", {"Idenoised_crop": out.astype(np.float32)})
        if compare_image is not None and len(compare_rows) < compare_count:
            tiles = [input_preview(x), out] + ([target] if target is not None else [])
            caption = f"{rec['psnr']:.2f} dB" if "psnr" in rec else ""
            compare_rows.append((sample.name, [_thumb(t, 192) for t in tiles], caption))
        if progress and "psnr" in rec:
            bar.set_postfix(psnr=f"{rec['psnr']:.2f}")
    bar.close()

    results: dict[str, Any] = {
        "dataset": dataset.name,
        "data_dir": str(dataset.root) if dataset.root is not None else None,
        "layout": dataset.layout,
        "model": model_name
        or getattr(model, "source", None)
        or getattr(model, "architecture", type(model).__name__),
        "architecture": getattr(model, "architecture", None),
        "device": _describe(getattr(engine, "device", None)),
        "precision": _describe(getattr(engine, "dtype", None) or getattr(engine, "precision", None)),
        "tile": tile,
        "tile_overlap": tile_overlap,
        "protocol": {**protocol.to_dict(), "quantize_bits": bits},
        "count": len(records),
        "total_in_dataset": len(dataset.samples),
        "seconds": time.perf_counter() - start,
        "images": records,
        "mean": _mean(records),
        "paper": paper,
    }
    groups = sorted({r["group"] for r in records if "group" in r})
    if groups:
        results["groups"] = {g: _mean([r for r in records if r.get("group") == g]) for g in groups}
    if mat_dir is not None:
        bundle = _bundle_dnd(mat_dir, [r["name"] for r in records])
        results["submission"] = {"mat_dir": str(mat_dir), "bundled": bundle}
        if log is not None:
            log(f"DND submission files: {mat_dir}" + (f" (bundled: {bundle})" if bundle else ""))
    if compare_image is not None and compare_rows:
        results["compare_image"] = str(_write_compare(Path(compare_image).expanduser(), compare_rows))
    if save_dir is not None:
        results["saved_images"] = str(save_dir)
    stats = getattr(engine, "stats", None)
    if isinstance(stats, dict):
        results["engine"] = dict(stats)
    if math.isinf(results["mean"].get("psnr", 0.0)) and log is not None:
        log("note: some outputs are identical to their targets (PSNR = inf)")
    return results
