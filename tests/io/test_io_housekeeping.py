"""Output folders mirnet wrote, its own earlier outputs, formats it does not read, orphaned temporary files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mirnet_cli.errors import MirnetError
from mirnet_cli.io.atomic import STALE_AFTER_S, atomic_write_bytes, clean_stale_temp_files
from mirnet_cli.io.discovery import (
    find_inputs,
    mark_output_dir,
    plan_outputs,
    scan_dual_pixel_pairs,
    scan_inputs,
    split_own_outputs,
)
from mirnet_cli.io.formats import OUTPUT_MARKER, TEMP_SUFFIX
from tests.io.test_io_discovery import _touch


def test_folders_mirnet_created_are_never_searched(tmp_path):
    root = tmp_path / "tiny"
    _touch(root / "t.png")
    assert mark_output_dir(root / "mirnet-denoise", "denoise")
    _touch(root / "mirnet-denoise" / "t.png", root / "sub" / "u.png")
    scan = scan_inputs([root], recursive=True)
    assert [i.rel.as_posix() for i in scan.items] == ["sub/u.png", "t.png"]
    assert scan.output_dirs == [root / "mirnet-denoise"]
    # given explicitly, a marked folder is processed (e.g. denoise first, then super-resolve its results)
    assert [i.rel.as_posix() for i in find_inputs([root / "mirnet-denoise"])] == ["t.png"]


def test_only_folders_mirnet_creates_are_marked(tmp_path):
    mine = tmp_path / "Pictures"
    _touch(mine / "a.png")
    assert not mark_output_dir(mine, "denoise")  # -o an existing folder of the user's: never marked
    assert not (mine / OUTPUT_MARKER).exists()
    assert find_inputs([tmp_path], recursive=True)[0].path == mine / "a.png"


def test_unsupported_images_in_folders_are_reported(tmp_path):
    _touch(tmp_path / "a.png", tmp_path / "anim.gif", tmp_path / "new.AVIF", tmp_path / "notes.txt")
    scan = scan_inputs([tmp_path])
    assert [i.path.name for i in scan.items] == ["a.png"]
    assert [p.name for p in scan.unsupported] == ["anim.gif", "new.AVIF"]  # the text file is not an image


def test_dual_pixel_scan_skips_marked_folders_and_reports_unsupported(tmp_path):
    _touch(tmp_path / "s_L.png", tmp_path / "s_R.png", tmp_path / "x_L.gif")
    mark_output_dir(tmp_path / "out", "deblur")
    _touch(tmp_path / "out" / "s_L.png", tmp_path / "out" / "s_R.png")
    scan = scan_dual_pixel_pairs(tmp_path, recursive=True)
    assert [p.name for p in scan.pairs] == ["s"]
    assert scan.output_dirs == [tmp_path / "out"] and [p.name for p in scan.unsupported] == ["x_L.gif"]


def test_earlier_outputs_in_the_input_folder_are_set_aside_not_refused(tmp_path):
    _touch(tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "a_dn.png", tmp_path / "b_dn.jpg")
    items = find_inputs([tmp_path])
    with pytest.raises(MirnetError, match="would overwrite its input"):
        plan_outputs(items, tmp_path, "_dn")  # what aborted the whole re-run before
    kept, own = split_own_outputs(items, tmp_path, "_dn")
    assert [i.path.name for i in kept] == ["a.png", "b.jpg"]
    assert sorted(i.path.name for i in own) == ["a_dn.png", "b_dn.jpg"]
    assert [out.name for _, out in plan_outputs(kept, tmp_path, "_dn")] == ["a_dn.png", "b_dn.jpg"]
    # an input whose own output is itself is not "an output of another input": still refused
    kept, own = split_own_outputs(find_inputs([tmp_path / "a.png"]), tmp_path, "")
    assert own == [] and len(kept) == 1
    with pytest.raises(MirnetError, match="would overwrite its input"):
        plan_outputs(kept, tmp_path, "")


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / f".a.png.999999999-abc{TEMP_SUFFIX}"  # no such process
    alive = tmp_path / f".b.png.{os.getpid()}-abc{TEMP_SUFFIX}"
    legacy_fresh = tmp_path / f".c.png.xyz{TEMP_SUFFIX}"  # older naming, no pid: only removed when old
    legacy_old = tmp_path / f".d.png.xyz{TEMP_SUFFIX}"
    mine = tmp_path / "photo.png"
    _touch(dead, alive, legacy_fresh, legacy_old, mine)
    old = time.time() - 60
    for path in (dead, alive, legacy_fresh):
        os.utime(path, (old, old))
    ancient = time.time() - STALE_AFTER_S - 10
    os.utime(legacy_old, (ancient, ancient))
    removed = clean_stale_temp_files([tmp_path, tmp_path / "missing"])
    assert sorted(p.name for p in removed) == sorted([dead.name, legacy_old.name])
    assert alive.exists() and legacy_fresh.exists() and mine.exists()


def test_temp_files_carry_the_writer_pid(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_bytes(tmp_path / "x.bin", b"1")
    assert seen[0].startswith(f".x.bin.{os.getpid()}-") and seen[0].endswith(TEMP_SUFFIX)


def test_no_output_may_be_an_input_under_any_spelling(tmp_path):
    from mirnet_cli.io.discovery import ensure_no_output_is_input

    left, right = tmp_path / "d" / "left.png", tmp_path / "d" / "right.png"
    _touch(left, right)
    (tmp_path / "link.png").hardlink_to(right)
    for out in (left, tmp_path / "d" / "." / "right.png", tmp_path / "link.png"):
        with pytest.raises(MirnetError, match="would overwrite its input"):
            ensure_no_output_is_input([tmp_path / "elsewhere.png", out], [left, right])
    ensure_no_output_is_input([tmp_path / "d" / "out.png"], [left, right])  # fine
