"""Reading and writing images: exact round trips, metadata, bad files, atomic writes."""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps

from mirnet_cli.errors import ImageReadError, ImageWriteError, MirnetError
from mirnet_cli.io import atomic as atomic_mod
from mirnet_cli.io._encoders import encode_png16, encode_tiff16
from mirnet_cli.io._exif import exif_orientation
from mirnet_cli.io.formats import TEMP_SUFFIX, ext_for, format_for_path, output_extension
from mirnet_cli.io.images import (
    Image,
    ImageIOWarning,
    ImageWriteWarning,
    atomic_open,
    atomic_write_bytes,
    quantize,
    read_image,
    write_image,
)

RNG = np.random.default_rng(1234)
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _u8(h: int = 12, w: int = 17, c: int = 3) -> np.ndarray:
    shape = (h, w) if c == 1 else (h, w, c)
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def _u16(h: int = 12, w: int = 17, c: int = 3, high: int = 65536) -> np.ndarray:
    shape = (h, w) if c == 1 else (h, w, c)
    return RNG.integers(0, high, shape, dtype=np.uint16)


def _cv2_write(path: Path, rgb: np.ndarray) -> None:
    """Write with OpenCV (independent of our encoders): RGB(A) → BGR(A)."""
    if rgb.ndim == 3 and rgb.shape[2] == 3:
        rgb = rgb[:, :, ::-1]
    elif rgb.ndim == 3 and rgb.shape[2] == 4:
        rgb = rgb[:, :, [2, 1, 0, 3]]
    ok, buf = cv2.imencode(path.suffix, np.ascontiguousarray(rgb))
    assert ok
    path.write_bytes(buf.tobytes())


def _cv2_read(path: Path) -> np.ndarray:
    array = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    assert array is not None
    if array.ndim == 3 and array.shape[2] == 3:
        return array[:, :, ::-1]
    if array.ndim == 3 and array.shape[2] == 4:
        return array[:, :, [2, 1, 0, 3]]
    return array


def _exif_bytes(orientation: int | None = None, make: str = "MirnetCam") -> bytes:
    exif = PILImage.Exif()
    exif[0x010F] = make
    if orientation is not None:
        exif[0x0112] = orientation
    return exif.tobytes()


# ------------------------------------------------------------------------------------------ round trips


def test_png_8bit_round_trip_is_exact(tmp_path: Path) -> None:
    src = _u8()
    PILImage.fromarray(src).save(tmp_path / "in.png")
    img = read_image(tmp_path / "in.png")
    assert img.bit_depth == 8 and not img.grayscale and img.alpha is None and img.format == "PNG"
    assert img.pixels.dtype == np.float32 and img.pixels.shape == (12, 17, 3)
    np.testing.assert_array_equal(np.rint(img.pixels * 255).astype(np.uint8), src)
    write_image(tmp_path / "out.png", img)
    np.testing.assert_array_equal(np.asarray(PILImage.open(tmp_path / "out.png")), src)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_round_trip_is_exact(tmp_path: Path, suffix: str, channels: int) -> None:
    src = _u16(c=channels)
    _cv2_write(tmp_path / f"in{suffix}", src)
    img = read_image(tmp_path / f"in{suffix}")
    assert img.bit_depth == 16
    assert (img.alpha is not None) == (channels == 4)
    stored = np.rint(img.pixels * 65535).astype(np.uint16)
    np.testing.assert_array_equal(stored, src[:, :, :3])
    if channels == 4:
        np.testing.assert_array_equal(np.rint(img.alpha * 65535).astype(np.uint16), src[:, :, 3])
    write_image(tmp_path / f"out{suffix}", img)
    back = _cv2_read(tmp_path / f"out{suffix}")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, src)


def test_16bit_depth_comes_from_dtype_not_values(tmp_path: Path) -> None:
    src = _u16(high=256)  # every value fits in 8 bits, but the file stores 16
    _cv2_write(tmp_path / "small.png", src)
    img = read_image(tmp_path / "small.png")
    assert img.bit_depth == 16
    np.testing.assert_array_equal(np.rint(img.pixels * 65535).astype(np.uint16), src)
    write_image(tmp_path / "out.png", img)
    assert _cv2_read(tmp_path / "out.png").dtype == np.uint16


def test_rgba_alpha_preserved(tmp_path: Path) -> None:
    src = _u8(c=4)
    PILImage.fromarray(src, "RGBA").save(tmp_path / "in.png")
    img = read_image(tmp_path / "in.png")
    assert img.alpha is not None and img.alpha.shape == (12, 17)
    for suffix in (".png", ".webp", ".tif"):
        write_image(tmp_path / f"out{suffix}", img)
        back = PILImage.open(tmp_path / f"out{suffix}")
        assert back.mode == "RGBA", suffix
        np.testing.assert_array_equal(np.asarray(back), src, err_msg=suffix)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("bits", [8, 16])
def test_grayscale_in_grayscale_out(tmp_path: Path, suffix: str, bits: int) -> None:
    src = _u8(c=1) if bits == 8 else _u16(c=1)
    PILImage.fromarray(src).save(tmp_path / f"in{suffix}")
    img = read_image(tmp_path / f"in{suffix}")
    assert img.grayscale and img.bit_depth == bits and img.pixels.shape == (12, 17, 3)
    assert np.array_equal(img.pixels[:, :, 0], img.pixels[:, :, 2])
    write_image(tmp_path / f"out{suffix}", img)
    back = PILImage.open(tmp_path / f"out{suffix}")
    assert back.mode == ("L" if bits == 8 else "I;16")
    np.testing.assert_array_equal(np.asarray(back), src)


def test_grayscale_written_as_channel_mean(tmp_path: Path) -> None:
    pixels = np.zeros((2, 2, 3), np.float32)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 0.2, 0.4, 0.9
    write_image(tmp_path / "g.png", pixels, grayscale=True)
    back = np.asarray(PILImage.open(tmp_path / "g.png"))
    assert back.ndim == 2 and np.all(back == round(0.5 * 255))


def test_grayscale_with_alpha_8_and_16_bit(tmp_path: Path) -> None:
    src = _u8(c=2)
    PILImage.fromarray(src, "LA").save(tmp_path / "la.png")
    img = read_image(tmp_path / "la.png")
    assert img.grayscale and img.alpha is not None and img.bit_depth == 8
    write_image(tmp_path / "la_out.png", img)
    back = PILImage.open(tmp_path / "la_out.png")
    assert back.mode == "LA"
    np.testing.assert_array_equal(np.asarray(back), src)
    # 16-bit grey+alpha: our PNG encoder writes colour type 4, read back exactly.
    write_image(tmp_path / "la16.png", img, bit_depth=16)
    img16 = read_image(tmp_path / "la16.png")
    assert img16.grayscale and img16.bit_depth == 16
    np.testing.assert_allclose(img16.alpha, img.alpha, atol=0)
    np.testing.assert_allclose(img16.pixels, img.pixels, atol=0)


def test_palette_with_transparency_becomes_rgba(tmp_path: Path) -> None:
    pal = PILImage.fromarray(_u8(c=1) % 4, "P")
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    pal.info["transparency"] = 1
    pal.save(tmp_path / "p.png", transparency=1)
    img = read_image(tmp_path / "p.png")
    assert img.alpha is not None and not img.grayscale
    expected = np.asarray(PILImage.open(tmp_path / "p.png").convert("RGBA"))
    np.testing.assert_array_equal(np.rint(img.alpha * 255).astype(np.uint8), expected[:, :, 3])


def test_cmyk_jpeg_is_read_as_rgb(tmp_path: Path) -> None:
    PILImage.fromarray(_u8(c=4), "CMYK").save(tmp_path / "cmyk.jpg")
    img = read_image(tmp_path / "cmyk.jpg")
    assert img.pixels.shape == (12, 17, 3) and img.alpha is None and img.icc_profile is None


def test_bmp_round_trip(tmp_path: Path) -> None:
    src = _u8()
    write_image(tmp_path / "a.bmp", src.astype(np.float32) / 255)
    img = read_image(tmp_path / "a.bmp")
    assert img.format == "BMP"
    np.testing.assert_array_equal(np.rint(img.pixels * 255).astype(np.uint8), src)


# ------------------------------------------------------------------------------------------- metadata


def test_jpeg_exif_orientation_applied_and_reset(tmp_path: Path) -> None:
    src = np.zeros((10, 30, 3), np.uint8)
    src[:, :10] = 255  # bright band on the left of the stored image
    path = tmp_path / "rot.jpg"
    PILImage.fromarray(src).save(path, exif=_exif_bytes(6), icc_profile=SRGB_ICC, quality=95)
    img = read_image(path)
    assert img.pixels.shape == (30, 10, 3)  # rotated 90° clockwise → the band is now on top
    assert img.pixels[:10].mean() > 0.8 and img.pixels[20:].mean() < 0.2
    upright = np.asarray(ImageOps.exif_transpose(PILImage.open(path)))
    np.testing.assert_array_equal(np.rint(img.pixels * 255).astype(np.uint8), upright)
    assert exif_orientation(img.exif) == 1
    assert img.icc_profile == SRGB_ICC

    write_image(tmp_path / "out.jpg", img)
    out = PILImage.open(tmp_path / "out.jpg")
    assert out.size == (10, 30)
    assert out.getexif().get(0x0112) == 1
    assert out.getexif().get(0x010F) == "MirnetCam"
    assert out.info.get("icc_profile") == SRGB_ICC
    assert read_image(tmp_path / "out.jpg").pixels.shape == (30, 10, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"o{orientation}.png"
    PILImage.fromarray(_u8(5, 7)).save(path, exif=_exif_bytes(orientation))
    img = read_image(path)
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(path)))
    np.testing.assert_array_equal(np.rint(img.pixels * 255).astype(np.uint8), expected)
    assert exif_orientation(img.exif) == 1


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_metadata_written_orientation_reset(tmp_path: Path, suffix: str) -> None:
    src = _u16(4, 6)
    stored = Image(
        pixels=src.astype(np.float32) / 65535,
        bit_depth=16,
        exif=_exif_bytes(8),  # pixels passed to write_image are upright: the file must say orientation 1
        icc_profile=SRGB_ICC,
        format="PNG",
    )
    write_image(tmp_path / f"a{suffix}", stored)
    img = read_image(tmp_path / f"a{suffix}")
    assert img.bit_depth == 16 and img.pixels.shape == (4, 6, 3)
    np.testing.assert_array_equal(np.rint(img.pixels * 65535).astype(np.uint16), src)
    assert img.icc_profile == SRGB_ICC
    assert exif_orientation(img.exif) == 1
    parsed = PILImage.Exif()
    parsed.load(img.exif)
    assert parsed.get(0x010F) == "MirnetCam"
    assert PILImage.open(tmp_path / f"a{suffix}").getexif().get(0x0112) == 1


@pytest.mark.parametrize("encoder", [encode_png16, encode_tiff16])
def test_16bit_colour_orientation_applied_on_read(tmp_path: Path, encoder) -> None:
    src = _u16(4, 6)
    path = tmp_path / ("a.png" if encoder is encode_png16 else "a.tif")
    path.write_bytes(encoder(src, None, _exif_bytes(8)))  # stored sideways, orientation 8
    img = read_image(path)
    assert img.bit_depth == 16 and img.pixels.shape == (6, 4, 3)
    np.testing.assert_array_equal(np.rint(img.pixels * 65535).astype(np.uint16), np.rot90(src, 1))
    assert exif_orientation(img.exif) == 1


def test_webp_metadata_and_lossless(tmp_path: Path) -> None:
    src = _u8()
    img = Image(pixels=src.astype(np.float32) / 255, exif=_exif_bytes(1), icc_profile=SRGB_ICC)
    write_image(tmp_path / "a.webp", img)
    back = read_image(tmp_path / "a.webp")
    assert back.format == "WEBP" and back.icc_profile == SRGB_ICC and back.exif is not None
    np.testing.assert_array_equal(np.rint(back.pixels * 255).astype(np.uint8), src)


def test_lossy_fallbacks_warn(tmp_path: Path) -> None:
    img = Image(pixels=_u16().astype(np.float32) / 65535, alpha=np.ones((12, 17), np.float32), bit_depth=16)
    with pytest.warns(ImageWriteWarning) as record:
        write_image(tmp_path / "a.jpg", img)
    messages = " ".join(str(w.message) for w in record)
    assert "16 bits" in messages and "alpha" in messages
    back = PILImage.open(tmp_path / "a.jpg")
    assert back.mode == "RGB"


def test_quantize_rounds_to_nearest_and_clips() -> None:
    values = np.array([-0.5, 0.0, 0.49 / 255, 0.51 / 255, 1.0, 7.0, np.nan], np.float32)
    np.testing.assert_array_equal(quantize(values, 8), [0, 0, 0, 1, 255, 255, 0])
    assert quantize(np.array([0.5]), 16)[0] == 32768 and quantize(np.array([0.5]), 16).dtype == np.uint16


def test_with_pixels_resizes_alpha() -> None:
    img = Image(pixels=np.zeros((4, 5, 3), np.float32), alpha=np.ones((4, 5), np.float32))
    bigger = img.with_pixels(np.zeros((8, 10, 3), np.float32))
    assert bigger.alpha is not None and bigger.alpha.shape == (8, 10)
    assert bigger.alpha.min() >= 0 and bigger.alpha.max() <= 1


# --------------------------------------------------------------------------------------------- bad files


def test_unicode_path(tmp_path: Path) -> None:
    folder = tmp_path / "dössier 写真"
    src = _u16()
    path = folder / "phôtö_日本.png"
    write_image(path, Image(pixels=src.astype(np.float32) / 65535, bit_depth=16))
    img = read_image(path)
    assert img.path == path and img.bit_depth == 16
    np.testing.assert_array_equal(np.rint(img.pixels * 65535).astype(np.uint16), src)


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty file") as info:
        read_image(tmp_path / "empty.png")
    assert isinstance(info.value, MirnetError) and "empty.png" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "nope.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    PILImage.fromarray(_u8(64, 64)).save(buffer, format=fmt)
    data = buffer.getvalue()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(path)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("this is not a photo\n")
    with pytest.raises(ImageReadError, match="not an image or unsupported format"):
        read_image(tmp_path / "notes.jpg")


def test_decompression_bomb_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    PILImage.fromarray(_u8(40, 50)).save(tmp_path / "big.png")
    before = PILImage.MAX_IMAGE_PIXELS
    with pytest.raises(ImageReadError, match="too large"):
        read_image(tmp_path / "big.png", max_pixels=1000)
    with pytest.raises(ImageReadError, match="too large"):
        read_image(tmp_path / "big.png", max_pixels=100)  # > 2x the limit: Pillow's own error path
    monkeypatch.setenv("MIRNET_MAX_PIXELS", "1999")
    with pytest.raises(ImageReadError, match="too large"):
        read_image(tmp_path / "big.png")
    monkeypatch.setenv("MIRNET_MAX_PIXELS", "2000")
    assert read_image(tmp_path / "big.png").pixels.shape == (40, 50, 3)
    assert PILImage.MAX_IMAGE_PIXELS == before  # global Pillow setting restored


# ------------------------------------------------------------------------------------------ writing/atomic


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX)]


def test_atomic_write_creates_parents_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "x.png"
    write_image(target, np.full((3, 3, 3), 0.5, np.float32))
    assert target.is_file() and _leftovers(target.parent) == []
    mode = stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not the 0600 of a raw temp file


def test_failed_encode_does_not_clobber(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.png"
    target.write_bytes(b"original")

    def broken(*args, **kwargs):
        raise ValueError("simulated encoder failure")

    monkeypatch.setattr("mirnet_cli.io._encoders.encode_png16", broken)
    with pytest.raises(ImageWriteError, match="simulated encoder failure"):
        write_image(target, np.zeros((2, 2, 3), np.float32), bit_depth=16)
    assert target.read_bytes() == b"original" and _leftovers(tmp_path) == []


def test_failure_during_write_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.bin"
    target.write_bytes(b"original")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write(b"partial")
        assert _leftovers(tmp_path)  # the temp file exists while writing, in the same folder
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"original" and _leftovers(tmp_path) == []

    def no_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_mod.os, "replace", no_replace)
    with pytest.raises(OSError) as info:  # AtomicWriteError: an OSError and a one-line MirnetError
        atomic_write_bytes(target, b"new")
    assert isinstance(info.value, MirnetError) and str(info.value).startswith(f"{target}: cannot write")
    with pytest.raises(ImageWriteError, match="No space left"):
        write_image(target.with_suffix(".png"), np.zeros((2, 2, 3), np.float32))
    assert target.read_bytes() == b"original" and _leftovers(tmp_path) == []


def test_write_rejects_unsupported_extensions(tmp_path: Path) -> None:
    pixels = np.zeros((2, 2, 3), np.float32)
    with pytest.raises(ImageWriteError, match="unsupported output extension"):
        write_image(tmp_path / "a.gif", pixels)
    with pytest.raises(ImageWriteError, match="RAW"):
        write_image(tmp_path / "a.dng", pixels)
    assert list(tmp_path.iterdir()) == []


def test_write_bare_arrays(tmp_path: Path) -> None:
    write_image(tmp_path / "gray.png", np.full((3, 4), 0.25, np.float32))
    assert PILImage.open(tmp_path / "gray.png").mode == "L"
    write_image(tmp_path / "rgb16.tif", np.full((3, 4, 3), 0.25, np.float32), bit_depth=16)
    assert _cv2_read(tmp_path / "rgb16.tif")[0, 0, 0] == round(0.25 * 65535)
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / "bad.png", np.zeros((3, 4, 5), np.float32))


def test_extension_helpers() -> None:
    assert ext_for("JPEG") == ".jpg" and ext_for(".tiff") == ".tif" and ext_for("raw") == ".tif"
    assert format_for_path("x.JPG") == "JPEG"
    assert output_extension("a/IMG.JPG", "same") == ".JPG"
    assert output_extension("a/IMG.CR2", "same") == ".tif"
    assert output_extension("a/IMG.jpg", "same", bit_depth=16) == ".tif"
    assert output_extension("a/IMG.jpg", "png") == ".png"
    with pytest.raises(ValueError):
        output_extension("a.png", "gif")


def test_no_warning_for_lossless_round_trip(tmp_path: Path) -> None:
    PILImage.fromarray(_u8(c=4), "RGBA").save(tmp_path / "in.png", icc_profile=SRGB_ICC)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / "out.tif", read_image(tmp_path / "in.png"))
    assert read_image(tmp_path / "out.tif").icc_profile == SRGB_ICC


def test_multipage_tiff_warns_first_page_used(tmp_path: Path) -> None:
    pages = [PILImage.fromarray(np.full((4, 5), v, np.uint8)) for v in (10, 20, 30)]
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    with pytest.warns(ImageIOWarning, match="3 frames/pages"):
        img = read_image(tmp_path / "pages.tif")
    assert img.grayscale and np.allclose(img.pixels, 10 / 255)
