"""The dpdd adapter: 16-bit, six-channel inputs, indoor/outdoor groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mirnet_cli.datasets import load_dataset
from mirnet_cli.errors import MirnetError
from tests.datasets.conftest import noisy_of, write_rgb


def _dpdd(root: Path, names: list[str]) -> Path:
    for i, n in enumerate(names):
        rng = np.random.default_rng(i)
        clean = rng.integers(0, 65536, (16, 20, 3), dtype=np.uint16)
        write_rgb(root / "target" / f"{n}.png", clean)
        write_rgb(root / "inputL" / f"{n}.png", noisy_of(clean, i))
        write_rgb(root / "inputR" / f"{n}.png", noisy_of(clean, i + 50))
    return root


def test_dpdd_16bit_six_channels_and_groups(tmp_path):
    root = _dpdd(tmp_path, ["a1", "a2", "a10"])
    np.save(root / "indoor_labels.npy", np.array([1, 3]))
    np.save(root / "outdoor_labels.npy", np.array([2]))
    ds = load_dataset("dpdd", root)
    assert [s.name for s in ds.samples] == ["a1", "a2", "a10"]
    assert [s.group for s in ds.samples] == ["indoor", "outdoor", "indoor"]
    x, y = ds.samples[0].load()
    assert x.shape == (16, 20, 6) and y.shape == (16, 20, 3)
    # 16-bit precision is kept (not reduced to 8 bit)
    vals = np.unique(np.rint(y * 65535).astype(np.int64) % 257)
    assert len(vals) > 1
    assert ds.protocol.ssim == {"gaussian": False, "win_size": 7, "sample_covariance": True}
    np.save(root / "outdoor_labels.npy", np.array([4]))
    with pytest.raises(MirnetError, match="out of range"):
        load_dataset("dpdd", root)
