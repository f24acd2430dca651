"""The default checkpoint chain: official when cached or downloadable, else bundled with a notice."""

from __future__ import annotations

import json
import shutil

import pytest

from mirnet_cli.errors import SourceError
from mirnet_cli.restore.selection import choose_weights
from tests.conftest import FIXTURES

V2_CONFIG = {"inp_channels": 3, "out_channels": 3, "n_feat": 16, "chan_factor": 1.5, "n_RRG": 4, "n_MRB": 2,
             "height": 3, "width": 2, "scale": 1, "bias": False, "task": None}


def _entry(name, *, sources=(), bundled=None, priority="official", manual=None):
    return {"name": name, "task": "denoise", "architecture": "mirnet_v2", "config": V2_CONFIG,
            "sources": list(sources), "revision": None, "sha256": None, "container": None, "licence": "test",
            "licence_url": None, "paper": None, "paper_metrics": None, "scale": None, "input_contract": None,
            "notes": None, "manual_download": manual, "bundled": bundled, "default_for": ["denoise"],
            "priority": priority}


@pytest.fixture
def registry(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    (folder / "bundled" / "tiny").mkdir(parents=True)
    shutil.copy(FIXTURES / "golden" / "v2_nfeat16" / "weights.safetensors",
                folder / "bundled" / "tiny" / "model.safetensors")
    entries = [
        _entry("official-denoise", sources=["https://example.invalid/real_denoising.pth"]),
        _entry("bundled-denoise", bundled="bundled/tiny", priority="bundled"),
    ]
    (folder / "registry.json").write_text(json.dumps({"schema_version": 1, "entries": entries}))
    monkeypatch.setenv("MIRNET_WEIGHTS_DIR", str(folder))
    return folder


def test_offline_falls_back_to_bundled_with_notice(registry):
    choice = choose_weights("denoise")
    assert choice.source == "bundled-denoise"
    assert "bundled" in choice.notice and "HF_HUB_OFFLINE" in choice.notice


def test_explicit_choices(registry):
    assert choose_weights("denoise", weights="/some/file.pth").source == "/some/file.pth"
    assert choose_weights("denoise", model="bundled").source == "bundled-denoise"
    assert choose_weights("denoise", model="official-denoise").source == "official-denoise"
    with pytest.raises(SourceError, match="HF_HUB_OFFLINE"):
        choose_weights("denoise", model="official")
    with pytest.raises(SourceError, match="not a registry name"):
        choose_weights("denoise", model="nope")


def test_cached_official_wins(registry, monkeypatch):
    import mirnet_cli.loading.sources as sources

    monkeypatch.setattr(sources, "is_cached", lambda entry, **kw: entry.name == "official-denoise")
    choice = choose_weights("denoise")
    assert choice.source == "official-denoise" and choice.notice is None


def test_bundled_model_loads_through_the_chain(registry):
    from mirnet_cli import load_model

    model = load_model(choose_weights("denoise").source)
    assert model.architecture == "mirnet_v2" and model.config["n_feat"] == 16


def test_deblur_offline_says_why_there_is_no_bundled_model_and_how_to_download(monkeypatch):
    # The real registry: dual-pixel deblurring has only the official checkpoint.
    monkeypatch.delenv("MIRNET_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import mirnet_cli.loading.sources as sources

    monkeypatch.setattr(sources, "is_cached", lambda entry, **kw: False)
    with pytest.raises(SourceError) as info:
        choose_weights("deblur")
    msg = str(info.value)
    assert "\n" not in msg and "dual-pixel training data" in msg
    assert "download https://" in msg and "`mirnet download mirnet_v2-dual-pixel-defocus-deblurring-dpdd --from FILE`" in msg
