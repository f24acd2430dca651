"""Tiny synthetic test sets on disk for the dataset adapter tests (the benchmark tests use them too)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8/uint16 array with cv2 (BGR on disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


def rand_u8(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def noisy_of(img: np.ndarray, seed: int, sigma: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    top = 65535 if img.dtype == np.uint16 else 255
    return (
        np.clip(img.astype(np.float64) + rng.normal(0, sigma * top / 255, img.shape), 0, top)
        .round()
        .astype(img.dtype)
    )


def make_pairs(
    root: Path, a: str, b: str, names: list[str], size=(20, 28), input_fmt="{}", target_fmt="{}"
) -> Path:
    for i, n in enumerate(names):
        clean = rand_u8(*size, seed=i)
        write_rgb(root / a / f"{input_fmt.format(n)}.png", noisy_of(clean, i))
        write_rgb(root / b / f"{target_fmt.format(n)}.png", clean)
    return root


@pytest.fixture
def lol_dir(tmp_path: Path) -> Path:
    return make_pairs(tmp_path / "lol", "low", "high", ["1", "2", "10"], size=(22, 30))
