"""The folder adapter: --input-dir (+ --target-dir), SR protocol from --task."""

from __future__ import annotations

import pytest

from mirnet_cli.datasets import load_dataset
from mirnet_cli.errors import MirnetError
from tests.datasets.conftest import make_pairs


def test_folder_adapter(tmp_path):
    make_pairs(tmp_path, "in", "gt", ["p", "q"])
    ds = load_dataset("folder", input_dir=tmp_path / "in", target_dir=tmp_path / "gt")
    assert len(ds) == 2 and ds.protocol.has_targets
    only = load_dataset("folder", input_dir=tmp_path / "in")
    assert only.samples[0].target is None and not only.protocol.has_targets
    with pytest.raises(MirnetError, match="--input-dir"):
        load_dataset("folder")
    sr = load_dataset(
        "folder", input_dir=tmp_path / "in", target_dir=tmp_path / "gt", task="super-resolve:x2"
    )
    assert sr.protocol.scale == 2 and sr.protocol.color == "y"


def test_pair_pattern_pairs_noise_with_gt_in_one_folder(tmp_path):
    # Nam-style naming: 01_noise.png next to 01_gt.png in the same folder.
    make_pairs(tmp_path, "nam", "nam", ["01", "02", "10"], input_fmt="{}_noise", target_fmt="{}_gt")
    ds = load_dataset("folder", input_dir=tmp_path / "nam", pair_pattern="*_noise=*_gt")
    assert [s.name for s in ds.samples] == ["01_noise", "02_noise", "10_noise"]
    assert [s.target.name for s in ds.samples] == ["01_gt.png", "02_gt.png", "10_gt.png"]
    inp, tgt = ds.samples[0].load()
    assert inp.shape == tgt.shape and ds.protocol.has_targets
    # Without the pattern, matching by name can only pair every file with itself.
    plain = load_dataset("folder", input_dir=tmp_path / "nam", target_dir=tmp_path / "nam")
    assert all(s.target == s.inputs[0] for s in plain.samples) and len(plain) == 6


def test_pair_pattern_one_side_and_separate_folders(tmp_path):
    make_pairs(tmp_path, "in", "gt", ["a", "b"], input_fmt="IMG_{}_NOISY")
    ds = load_dataset("folder", input_dir=tmp_path / "in", target_dir=tmp_path / "gt", pair_pattern="img_*_noisy")
    assert [s.target.name for s in ds.samples] == ["a.png", "b.png"]


@pytest.mark.parametrize("pattern", ["noise=gt", "*_*=*", "a=b=c"])
def test_pair_pattern_needs_one_star_per_side(tmp_path, pattern):
    make_pairs(tmp_path, "in", "gt", ["a"])
    with pytest.raises(MirnetError, match="one \\* each"):
        load_dataset("folder", input_dir=tmp_path / "in", target_dir=tmp_path / "gt", pair_pattern=pattern)


def test_pair_pattern_is_for_folders_only(tmp_path):
    with pytest.raises(MirnetError, match="--dataset folder"):
        load_dataset("lol", tmp_path, pair_pattern="*_low=*_high")
