"""The high-level Python call: any image size through the engine (pad, tile, clamp), lazily exported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import mirnet_cli
from tests.conftest import FIXTURES

GOLDEN_V2 = FIXTURES / "golden" / "v2_nfeat16" / "weights.safetensors"


def test_raw_network_fails_on_odd_sizes_but_restore_image_takes_any_size():
    model = mirnet_cli.load_model(GOLDEN_V2)
    rng = np.random.default_rng(0)
    image = (rng.random((21, 30, 3)) * 255).astype(np.uint8)  # neither side a multiple of 4
    with pytest.raises(RuntimeError):
        model(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)
    out = mirnet_cli.restore_image(model, image, device="cpu")
    assert out.shape == image.shape and out.dtype == np.uint8
    # the same as the engine the commands use, on float input in [0, 1]
    ref = mirnet_cli.InferenceEngine(model, device="cpu").restore(image.astype(np.float32) / 255)
    assert np.abs(out.astype(np.float32) - np.round(ref * 255)).max() <= 1
    big = rng.random((101, 130, 3)).astype(np.float32)
    tiled = mirnet_cli.restore_image(model, big, device="cpu", tile=64, tile_overlap=8)
    assert tiled.dtype == np.float32 and tiled.shape == big.shape and 0 <= tiled.min() and tiled.max() <= 1
    sixteen = mirnet_cli.restore_image(str(GOLDEN_V2), image.astype(np.uint16) * 257, device="cpu")
    assert sixteen.dtype == np.uint16


def test_restore_image_refuses_other_dtypes():
    with pytest.raises(ValueError, match="uint8, uint16 or float"):
        mirnet_cli.restore_image(mirnet_cli.load_model(GOLDEN_V2), np.zeros((8, 8, 3), np.int64))


def test_import_stays_light():
    code = "import sys, mirnet_cli; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
    assert {"restore_image", "InferenceEngine", "load_model", "build_model"} <= set(mirnet_cli.__all__)
