"""The synthetic adapter and --names filtering."""

from __future__ import annotations

import pytest


def test_synthetic_dataset_is_reproducible_and_names_filter(tmp_path):
    import numpy as np
    from PIL import Image as PILImage

    from mirnet_cli.datasets import load_dataset, select_names
    from mirnet_cli.errors import MirnetError

    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        PILImage.fromarray((rng.random((20, 24, 3)) * 255).astype(np.uint8)).save(tmp_path / f"{name}.png")
    ds = load_dataset("synthetic", tmp_path, degrade="denoise", seed=4)
    assert [s.name for s in ds.samples] == ["a", "b", "c"] and ds.protocol.quantize_bits == 8
    x1, y1 = ds.samples[1].load()
    x2, _ = load_dataset("synthetic", tmp_path, degrade="denoise", seed=4).samples[1].load()
    x3, _ = load_dataset("synthetic", tmp_path, degrade="denoise", seed=5).samples[1].load()
    assert np.array_equal(x1, x2) and not np.array_equal(x1, x3) and not np.array_equal(x1, y1)
    assert np.array_equal(np.round(x1 * 255) / 255, x1)  # quantised like a saved file
    assert [s.name for s in select_names(ds, ["c", "a"]).samples] == ["a", "c"]
    with pytest.raises(MirnetError, match="zzz"):
        select_names(ds, ["zzz"])
    with pytest.raises(MirnetError, match="--degrade"):
        load_dataset("synthetic", tmp_path, degrade="blur")
