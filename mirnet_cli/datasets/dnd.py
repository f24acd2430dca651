"""``dnd``: DND sRGB crops, noisy inputs only.

Layout: ``*.mat`` (key ``im_noisy``) or images, directly in ``data_dir`` or in ``input/``. No ground truth is
public, so no metrics: the run writes the submission files instead.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MirnetError
from ._base import Dataset, Sample, _pair_samples, _require_dir, _wrong_layout, list_images, natural_key
from ._mat import _mat_image
from ._protocols import Protocol

_DND_EXPECTED = "noisy *.mat files (key im_noisy) or images, in the folder itself or in input/"


def dnd_dataset(data_dir: str | Path | None) -> Dataset:
    """DND sRGB crops (inputs only). ``.mat`` files take precedence over images with the same stem."""
    root = _require_dir(data_dir, "dnd", _DND_EXPECTED)
    folder = root / "input" if (root / "input").is_dir() else root
    if (folder / "info.mat").is_file() and (folder / "images_srgb").is_dir():
        raise MirnetError(
            f"dnd: {folder} is the official full-image DND release (info.mat + images_srgb/); extract the 20 "
            "bounding-box crops per image to .mat (im_noisy) or PNG files first"
        )
    mats = sorted(
        (p for p in folder.glob("*.mat") if not p.name.startswith(".")), key=lambda p: natural_key(p.name)
    )
    protocol = Protocol(
        task="denoise",
        quantize_bits=None,
        has_targets=False,
        notes="DND has no public ground truth: outputs are written as per-crop .mat files (Idenoised_crop, "
        "float32) for the online benchmark; no metrics.",
    )
    if mats:

        def make_mat(p: Path) -> Sample:
            return Sample(
                name=p.stem, inputs=(p,), target=None, load=lambda: (_mat_image(p, ("im_noisy",)), None)
            )

        return Dataset("dnd", root, "*.mat (im_noisy)", [make_mat(p) for p in mats], protocol)
    images = list_images(folder)
    if not images:
        raise _wrong_layout("dnd", root, _DND_EXPECTED, dnd_dataset)
    return Dataset("dnd", root, "noisy images", _pair_samples([(p, None) for p in images]), protocol)
