"""Named pipes, sockets and devices found in folders are skipped with the reason and never opened; no read is
unbounded. Every check runs in a thread joined with a timeout, so a regression fails instead of hanging."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from mirnet_cli.errors import ImageReadError
from mirnet_cli.io._decode import read_file_bytes
from mirnet_cli.io.discovery import scan_dual_pixel_pairs, scan_inputs
from mirnet_cli.io.images import image_size, read_image

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(),
                                reason="needs POSIX named pipes and /dev/zero")


def _within(seconds: float, fn, *args):
    """``fn(*args)`` in a thread; fails (instead of hanging the suite) when it does not return in time."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn.__name__} did not return within {seconds} s (blocked or unbounded read)"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _hostile_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "a.png")
    os.mkfifo(folder / "b_pipe.png")
    os.symlink("/dev/zero", folder / "z.png")
    return folder


def test_pipes_and_devices_in_a_folder_are_skipped_with_the_reason(tmp_path):
    folder = _hostile_folder(tmp_path)
    scan = _within(10, scan_inputs, [folder])
    assert [item.path.name for item in scan.items] == ["a.png"]
    reasons = dict((p.name, why) for p, why in scan.special)
    assert reasons["b_pipe.png"].startswith("not a regular file (named pipe")
    assert reasons["z.png"].startswith("not a regular file (device, through a link to /dev/zero")


def test_dual_pixel_scan_skips_pipes_and_devices_too(tmp_path):
    folder = tmp_path / "dp"
    folder.mkdir()
    for name in ("s_L.png", "s_R.png"):
        PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / name)
    os.mkfifo(folder / "p_L.png")
    os.symlink("/dev/zero", folder / "p_R.png")
    scan = _within(10, scan_dual_pixel_pairs, folder)
    assert [p.name for p in scan.pairs] == ["s"] and not scan.problems
    assert sorted(p.name for p, _ in scan.special) == ["p_L.png", "p_R.png"]


def test_readers_never_open_a_pipe_or_read_a_device_without_end(tmp_path):
    folder = _hostile_folder(tmp_path)
    for name in ("b_pipe.png", "z.png"):
        path = folder / name
        assert _within(10, image_size, path) is None
        with pytest.raises(ImageReadError, match="not a regular file"):
            _within(10, read_file_bytes, path)
        with pytest.raises(ImageReadError, match="not a regular file"):
            _within(10, read_image, path)
    os.symlink("/dev/urandom", folder / "u.nef")  # a RAW name goes to LibRaw: not this one
    assert _within(10, image_size, folder / "u.nef") is None
    with pytest.raises(ImageReadError, match="not a regular file"):
        _within(10, read_image, folder / "u.nef")


def test_a_file_that_grows_while_read_is_refused_not_read_on(tmp_path, monkeypatch):
    path = tmp_path / "growing.png"
    path.write_bytes(b"x" * 100)
    real_fstat = os.fstat

    def fstat_then_grow(fd):  # the file grows right after its size was taken
        info = real_fstat(fd)
        with open(path, "ab") as handle:
            handle.write(b"y" * 50)
        return info

    monkeypatch.setattr("mirnet_cli.io._decode.os.fstat", fstat_then_grow)
    with pytest.raises(ImageReadError, match="grew while it was read"):
        read_file_bytes(path)
