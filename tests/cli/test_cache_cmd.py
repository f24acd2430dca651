"""Models you can manage (issue 13 item 5): a task with no offline model says where to get it and how to import
it, `mirnet download NAME --from FILE`, `mirnet models` (what each task uses now, sizes, the cache folder) and
`mirnet cache` (show, clear). Offline throughout (the autouse fixture sets HF_HUB_OFFLINE=1 and an empty HF_HOME)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mirnet_cli.cli.app import app
from mirnet_cli.loading.sources import cache_root
from tests.conftest import FIXTURES

runner = CliRunner()
V2_FILE = FIXTURES / "golden" / "v2_nfeat16" / "weights.safetensors"
V1_FILE = FIXTURES / "golden" / "v1_nfeat16" / "weights.safetensors"
V2_CONFIG = json.loads((FIXTURES / "golden" / "v2_nfeat16" / "config.json").read_text())["constructor_config"]
SR_URL = "https://example.invalid/releases/sr_x4.pth"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """super-resolve:x4 has only an official URL entry (no bundled model); denoise has a bundled one."""
    weights = tmp_path / "weights"
    (weights / "bundled" / "tiny").mkdir(parents=True)
    shutil.copy(V2_FILE, weights / "bundled" / "tiny" / "model.safetensors")
    entries = [
        {"name": "sr4-official", "task": "super-resolve:x4", "architecture": "mirnet_v2", "config": V2_CONFIG,
         "sources": [SR_URL], "default_for": ["super-resolve:x4"], "scale": 4},
        {"name": "tiny-denoise", "task": "denoise", "architecture": "mirnet_v2", "config": V2_CONFIG,
         "bundled": "bundled/tiny", "priority": "bundled", "default_for": ["denoise"]},
    ]
    (weights / "registry.json").write_text(json.dumps({"schema_version": 1, "entries": entries}))
    monkeypatch.setenv("MIRNET_WEIGHTS_DIR", str(weights))
    return weights


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in" / "p.png"
    path.parent.mkdir()
    Image.fromarray((np.random.default_rng(0).random((12, 16, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_a_task_without_an_offline_model_says_where_to_get_it_and_how_to_import_it(registry, photo, tmp_path):
    res = _run("super-resolve", photo, "--scale", "4", "-o", tmp_path / "out", "--device", "cpu")
    assert res.exit_code == 2  # no usable model: the run could not start
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output
    assert lines[0].startswith("error: no offline model for super-resolve:x4")
    assert SR_URL in lines[0] and "`mirnet download sr4-official --from FILE`" in lines[0]


def test_download_from_file_makes_it_the_default_then_cache_clears_it(registry, photo, tmp_path):
    res = _run("download", "sr4-official", "--from", V2_FILE)
    assert res.exit_code == 0, res.output
    assert "sr4-official: " in res.stdout and "imported to" in res.stdout and "trust on first use" in res.stdout
    copy = cache_root() / "imported" / "sr4-official" / V2_FILE.name
    assert copy.read_bytes() == V2_FILE.read_bytes()

    out = tmp_path / "out"
    res = _run("super-resolve", photo, "--scale", "4", "-o", out, "--device", "cpu", "-q")
    assert res.exit_code == 0, res.output
    assert Image.open(out / "p.png").size == (64, 48)

    models = _run("models")
    assert models.exit_code == 0, models.output
    row = next(line for line in models.stdout.splitlines() if line.startswith("sr4-official "))
    assert "yes (" in row and "kB)" in row  # cached, with its size
    uses = next(line for line in models.stdout.splitlines() if line.startswith("super-resolve:x4 "))
    assert uses.split()[1] == "sr4-official" and "official, cached" in uses
    assert f"cache: {cache_root()} (1 file(s)" in models.stdout
    data = {d["name"]: d for d in json.loads(_run("models", "--json").stdout)}
    assert data["sr4-official"]["size_bytes"] == V2_FILE.stat().st_size
    assert data["sr4-official"]["used_now_for"] == ["super-resolve:x4"]

    listing = _run("cache")
    assert listing.exit_code == 0
    assert any(line.split()[:2] == ["sr4-official", "imported"] for line in listing.stdout.splitlines())
    cleared = _run("cache", "sr4-official", "--clear")
    assert cleared.exit_code == 0 and "removed 1 file(s)" in cleared.stdout
    assert not (cache_root() / "imported").exists()  # no empty folders left
    assert "nothing cached" in _run("cache").stdout
    assert _run("super-resolve", photo, "--scale", "4", "-o", tmp_path / "again", "--device", "cpu").exit_code == 2


def test_download_from_refuses_a_file_that_is_not_that_model(registry):
    res = _run("download", "sr4-official", "--from", V1_FILE)
    assert res.exit_code == 1
    assert "not imported as sr4-official" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (cache_root() / "imported").exists()


def test_models_says_what_each_task_uses_now_offline(registry):
    res = _run("models")
    lines = res.stdout.splitlines()
    denoise = next(line for line in lines if line.startswith("denoise "))
    assert denoise.split()[1] == "tiny-denoise" and "bundled" in denoise
    sr = next(line for line in lines if line.startswith("super-resolve:x4 "))
    assert sr.split()[1] == "-" and "mirnet download sr4-official" in sr


@pytest.mark.parametrize("args,needle", [
    (["download", "sr4-official", "--from", "/no/such/file.pth"], "--from /no/such/file.pth: no such file"),
    (["download", "--from", str(V2_FILE)], "needs exactly one model name"),
    (["download", "sr4-official", "tiny-denoise", "--from", str(V2_FILE)], "needs exactly one model name"),
    (["download", "sr4-official", "--all", "--from", str(V2_FILE)], "cannot be combined with --all or --force"),
    (["download", "super-resolve:x4", "--from", str(V2_FILE)], "not a model name (for super-resolve:x4: sr4-official)"),
    (["download", "tiny-denoise", "--from", str(V2_FILE)], "tiny-denoise is bundled"),
    (["cache", "nope"], "not a model name: nope"),
    (["cache", "nope", "--clear"], "not a model name: nope"),
])
def test_usage_errors_are_one_line_with_exit_code_2(registry, args, needle):
    res = _run(*args)
    assert res.exit_code == 2, res.output
    assert needle in res.output and len(res.output.strip().splitlines()) == 1
    assert not (cache_root() / "imported").exists()


def test_cache_lists_and_clears_downloads_and_partial_files(registry, tmp_path):
    from mirnet_cli.loading.sources import url_cache_path

    done = url_cache_path(SR_URL)
    done.parent.mkdir(parents=True)
    done.write_bytes(b"x" * 2000)
    (done.parent / f".{done.name}.abc.incomplete").write_bytes(b"half")
    other = cache_root() / "url" / "0123456789abcdef" / "other.pth"
    other.parent.mkdir()
    other.write_bytes(b"y")
    res = _run("cache")
    rows = [line.split()[:3] for line in res.stdout.splitlines()]
    assert ["sr4-official", "download", "2.0"] in rows and ["-", "partial", "4"] in rows and ["-", "download", "1"] in rows
    assert "3 file(s)" in res.stdout
    data = json.loads(_run("cache", "--json").stdout)
    assert {d["kind"] for d in data} == {"download", "partial"}
    res = _run("cache", "--clear")
    assert res.exit_code == 0 and "removed 3 file(s)" in res.stdout
    assert not (cache_root() / "url").exists()
