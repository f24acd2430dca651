"""FFDNet and DnCNN (denoising teachers): the published keys and shapes, and the formulations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mirnet_cli.teachers.kair import (
    DnCNN,
    FFDNet,
    build_dncnn,
    build_ffdnet,
    matches_dncnn,
    matches_ffdnet,
)

from .conftest import SHARED, published_keys, teacher_file


@pytest.mark.parametrize("name, build, matches, other", [
    ("ffdnet_color", build_ffdnet, matches_ffdnet, matches_dncnn),
    ("dncnn_color_blind", build_dncnn, matches_dncnn, matches_ffdnet),
])
def test_keys_and_shapes_equal_the_published_checkpoint(name, build, matches, other):
    want = published_keys(name)
    assert matches(want) and not other(want)
    state = {k: torch.zeros(v) for k, v in want.items()}
    got = {k: list(v.shape) for k, v in build(state).state_dict().items()}
    assert got == want


def test_ffdnet_works_on_sub_images_with_a_noise_level_map():
    torch.manual_seed(0)
    net = FFDNet(layers=3, features=8).eval()
    x = torch.rand(1, 3, 9, 14)  # odd height: padded to even, cropped back
    with torch.no_grad():
        y = net(x, sigma=30)
        padded = F.pad(x, (0, 0, 0, 1), mode="replicate")
        feats = torch.cat([F.pixel_unshuffle(padded, 2), torch.full((1, 1, 5, 7), 30 / 255)], 1)
        want = F.pixel_shuffle(net.model(feats), 2)[..., :9, :14]
        assert y.shape == x.shape and torch.allclose(y, want)
        assert not torch.allclose(net(x, sigma=5), y)  # the level map matters


def test_dncnn_predicts_the_noise():
    net = DnCNN(layers=3, features=8).eval()
    torch.nn.init.zeros_(net.model[-1].weight)
    torch.nn.init.zeros_(net.model[-1].bias)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(net(x), x)  # no predicted noise: the input comes back


@pytest.mark.slow
def test_published_ffdnet_removes_real_phone_noise():
    """On the shared SIDD crops, FFDNet at σ = 50 reached 33.40 dB (input 23.15; non-local means at its best h 30.26)."""
    from PIL import Image

    from mirnet_cli.teachers import load_teacher

    path = teacher_file("ffdnet_color.pth")
    crops = SHARED / "sidd" / "crops"
    if not crops.is_dir():
        pytest.skip("../shared/data/sidd is not beside the project")
    teacher = load_teacher(path, sigma=50)
    scores = []
    for i in range(6):
        x = np.asarray(Image.open(crops / "noisy" / f"NOISY_{i}.png").convert("RGB"), np.float32) / 255.0
        gt = np.asarray(Image.open(crops / "gt" / f"GT_{i}.png").convert("RGB"), np.float64)
        y = teacher(torch.from_numpy(x).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
        scores.append(10 * np.log10(255.0**2 / np.mean((np.round(y * 255) - gt) ** 2)))
    assert np.mean(scores) == pytest.approx(33.40, abs=0.02)
