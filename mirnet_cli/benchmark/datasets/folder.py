"""``folder``: any ``--input-dir`` (+ optional ``--target-dir``), matched by file stem."""

from __future__ import annotations

from pathlib import Path

from ...errors import MirnetError
from ._base import Dataset, _pair_by_stem, _pair_samples
from ._protocols import Protocol, _plain_protocol, _sr_protocol
from .realsr import _sr_key, _sr_sample


def folder_dataset(
    input_dir: str | Path | None,
    target_dir: str | Path | None = None,
    *,
    scale: int | None = None,
    task: str | None = None,
) -> Dataset:
    """Any folder of inputs (+ optional targets matched by file stem).

    With ``scale`` > 1 the SR protocol is used (Y channel, border crop = scale, bicubic pre-upsampling of
    inputs smaller than their targets); otherwise 8-bit RGB PSNR/SSIM without crop.
    """
    if input_dir is None:
        raise MirnetError("folder: pass --input-dir (and --target-dir for metrics)")
    inp = Path(input_dir).expanduser()
    if not inp.is_dir():
        raise MirnetError(f"folder: --input-dir {inp} is not a folder")
    tgt = None
    if target_dir is not None:
        tgt = Path(target_dir).expanduser()
        if not tgt.is_dir():
            raise MirnetError(f"folder: --target-dir {tgt} is not a folder")
    if scale and scale > 1:
        pairs = _pair_by_stem(inp, tgt, input_key=_sr_key(scale), target_key=_sr_key(scale), dataset="folder")
        samples = [_sr_sample(i, t, scale) for i, t in pairs]
        return Dataset(
            "folder", inp, "input dir + target dir (SR)", samples, _sr_protocol(scale, upsampled=True)
        )
    pairs = _pair_by_stem(inp, tgt, dataset="folder")
    protocol = _plain_protocol(task or "restore")
    if tgt is None:
        protocol = Protocol(
            task=protocol.task, has_targets=False, notes="no --target-dir: outputs only, no metrics"
        )
    return Dataset(
        "folder", inp, "input dir + target dir" if tgt else "input dir", _pair_samples(pairs), protocol
    )
