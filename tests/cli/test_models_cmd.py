"""``mirnet models`` and ``mirnet download`` against a temporary registry served by a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections import Counter
from functools import partial

import pytest
from typer.testing import CliRunner

from mirnet_cli.cli.app import app
from mirnet_cli.loading.sources import url_cache_path

PAYLOAD = b"weights" * 1000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
runner = CliRunner()


class _Handler(http.server.SimpleHTTPRequestHandler):
    counts: Counter

    def do_GET(self):  # noqa: N802 - http.server naming
        self.counts[self.path] += 1
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A weights folder with a registry whose URL entries point at a local HTTP server; network allowed."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "denoise.pth").write_bytes(PAYLOAD)
    (www / "lol.pth").write_bytes(PAYLOAD)
    counts: Counter = Counter()
    handler = type("Handler", (_Handler,), {"counts": counts})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"

    def e(name, task, srcs, **kw):
        d = {"name": name, "task": task, "architecture": "mirnet_v2", "config": {"n_feat": 8},
             "sources": srcs, "default_for": [task], "licence": "Test Licence",
             "licence_url": "https://example.org/L"}
        d.update(kw)
        return d

    entries = [
        e("den", "denoise", [base + "denoise.pth"], sha256=PAYLOAD_SHA),
        e("lol", "enhance:lowlight", [base + "lol.pth"]),
        e("broken", "enhance:contrast", [base + "missing.pth"]),
        e("manual-v1", "denoise", [], architecture="mirnet", default_for=[],
          manual_download={"url": "https://drive.google.com/open?id=ABC", "filename": "model_denoising.pth"}),
    ]
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "registry.json").write_text(json.dumps({"schema_version": 1, "entries": entries}))
    monkeypatch.setenv("MIRNET_WEIGHTS_DIR", str(weights))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    class World:
        pass

    w = World()
    w.base, w.counts = base, counts
    yield w
    httpd.shutdown()
    httpd.server_close()


def test_models_table_and_json(world):
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TASK", "ARCH", "SOURCE", "CACHED", "LICENCE"]
    row = next(line for line in lines if line.startswith("den "))
    assert row.split()[:5] == ["den", "denoise", "mirnet_v2", "url", "no"]
    assert any(line.split()[:5] == ["manual-v1", "denoise", "mirnet", "manual", "no"] for line in lines)

    assert runner.invoke(app, ["download", "den"]).exit_code == 0
    data = json.loads(runner.invoke(app, ["models", "--json"]).stdout)
    by_name = {d["name"]: d for d in data}
    assert by_name["den"]["cached"] is True and by_name["lol"]["cached"] is False
    assert by_name["manual-v1"]["source"] == "manual" and by_name["den"]["licence"] == "Test Licence"
    assert world.counts["/denoise.pth"] == 1  # listing never downloads


def test_download_by_task_key(world):
    result = runner.invoke(app, ["download", "enhance:lowlight"])
    assert result.exit_code == 0, result.output
    path = url_cache_path(world.base + "lol.pth")
    assert f"lol: {path}" in result.stdout
    assert path.read_bytes() == PAYLOAD
    assert "note: lol is distributed under the Test Licence" in result.stderr


def test_download_manual_entry_exits_1_with_the_hint(world):
    result = runner.invoke(app, ["download", "manual-v1"])
    assert result.exit_code == 1
    assert ("error: manual-v1 cannot be downloaded automatically: download model_denoising.pth manually from "
            "https://drive.google.com/open?id=ABC, then pass --weights PATH") in result.stderr


def test_download_all_skips_manual_and_reports_failures(world):
    result = runner.invoke(app, ["download", "--all"])
    assert result.exit_code == 1  # "broken" is a 404
    assert "den: " in result.stdout and "lol: " in result.stdout
    assert "skipped manual-v1: " in result.stderr
    assert "error: could not fetch broken: download failed for" in result.stderr and "HTTP 404" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "done 2, skipped 1 (manual download), failed 1"
    assert "Traceback" not in result.output


def test_download_all_succeeds_when_everything_fetchable_works(world, tmp_path):
    reg = json.loads((tmp_path / "weights" / "registry.json").read_text())
    reg["entries"] = [e for e in reg["entries"] if e["name"] != "broken"]
    (tmp_path / "weights" / "registry.json").write_text(json.dumps(reg))
    result = runner.invoke(app, ["download", "--all"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["download", "den", "denoise"])  # name and task key: fetched once, cached
    assert again.exit_code == 0 and again.stdout.count("den: ") == 1
    assert world.counts["/denoise.pth"] == 1


def test_download_argument_errors(world):
    nothing = runner.invoke(app, ["download"])
    assert nothing.exit_code == 2 and "error: name task keys or model names" in nothing.stderr  # usage error
    unknown = runner.invoke(app, ["download", "sharpen"])
    assert unknown.exit_code == 2
    assert "error: 'sharpen' is neither a model name nor a task key" in unknown.stderr
    assert "enhance:lowlight" in unknown.stderr


def test_download_offline_is_a_clear_error(world, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, ["download", "den"])
    assert result.exit_code == 1
    assert "error: den is not in the cache and HF_HUB_OFFLINE=1" in result.stderr
    assert world.counts["/denoise.pth"] == 0


def test_bad_registry_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "registry.json").write_text("{oops")
    monkeypatch.setenv("MIRNET_WEIGHTS_DIR", str(tmp_path))
    for args in (["models"], ["download", "--all"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2  # the run could not start
        assert result.stderr.startswith("error: ") and "not valid JSON" in result.stderr
        assert "Traceback" not in result.output


def test_models_on_the_shipped_registry(monkeypatch):
    monkeypatch.delenv("MIRNET_WEIGHTS_DIR", raising=False)
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "mirnet_v2-real-denoising-sidd" in result.stdout and "mirnet-enhancement-fivek" in result.stdout
    assert "need a manual download" in result.stdout
