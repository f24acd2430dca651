"""load_teacher: teachers are data (every refusal the checkpoint loader applies), recognised by their keys."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from mirnet_cli import build_model
from mirnet_cli.errors import CheckpointError
from mirnet_cli.loading.checkpoint import save_pretrained
from mirnet_cli.teachers import load_teacher
from mirnet_cli.teachers.iat import IAT
from mirnet_cli.teachers.kair import DnCNN, FFDNet


def _save(state, path):
    torch.save(state, path)
    return path


@pytest.mark.parametrize("net, name", [(IAT(), "iat"), (FFDNet(layers=4, features=8), "ffdnet"),
                                       (DnCNN(layers=4, features=8), "dncnn")])
def test_foreign_teachers_are_recognised_by_their_keys(net, name, tmp_path):
    path = _save(net.state_dict(), tmp_path / f"{name}.pth")
    teacher = load_teacher(path)
    assert teacher.architecture == name
    assert teacher.provenance["parameters"] == sum(p.numel() for p in net.parameters())
    x = torch.rand(1, 3, 20, 30)
    y = teacher(x)
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1


def test_a_mirnet_export_is_a_teacher_and_pads_to_its_size_multiple(tmp_path):
    save_pretrained(build_model("mirnet_v2", n_feat=8, chan_factor=2.0, n_MRB=1), tmp_path / "m")
    teacher = load_teacher(tmp_path / "m")
    assert teacher.architecture == "mirnet_v2" and teacher.size_multiple == 4
    assert teacher(torch.rand(1, 3, 13, 18)).shape == (1, 3, 13, 18)


def test_ffdnet_sigma_is_recorded_and_refused_elsewhere(tmp_path):
    ffd = _save(FFDNet(layers=4, features=8).state_dict(), tmp_path / "f.pth")
    assert load_teacher(ffd, sigma=40).provenance["sigma"] == 40.0
    dn = _save(DnCNN(layers=4, features=8).state_dict(), tmp_path / "d.pth")
    with pytest.raises(CheckpointError, match="teacher_sigma is for FFDNet"):
        load_teacher(dn, sigma=40)


def test_batchnorm_counters_pass_but_other_integer_tensors_do_not(tmp_path):
    state = IAT().state_dict()
    assert any(k.endswith("num_batches_tracked") for k in state)  # the published file has them too
    load_teacher(_save(state, tmp_path / "ok.pth"))
    state["local_net.conv1.weight"] = state["local_net.conv1.weight"].long()
    with pytest.raises(CheckpointError, match="floating point"):
        load_teacher(_save(state, tmp_path / "int.pth"))


def test_nan_weights_and_wrong_shapes_are_refused(tmp_path):
    state = DnCNN(layers=4, features=8).state_dict()
    state["model.2.weight"][0, 0, 0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN or Inf"):
        load_teacher(_save(state, tmp_path / "nan.pth"))
    state = IAT().state_dict()
    state["global_net.color_base"] = torch.eye(4)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_teacher(_save(state, tmp_path / "shape.pth"))


def test_unknown_networks_are_refused_in_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="not a teacher mirnet knows") as info:
        load_teacher(_save({"backbone.conv.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "x.pth"))
    assert "\n" not in str(info.value)


class _Payload:
    def __reduce__(self):
        return (open, ("/tmp/mirnet-teacher-pwned", "w"))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"model.0.weight": _Payload()}, f, protocol=2)  # torch.save's protocol
    with pytest.raises(CheckpointError, match="could run code"):
        load_teacher(path)
    assert not Path("/tmp/mirnet-teacher-pwned").exists()
