"""Metadata and formats that photo managers care about: RAW → TIFF keeps the camera's EXIF and gets an sRGB
profile; floating-point colour TIFFs are read like grey ones; image sizes come from headers alone."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms

from mirnet_cli.errors import ImageReadError
from mirnet_cli.io.images import image_size, read_image, write_image
from mirnet_cli.io.raw import _with_libraw_facts, srgb_icc_profile

_REPO = Path(__file__).resolve().parents[2]
KDC = _REPO.parent / "shared" / "data" / "raw" / "RAW_KODAK_DC50.KDC"

EXIF_IFD = 0x8769


def _fake_raw(**other):
    facts = {"iso_speed": 200.0, "shutter_speed": 1 / 125, "aperture": 5.6, "focal_length": 35.0,
             "timestamp": datetime.datetime(2024, 6, 1, 18, 30, 5), "artist": "", **other}
    return SimpleNamespace(other=SimpleNamespace(**facts), lens=SimpleNamespace(make="Sigma", model="35mm F1.4 DG"))


def test_libraw_facts_fill_in_what_the_exif_lacks():
    exif = PILImage.Exif()
    exif[0x010F], exif[0x0110] = "Fujifilm", "X-T4"
    exif[EXIF_IFD] = {0x8827: 400}  # the file's own ISO wins
    merged = PILImage.Exif()
    merged.load(_with_libraw_facts(b"Exif\x00\x00" + exif.tobytes(), _fake_raw())[6:])
    sub = merged.get_ifd(EXIF_IFD)
    assert merged[0x010F] == "Fujifilm" and merged[0x0110] == "X-T4" and merged[0x0132] == "2024:06:01 18:30:05"
    assert sub[0x8827] == 400 and float(sub[0x829A]) == pytest.approx(1 / 125) and float(sub[0x829D]) == 5.6
    assert float(sub[0x920A]) == 35.0 and sub[0x9003] == "2024:06:01 18:30:05"
    assert sub[0xA433] == "Sigma" and sub[0xA434] == "35mm F1.4 DG"
    # nothing known at all: no EXIF invented
    empty = _fake_raw(iso_speed=0.0, shutter_speed=0.0, aperture=0.0, focal_length=0.0,
                      timestamp=datetime.datetime(1970, 1, 1))
    empty.lens = SimpleNamespace(make="", model="")
    assert _with_libraw_facts(None, empty) is None


def test_srgb_profile_is_a_real_icc_profile():
    profile = ImageCms.ImageCmsProfile(ImageCms.core.profile_frombytes(srgb_icc_profile()))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


def test_raw_to_tiff_keeps_make_model_date_exposure_and_gets_srgb(tmp_path):
    pytest.importorskip("rawpy")
    if not KDC.is_file():
        pytest.skip(f"{KDC} not present (the real RAW sample lives in ../shared)")
    raw = tmp_path / "cam.KDC"
    shutil.copyfile(KDC, raw)
    out = write_image(tmp_path / "cam.tif", read_image(raw))
    tif = PILImage.open(out)
    assert tif.info.get("icc_profile") == srgb_icc_profile()
    exif = tif.getexif()
    sub = exif.get_ifd(EXIF_IFD)
    assert exif[0x010F] == "Eastman Kodak Company" and "DC50" in exif[0x0110]
    assert exif[0x0132] == "1997:04:23 08:00:47" and sub[0x9003] == "1997:04:23 08:00:47"
    assert float(sub[0x829A]) == pytest.approx(0.00435, rel=1e-3) and float(sub[0x829D]) == pytest.approx(6.2)
    assert sub[0x8827] == 84 and float(sub[0x920A]) == pytest.approx(37.0)
    assert image_size(raw) == (768, 512)


def test_float32_colour_tiff_is_read_like_float_grey(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.random((12, 20, 3)).astype(np.float32)
    assert cv2.imwrite(str(tmp_path / "f32.tif"), np.ascontiguousarray(rgb[:, :, ::-1]))  # OpenCV stores BGR order
    image = read_image(tmp_path / "f32.tif")
    assert image.pixels.shape == (12, 20, 3) and image.bit_depth == 16 and not image.grayscale
    np.testing.assert_array_equal(image.pixels, rgb)
    assert image_size(tmp_path / "f32.tif") == (20, 12)
    grey = read_image(write_image(tmp_path / "back.tif", image))  # written back as 16-bit
    assert grey.bit_depth == 16 and np.abs(grey.pixels - rgb).max() <= 0.5 / 65535 + 1e-7
    out_of_range = rgb * 3 - 1  # clipped to [0, 1] as for grey float TIFFs
    cv2.imwrite(str(tmp_path / "hdr.tif"), np.ascontiguousarray(out_of_range[:, :, ::-1]))
    assert read_image(tmp_path / "hdr.tif").pixels.min() == 0 and read_image(tmp_path / "hdr.tif").pixels.max() == 1


def test_float_tiff_with_alpha_icc_and_half_floats(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(1)
    rgba = rng.random((6, 9, 4)).astype(np.float32)
    icc = srgb_icc_profile()
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=[2],
                     extratags=[(34675, 7, len(icc), icc, True)])
    image = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image.alpha, rgba[:, :, 3])
    assert image.icc_profile == icc
    tifffile.imwrite(tmp_path / "half.tif", rgba[:, :, :3].astype(np.float16), photometric="rgb")
    with pytest.raises(ImageReadError, match="16-bit floating-point TIFF is not supported"):
        read_image(tmp_path / "half.tif")


def test_image_size_reads_headers_only(tmp_path):
    PILImage.new("RGB", (33, 17)).save(tmp_path / "a.jpg")
    assert image_size(tmp_path / "a.jpg") == (33, 17)
    (tmp_path / "junk.png").write_bytes(b"nope")
    assert image_size(tmp_path / "junk.png") is None and image_size(tmp_path / "missing.png") is None


def test_tiff_tags_lose_nul_padding_and_a_dng_unique_camera_model_names_the_camera():
    # issue 20: Kodak RAW strings kept their NUL padding; a DNG with only UniqueCameraModel lost the camera's name
    from mirnet_cli.io._decode import exif_from_tiff_tags

    tags = PILImage.Exif()
    tags[0x010F] = "Eastman Kodak Company\x00\x00"
    tags[0x8298] = "Kodak Digital Camera 50\x00       \x00"
    tags[0xC614] = "Blackmagic Pocket Cinema Camera 4K"  # UniqueCameraModel, no Model tag
    tags[EXIF_IFD] = {0xA434: "35mm F1.4\x00\x00"}
    source = PILImage.Exif()
    source.load(tags.tobytes())
    out = PILImage.Exif()
    out.load(exif_from_tiff_tags(source)[6:])
    assert out[0x010F] == "Eastman Kodak Company" and out[0x8298] == "Kodak Digital Camera 50"
    assert out[0x0110] == "Blackmagic Pocket Cinema Camera 4K"
    assert out.get_ifd(EXIF_IFD)[0xA434] == "35mm F1.4"


@pytest.mark.parametrize("name, model", [("Blackmagic.dng", "Blackmagic Pocket Cinema Camera 4K"),
                                         ("RAW_KODAK_DC50.KDC", "Kodak Digital Science DC50 Zoom Camera")])
def test_real_raw_files_keep_a_clean_camera_name(tmp_path, name, model):
    pytest.importorskip("rawpy")
    source = KDC.parent / name
    if not source.is_file():
        pytest.skip(f"{source} not present (the real RAW samples live in ../shared)")
    raw = tmp_path / name
    shutil.copyfile(source, raw)
    exif = PILImage.open(write_image(tmp_path / "cam.tif", read_image(raw))).getexif()
    assert exif[0x0110] == model
    assert not any(isinstance(v, str) and "\x00" in v for v in exif.values())
