"""Resolving weights sources, fully offline: a hand-made Hugging Face cache and a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from mirnet_cli.errors import SourceError
from mirnet_cli.loading import sources
from mirnet_cli.loading.registry import CheckpointEntry, load_registry
from mirnet_cli.loading.sources import (
    HFSource,
    fetch,
    is_cached,
    licence_marker,
    parse_hf_source,
    resolve_local,
    url_cache_path,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OLD_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
PAYLOAD = b"not really a checkpoint, but bytes are bytes\n" * 100
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


# ------------------------------------------------------------------------------------------------ fixtures


class _Handler(http.server.SimpleHTTPRequestHandler):
    counts: Counter

    def do_GET(self):  # noqa: N802 - http.server naming
        self.counts[self.path] += 1
        super().do_GET()

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path/www`` on 127.0.0.1; ``server.url(name)`` and ``server.counts[/name]``."""
    root = tmp_path / "www"
    root.mkdir()
    counts: Counter = Counter()
    handler = type("Handler", (_Handler,), {"counts": counts})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    class Server:
        def url(self, name: str) -> str:
            return f"http://127.0.0.1:{httpd.server_address[1]}/{name}"

    s = Server()
    s.root, s.counts = root, counts
    yield s
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def online(monkeypatch):
    """The autouse conftest fixture sets HF_HUB_OFFLINE=1; URL tests talk to 127.0.0.1 only."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """A Hub cache built by hand in huggingface_hub's layout, under a per-test HF_HOME."""
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = home / "hub" / "models--owner--repo"

    def add(commit: str, relpath: str, data: bytes, ref: str | None = None) -> Path:
        f = repo / "snapshots" / commit / relpath
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
        if ref:
            (repo / "refs").mkdir(parents=True, exist_ok=True)
            (repo / "refs" / ref).write_text(commit)
        return f

    add(COMMIT, "weights/model.pth", PAYLOAD, ref="main")
    add(COMMIT, "model.safetensors", b"st")
    add(COMMIT, "config.json", b"{}")
    add(OLD_COMMIT, "weights/model.pth", b"old", ref="v1")
    return add


def entry(name="test-model", sources_=(), **kw) -> CheckpointEntry:
    base = dict(name=name, task="denoise", architecture="mirnet_v2", config={"n_feat": 8},
                sources=tuple(sources_), licence=None)
    base.update(kw)
    return CheckpointEntry(**base)


# ------------------------------------------------------------------------------------------------ parsing / paths


@pytest.mark.parametrize(
    ("src", "parsed"),
    [
        ("hf://o/r/a/b.pth", HFSource("o/r", "a/b.pth", None)),
        ("hf://o/r/a/b.pth@v1.0", HFSource("o/r", "a/b.pth", "v1.0")),
        ("hf://o/r@" + COMMIT, HFSource("o/r", None, COMMIT)),
        ("hf://o/r", HFSource("o/r", None, None)),
        ("hf://o/r/x.safetensors@refs/pr/1", HFSource("o/r", "x.safetensors", "refs/pr/1")),
    ],
)
def test_parse_hf_source(src, parsed):
    assert parse_hf_source(src) == parsed


@pytest.mark.parametrize("bad", ["hf://onlyowner", "hf://o/r@", "https://x/y"])
def test_parse_hf_source_rejects(bad):
    with pytest.raises(SourceError):
        parse_hf_source(bad)


def test_url_cache_path_follows_hf_home_at_call_time(tmp_path, monkeypatch):
    url = "https://example.org/dl/some%20model.pth?x=1"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "a"))
    first = url_cache_path(url)
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    assert first == tmp_path / "a" / "mirnet" / "url" / key / "some_model.pth"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "b"))
    assert url_cache_path(url).parent.parent.parent.parent == tmp_path / "b"


# ------------------------------------------------------------------------------------------------ local paths


def test_local_file_and_folders(tmp_path):
    f = tmp_path / "w.pth"
    f.write_bytes(b"x")
    assert fetch(f) == f and fetch(str(f)) == f
    st = tmp_path / "st"
    st.mkdir()
    (st / "model.safetensors").write_bytes(b"x")
    (st / "extra.pth").write_bytes(b"x")
    assert fetch(st) == st  # model.safetensors wins
    single = tmp_path / "single"
    single.mkdir()
    (single / "notes.txt").write_text("hi")
    (single / "net.PTH").write_bytes(b"x")
    assert fetch(single) == single / "net.PTH"
    assert is_cached(str(single))


def test_local_path_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        fetch(tmp_path / "missing.pth")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no model.safetensors"):
        resolve_local(empty)
    two = tmp_path / "two"
    two.mkdir()
    (two / "a.pth").write_bytes(b"x")
    (two / "b.ckpt").write_bytes(b"x")
    with pytest.raises(SourceError, match=r"several checkpoint files \(a.pth, b.ckpt\)"):
        fetch(two)
    assert not is_cached(str(two))


# ------------------------------------------------------------------------------------------------ hf://


def test_hf_file_from_the_offline_cache(hf_cache):
    path = fetch("hf://owner/repo/weights/model.pth")
    assert path.read_bytes() == PAYLOAD
    assert COMMIT in path.parts
    assert is_cached("hf://owner/repo/weights/model.pth")


def test_hf_pinned_revisions(hf_cache):
    assert fetch(f"hf://owner/repo/weights/model.pth@{OLD_COMMIT}").read_bytes() == b"old"
    assert fetch("hf://owner/repo/weights/model.pth@v1").read_bytes() == b"old"
    assert fetch(f"hf://owner/repo/weights/model.pth@{COMMIT}").read_bytes() == PAYLOAD
    # An entry's revision applies when the source does not name one.
    e = entry(sources_=["hf://owner/repo/weights/model.pth"], revision=OLD_COMMIT)
    assert fetch(e).read_bytes() == b"old"


def test_hf_whole_repo_source_returns_the_snapshot_folder(hf_cache):
    folder = fetch("hf://owner/repo")
    assert folder.is_dir() and (folder / "model.safetensors").read_bytes() == b"st"
    assert folder.name == COMMIT


def test_hf_missing_file_offline_is_a_source_error(hf_cache):
    for src in ("hf://owner/repo/weights/other.pth", "hf://nobody/nothing/model.pth",
                f"hf://owner/repo/model.safetensors@{OLD_COMMIT}"):
        with pytest.raises(SourceError, match="not in the cache and HF_HUB_OFFLINE=1"):
            fetch(src)
        assert not is_cached(src)
    with pytest.raises(SourceError, match="cannot be downloaded again"):
        fetch("hf://owner/repo/weights/model.pth", force=True)


def test_hf_cache_dir_is_taken_from_the_environment_per_call(hf_cache, tmp_path, monkeypatch):
    assert is_cached("hf://owner/repo/weights/model.pth")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "elsewhere"))
    assert not is_cached("hf://owner/repo/weights/model.pth")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))  # explicit hub cache wins over HF_HOME
    assert is_cached("hf://owner/repo/weights/model.pth")


# ------------------------------------------------------------------------------------------------ URLs


def test_url_download_verified_and_cached(server, online):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    url = server.url("w.pth")
    assert not is_cached(url)
    path = fetch(url, sha256=PAYLOAD_SHA)
    assert path == url_cache_path(url) and path.read_bytes() == PAYLOAD
    assert path.with_name("w.pth.sha256").read_text().strip() == PAYLOAD_SHA
    assert not list(path.parent.glob("*.incomplete"))
    assert fetch(url, sha256=PAYLOAD_SHA) == path
    assert server.counts["/w.pth"] == 1  # second fetch came from the cache
    assert is_cached(url)
    fetch(url, force=True)
    assert server.counts["/w.pth"] == 2


def test_url_sha_mismatch_deletes_the_file(server, online):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    url = server.url("w.pth")
    wrong = "0" * 64
    with pytest.raises(SourceError) as info:
        fetch(url, sha256=wrong)
    msg = str(info.value)
    assert "sha256 mismatch for w.pth" in msg and f"expected {wrong}, got {PAYLOAD_SHA}" in msg
    assert "the file was deleted" in msg and "\n" not in msg
    folder = url_cache_path(url).parent
    assert not folder.exists() or not any(folder.iterdir())


def test_url_without_known_sha_records_the_digest(server, online):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    path = fetch(server.url("w.pth"))
    assert path.with_name("w.pth.sha256").read_text().strip() == PAYLOAD_SHA
    # Later the registry learns a different digest: the cached copy no longer counts and is replaced.
    (server.root / "w.pth").write_bytes(b"fixed")
    fixed_sha = hashlib.sha256(b"fixed").hexdigest()
    assert not is_cached(entry(sources_=[server.url("w.pth")], sha256=fixed_sha))
    assert fetch(server.url("w.pth"), sha256=fixed_sha).read_bytes() == b"fixed"


def test_url_offline(server, monkeypatch, online):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    url = server.url("w.pth")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError, match="not in the cache and HF_HUB_OFFLINE=1"):
        fetch(url)
    assert server.counts["/w.pth"] == 0  # no network attempt at all
    monkeypatch.delenv("HF_HUB_OFFLINE")
    fetch(url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fetch(url).read_bytes() == PAYLOAD
    assert server.counts["/w.pth"] == 1


def test_url_http_errors_are_one_line(server, online):
    with pytest.raises(SourceError, match=r"download failed for http://127\.0\.0\.1:\d+/nope\.pth: HTTP 404"):
        fetch(server.url("nope.pth"))
    with pytest.raises(SourceError, match="download failed for http://127.0.0.1:9/x.pth"):
        fetch("http://127.0.0.1:9/x.pth")  # port 9 (discard) is closed


# ------------------------------------------------------------------------------------------------ registry entries


def test_entry_tries_sources_in_order(server, online):
    (server.root / "good.pth").write_bytes(PAYLOAD)
    e = entry(sources_=[server.url("missing.pth"), server.url("good.pth")], sha256=PAYLOAD_SHA)
    assert fetch(e).read_bytes() == PAYLOAD
    assert server.counts["/missing.pth"] == 1
    fetch(e)
    assert server.counts["/missing.pth"] == 1 and server.counts["/good.pth"] == 1  # cached one wins


def test_entry_all_sources_failing(server, online):
    e = entry(sources_=[server.url("a.pth"), server.url("b.pth")])
    with pytest.raises(SourceError, match=r"could not fetch test-model: .*a\.pth: HTTP 404 .* \| .*b\.pth: HTTP 404"):
        fetch(e)


def test_entry_first_cached_source_wins_even_if_listed_later(hf_cache, server):
    # Offline (hf_cache sets it): the URL is not cached, the hf:// one is.
    e = entry(sources_=[server.url("w.pth"), "hf://owner/repo/weights/model.pth"])
    assert fetch(e).read_bytes() == PAYLOAD
    assert is_cached(e)
    assert server.counts["/w.pth"] == 0


def test_entry_offline_not_cached(server):
    e = entry(sources_=[server.url("w.pth")])
    with pytest.raises(SourceError, match="test-model is not in the cache and HF_HUB_OFFLINE=1"):
        fetch(e)


def test_v1_entries_give_the_manual_download_message(monkeypatch):
    monkeypatch.delenv("MIRNET_WEIGHTS_DIR", raising=False)
    registry = load_registry()
    for name in ("mirnet-denoising-sidd", "mirnet-enhancement-lol", "mirnet-sr-x4-realsr"):
        with pytest.raises(SourceError) as info:
            fetch(name, registry=registry)
        msg = str(info.value)
        assert msg.startswith(name) and "manually from https://drive.google.com/" in msg
        assert msg.endswith("then pass --weights PATH") and "\n" not in msg
        assert not is_cached(name)


def test_unknown_name(monkeypatch):
    with pytest.raises(SourceError, match="not a known model name"):
        fetch("no-such-model")


def test_registry_name_and_bundled_entry(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    bundle = weights / "bundled" / "tiny"
    bundle.mkdir(parents=True)
    (bundle / "model.safetensors").write_bytes(b"x")
    (bundle / "config.json").write_text("{}")
    (weights / "registry.json").write_text(json.dumps({"schema_version": 1, "entries": [
        {"name": "tiny", "task": "denoise", "architecture": "mirnet_v2", "config": {"n_feat": 8},
         "bundled": "bundled/tiny", "priority": "bundled", "default_for": ["denoise"]},
        {"name": "gone", "task": "denoise", "architecture": "mirnet_v2", "config": {"n_feat": 8},
         "bundled": "bundled/gone"},
    ]}))
    monkeypatch.setenv("MIRNET_WEIGHTS_DIR", str(weights))
    assert fetch("tiny") == bundle.resolve()
    assert is_cached("tiny") and not is_cached("gone")
    with pytest.raises(SourceError, match="bundled model folder .*gone is missing"):
        fetch("gone")


def test_licence_notice_shown_once(server, online, capsys):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    e = entry(sources_=[server.url("w.pth")], licence="Academic Public License (non-commercial)",
              licence_url="https://example.org/LICENSE.md")
    fetch(e)
    err = capsys.readouterr().err
    assert err.count("note: test-model is distributed under the Academic Public License (non-commercial)") == 1
    assert "https://example.org/LICENSE.md" in err
    assert licence_marker("test-model").is_file()
    fetch(e)
    fetch(e, force=True)
    assert capsys.readouterr().err == ""
    # No licence, no note.
    fetch(entry("plain", sources_=[server.url("w.pth")]))
    assert capsys.readouterr().err == ""


def test_is_cached_never_touches_the_network(server, online, monkeypatch):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    assert not is_cached(entry(sources_=[server.url("w.pth")]))
    assert server.counts["/w.pth"] == 0
    monkeypatch.setattr(sources, "_download_url", lambda *a, **k: pytest.fail("downloaded"))
    assert not is_cached(server.url("w.pth"))


# ------------------------------------------------------------------------------------------------ integrity (issue 14.4)


def test_a_replaced_cached_download_is_refused_not_used(server, online, capsys):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    url = server.url("w.pth")
    path = fetch(url)
    # Same size, same name, another content: the sidecar still holds the first digest.
    path.write_bytes(PAYLOAD[:-1] + b"X")
    with pytest.raises(SourceError) as info:
        fetch(url)
    msg = str(info.value)
    assert "changed since it was downloaded" in msg and "not used" in msg and "\n" not in msg
    assert path.read_bytes().endswith(b"X")  # left for the user to inspect; never loaded
    assert server.counts["/w.pth"] == 1


def test_a_replaced_cached_download_with_a_registry_digest_is_fetched_again(server, online, capsys):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    e = entry(sources_=[server.url("w.pth")], sha256=PAYLOAD_SHA)
    path = fetch(e)
    path.write_bytes(b"evil" * 10)
    assert fetch(e).read_bytes() == PAYLOAD  # the stale file was deleted and downloaded again, verified
    assert server.counts["/w.pth"] == 2
    assert "expected " + PAYLOAD_SHA in capsys.readouterr().err


def test_first_download_is_pinned_trust_on_first_use(server, online, capsys):
    (server.root / "w.pth").write_bytes(PAYLOAD)
    e = entry(sources_=[server.url("w.pth")])  # sha256 null, as every official entry
    fetch(e)
    notes = [line for line in capsys.readouterr().err.splitlines() if "trust on first use" in line]
    assert len(notes) == 1 and notes[0].startswith("note: test-model: no sha256 is published")
    assert PAYLOAD_SHA[:12] in notes[0]
    fetch(e)
    assert "trust on first use" not in capsys.readouterr().err  # said once
    # The server now sends something else: a forced download is refused, the pinned file stays.
    (server.root / "w.pth").write_bytes(b"a different release")
    with pytest.raises(SourceError, match="now sends another file than the first download"):
        fetch(e, force=True)
    assert fetch(e).read_bytes() == PAYLOAD


def test_hub_files_are_pinned_and_rechecked(hf_cache, capsys):
    path = fetch("hf://owner/repo/weights/model.pth")
    assert "trust on first use" in capsys.readouterr().err
    record = sources.digest_record(path)
    assert record.is_file() and record.read_text().strip() == PAYLOAD_SHA
    assert sources.cache_root() in record.parents  # our record, not a file in huggingface_hub's cache
    fetch("hf://owner/repo/weights/model.pth")
    path.write_bytes(b"tampered")
    with pytest.raises(SourceError, match="changed since it was downloaded"):
        fetch("hf://owner/repo/weights/model.pth")


def test_hub_file_with_a_registry_digest_is_checked_when_cached(hf_cache, capsys):
    good = entry(sources_=["hf://owner/repo/weights/model.pth"], sha256=PAYLOAD_SHA)
    assert fetch(good).read_bytes() == PAYLOAD
    wrong = entry(sources_=["hf://owner/repo/weights/model.pth"], sha256="0" * 64)
    with pytest.raises(SourceError, match="not in the cache and HF_HUB_OFFLINE=1"):
        fetch(wrong)  # the cached file is not the registry's: deleted, and offline it cannot come back
    assert "expected " + "0" * 64 in capsys.readouterr().err


@pytest.mark.parametrize("name", ["missing.pth", "deep/missing.pth"])
def test_a_failed_download_leaves_no_empty_folder(server, online, name):
    url = server.url(name)
    with pytest.raises(SourceError, match="HTTP 404"):
        fetch(url)
    assert not url_cache_path(url).parent.exists()
    assert not (sources.cache_root() / "url").exists()


def test_an_imported_file_comes_first_and_is_verified(server, online, tmp_path):
    from mirnet_cli.loading.cache import import_file

    (server.root / "w.pth").write_bytes(PAYLOAD)
    e = entry(sources_=[server.url("w.pth")])
    mine = tmp_path / "elsewhere.pth"
    mine.write_bytes(b"downloaded on another machine")
    path, digest = import_file(e, mine)
    assert path.parent == sources.imported_dir("test-model") and digest == hashlib.sha256(mine.read_bytes()).hexdigest()
    assert fetch(e) == path and is_cached(e)
    assert server.counts["/w.pth"] == 0
    path.write_bytes(b"swapped")
    with pytest.raises(SourceError, match="changed since it was downloaded"):
        fetch(e)
    assert fetch(e, force=True).read_bytes() == PAYLOAD  # --force: the official file replaces the import
    assert sources.imported_file("test-model") is None


def test_import_checks_the_registry_digest(tmp_path):
    from mirnet_cli.loading.cache import import_file

    mine = tmp_path / "x.pth"
    mine.write_bytes(b"not it")
    with pytest.raises(SourceError, match=f"x.pth is not test-model: its sha256 is .*expects {PAYLOAD_SHA}"):
        import_file(entry(sha256=PAYLOAD_SHA), mine)
    assert not sources.imported_dir("test-model").exists()
