"""Padding, tile planning, blending windows and the CPU accumulator."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from mirnet_cli.engine.tiling import (
    GridAccumulator,
    blend_window,
    crop_padding,
    edge_ramp,
    fit_tile,
    parse_tile,
    plan_tiles,
    reflect_pad_to_multiple,
)


@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 3), (5, 7), (8, 8), (101, 157), (3, 40)])
@pytest.mark.parametrize("multiple", [1, 4, 8])
def test_pad_crop_round_trip(h, w, multiple):
    x = torch.rand(1, 3, h, w)
    padded, (ph, pw) = reflect_pad_to_multiple(x, multiple)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert padded.shape[-2:] == (h + ph, w + pw)
    assert ph < multiple and pw < multiple
    assert torch.equal(padded[..., :h, :w], x)
    assert torch.equal(crop_padding(padded, (ph, pw)), x)


def test_pad_is_a_reflection_on_the_bottom_right():
    x = torch.arange(5 * 6, dtype=torch.float32).reshape(1, 1, 5, 6)
    padded, (ph, pw) = reflect_pad_to_multiple(x, 4)
    assert (ph, pw) == (3, 2)
    # reflect (not symmetric): padded row 5 mirrors row 3, column 6 mirrors column 4
    assert torch.equal(padded[0, 0, 5, :6], x[0, 0, 3])
    assert torch.equal(padded[0, 0, :5, 6], x[0, 0, :, 4])
    # tiny axis: replicate instead of failing
    tiny, (th, _) = reflect_pad_to_multiple(torch.rand(1, 1, 2, 8), 4)
    assert th == 2 and torch.equal(tiny[0, 0, 3], tiny[0, 0, 1])


CASES = [
    (L, tile, overlap, m)
    for L, tile, overlap, m in itertools.product(
        [8, 64, 100, 157, 160, 1000], [16, 48, 64, 256], [0, 8, 16, 32], [1, 4]
    )
    if overlap < tile - tile % m
]


@pytest.mark.parametrize(("length", "tile", "overlap", "multiple"), CASES)
def test_plan_tiles_properties(length, tile, overlap, multiple):
    starts = plan_tiles(length, tile, overlap, multiple)
    t = min(tile - tile % multiple, length)
    assert starts[0] == 0
    assert starts[-1] + t == length  # last tile ends at the border: equal sizes, no thin tile
    assert starts == sorted(set(starts))
    covered = torch.zeros(length, dtype=torch.bool)
    for s in starts:
        covered[s : s + t] = True
    assert bool(covered.all())
    if len(starts) > 1:
        steps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        assert max(steps) <= t - overlap  # every overlap is at least `overlap`
        align = multiple if t - overlap >= multiple else 1
        if length % multiple == 0:
            assert max(steps) - min(steps) <= align  # evenly spread
            assert all(s % align == 0 for s in starts)
            # as few tiles as possible: the largest aligned step is (t - overlap) rounded down to `align`
            largest = (t - overlap) // align * align
            assert len(starts) == math.ceil((length - t) / largest) + 1
        else:
            assert max(steps) - min(steps) <= 2 * align


def test_plan_tiles_simple_cases():
    assert plan_tiles(100, 128, 32) == [0]
    assert plan_tiles(100, 100, 32) == [0]
    assert plan_tiles(10, 6, 2) == [0, 4]
    assert plan_tiles(160, 64, 16, 4) == [0, 48, 96]
    with pytest.raises(ValueError, match="overlap"):
        plan_tiles(100, 32, 32)


def test_edge_ramp_is_complementary_and_positive():
    overlap = 32
    ramp = edge_ramp(64, overlap, ramp_start=True, ramp_end=False)
    m = overlap // 4
    assert torch.all(ramp[:m] == 0)  # unreliable border pixels are dropped
    assert torch.all(ramp[m : overlap - m] > 0) and torch.all(ramp[overlap - m :] == 1)
    # right edge of tile A and left edge of tile B overlapping by exactly `overlap`
    down = edge_ramp(64, overlap, ramp_start=False, ramp_end=True)[-overlap:]
    up = ramp[:overlap]
    torch.testing.assert_close(down + up, torch.ones(overlap))
    # border edges keep weight 1
    assert torch.all(edge_ramp(10, overlap, False, False) == 1)
    assert torch.all(edge_ramp(10, 0, True, True) == 1)


def test_blend_window_border_edges_have_no_ramp():
    win = blend_window(48, 40, 16, top=False, left=False, bottom=True, right=True)
    assert win.shape == (48, 40) and win.dtype == torch.float32
    assert torch.all(win[0, :20] == 1) and torch.all(win[:20, 0] == 1)
    assert win[-1, -1] == 0 and win[-1, 0] == 0
    smooth = blend_window(64, 64, 32, top=True, bottom=True, left=True, right=True)
    assert smooth.max() == 1 and smooth.min() == 0
    # smooth: no jump larger than a raised-cosine step
    assert (smooth[32, 1:] - smooth[32, :-1]).abs().max() < 0.15


@pytest.mark.parametrize(
    ("h", "w", "tile", "overlap"), [(100, 160, 48, 16), (64, 200, 64, 32), (97, 41, 24, 8)]
)
def test_weight_sum_is_positive_everywhere(h, w, tile, overlap):
    ys, xs = plan_tiles(h, tile, overlap), plan_tiles(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    total = torch.zeros(h, w)
    for y, x in itertools.product(ys, xs):
        win = blend_window(th, tw, overlap, top=y > 0, bottom=y + th < h, left=x > 0, right=x + tw < w)
        total[y : y + th, x : x + tw] += win
    assert total.min() > 1e-4


def test_grid_accumulator_matches_a_full_weight_map():
    """The separable normalisation equals dividing by the summed 2-D windows, on the CPU in float32."""
    h, w, overlap = 100, 150, 16
    th, tw = fit_tile(h, 48, overlap, 4), fit_tile(w, 64, overlap, 4)
    rows, cols = plan_tiles(h, th, overlap, 4), plan_tiles(w, tw, overlap, 4)
    acc = GridAccumulator(1, 3, h, w, rows, cols, th, tw, overlap)
    ref_sum, ref_weight = torch.zeros(1, 3, h, w), torch.zeros(h, w)
    torch.manual_seed(0)
    for (i, y), (j, x) in itertools.product(enumerate(rows), enumerate(cols)):
        tile = torch.rand(1, 3, th, tw).half()
        acc.add(tile, i, j)
        win = blend_window(th, tw, overlap, top=y > 0, bottom=y + th < h, left=x > 0, right=x + tw < w)
        ref_sum[..., y : y + th, x : x + tw] += tile.float() * win
        ref_weight[y : y + th, x : x + tw] += win
    assert acc.sum.device.type == "cpu" and acc.sum.dtype == torch.float32
    assert acc.norm_y.shape == (h,) and acc.norm_x.shape == (w,)  # no full weight map is kept
    torch.testing.assert_close(acc.result(), ref_sum / ref_weight, rtol=1e-5, atol=1e-6)


def test_grid_accumulator_constant_tiles_give_a_constant_image():
    rows, cols = plan_tiles(64, 40, 16, 4), plan_tiles(96, 40, 16, 4)
    acc = GridAccumulator(2, 1, 64, 96, rows, cols, 40, 40, 16)
    for i, j in itertools.product(range(len(rows)), range(len(cols))):
        acc.add(torch.full((2, 1, 40, 40), 0.25), i, j)
    torch.testing.assert_close(acc.result(), torch.full((2, 1, 64, 96), 0.25))


@pytest.mark.parametrize(("spec", "expected"), [("auto", "auto"), (" AUTO ", "auto"), ("0", 0), (0, 0), ("64", 64),
                                                (512, 512)])
def test_parse_tile_accepts(spec, expected):
    assert parse_tile(spec) == expected


@pytest.mark.parametrize(("spec", "match"), [("abc", "invalid tile size"), ("-1", ">= 0"), (-5, ">= 0"),
                                             ("3", "too small"), (63, "at least 64"), ("1.5", "invalid")])
def test_parse_tile_refuses(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_tile(spec)


@pytest.mark.parametrize(("length", "max_tile", "overlap"), [(1024, 512, 32), (4000, 1370, 32), (3000, 1370, 32),
                                                             (157, 64, 16), (600, 256, 32), (400, 128, 32)])
def test_fit_tile_keeps_the_count_and_shrinks_the_tile(length, max_tile, overlap):
    t = fit_tile(length, max_tile, overlap, 4)
    assert t % 4 == 0 and t <= max_tile
    n_max = len(plan_tiles(length, max_tile, overlap, 4))
    n = len(plan_tiles(length, t, overlap, 4))
    assert n <= n_max  # no more tiles than the largest tile needs ...
    assert n * t - (n - 1) * overlap >= length  # ... and they still cover the axis with the overlap
    assert n * t <= length + (n - 1) * overlap + 4 * n  # ... with no more overlap than asked (plus rounding)


def test_fit_tile_example_from_the_issue():
    # 1024 px, tile 512, overlap 32: 3 tiles of 364 (1.07x the pixels per axis) instead of 3 of 512 (1.5x)
    assert fit_tile(1024, 512, 32, 4) == 364
    assert fit_tile(300, 512, 32, 4) == 300  # one tile covers it
