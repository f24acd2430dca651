"""Hostile or broken checkpoints: the tensors decide the config, every argument is bounded, nothing big is built
before the tensors prove its size, and weights that cannot be right are refused (issue 14, items 2 and 5)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from mirnet_cli import load_model
from mirnet_cli.cli.app import app
from mirnet_cli.errors import CheckpointError
from mirnet_cli.loading import checkpoint
from tests.conftest import FIXTURES

V2_WEIGHTS = FIXTURES / "golden" / "v2_nfeat16" / "weights.safetensors"
V1_WEIGHTS = FIXTURES / "golden" / "v1_nfeat16" / "weights.safetensors"


@pytest.fixture
def v2_state():
    return load_file(str(V2_WEIGHTS))


@pytest.fixture
def built(monkeypatch):
    """Every model the loader builds, with the device of its parameters ("meta" costs no memory)."""
    made: list[tuple[dict, str]] = []
    real = checkpoint.build_model

    def spy(arch, **config):
        model = real(arch, **config)
        made.append((config, next(model.parameters()).device.type))
        return model

    monkeypatch.setattr(checkpoint, "build_model", spy)
    return made


def _folder(tmp_path, state, config, name="m"):
    folder = tmp_path / name
    folder.mkdir()
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"architecture": "mirnet_v2", "config": config}))
    return folder


@pytest.mark.parametrize("config,needle", [
    ({"n_feat": 100000}, "n_feat must be an integer from 4 to 512, not 100000"),
    ({"n_feat": 2000}, "n_feat must be an integer from 4 to 512, not 2000"),
    ({"n_MRB": 1000000}, "n_MRB must be an integer from 1 to 16, not 1000000"),
    ({"n_feat": 32}, "the config says n_feat=32 but the weights have n_feat=16"),
    ({"n_MRB": 1}, "the config says n_MRB=1 but the weights have n_MRB=2"),
    ({"chan_factor": 2.0}, "the config says chan_factor=2.0 but the weights have chan_factor=1.5"),
    ({"bias": "no"}, "bias must be true or false"),
    ({"task": "rm -rf"}, "task must be one of None, 'defocus_deblurring'"),
    ({"n_feat": 16, "surprise": 1}, "unknown argument 'surprise'"),
])
def test_config_json_cannot_make_the_loader_build_something_else(tmp_path, v2_state, built, config, needle):
    folder = _folder(tmp_path, v2_state, config)
    with pytest.raises(CheckpointError) as info:
        load_model(folder)
    msg = str(info.value)
    assert needle in msg and "model.safetensors" in msg and "\n" not in msg
    assert built == []  # refused before anything was built


def test_safetensors_metadata_is_checked_like_config_json(tmp_path, v2_state, built):
    path = tmp_path / "meta.safetensors"
    save_file(v2_state, str(path), metadata={"architecture": "mirnet_v2", "config": json.dumps({"n_feat": 100000})})
    with pytest.raises(CheckpointError, match="n_feat must be an integer from 4 to 512, not 100000"):
        load_model(path)
    save_file(v2_state, str(path), metadata={"architecture": "mirnet", "config": json.dumps({"n_feat": 16})})
    with pytest.raises(CheckpointError, match="the config says mirnet but the weights are mirnet_v2"):
        load_model(path)
    assert built == []


def test_a_config_that_agrees_fills_in_what_the_shapes_cannot_show(tmp_path, v2_state):
    # `task` is invisible in a 3-in/3-out state dict: the declared value is used.
    folder = _folder(tmp_path, v2_state, {"n_feat": 16, "task": "defocus_deblurring"})
    assert load_model(folder).config["task"] == "defocus_deblurring"


def test_small_tensors_claiming_a_huge_network_are_refused_before_allocation(tmp_path, v2_state, built):
    # A few small tensors say n_feat=512 (a 1.9 G-parameter network with 16 MRBs per group): the skeleton is built
    # on the meta device only, and the shapes do not match.
    state = dict(v2_state)
    state["conv_in.weight"] = torch.zeros(512, 3, 3, 3)
    state["body.0.body.0.dau_mid.body.0.weight"] = torch.zeros(768, 1, 1, 1)
    state["body.0.body.0.dau_bot.body.0.weight"] = torch.zeros(1152, 1, 1, 1)
    for i in range(2, 16):
        state[f"body.0.body.{i}.dau_top.body.0.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(state, tmp_path / "hostile.pth")
    with pytest.raises(CheckpointError, match="does not match mirnet_v2") as info:
        load_model(tmp_path / "hostile.pth")
    assert "\n" not in str(info.value)
    assert [device for _, device in built] == ["meta"]
    state["conv_in.weight"] = torch.zeros(100000, 3, 3, 3)
    torch.save(state, tmp_path / "wider.pth")
    with pytest.raises(CheckpointError, match="n_feat must be an integer from 4 to 512, not 100000"):
        load_model(tmp_path / "wider.pth")


def test_malformed_tensors_are_one_line_errors(tmp_path, v2_state):
    state = dict(v2_state)
    state["conv_in.weight"] = torch.zeros(16)
    torch.save(state, tmp_path / "flat.pth")
    with pytest.raises(CheckpointError, match=r"conv_in.weight has shape \(16,\), expected 4 dimensions"):
        load_model(tmp_path / "flat.pth")
    v1 = load_file(str(V1_WEIGHTS))
    v1["conv_in.weight"] = torch.zeros(16, 3, 2, 2)
    torch.save(v1, tmp_path / "even.pth")
    with pytest.raises(CheckpointError, match="odd square kernels"):
        load_model(tmp_path / "even.pth")


def test_good_checkpoints_still_load_and_build_once_for_real(v2_state, built):
    model = load_model(V2_WEIGHTS)
    assert model.config["n_feat"] == 16
    assert [device for _, device in built] == ["meta", "cpu"]
    assert load_model(V1_WEIGHTS).config["n_RRG"] == 3


@pytest.mark.parametrize("poison,needle", [
    (lambda t: t.masked_fill(torch.arange(t.numel()).reshape(t.shape) == 3, float("nan")), "holds NaN or Inf"),
    (lambda t: t.masked_fill(torch.arange(t.numel()).reshape(t.shape) == 0, float("inf")), "holds NaN or Inf"),
    (lambda t: t.to(torch.int64), "holds int64 values; network weights are floating point"),
    (lambda t: t > 0, "holds bool values"),
    (lambda t: t.to(torch.complex64), "holds complex64 values"),
])
def test_weights_that_cannot_be_right_are_refused(tmp_path, v2_state, poison, needle):
    state = dict(v2_state)
    state["conv_out.weight"] = poison(state["conv_out.weight"])
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path / "bad.pth")
    msg = str(info.value)
    assert msg.startswith(str(tmp_path / "bad.pth")) and "conv_out.weight" in msg and needle in msg


def test_fp16_weights_with_an_inf_are_refused_too(tmp_path, v2_state):
    state = {k: v.half() for k, v in v2_state.items()}
    state["conv_in.weight"][0, 0, 0, 0] = float("-inf")
    save_file(state, str(tmp_path / "half.safetensors"))
    with pytest.raises(CheckpointError, match="conv_in.weight holds NaN or Inf"):
        load_model(tmp_path / "half.safetensors")


def test_cli_reports_a_hostile_config_in_one_line(tmp_path, v2_state):
    folder = _folder(tmp_path, v2_state, {"n_feat": 100000})
    photo = tmp_path / "in" / "p.png"
    photo.parent.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photo)
    res = CliRunner().invoke(app, ["restore", str(photo), "--weights", str(folder), "-o", str(tmp_path / "out"),
                                   "--device", "cpu", "-q"])
    assert res.exit_code == 2  # no usable model: the run could not start
    assert "n_feat must be an integer from 4 to 512" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "p.png").exists()


def test_golden_folder_with_its_own_config_json_still_loads(tmp_path):
    shutil.copy(FIXTURES / "golden" / "v1_nfeat16" / "config.json", tmp_path / "config.json")
    shutil.copy(V1_WEIGHTS, tmp_path / "weights.safetensors")
    assert load_model(tmp_path).config["n_MSRB"] == 2
