"""Checkpoint containers, architecture detection, safe loading, readable mismatches and export."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from mirnet_cli import build_model, load_model
from mirnet_cli.errors import CheckpointError
from mirnet_cli.loading.checkpoint import detect_architecture, save_pretrained
from tests.conftest import FIXTURES

V2_CASE = FIXTURES / "golden" / "v2_nfeat16"


def _golden_output(model, case=V2_CASE):
    x = torch.from_numpy(np.load(case / "input_40x56.npy")).float()
    with torch.no_grad():
        return model(x)


@pytest.fixture(scope="module")
def golden_v2():
    return load_model(V2_CASE / "weights.safetensors")


def test_params_pth_and_module_prefixed_state_dict_give_the_same_output(tmp_path, golden_v2):
    sd = golden_v2.state_dict()
    torch.save({"params": sd}, tmp_path / "basicsr.pth")
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 7}, tmp_path / "v1style.pt")
    torch.save({"model_state_dict": sd, "optimizer_state_dict": {}}, tmp_path / "other.ckpt")
    torch.save({"params_ema": sd, "params": {k: torch.zeros_like(v) for k, v in sd.items()}}, tmp_path / "ema.pth")
    ref = _golden_output(golden_v2)
    for name in ("basicsr.pth", "v1style.pt", "other.ckpt", "ema.pth"):
        model = load_model(tmp_path / name)
        assert model.architecture == "mirnet_v2"
        assert torch.equal(_golden_output(model), ref), name


def test_safetensors_without_metadata_is_detected(tmp_path, golden_v2):
    save_file({k: v.contiguous() for k, v in golden_v2.state_dict().items()}, str(tmp_path / "bare.safetensors"))
    model = load_model(tmp_path / "bare.safetensors")
    assert model.config["n_feat"] == 16 and model.config["chan_factor"] == 1.5 and model.config["task"] is None


@pytest.mark.parametrize(
    "arch,config",
    [
        ("mirnet_v2", dict(n_feat=16)),
        ("mirnet_v2", dict(n_feat=32, n_MRB=1)),
        ("mirnet_v2", dict(n_feat=16, inp_channels=6, task="defocus_deblurring")),
        ("mirnet_v2", dict(n_feat=16, bias=True)),
        ("mirnet", dict(n_feat=8, n_RRG=2, n_MSRB=1)),
        ("mirnet", dict(n_feat=8, n_RRG=1, n_MSRB=1, height=2, width=3)),
    ],
)
def test_detection_recovers_the_config(arch, config):
    model = build_model(arch, **config)
    det_arch, det_cfg = detect_architecture(model.state_dict())
    assert det_arch == arch
    for k, v in config.items():
        assert det_cfg[k] == v, k


def test_code_payload_is_refused_without_running(tmp_path, golden_v2):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"params": golden_v2.state_dict(), "extra": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="refused to load.*system"):
        load_model(tmp_path / "evil.pth")
    assert not marker.exists()


def test_mismatch_lists_missing_and_unexpected_keys(tmp_path, golden_v2):
    sd = dict(golden_v2.state_dict())
    sd.pop("body.0.body.2.weight")
    sd["extra.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "broken.pth")
    from mirnet_cli.loading.checkpoint import model_from_state

    with pytest.raises(CheckpointError) as info:
        model_from_state(sd, "mirnet_v2", golden_v2.config, source="broken.pth")
    msg = str(info.value)
    assert "1 missing: body.0.body.2.weight" in msg and "1 unexpected: extra.weight" in msg
    assert "\n" not in msg


def test_not_a_mirnet_checkpoint(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "resnet.pth")
    with pytest.raises(CheckpointError, match="neither MIRNet nor MIRNet-v2"):
        load_model(tmp_path / "resnet.pth")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_unreadable_files(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pth"):
        load_model(path)


def test_export_round_trip_v2(tmp_path, golden_v2):
    folder = save_pretrained(golden_v2, tmp_path / "export", card={"task": "denoise"})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    again = load_model(folder)
    assert again.config == golden_v2.config
    assert all(torch.equal(a, b) for a, b in zip(golden_v2.state_dict().values(), again.state_dict().values(), strict=True))
    assert again.card["task"] == "denoise"


def test_export_round_trip_v1_with_shared_weights(tmp_path):
    model = load_model(FIXTURES / "golden" / "v1_nfeat16" / "weights.safetensors")
    again = load_model(save_pretrained(model, tmp_path / "v1"))
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


def test_fp16_export_loads_as_float32(tmp_path, golden_v2):
    again = load_model(save_pretrained(golden_v2, tmp_path / "half", dtype=torch.float16))
    assert all(p.dtype == torch.float32 for p in again.parameters())
    assert (tmp_path / "half" / "model.safetensors").stat().st_size < 0.6 * (V2_CASE / "weights.safetensors").stat().st_size


def test_golden_config_json_folder_layout(tmp_path):
    # The golden folders carry config.json in the {"architecture", "constructor_config"} shape.
    import shutil

    shutil.copy(V2_CASE / "config.json", tmp_path / "config.json")
    shutil.copy(V2_CASE / "weights.safetensors", tmp_path / "weights.safetensors")
    assert load_model(tmp_path).config["n_feat"] == 16
