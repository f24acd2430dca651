"""MATLAB ``.mat`` reading for the SIDD and DND adapters (v7.3 HDF5 files through h5py when installed)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MirnetError
from ._base import _rgb3, _to_float


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
