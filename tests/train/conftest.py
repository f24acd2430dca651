"""Fixtures for the training tests: tiny photos made here, one torch thread (2-core CI machines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Tiny models gain nothing from intra-op threads, and two threads fighting another process on a 2-core
    # machine make each step many times slower.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _photo(i: int, h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[0:h, 0:w] / 64.0
    base = np.stack([xx, yy, 0.5 + 0.4 * np.sin((i + 2) * 3 * xx)], axis=2)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 1)), 0, 1)


def _save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(path)


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """Four clean 64×48 RGB PNGs (smooth gradients plus texture)."""
    folder = tmp_path_factory.mktemp("clean")
    for i in range(4):
        _save(folder / f"img{i}.png", _photo(i))
    return folder


@pytest.fixture(scope="session")
def pairs(tmp_path_factory) -> Path:
    """A paired folder: input/ (noisy) + target/ (clean), matched by file name."""
    folder = tmp_path_factory.mktemp("pairs")
    for i in range(3):
        clean = _photo(10 + i)
        noisy = np.clip(clean + 0.1 * np.random.default_rng(i).standard_normal(clean.shape), 0, 1)
        _save(folder / "target" / f"p{i}.png", clean)
        _save(folder / "input" / f"p{i}.png", noisy)
    return folder
