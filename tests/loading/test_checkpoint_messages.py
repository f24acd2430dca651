"""Checkpoint errors say what the file is (issue 20): a config.json is not "a pickled Python object", an old
pickle protocol is named without PyTorch's raw warning, another network is "not a MIRNet / MIRNet-v2 state dict"."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from typer.testing import CliRunner

from mirnet_cli import build_model
from mirnet_cli.cli.app import app
from mirnet_cli.errors import CheckpointError
from mirnet_cli.loading.checkpoint import load_model


def test_a_config_json_given_as_weights_is_called_a_json_file(tmp_path):
    folder = tmp_path / "some"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architecture": "mirnet_v2", "config": {"n_feat": 16}}))
    with pytest.raises(CheckpointError) as info:
        load_model(folder / "config.json")
    message = str(info.value)
    assert "a JSON file, not weights" in message and "pass the folder" in message
    assert "pickled" not in message and "could run code" not in message
    photo = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (16, 16)).save(photo)
    res = CliRunner().invoke(app, ["restore", str(photo), "--weights", str(folder / "config.json"), "-o",
                                   str(tmp_path / "out")])
    assert res.exit_code == 2 and "a JSON file, not weights" in res.stderr and "Traceback" not in res.output


def test_pickle_protocol_4_is_named_without_pytorchs_warning(tmp_path):
    path = tmp_path / "p4.pth"
    model = build_model("mirnet_v2", n_feat=16, n_MRB=1)
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False, pickle_protocol=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError, match="pickle protocol 4") as info:
            load_model(path)
    assert "could run code" not in str(info.value)
    assert not [w for w in caught if "pickle protocol" in str(w.message)]


def test_another_network_is_not_a_mirnet_state_dict_not_int64_values(tmp_path):
    path = tmp_path / "bn.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8)).state_dict(), path)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    message = str(info.value)
    assert "not a MIRNet / MIRNet-v2 state dict" in message and "BatchNorm" in message
    assert "int64" not in message
