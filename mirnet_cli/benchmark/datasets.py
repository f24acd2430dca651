"""Benchmark dataset adapters: find the (input, target) pairs of a test set on disk and say how to score them.

Every adapter returns a :class:`Dataset`: a list of :class:`Sample` (name = the input's file stem, input
path(s), target path or ``None``, and a ``load()`` that returns float32 arrays in [0, 1]) plus the
:class:`Protocol`, i.e. the metric conventions of the authors' evaluation for that test set.

Supported layouts (``data_dir`` is the folder you pass with ``--data-dir``):

* ``sidd``: ``ValidationNoisyBlocksSrgb.mat`` + ``ValidationGtBlocksSrgb.mat`` (uint8 ``[40, 32, 256, 256, 3]``,
  the official validation blocks), or DANet-style single blocks ``noisy.mat`` (key ``im_noisy``) +
  ``gt.mat`` (key ``im_gt``), or PNG pairs in ``noisy/`` + ``gt/`` or ``input/`` + ``groundtruth/`` (or
  ``input/`` + ``target/``), where ``NOISY`` in an input name maps to ``GT`` in the target name.
* ``dnd``: noisy inputs only: ``*.mat`` (key ``im_noisy``) or images, directly in ``data_dir`` or in
  ``input/``. No ground truth is public, so no metrics: the run writes the submission files instead.
* ``lol``: ``low/`` + ``high/`` or ``input/`` + ``target/``.
* ``fivek``: ``input/`` + ``expertC/`` or ``input/`` + ``target/``.
* ``realsr``: ``HR/*.png`` + ``LR_bicubic/X{s}/<stem>x{s}.png`` (the SwinIR/Set5 layout), or ``x{s}/LR`` +
  ``x{s}/HR`` (also ``x{s}/input`` + ``x{s}/target``; ``data_dir`` may be the ``x{s}`` folder itself).
  LR smaller than HR is bicubic-upsampled to the HR size first, because MIRNet has no upsampler.
* ``dpdd``: ``inputL/`` + ``inputR/`` + ``target/`` 16-bit PNGs, optional ``indoor_labels.npy`` /
  ``outdoor_labels.npy`` (1-based indices into the sorted file list).
* ``folder``: any ``--input-dir`` (+ optional ``--target-dir``), matched by file stem.

Images are matched by file stem; folders are listed in natural order (``2.png`` before ``10.png``), which is
also the order the DPDD label files index into.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError, MirnetError
from ..io.formats import RASTER_EXTENSIONS

__all__ = [
    "DATASETS",
    "DATASET_TASKS",
    "IMAGE_EXTENSIONS",
    "Dataset",
    "Protocol",
    "Sample",
    "dataset_task",
    "dnd_dataset",
    "dpdd_dataset",
    "fivek_dataset",
    "folder_dataset",
    "select_names",
    "synthetic_dataset",
    "list_images",
    "load_dataset",
    "load_rgb",
    "lol_dataset",
    "natural_key",
    "realsr_dataset",
    "sidd_dataset",
    "upsample_bicubic",
]

# Benchmark pairs are raster files only (a RAW file has no paired target); the same set the restore commands read.
IMAGE_EXTENSIONS = RASTER_EXTENSIONS

Loader = Callable[[], "tuple[np.ndarray, np.ndarray | None]"]


# --------------------------------------------------------------------------------------------------------------
# data classes


@dataclass(frozen=True)
class Protocol:
    """How outputs are scored for one test set (mirrors the authors' evaluation scripts).

    Attributes:
        task: ``denoise``, ``enhance``, ``super_resolution`` or ``defocus_deblur``.
        color: ``"rgb"`` (metrics on the three channels) or ``"y"`` (MATLAB ``rgb2ycbcr`` luma, rounded to
            integers as MATLAB does for uint8 images).
        crop: border removed before scoring (0 = none).
        crop_style: ``"matlab"`` = ``img(s:end-s, s:end-s)`` (``s−1`` top/left, ``s`` bottom/right), or
            ``"symmetric"``.
        quantize_bits: the output is clamped and rounded to this many bits before scoring (how the authors'
            saved PNGs look); ``None`` = score the clamped float output (as the authors' SIDD and DPDD scripts do).
        ssim: keyword arguments for :func:`mirnet_cli.metrics.ssim` (window etc.).
        metrics: metric names reported per image.
        scale: SR factor (``None`` otherwise).
        upsample: how a smaller input is brought to the target size (``None`` = never).
        notes: free-text caveats, shown in the JSON.
    """

    task: str
    color: str = "rgb"
    crop: int = 0
    crop_style: str = "symmetric"
    quantize_bits: int | None = 8
    ssim: dict[str, Any] = field(
        default_factory=lambda: {"gaussian": True, "sigma": 1.5, "sample_covariance": False}
    )
    metrics: tuple[str, ...] = ("psnr", "ssim")
    scale: int | None = None
    upsample: str | None = None
    notes: str = ""
    has_targets: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description of the conventions (goes into the results as ``"protocol"``)."""
        if self.ssim.get("gaussian", True):
            window = (
                f"Gaussian 11x11 sigma {self.ssim.get('sigma', 1.5)}, population covariance, valid region"
            )
        else:
            window = (
                f"uniform {self.ssim.get('win_size', 7)}x{self.ssim.get('win_size', 7)}, "
                f"{'sample' if self.ssim.get('sample_covariance') else 'population'} covariance, valid region"
            )
        colour = (
            "RGB, per channel averaged" if self.color == "rgb" else "Y (BT.601 studio swing, rounded), 0-255"
        )
        return {
            "task": self.task,
            "metrics": list(self.metrics) if self.has_targets else [],
            "color": self.color,
            "psnr": "10*log10(peak^2/MSE) over all channels; peak 1 on [0,1] RGB, 255 on Y",
            "ssim": f"Wang et al. 2004: {window}; K1 0.01, K2 0.03; {colour}",
            "crop_border": self.crop,
            "crop_style": self.crop_style if self.crop else None,
            "quantize_bits": self.quantize_bits,
            "clamp": "[0, 1]",
            "scale": self.scale,
            "upsample": self.upsample,
            "notes": self.notes,
        }


@dataclass
class Sample:
    """One test image.

    Attributes:
        name: the input file stem (``%04d_%02d`` image/block for SIDD block files), used for output names.
        inputs: input file(s): one path, or the left and right views for dual-pixel data.
        target: ground-truth file, or ``None`` (DND).
        load: returns ``(input, target)``: input ``H×W×C`` float32 in [0, 1] (C = 3, or 6 = L‖R for
            DPDD, already upsampled for SR), target ``H×W×3`` float32 in [0, 1] or ``None``.
        group: subset label (``"indoor"``/``"outdoor"`` for DPDD) or ``None``.
    """

    name: str
    inputs: tuple[Path, ...]
    target: Path | None
    load: Loader
    group: str | None = None


@dataclass
class Dataset:
    """A resolved test set: which adapter, which layout was found, the samples and the scoring protocol."""

    name: str
    root: Path | None
    layout: str
    samples: list[Sample]
    protocol: Protocol

    def __len__(self) -> int:
        return len(self.samples)


# --------------------------------------------------------------------------------------------------------------
# file helpers


def natural_key(text: str) -> list[Any]:
    """Sort key that orders embedded numbers numerically (``img2`` < ``img10``), like ``natsort``."""
    return [int(tok) if tok.isdigit() else tok.casefold() for tok in re.split(r"(\d+)", text)]


def list_images(folder: Path, extensions: Iterable[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files directly inside ``folder`` (not recursive, hidden files skipped), in natural order."""
    exts = {e.lower() for e in extensions}
    files = [
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def _to_float(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(arr.astype(np.float32), 0.0, 1.0)
    raise ImageReadError(path, f"unsupported pixel type {arr.dtype}")


def _rgb3(arr: np.ndarray, path: Path) -> np.ndarray:
    """Grey → RGB, drop alpha; channels last."""
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise ImageReadError(path, f"expected an H×W×3 RGB image, got shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr[..., :3]


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as ``H×W×3`` float32 RGB in [0, 1], keeping 16-bit precision.

    Goes through :func:`mirnet_cli.io.images.read_image` (stored sample values scaled by 255 or 65535, EXIF
    orientation applied, alpha dropped), which matches the authors' ``cv2.imread`` + BGR→RGB + ``/255``
    (``/65535`` for 16-bit) loaders.

    Raises:
        ImageReadError: missing, unreadable or unsupported file.
    """
    from ..io.images import read_image

    return read_image(Path(path)).pixels  # always H×W×3 float32 (grey replicated, alpha kept apart)


def upsample_bicubic(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of an ``H×W×C`` float image to ``height×width`` with PIL ``BICUBIC``.

    PIL's bicubic uses the Keys kernel with a = −0.5, the same kernel as MATLAB ``imresize(..., 'bicubic')``
    (OpenCV's ``INTER_CUBIC`` uses a = −0.75). For upscaling the two agree except within a couple of pixels of
    the border (PIL renormalises the truncated kernel, MATLAB replicates edge pixels), which the SR protocol
    crops away. Each channel is resized in float32 ("F" mode), so nothing is rounded to 8 bit.
    """
    from PIL import Image

    chans = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(img[..., c], dtype=np.float32), mode="F").resize(
                (width, height), Image.Resampling.BICUBIC
            )
        )
        for c in range(img.shape[-1])
    ]
    return np.clip(np.stack(chans, axis=-1), 0.0, 1.0).astype(np.float32)


def _load_mat(path: Path) -> dict[str, Any]:
    """``scipy.io.loadmat``, with MATLAB v7.3 (HDF5) files read through h5py when it is installed."""
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except NotImplementedError:
        # scipy raises NotImplementedError for v7.3 files, which are HDF5 containers.
        try:
            import h5py
        except ImportError:
            raise MirnetError(
                f"{path}: MATLAB v7.3 (HDF5) .mat file; scipy cannot read it and h5py is not installed "
                "(pip install h5py), or re-save it with MATLAB save(..., '-v7')"
            ) from None
        out: dict[str, Any] = {}
        try:
            with h5py.File(path, "r") as fh:
                for key, value in fh.items():
                    if isinstance(value, h5py.Dataset):
                        # HDF5 stores MATLAB's column-major arrays with the axes reversed.
                        out[key] = np.asarray(value).transpose()
        except OSError as exc:
            raise MirnetError(f"{path}: cannot read the MATLAB v7.3 (HDF5) file ({exc})") from None
        return out
    except (OSError, ValueError) as exc:
        raise MirnetError(f"{path}: cannot read the .mat file ({exc})") from None


def _mat_array(path: Path, keys: Iterable[str]) -> np.ndarray:
    data = _load_mat(path)
    for key in keys:
        if key in data:
            return np.asarray(data[key])
    present = sorted(k for k in data if not k.startswith("__"))
    raise MirnetError(
        f"{path}: no variable named {' or '.join(keys)} (found: {', '.join(present) or 'none'})"
    )


def _mat_image(path: Path, keys: Iterable[str]) -> np.ndarray:
    arr = _mat_array(path, keys)
    return _rgb3(_to_float(arr, path), path)


def _pair_by_stem(
    input_dir: Path,
    target_dir: Path | None,
    *,
    input_key: Callable[[str], str] = lambda s: s.casefold(),
    target_key: Callable[[str], str] = lambda s: s.casefold(),
    dataset: str,
) -> list[tuple[Path, Path | None]]:
    """Match files of ``input_dir`` with files of ``target_dir`` by (normalised) stem.

    Raises:
        MirnetError: no images, duplicate stems, or inputs without a target (named in the message).
    """
    inputs = list_images(input_dir)
    if not inputs:
        raise MirnetError(f"{dataset}: no images in {input_dir}")
    if target_dir is None:
        return [(p, None) for p in inputs]
    targets: dict[str, Path] = {}
    for t in list_images(target_dir):
        key = target_key(t.stem)
        if key in targets:
            raise MirnetError(
                f"{dataset}: two targets with the same name in {target_dir}: {targets[key].name}, {t.name}"
            )
        targets[key] = t
    pairs: list[tuple[Path, Path | None]] = []
    missing: list[str] = []
    seen: set[str] = set()
    for p in inputs:
        key = input_key(p.stem)
        if key in seen:
            raise MirnetError(f"{dataset}: two inputs with the same name in {input_dir}: {p.stem}.*")
        seen.add(key)
        if key not in targets:
            missing.append(p.name)
            continue
        pairs.append((p, targets[key]))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise MirnetError(f"{dataset}: no target in {target_dir} for {shown} (files are matched by name)")
    return pairs


def _pair_samples(pairs: list[tuple[Path, Path | None]]) -> list[Sample]:
    def make(inp: Path, tgt: Path | None) -> Sample:
        def load() -> tuple[np.ndarray, np.ndarray | None]:
            x = load_rgb(inp)
            y = load_rgb(tgt) if tgt is not None else None
            _check_same_size(x, y, inp, tgt)
            return x, y

        return Sample(name=inp.stem, inputs=(inp,), target=tgt, load=load)

    return [make(i, t) for i, t in pairs]


def _check_same_size(x: np.ndarray, y: np.ndarray | None, inp: Path, tgt: Path | None) -> None:
    if y is not None and x.shape[:2] != y.shape[:2]:
        raise MirnetError(
            f"{inp}: size {x.shape[1]}x{x.shape[0]} differs from its target {tgt} ({y.shape[1]}x{y.shape[0]})"
        )


def _first_existing(root: Path, pairs: Iterable[tuple[str, ...]]) -> tuple[Path, ...] | None:
    for names in pairs:
        paths = tuple(root / n for n in names)
        if all(p.is_dir() for p in paths):
            return paths
    return None


def _require_dir(root: Path | None, dataset: str, expected: str) -> Path:
    if root is None:
        raise MirnetError(f"{dataset}: pass --data-dir (expected layout: {expected})")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MirnetError(f"{dataset}: {root} is not a folder (expected layout: {expected})")
    return root


def _wrong_layout(dataset: str, root: Path, expected: str) -> MirnetError:
    return MirnetError(f"{dataset}: {root} does not have the expected layout: {expected}")


# --------------------------------------------------------------------------------------------------------------
# protocols (see docs/architecture-facts.md §5 for the authors' scripts)

_SSIM_WANG = {"gaussian": True, "sigma": 1.5, "sample_covariance": False}
_MATLAB_SSIM_NOTE = (
    "The paper's SSIM comes from MATLAB ssim() on RGB, which by default treats the RGB array as a 3-D volume "
    "(replicate padding, full map); this tool averages Wang's 2-D SSIM over channels, so SSIM may differ in the "
    "third decimal."
)


def _sidd_protocol() -> Protocol:
    return Protocol(
        task="denoise",
        quantize_bits=None,
        ssim=dict(_SSIM_WANG),
        notes="Clamped float output vs ground truth, full RGB, no crop, as test_real_denoising_sidd.py + "
        "evaluate_sidd.m. " + _MATLAB_SSIM_NOTE,
    )


def _enhance_protocol(name: str) -> Protocol:
    return Protocol(
        task="enhance",
        quantize_bits=8,
        ssim=dict(_SSIM_WANG),
        notes=f"{name}: 8-bit RGB output (as saved by Enhancement/test.py) vs target, no crop, as "
        "evaluate_PSNR_SSIM.m. " + _MATLAB_SSIM_NOTE,
    )


def _sr_protocol(scale: int, upsampled: bool) -> Protocol:
    return Protocol(
        task="super_resolution",
        color="y",
        crop=scale,
        crop_style="matlab",
        quantize_bits=8,
        ssim=dict(_SSIM_WANG),
        scale=scale,
        upsample="PIL bicubic (Keys a=-0.5) to the HR size" if upsampled else None,
        notes="8-bit output, img(s:end-s, s:end-s) crop, rgb2ycbcr Y (rounded like MATLAB on uint8), psnr and "
        "Wang's ssim_index on Y, as Super_Resolution/evaluate_PSNR_SSIM.m. MIRNet has no upsampler: LR "
        "inputs smaller than HR are bicubic-upsampled first (MATLAB imresize differs slightly at the borders).",
    )


def _dpdd_protocol() -> Protocol:
    try:
        import lpips  # noqa: F401

        has_lpips = True
    except ImportError:
        has_lpips = False
    return Protocol(
        task="defocus_deblur",
        quantize_bits=None,
        ssim={"gaussian": False, "win_size": 7, "sample_covariance": True},
        metrics=("psnr", "ssim", "mae", "lpips") if has_lpips else ("psnr", "ssim", "mae"),
        notes="Clamped float output vs 16-bit target on [0,1] RGB as test_dual_pixel_defocus_deblur.py: PSNR, "
        "skimage default SSIM (uniform 7x7, sample covariance, data_range 1), MAE"
        + (", LPIPS-Alex." if has_lpips else "; LPIPS skipped (pip install lpips).")
        + " Input baseline = mean of the L and R views.",
    )


def _plain_protocol(task: str = "restore") -> Protocol:
    return Protocol(
        task=task, quantize_bits=8, ssim=dict(_SSIM_WANG), notes="8-bit RGB output vs target, no crop."
    )


# --------------------------------------------------------------------------------------------------------------
# adapters

_SIDD_EXPECTED = (
    "ValidationNoisyBlocksSrgb.mat + ValidationGtBlocksSrgb.mat, or noisy.mat (im_noisy) + gt.mat (im_gt), or "
    "noisy/ + gt/ (or input/ + groundtruth/, input/ + target/) PNG folders"
)


class _LazyMat:
    """Loads a big .mat variable once, on first use, and shares it between the samples."""

    def __init__(self, path: Path, keys: tuple[str, ...]):
        self.path, self.keys = path, keys

    @cached_property
    def array(self) -> np.ndarray:
        arr = _mat_array(self.path, self.keys)
        if arr.ndim != 5 or arr.shape[-1] != 3:
            raise MirnetError(
                f"{self.path}: expected blocks shaped [images, blocks, H, W, 3], got {arr.shape}"
            )
        return arr


def _noisy_to_gt(stem: str) -> str:
    return re.sub("noisy", "gt", stem, flags=re.IGNORECASE).casefold()


def sidd_dataset(data_dir: str | Path | None) -> Dataset:
    """SIDD sRGB validation: official block .mat files, DANet-style block .mat files, or PNG pairs."""
    root = _require_dir(data_dir, "sidd", _SIDD_EXPECTED)
    noisy_mat, gt_mat = root / "ValidationNoisyBlocksSrgb.mat", root / "ValidationGtBlocksSrgb.mat"
    if noisy_mat.is_file():
        if not gt_mat.is_file():
            raise MirnetError(f"sidd: {noisy_mat} found but not its ground truth {gt_mat.name}")
        noisy = _LazyMat(noisy_mat, ("ValidationNoisyBlocksSrgb",))
        gt = _LazyMat(gt_mat, ("ValidationGtBlocksSrgb",))
        shape = noisy.array.shape
        if gt.array.shape != shape:
            raise MirnetError(
                f"sidd: {noisy_mat.name} {shape} and {gt_mat.name} {gt.array.shape} differ in shape"
            )

        def make(i: int, k: int) -> Sample:
            def load() -> tuple[np.ndarray, np.ndarray]:
                return _to_float(noisy.array[i, k], noisy_mat), _to_float(gt.array[i, k], gt_mat)

            # Same names as the authors' saved PNGs ('%04d_%02d.png', 1-based).
            return Sample(name=f"{i + 1:04d}_{k + 1:02d}", inputs=(noisy_mat,), target=gt_mat, load=load)

        samples = [make(i, k) for i in range(shape[0]) for k in range(shape[1])]
        return Dataset("sidd", root, "ValidationNoisyBlocksSrgb.mat blocks", samples, _sidd_protocol())

    if (root / "noisy.mat").is_file():
        n_path, g_path = root / "noisy.mat", root / "gt.mat"
        if not g_path.is_file():
            raise MirnetError(f"sidd: {n_path} found but not its ground truth gt.mat (key im_gt)")

        def load_block() -> tuple[np.ndarray, np.ndarray]:
            x = _mat_image(n_path, ("im_noisy",))
            y = _mat_image(g_path, ("im_gt",))
            _check_same_size(x, y, n_path, g_path)
            return x, y

        sample = Sample(name="noisy", inputs=(n_path,), target=g_path, load=load_block)
        return Dataset("sidd", root, "noisy.mat + gt.mat (single block)", [sample], _sidd_protocol())

    dirs = _first_existing(root, [("noisy", "gt"), ("input", "groundtruth"), ("input", "target")])
    if dirs is None:
        raise _wrong_layout("sidd", root, _SIDD_EXPECTED)
    pairs = _pair_by_stem(dirs[0], dirs[1], input_key=_noisy_to_gt, dataset="sidd")
    layout = f"{dirs[0].name}/ + {dirs[1].name}/ PNG pairs"
    return Dataset("sidd", root, layout, _pair_samples(pairs), _sidd_protocol())


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
        raise _wrong_layout("dnd", root, _DND_EXPECTED)
    return Dataset("dnd", root, "noisy images", _pair_samples([(p, None) for p in images]), protocol)


def _paired_dataset(
    name: str, data_dir: str | Path | None, options: list[tuple[str, str]], protocol: Protocol
) -> Dataset:
    expected = " or ".join(f"{a}/ + {b}/" for a, b in options) + " image folders matched by file name"
    root = _require_dir(data_dir, name, expected)
    dirs = _first_existing(root, options)
    if dirs is None:
        raise _wrong_layout(name, root, expected)
    pairs = _pair_by_stem(dirs[0], dirs[1], dataset=name)
    return Dataset(name, root, f"{dirs[0].name}/ + {dirs[1].name}/", _pair_samples(pairs), protocol)


def lol_dataset(data_dir: str | Path | None) -> Dataset:
    """LoL (LOL-v1 eval15): ``low/`` + ``high/`` (or ``input/`` + ``target/``)."""
    return _paired_dataset("lol", data_dir, [("low", "high"), ("input", "target")], _enhance_protocol("LoL"))


def fivek_dataset(data_dir: str | Path | None) -> Dataset:
    """MIT-Adobe FiveK: ``input/`` + ``expertC/`` (or ``input/`` + ``target/``)."""
    return _paired_dataset(
        "fivek", data_dir, [("input", "expertC"), ("input", "target")], _enhance_protocol("FiveK")
    )


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


def _sr_key(scale: int) -> Callable[[str], str]:
    """Stem normaliser for SR pairs: ``babyx4``, ``baby_x4``, ``Canon_001_LR4``, ``Canon_001_HR`` → base name."""
    pattern = re.compile(rf"(?:[_\-]?x{scale}|[_\-](?:lr|hr)\d*)$", re.IGNORECASE)

    def key(stem: str) -> str:
        return pattern.sub("", stem).casefold()

    return key


def _sr_sample(lr_path: Path, hr_path: Path | None, scale: int) -> Sample:
    def load() -> tuple[np.ndarray, np.ndarray | None]:
        lr = load_rgb(lr_path)
        if hr_path is None:
            return lr, None
        hr = load_rgb(hr_path)
        if lr.shape[:2] == hr.shape[:2]:
            return lr, hr  # already HR-sized (RealSR "version 1")
        h, w = lr.shape[0] * scale, lr.shape[1] * scale
        if hr.shape[0] < h or hr.shape[1] < w or hr.shape[0] - h >= scale or hr.shape[1] - w >= scale:
            raise MirnetError(
                f"{lr_path}: {lr.shape[1]}x{lr.shape[0]} is not a x{scale} reduction of {hr_path} "
                f"({hr.shape[1]}x{hr.shape[0]})"
            )
        # HR sizes that are not a multiple of the scale are cropped (the usual "modcrop").
        return upsample_bicubic(lr, h, w), hr[:h, :w]

    return Sample(name=lr_path.stem, inputs=(lr_path,), target=hr_path, load=load)


def _scales_available(root: Path) -> list[int]:
    found: set[int] = set()
    for base in (root, root / "LR_bicubic"):
        if base.is_dir():
            for p in base.iterdir():
                m = re.fullmatch(r"[xX](\d+)", p.name)
                if m and p.is_dir():
                    found.add(int(m.group(1)))
    return sorted(found)


_REALSR_EXPECTED = (
    "HR/ + LR_bicubic/X{s}/<name>x{s}.png, or x{s}/LR/ + x{s}/HR/ (or x{s}/input/ + x{s}/target/), "
    "or a x{s} folder holding LR/ + HR/"
)


def realsr_dataset(data_dir: str | Path | None, scale: int | None = None) -> Dataset:
    """Super-resolution pairs (RealSR / Set5-style), scored on Y with a ``scale``-pixel border crop."""
    root = _require_dir(data_dir, "realsr", _REALSR_EXPECTED)
    if scale is None:
        m = re.fullmatch(r"[xX](\d+)", root.name)
        scales = [int(m.group(1))] if m else _scales_available(root)
        if len(scales) != 1:
            if not scales:
                raise _wrong_layout("realsr", root, _REALSR_EXPECTED)
            raise MirnetError(
                f"realsr: {root} has scales {', '.join(map(str, scales))}; pick one with --scale"
            )
        scale = scales[0]
    if scale < 1:
        raise MirnetError(f"realsr: invalid --scale {scale}")

    candidates: list[tuple[Path, Path, str]] = []
    for xdir in (root / f"x{scale}", root / f"X{scale}", root):
        for lr_name, hr_name in (("LR", "HR"), ("input", "target"), ("lr", "hr")):
            if (xdir / lr_name).is_dir() and (xdir / hr_name).is_dir():
                candidates.append(
                    (xdir / lr_name, xdir / hr_name, f"{xdir.name}/{lr_name}/ + {xdir.name}/{hr_name}/")
                )
    for lr_name in (f"X{scale}", f"x{scale}"):
        if (root / "LR_bicubic" / lr_name).is_dir() and (root / "HR").is_dir():
            candidates.insert(0, (root / "LR_bicubic" / lr_name, root / "HR", f"HR/ + LR_bicubic/{lr_name}/"))
    if not candidates:
        raise _wrong_layout("realsr", root, _REALSR_EXPECTED.replace("{s}", str(scale)))
    lr_dir, hr_dir, layout = candidates[0]
    key = _sr_key(scale)
    pairs = _pair_by_stem(lr_dir, hr_dir, input_key=key, target_key=key, dataset="realsr")
    samples = [_sr_sample(i, t, scale) for i, t in pairs]
    return Dataset("realsr", root, layout, samples, _sr_protocol(scale, upsampled=True))


_DPDD_EXPECTED = (
    "inputL/ + inputR/ + target/ 16-bit PNG folders (optional indoor_labels.npy, outdoor_labels.npy)"
)


def _dp_key(stem: str) -> str:
    return re.sub(r"[_\-](?:l|r|c|left|right|center)$", "", stem, flags=re.IGNORECASE).casefold()


def dpdd_dataset(data_dir: str | Path | None) -> Dataset:
    """Dual-pixel defocus deblurring (DPDD): 6-channel input L‖R (left view first), 16-bit target."""
    root = _require_dir(data_dir, "dpdd", _DPDD_EXPECTED)
    l_dir, r_dir, t_dir = root / "inputL", root / "inputR", root / "target"
    if not (l_dir.is_dir() and r_dir.is_dir() and t_dir.is_dir()):
        raise _wrong_layout("dpdd", root, _DPDD_EXPECTED)
    left = _pair_by_stem(l_dir, r_dir, input_key=_dp_key, target_key=_dp_key, dataset="dpdd")
    with_target = _pair_by_stem(l_dir, t_dir, input_key=_dp_key, target_key=_dp_key, dataset="dpdd")
    triples = [(lp, rp, tp) for (lp, rp), (_, tp) in zip(left, with_target, strict=True)]

    groups: dict[int, str] = {}
    for label in ("indoor", "outdoor"):
        f = root / f"{label}_labels.npy"
        if f.is_file():
            try:
                idx = np.load(f).astype(int).ravel()
            except (OSError, ValueError) as exc:
                raise MirnetError(f"{f}: cannot read the labels ({exc})") from None
            for i in idx:
                if not 1 <= i <= len(triples):
                    raise MirnetError(f"{f}: index {i} out of range 1..{len(triples)} (indices are 1-based)")
                groups[int(i) - 1] = label

    def make(n: int, lp: Path, rp: Path, tp: Path) -> Sample:
        def load() -> tuple[np.ndarray, np.ndarray]:
            left_img, right_img, target = load_rgb(lp), load_rgb(rp), load_rgb(tp)
            _check_same_size(left_img, right_img, lp, rp)
            _check_same_size(left_img, target, lp, tp)
            return np.concatenate([left_img, right_img], axis=-1), target  # L first, as the authors

        return Sample(name=lp.stem, inputs=(lp, rp), target=tp, load=load, group=groups.get(n))

    samples = [make(n, *t) for n, t in enumerate(triples)]
    return Dataset("dpdd", root, "inputL/ + inputR/ + target/", samples, _dpdd_protocol())


DATASETS = ("sidd", "dnd", "lol", "fivek", "realsr", "dpdd", "folder", "synthetic")

# Registry task key (see mirnet_cli.loading.registry) of each dataset, used to pick the default model.
DATASET_TASKS = {
    "sidd": "denoise",
    "dnd": "denoise",
    "lol": "enhance:lowlight",
    "fivek": "enhance:contrast",
    "realsr": "super-resolve",  # + ":x{scale}"
    "dpdd": "deblur",
}
SYNTHETIC_TASKS = {"denoise": "denoise", "lowlight": "enhance:lowlight", "oldphoto": "oldphoto"}


def dataset_task(name: str, scale: int | None = None, degrade: str | None = None) -> str | None:
    """Registry task key for a dataset name (``None`` for ``folder``), e.g. ``realsr`` + 4 → ``super-resolve:x4``."""
    if name == "synthetic":
        return SYNTHETIC_TASKS.get(degrade or "")
    task = DATASET_TASKS.get(name)
    if task == "super-resolve" and scale:
        return f"{task}:x{scale}"
    return task


def synthetic_dataset(clean_dir: str | Path | None, degrade_mode: str | None, seed: int = 0) -> Dataset:
    """Clean photos degraded with a fixed seed (``mirnet_cli.train.degradations``): a reproducible test set.

    Sample *i* (in sorted file order) is ``degrade(clean_i, mode, Generator([seed, i]))``, quantised to 8 bits as
    if it had been saved, against the clean photo as target.
    """
    from ..train.degradations import MODES, degrade

    root = _require_dir(clean_dir, "synthetic", "a folder of clean images")
    if degrade_mode not in MODES:
        raise MirnetError(f"synthetic: --degrade must be one of {', '.join(MODES)}")
    files = list_images(root)
    if not files:
        raise _wrong_layout("synthetic", root, "a folder of clean images")

    def make(index: int, path: Path) -> Sample:
        def load() -> tuple[np.ndarray, np.ndarray]:
            clean = load_rgb(path)
            noisy = degrade(clean, degrade_mode, np.random.default_rng([seed, index]))
            return (np.round(noisy * 255.0) / 255.0).astype(np.float32), clean

        return Sample(name=path.stem, inputs=(path,), target=path, load=load)

    protocol = Protocol(task=SYNTHETIC_TASKS.get(degrade_mode, degrade_mode), quantize_bits=8,
                        ssim=dict(_SSIM_WANG),
                        notes=f"clean images degraded with '{degrade_mode}' (seed {seed}, input quantised to 8 "
                              "bits); 8-bit RGB output vs the clean image, no crop.")
    return Dataset("synthetic", root, f"clean images + {degrade_mode} (seed {seed})",
                   [make(i, p) for i, p in enumerate(files)], protocol)


def select_names(dataset: Dataset, names: Iterable[str]) -> Dataset:
    """Keep only the samples whose name (input file stem) is in ``names``; unknown names are an error."""
    wanted = [n for n in names if n]
    have = {s.name for s in dataset.samples}
    missing = [n for n in wanted if n not in have]
    if missing:
        raise MirnetError(f"{dataset.name}: no sample named {', '.join(missing)} (have e.g. "
                          f"{', '.join(sorted(have)[:5])})")
    keep = set(wanted)
    dataset.samples = [s for s in dataset.samples if s.name in keep]
    return dataset


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    input_dir: str | Path | None = None,
    target_dir: str | Path | None = None,
    scale: int | None = None,
    task: str | None = None,
    degrade: str | None = None,
    seed: int = 0,
) -> Dataset:
    """Resolve a dataset by adapter name (see the module docstring for the layouts).

    Raises:
        MirnetError: unknown name, or a folder in the wrong layout (the message says which was expected).
    """
    key = name.strip().lower()
    if key == "sidd":
        return sidd_dataset(data_dir)
    if key == "dnd":
        return dnd_dataset(data_dir)
    if key in ("lol", "lolv1"):
        return lol_dataset(data_dir)
    if key in ("fivek", "mit-adobe-fivek", "mit5k"):
        return fivek_dataset(data_dir)
    if key in ("realsr", "sr"):
        return realsr_dataset(data_dir, scale)
    if key == "dpdd":
        return dpdd_dataset(data_dir)
    if key == "folder":
        if scale is None and task:
            # "--task super-resolve:x4" implies the SR protocol with scale 4.
            m = re.fullmatch(r"super-resolve:x(\d+)", task.strip().lower())
            scale = int(m.group(1)) if m else None
        return folder_dataset(
            input_dir if input_dir is not None else data_dir, target_dir, scale=scale, task=task
        )
    if key == "synthetic":
        return synthetic_dataset(data_dir, degrade, seed)
    raise MirnetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
