"""Checkpoint files: weights_only-safe RNG states, atomic rotation, fallback past an unreadable newest file."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mirnet_cli.errors import CheckpointError
from mirnet_cli.train.state import (
    checkpoint_files,
    get_rng_state,
    load_training_state,
    prune_checkpoints,
    save_checkpoint,
    set_rng_state,
)


def test_rng_states_round_trip_through_a_weights_only_file(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.standard_normal(5)  # move the numpy position off the start
    path = save_checkpoint(tmp_path / "s.pt", {"iteration": 1, "model": {}, "rng": get_rng_state()})
    expected = (random.random(), np.random.standard_normal(3), torch.rand(3))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(torch.load(path, weights_only=True)["rng"])
    got = (random.random(), np.random.standard_normal(3), torch.rand(3))
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1]) and torch.equal(got[2], expected[2])


def test_rotation_keeps_the_newest_and_best(tmp_path):
    for it in (5, 10, 15, 20):
        save_checkpoint(tmp_path / "checkpoints" / f"iter_{it:08d}.pt", {"iteration": it, "model": {}})
    save_checkpoint(tmp_path / "checkpoints" / "best.pt", {"iteration": 10, "model": {}})
    prune_checkpoints(tmp_path, 2)
    assert [i for i, _ in checkpoint_files(tmp_path)] == [15, 20]
    assert (tmp_path / "checkpoints" / "best.pt").is_file()
    assert not list((tmp_path / "checkpoints").glob(".*tmp"))  # no temporary files left behind


def test_unreadable_newest_checkpoint_falls_back(tmp_path):
    save_checkpoint(tmp_path / "checkpoints" / "iter_00000005.pt", {"iteration": 5, "model": {}})
    (tmp_path / "checkpoints" / "iter_00000010.pt").write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match="iter_00000010"):
        path, state = load_training_state(tmp_path)
    assert path.name == "iter_00000005.pt" and state["iteration"] == 5
    with pytest.raises(CheckpointError, match="nothing to resume"):
        load_training_state(tmp_path / "empty")


@pytest.mark.parametrize("content", [b"", b"\x80", b"PK\x03\x04"])
def test_empty_or_cut_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, content):
    # issue 14 item 7: an empty newest file raised IndexError (EOFError has no message) instead of falling back.
    save_checkpoint(tmp_path / "checkpoints" / "iter_00000005.pt", {"iteration": 5, "model": {}})
    (tmp_path / "checkpoints" / "iter_00000010.pt").write_bytes(content)
    with pytest.warns(UserWarning, match="iter_00000010.pt: .*trying the previous checkpoint"):
        path, state = load_training_state(tmp_path)
    assert path.name == "iter_00000005.pt" and state["iteration"] == 5
    only = tmp_path / "only"
    (only / "checkpoints").mkdir(parents=True)
    (only / "checkpoints" / "iter_00000001.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match="iter_00000001.pt: (empty|cannot read)"), pytest.warns(UserWarning):
        load_training_state(only)
