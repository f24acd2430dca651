"""The checkpoint registry: the shipped weights/registry.json and the validation of broken ones."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from mirnet_cli.errors import MirnetError
from mirnet_cli.loading.registry import (
    CheckpointEntry,
    RegistryError,
    entries_for_task,
    known_task_keys,
    load_registry,
    weights_dir,
    weights_dir_candidates,
)

REPO_WEIGHTS = Path(__file__).resolve().parents[2] / "weights"
V2_RELEASE = "https://github.com/swz30/MIRNetv2/releases/download/v1.0.0/"


@pytest.fixture
def shipped(monkeypatch) -> dict[str, CheckpointEntry]:
    monkeypatch.delenv("MIRNET_WEIGHTS_DIR", raising=False)
    return load_registry()


def write_registry(folder: Path, entries: list[dict], version: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "registry.json"
    path.write_text(json.dumps({"schema_version": version, "entries": entries}))
    return path


def minimal(name: str = "m", **extra) -> dict:
    entry = {"name": name, "task": "denoise", "architecture": "mirnet_v2", "config": {"n_feat": 8},
             "sources": ["https://example.invalid/m.pth"]}
    entry.update(extra)
    return entry


# ------------------------------------------------------------------------------------------------ shipped registry


def test_shipped_registry_lists_every_official_checkpoint(shipped):
    v2 = {n for n, e in shipped.items() if e.architecture == "mirnet_v2" and e.priority == "official"}
    v1 = {n for n, e in shipped.items() if e.architecture == "mirnet"}
    assert len(v2) == 7 and len(v1) == 5
    files = sorted(e.sources[0].rsplit("/", 1)[-1] for n, e in shipped.items() if n in v2)
    assert files == sorted(["real_denoising.pth", "dual_pixel_defocus_deblurring.pth", "sr_x2.pth", "sr_x3.pth",
                            "sr_x4.pth", "enhancement_lol.pth", "enhancement_fivek.pth"])


def test_every_entry_has_the_required_fields(shipped):
    for entry in shipped.values():
        assert entry.name and entry.task and entry.architecture in ("mirnet", "mirnet_v2"), entry.name
        assert isinstance(entry.config, dict) and entry.config, entry.name
        assert entry.licence and entry.licence_url and entry.paper and entry.input_contract, entry.name
        assert entry.sources or entry.manual_download or entry.bundled, entry.name
        assert entry.registry_dir == REPO_WEIGHTS
        # Nobody could download the files to hash them: a made-up digest would be worse than none.
        assert entry.sha256 is None or len(entry.sha256) == 64


def test_v2_entries_are_release_assets_with_params_container(shipped):
    for entry in shipped.values():
        if entry.architecture != "mirnet_v2" or entry.bundled:
            continue
        assert len(entry.sources) == 1 and entry.sources[0].startswith(V2_RELEASE), entry.name
        assert entry.container == "params" and entry.manual_download is None, entry.name
        assert entry.source_kind == "url"


def test_v1_entries_are_manual_google_drive_downloads(shipped):
    for entry in shipped.values():
        if entry.architecture != "mirnet":
            continue
        assert entry.sources == () and entry.source_kind == "manual", entry.name
        assert entry.manual_download["url"].startswith("https://drive.google.com/"), entry.name
        msg = entry.manual_message
        assert "download" in msg and "manually from https://drive.google.com/" in msg and "--weights PATH" in msg
        assert "\n" not in msg


def test_configs_match_the_constructors(shipped):
    from mirnet_cli.models import ARCHITECTURES

    for entry in shipped.values():
        params = set(inspect.signature(ARCHITECTURES[entry.architecture].__init__).parameters) - {"self"}
        assert set(entry.config) <= params, (entry.name, set(entry.config) - params)


def test_v2_configs_give_the_papers_parameter_counts(shipped):
    from mirnet_cli import build_model

    counts = {}
    for name in ("mirnet_v2-real-denoising-sidd", "mirnet_v2-dual-pixel-defocus-deblurring-dpdd"):
        model = build_model("mirnet_v2", **shipped[name].config)
        counts[name] = sum(p.numel() for p in model.parameters())
    # From the facts file: 5,858,560 for 3-channel checkpoints, 5,860,720 for the 6-channel DPDD one.
    assert counts == {"mirnet_v2-real-denoising-sidd": 5_858_560,
                      "mirnet_v2-dual-pixel-defocus-deblurring-dpdd": 5_860_720}


def test_paper_metrics_are_the_published_ones(shipped):
    expected = {
        "mirnet_v2-real-denoising-sidd": ("SIDD", 39.84, 0.959),
        "mirnet_v2-dual-pixel-defocus-deblurring-dpdd": ("DPDD", 26.20, 0.816),
        "mirnet_v2-sr-x4-realsr": ("RealSR x4", 29.16, 0.845),
        "mirnet_v2-enhancement-lol": ("LoL", 24.74, 0.851),
        "mirnet_v2-enhancement-fivek": ("MIT-Adobe FiveK", 23.97, 0.931),
        "mirnet-denoising-sidd": ("SIDD", 39.72, 0.959),
        "mirnet-sr-x4-realsr": ("RealSR x4", 29.14, 0.843),
        "mirnet-enhancement-lol": ("LoL", 24.14, 0.83),
        "mirnet-enhancement-fivek": ("MIT-Adobe FiveK", 23.73, 0.925),
    }
    for name, (dataset, psnr, ssim) in expected.items():
        m = shipped[name].paper_metrics
        assert (m["dataset"], m["psnr"], m["ssim"]) == (dataset, psnr, ssim), name
        assert m["protocol"]
    # Numbers we do not have are null, not invented.
    for name in ("mirnet_v2-sr-x2-realsr", "mirnet_v2-sr-x3-realsr", "mirnet-sr-x3-realsr"):
        assert shipped[name].paper_metrics is None


def test_dual_pixel_and_sr_specifics(shipped):
    dpdd = shipped["mirnet_v2-dual-pixel-defocus-deblurring-dpdd"]
    assert dpdd.config["inp_channels"] == 6 and dpdd.config["task"] == "defocus_deblurring"
    for s in (2, 3, 4):
        assert shipped[f"mirnet_v2-sr-x{s}-realsr"].scale == s
    assert shipped["mirnet_v2-real-denoising-sidd"].scale is None


def test_each_task_key_defaults_to_the_official_v2_checkpoint(shipped):
    keys = ["denoise", "deblur", "enhance:lowlight", "enhance:contrast",
            "super-resolve:x2", "super-resolve:x3", "super-resolve:x4"]
    assert set(keys) <= set(known_task_keys(shipped))
    for key in keys:
        best = entries_for_task(key, shipped)[0]
        assert best.architecture == "mirnet_v2" and best.priority == "official" and key in best.default_for, key


def test_to_dict_round_trips(shipped):
    entry = shipped["mirnet_v2-enhancement-lol"]
    data = json.loads(json.dumps(entry.to_dict()))
    assert CheckpointEntry(**{**data, "sources": tuple(data["sources"]),
                              "default_for": tuple(data["default_for"])}) == entry


# ------------------------------------------------------------------------------------------------ task look-up


def test_entries_for_task_orders_defaults_by_priority(tmp_path):
    path = write_registry(tmp_path, [
        minimal("community", default_for=["denoise"], priority="community"),
        minimal("bundled-one", sources=[], bundled="bundled/x", default_for=["denoise"], priority="bundled"),
        minimal("official", default_for=["denoise"]),
        minimal("not-default"),
        minimal("other-task", task="deblur", default_for=["deblur"]),
    ])
    reg = load_registry(path)
    assert [e.name for e in entries_for_task("denoise", reg)] == ["official", "bundled-one", "community",
                                                                 "not-default"]
    assert [e.name for e in entries_for_task("denoise", reg, defaults_only=True)] == [
        "official", "bundled-one", "community"]
    assert entries_for_task("super-resolve:x4", reg) == []
    assert reg["bundled-one"].bundled_path == (tmp_path / "bundled" / "x").resolve()


def test_task_family_matches_its_members(shipped):
    names = [e.name for e in entries_for_task("enhance", shipped, defaults_only=True)]
    # Official checkpoints first, then the bundled compact ones.
    assert names == ["mirnet_v2-enhancement-lol", "mirnet_v2-enhancement-fivek", "mirnet_v2-nf16-lowlight",
                     "mirnet_v2-nf16-contrast"]
    sr = [e.name for e in entries_for_task("super-resolve", shipped)]
    assert sr[:3] == ["mirnet_v2-sr-x2-realsr", "mirnet_v2-sr-x3-realsr", "mirnet_v2-sr-x4-realsr"]
    assert "mirnet-sr-x4-realsr" in sr  # v1 can do it but is not a default
    # "enhance" must not match a task merely starting with the same letters.
    assert entries_for_task("enh", shipped) == []


# ------------------------------------------------------------------------------------------------ locating weights/


def test_weights_dir_default_is_the_repo_folder(monkeypatch):
    monkeypatch.delenv("MIRNET_WEIGHTS_DIR", raising=False)
    assert weights_dir_candidates()[0] == REPO_WEIGHTS
    assert weights_dir_candidates()[1].name == "_weights"
    assert weights_dir() == REPO_WEIGHTS


def test_weights_dir_env_override(tmp_path, monkeypatch):
    write_registry(tmp_path / "w", [minimal()])
    monkeypatch.setenv("MIRNET_WEIGHTS_DIR", str(tmp_path / "w"))
    assert weights_dir() == tmp_path / "w"
    assert list(load_registry()) == ["m"]


def test_weights_dir_env_without_registry_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MIRNET_WEIGHTS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(RegistryError, match="MIRNET_WEIGHTS_DIR") as info:
        weights_dir()
    assert isinstance(info.value, MirnetError)


# ------------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"task": "denoise", "architecture": "mirnet_v2", "config": {}, "sources": ["https://a/b"]},
         "missing required field.*name"),
        (minimal(config=None), r"'m'.*missing required field.*config"),
        (minimal(architecture="unet"), "architecture 'unet'"),
        (minimal(sources=["ftp://x/y.pth"]), "must start with hf://"),
        (minimal(sources=[]), "needs at least one of sources, bundled or manual_download"),
        (minimal(sha256="abc"), "sha256 must be 64 hex"),
        (minimal(priority="best"), "priority 'best'"),
        (minimal(config=[1, 2]), "'config' must be an object"),
        (minimal(colour="red"), "unknown field.*colour"),
        (minimal(manual_download={"instructions": "x"}), "manual_download needs a 'url'"),
    ],
)
def test_invalid_entries_are_rejected_with_the_reason(tmp_path, entry, message):
    path = write_registry(tmp_path, [entry])
    with pytest.raises(RegistryError, match=message) as info:
        load_registry(path)
    assert str(path) in str(info.value)


def test_duplicate_names_bad_json_and_version(tmp_path):
    path = write_registry(tmp_path / "a", [minimal(), minimal()])
    with pytest.raises(RegistryError, match="appears twice"):
        load_registry(path)
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    with pytest.raises(RegistryError, match="not valid JSON"):
        load_registry(bad)
    with pytest.raises(RegistryError, match="schema_version 2"):
        load_registry(write_registry(tmp_path / "c", [minimal()], version=2))
    with pytest.raises(RegistryError, match="registry not found"):
        load_registry(tmp_path / "missing.json")


def test_load_registry_accepts_a_folder(tmp_path):
    write_registry(tmp_path, [minimal("x")])
    assert list(load_registry(tmp_path)) == ["x"]
