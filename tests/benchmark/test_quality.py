"""Quality runner: identity model == input baseline, outputs, DND submission, DPDD groups, reports."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import scipy.io

from mirnet_cli.benchmark.quality import run_quality, score
from mirnet_cli.benchmark.report import format_quality_table, write_csv, write_json
from mirnet_cli.datasets import _sr_protocol, load_dataset
from mirnet_cli.errors import MirnetError
from tests.benchmark.conftest import IdentityNet, TinyConv, make_pairs, noisy_of, rand_u8, write_rgb
from tests.conftest import shared_path


def _run(model, ds, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("device", "cpu")
    kw.setdefault("precision", "fp32")
    return run_quality(model, ds, **kw)


def test_identity_model_equals_input_baseline(lol_dir, identity_model):
    res = _run(identity_model, load_dataset("lol", lol_dir), model_name="identity")
    assert res["dataset"] == "lol" and res["model"] == "identity" and res["count"] == 3
    for rec in res["images"]:
        assert rec["psnr"] == pytest.approx(rec["input_psnr"], abs=1e-9)
        assert rec["ssim"] == pytest.approx(rec["input_ssim"], abs=1e-9)
        assert math.isfinite(rec["psnr"]) and 0 < rec["ssim"] < 1
        assert (rec["height"], rec["width"]) == (22, 30)
    assert res["mean"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in res["images"]]))
    assert res["protocol"]["quantize_bits"] == 8 and res["protocol"]["metrics"] == ["psnr", "ssim"]


def test_real_model_differs_from_baseline_and_limit(lol_dir):
    res = _run(TinyConv(), load_dataset("lol", lol_dir), limit=2)
    assert res["count"] == 2 and res["total_in_dataset"] == 3
    assert any(abs(r["psnr"] - r["input_psnr"]) > 1e-3 for r in res["images"])


def test_mirnet_v2_tiny_runs(lol_dir):
    from mirnet_cli import build_model

    model = build_model("mirnet_v2", n_feat=16, n_MRB=1)
    res = _run(model, load_dataset("lol", lol_dir), limit=1)
    assert math.isfinite(res["images"][0]["psnr"]) and res["architecture"] == "mirnet_v2"


def test_save_images_and_compare_image(lol_dir, identity_model, tmp_path):
    out = tmp_path / "out"
    cmp_path = tmp_path / "cmp.png"
    res = _run(identity_model, load_dataset("lol", lol_dir), save_images=out, compare_image=cmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["1.png", "10.png", "2.png"]
    import cv2

    saved = cv2.imread(str(out / "1.png"))[..., ::-1]
    original = cv2.imread(str(lol_dir / "low" / "1.png"))[..., ::-1]
    np.testing.assert_array_equal(saved, original)  # lossless, identity
    grid = cv2.imread(str(cmp_path))
    assert grid is not None and grid.shape[0] > 3 * 192 and res["compare_image"] == str(cmp_path)


def test_score_sr_protocol_uses_y_and_crop():
    protocol = _sr_protocol(2, True)
    t = np.full((20, 20, 3), 0.5)
    o = t.copy()
    o[0, :, :] = 0  # damage only the top row: MATLAB-style crop of 2 removes 1 top row...
    o[18:, :, :] = 1  # ... and the bottom two
    s = score(o, t, protocol)
    assert s["psnr"] == math.inf and s["ssim"] == pytest.approx(1.0)
    o[1, 5, :] = 1  # inside the kept region
    s = score(o, t, protocol)
    # Y error = 219 * 0.5 (rounded 110) on one of 17x17 pixels
    assert s["psnr"] == pytest.approx(
        10 * math.log10(255**2 / (round(16 + 219 * 1.0) - round(16 + 219 * 0.5)) ** 2 * 289)
    )


def test_sr_bicubic_baseline_matches_published_set5():
    # Published MATLAB bicubic on Set5 x4 (Y, crop 4): 28.42 dB / 0.8104. PIL bicubic lands within ~0.02 dB.
    ds = load_dataset("realsr", shared_path("data", "set5"), scale=4)
    res = _run(IdentityNet(), ds)
    assert res["mean"]["input_psnr"] == pytest.approx(28.42, abs=0.1)
    assert res["mean"]["input_ssim"] == pytest.approx(0.8104, abs=0.003)
    assert res["mean"]["psnr"] == pytest.approx(res["mean"]["input_psnr"], abs=0.02)  # 8-bit output


def test_dnd_requires_save_dir_and_writes_mats(tmp_path, identity_model):
    (tmp_path / "d").mkdir()
    scipy.io.savemat(tmp_path / "d" / "0001_01.mat", {"im_noisy": rand_u8(16, 16, 0)})
    ds = load_dataset("dnd", tmp_path / "d")
    with pytest.raises(MirnetError, match="--save-images"):
        _run(identity_model, ds)
    res = _run(identity_model, ds, save_images=tmp_path / "out")
    mat = scipy.io.loadmat(tmp_path / "out" / "submission" / "0001_01.mat")["Idenoised_crop"]
    assert mat.dtype == np.float32 and mat.shape == (16, 16, 3)
    assert res["submission"]["bundled"] is None  # not the full 50 x 20 set
    assert (tmp_path / "out" / "0001_01.png").is_file()
    assert "psnr" not in res["images"][0] and res["mean"] == {}
    assert "no ground truth" in format_quality_table([res])


def test_dpdd_six_channel_model_groups_and_16bit_outputs(tmp_path):
    root = tmp_path / "dpdd"
    for i, n in enumerate(["1", "2", "3"]):
        clean = np.random.default_rng(i).integers(0, 65536, (16, 20, 3), dtype=np.uint16)
        write_rgb(root / "target" / f"{n}.png", clean)
        write_rgb(root / "inputL" / f"{n}.png", noisy_of(clean, i))
        write_rgb(root / "inputR" / f"{n}.png", noisy_of(clean, i + 9))
    np.save(root / "indoor_labels.npy", np.array([1, 2]))
    np.save(root / "outdoor_labels.npy", np.array([3]))
    ds = load_dataset("dpdd", root)
    with pytest.raises(MirnetError, match="takes 3 input channels"):
        _run(IdentityNet(3), ds)
    res = _run(TinyConv(6), ds, save_images=tmp_path / "out")
    assert set(res["groups"]) == {"indoor", "outdoor"}
    rec = res["images"][0]
    assert {"psnr", "ssim", "mae", "input_psnr", "input_mae"} <= set(rec)
    assert res["groups"]["outdoor"]["psnr"] == pytest.approx(res["images"][2]["psnr"])
    import cv2

    saved = cv2.imread(str(tmp_path / "out" / "1.png"), cv2.IMREAD_UNCHANGED)
    assert saved.dtype == np.uint16
    table = format_quality_table([res])
    assert "indoor" in table and "MAE" in table


def test_json_and_csv_shape(lol_dir, identity_model, tmp_path):
    res = _run(
        identity_model,
        load_dataset("lol", lol_dir),
        paper={"dataset": "LoL", "psnr": 24.74, "ssim": 0.851, "protocol": "x"},
    )
    # make one image perfect to check inf handling
    res["images"][0]["psnr"] = math.inf
    write_json(res, tmp_path / "r.json")
    q = json.loads((tmp_path / "r.json").read_text())
    assert set(q) >= {"dataset", "model", "protocol", "images", "mean", "paper"}
    assert q["images"][0]["psnr"] is None and q["images"][1]["name"] == "2"
    write_csv(res, tmp_path / "r.csv")
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["name"] for r in rows] == ["1", "2", "10", "mean"]
    assert rows[0]["psnr"] == "inf" and float(rows[1]["ssim"]) > 0
    assert set(rows[0]) >= {"dataset", "name", "psnr", "ssim", "input_psnr", "input_ssim"}
    table = format_quality_table([res])
    assert "24.74" in table and "0.8510" in table and "input PSNR" in table


def test_sidd_real_block_gains_nothing_with_identity():
    ds = load_dataset("sidd", shared_path("data", "sidd", "val_block"))
    res = _run(IdentityNet(), ds)
    # README: PSNR(noisy, gt) is 16.15 dB on this block
    assert res["images"][0]["input_psnr"] == pytest.approx(16.15, abs=0.01)
    assert res["images"][0]["psnr"] == pytest.approx(res["images"][0]["input_psnr"], abs=1e-9)


def test_bad_image_file_is_one_line_error(tmp_path, identity_model):
    make_pairs(tmp_path, "low", "high", ["1"])
    (tmp_path / "low" / "1.png").write_bytes(b"not a png")
    with pytest.raises(MirnetError, match="1.png"):
        _run(identity_model, load_dataset("lol", tmp_path))


def test_dnd_bundle_full_set(tmp_path):
    from mirnet_cli.benchmark.quality import _bundle_dnd, _write_mat

    names = []
    for i in range(1, 51):
        for b in range(1, 21):
            name = f"{i:04d}_{b:02d}"
            _write_mat(
                tmp_path / f"{name}.mat", {"Idenoised_crop": np.full((2, 2, 3), i + b / 100, np.float32)}
            )
            names.append(name)
    out = _bundle_dnd(tmp_path, names)
    bundled = scipy.io.loadmat(tmp_path / "bundled" / "0007.mat")
    cell = bundled["Idenoised"]
    assert out == str(tmp_path / "bundled") and cell.size == 20
    assert float(cell.flat[2][0, 0, 0]) == pytest.approx(7.03)
    assert str(bundled["eval_version"][0]) == "1.0" and not bundled["israw"].item()
    assert _bundle_dnd(tmp_path, names[:-1]) is None
