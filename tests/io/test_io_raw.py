"""Camera RAW reading through rawpy."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from mirnet_cli.errors import ImageReadError
from mirnet_cli.io.formats import RAW_EXTENSIONS, output_extension
from mirnet_cli.io.images import read_image, write_image

_REPO = Path(__file__).resolve().parents[2]
_CANDIDATES = [base / "shared" / "data" / "raw" / "RAW_KODAK_DC50.KDC" for base in (_REPO.parent, _REPO)]
KDC = next((p for p in _CANDIDATES if p.is_file()), _CANDIDATES[0])

pytest.importorskip("rawpy", reason="rawpy is not installed")


@pytest.fixture()
def kdc(tmp_path: Path) -> Path:
    if not KDC.is_file():
        pytest.skip(f"real RAW sample not available ({KDC} missing; it lives in the shared data folder)")
    # Unicode name on purpose: the bytes are handed to LibRaw from memory.
    copy = tmp_path / "RAW_KODAK_DC50_é.KDC"
    shutil.copyfile(KDC, copy)
    return copy


def test_read_real_kodak_raw(kdc: Path, tmp_path: Path) -> None:
    img = read_image(kdc)
    assert img.format == "RAW" and img.bit_depth == 16 and img.alpha is None and not img.grayscale
    assert img.pixels.dtype == np.float32 and img.pixels.ndim == 3 and img.pixels.shape[2] == 3
    assert sorted(img.pixels.shape[:2]) == [512, 768]  # LibRaw: 768 x 512 sensor, orientation applied
    assert 0.0 <= img.pixels.min() and img.pixels.max() <= 1.0 and img.pixels.std() > 0.01
    # Camera EXIF of this TIFF-structured RAW is kept, orientation reset to 1.
    exif = PILImage.Exif()
    exif.load(img.exif)
    assert exif.get(0x010F) == "Eastman Kodak Company" and exif.get(0x0112, 1) == 1
    # 16-bit data: values that 8 bits could not represent exist.
    codes = np.rint(img.pixels * 65535).astype(np.int64)
    assert np.any(codes % 257 != 0)
    # Default output for RAW input is a 16-bit TIFF, which keeps the data exactly.
    out = tmp_path / ("out" + output_extension(kdc, "same"))
    assert out.suffix == ".tif"
    write_image(out, img)
    back = read_image(out)
    assert back.bit_depth == 16
    np.testing.assert_array_equal(back.pixels, img.pixels)


def test_garbage_named_dng_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.dng"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert "broken.dng" in str(info.value)


def test_empty_raw_file(tmp_path: Path) -> None:
    (tmp_path / "x.NEF").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty file"):
        read_image(tmp_path / "x.NEF")


def test_raw_pixel_limit(kdc: Path) -> None:
    with pytest.raises(ImageReadError, match="too large"):
        read_image(kdc, max_pixels=1000)


def test_raw_extensions_cover_common_cameras() -> None:
    for ext in (".dng", ".nef", ".cr2", ".cr3", ".arw", ".raf", ".rw2", ".orf", ".kdc"):
        assert ext in RAW_EXTENSIONS
