"""Input discovery, output planning and dual-pixel pairing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirnet_cli.errors import MirnetError
from mirnet_cli.io.discovery import (
    DualPixelPair,
    InputItem,
    default_output_dir,
    ensure_not_input,
    find_dual_pixel_pairs,
    find_inputs,
    output_path_for,
    output_path_for_pair,
    plan_outputs,
)
from mirnet_cli.io.formats import TEMP_SUFFIX


def _touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")  # discovery looks at names only


def test_recursive_mirroring_and_sorting(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    _touch(root / "b.JPG", root / "a.png", root / "sub" / "c.tif", root / "sub" / "deep" / "d.NEF")
    _touch(root / "notes.txt", root / "sub" / "x.gif")
    flat = find_inputs([root], recursive=False)
    assert [i.rel.as_posix() for i in flat] == ["a.png", "b.JPG"]
    deep = find_inputs([root], recursive=True)
    assert [i.rel.as_posix() for i in deep] == ["a.png", "b.JPG", "sub/c.tif", "sub/deep/d.NEF"]
    assert deep[2].path == root / "sub" / "c.tif"
    out = tmp_path / "out"
    assert output_path_for(deep[3], out, "_dn", ".tif") == out / "sub" / "deep" / "d_dn.tif"


def test_output_folder_excluded(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    out = root / "results"
    _touch(root / "a.png", out / "a_mirnet.png", out / "more" / "b.png")
    items = find_inputs([root], recursive=True, exclude_dirs=[out])
    assert [i.rel.as_posix() for i in items] == ["a.png"]
    # An exclude folder that contains the root must not hide every input.
    assert len(find_inputs([out], recursive=True, exclude_dirs=[out])) == 2


def test_hidden_and_temp_files_skipped(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _touch(root / "a.png", root / ".hidden.png", root / "._a.png", root / ".git" / "z.png")
    _touch(root / f".a.png.xyz{TEMP_SUFFIX}", root / f"b.png{TEMP_SUFFIX}")
    assert [i.rel.as_posix() for i in find_inputs([root], recursive=True)] == ["a.png"]
    # A hidden file named explicitly is taken as given.
    assert find_inputs([root / ".hidden.png"])[0].rel == Path(".hidden.png")


def test_files_and_duplicates(tmp_path: Path) -> None:
    _touch(tmp_path / "d" / "a.png", tmp_path / "one.webp")
    items = find_inputs([tmp_path / "one.webp", tmp_path / "d", tmp_path / "d" / "a.png"])
    assert items == [
        InputItem(tmp_path / "one.webp", Path("one.webp")),
        InputItem(tmp_path / "d" / "a.png", Path("a.png")),
    ]


def test_missing_and_unsupported_paths(tmp_path: Path) -> None:
    with pytest.raises(MirnetError, match="no such file or folder"):
        find_inputs([tmp_path / "missing"])
    _touch(tmp_path / "anim.gif")
    with pytest.raises(MirnetError, match="unsupported file type"):
        find_inputs([tmp_path / "anim.gif"])


def test_default_output_dir_is_never_the_input_folder(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _touch(folder / "a.png")
    assert default_output_dir(folder, "denoise") == tmp_path.resolve() / "photos_mirnet-denoise"
    assert default_output_dir(folder / "a.png", "enhance") == folder.resolve() / "mirnet-enhance"


def test_ensure_not_input(tmp_path: Path) -> None:
    _touch(tmp_path / "a.png")
    with pytest.raises(MirnetError, match="overwrite its input"):
        ensure_not_input(tmp_path / "." / "a.png", tmp_path / "a.png")
    ensure_not_input(tmp_path / "a_x.png", tmp_path / "a.png")


def test_plan_outputs_disambiguates_and_guards(tmp_path: Path) -> None:
    _touch(tmp_path / "in" / "IMG_1.CR2", tmp_path / "in" / "IMG_1.JPG", tmp_path / "in" / "b.png")
    items = find_inputs([tmp_path / "in"])
    out = tmp_path / "out"
    plan = dict((i.path.name, p) for i, p in plan_outputs(items, out, "_dn", "tif"))
    assert plan == {
        "IMG_1.CR2": out / "IMG_1_cr2_dn.tif",
        "IMG_1.JPG": out / "IMG_1_jpg_dn.tif",
        "b.png": out / "b_dn.tif",
    }
    # Writing beside the inputs with no suffix and the same extension would overwrite them.
    with pytest.raises(MirnetError, match="overwrite"):
        plan_outputs(find_inputs([tmp_path / "in" / "b.png"]), tmp_path / "in", "", "same")
    # Two folders holding the same name cannot share one flat output folder.
    _touch(tmp_path / "x" / "s.png", tmp_path / "y" / "s.png")
    with pytest.raises(MirnetError, match="both"):
        plan_outputs(find_inputs([tmp_path / "x", tmp_path / "y"]), out, "_dn", "png")


def test_dpdd_layout_with_orphan(tmp_path: Path) -> None:
    root = tmp_path / "dpdd"
    _touch(root / "inputL" / "s1.png", root / "inputR" / "s1.png", root / "inputL" / "s2.png")
    _touch(root / "inputR" / "s0.png", root / "inputC" / "s1.png", root / "target" / "s1.png")
    pairs, problems = find_dual_pixel_pairs(root)
    assert pairs == [DualPixelPair("s1", root / "inputL" / "s1.png", root / "inputR" / "s1.png")]
    reasons = {p.name + ":" + p.parent.name: r for p, r in problems}
    assert reasons["s2.png:inputL"].startswith("left view without its right view (expected ")
    assert str(root / "inputR" / "s2.png") in reasons["s2.png:inputL"]
    assert reasons["s0.png:inputR"].startswith("right view without its left view")
    assert len(problems) == 2  # inputC/ and target/ are not inputs
    assert output_path_for_pair(pairs[0], tmp_path / "o", "_dp", ".png") == tmp_path / "o" / "s1_dp.png"


def test_suffixed_pairs_with_orphan_and_stray(tmp_path: Path) -> None:
    root = tmp_path / "views"
    _touch(root / "a_L.png", root / "a_R.png", root / "b_l.jpg", root / "b_r.jpg", root / "c_L.png")
    _touch(root / "stray.png", root / "sub" / "d_L.png", root / "sub" / "d_R.png")
    pairs, problems = find_dual_pixel_pairs(root)
    assert [(p.name, p.left.name, p.right.name) for p in pairs] == [
        ("a", "a_L.png", "a_R.png"),
        ("b", "b_l.jpg", "b_r.jpg"),
    ]
    reasons = {p.name: r for p, r in problems}
    assert reasons["c_L.png"] == f"left view without its right view (expected {root / 'c_R.png'})"
    assert "not a dual-pixel view" in reasons["stray.png"]
    pairs, _ = find_dual_pixel_pairs(root, recursive=True)
    assert "sub/d" in [p.name for p in pairs]


def test_dual_pixel_bad_folder(tmp_path: Path) -> None:
    with pytest.raises(MirnetError, match="no such folder"):
        find_dual_pixel_pairs(tmp_path / "nope")
    _touch(tmp_path / "f.png")
    with pytest.raises(MirnetError, match="must be a folder"):
        find_dual_pixel_pairs(tmp_path / "f.png")
