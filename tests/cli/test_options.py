"""Options are checked first (before inputs are looked for or a model is chosen): one line, exit 2; help reads well."""

from __future__ import annotations

import re

import pytest
import torch
from typer.testing import CliRunner

from mirnet_cli.cli.app import app
from mirnet_cli.engine import device as dev

runner = CliRunner()

# The input does not exist and the weights do not exist either: an error about the option proves the option was
# checked before discovery and before model selection (no "could not fetch" note can come first).
MISSING = ["no_such_folder/photo.png", "--weights", "no_such_weights.pth"]

BAD_VALUES = [
    (["denoise", *MISSING, "--tile", "abc"], "--tile"),
    (["denoise", *MISSING, "--tile", "-5"], "--tile"),
    (["denoise", *MISSING, "--tile", "1.5"], "--tile"),
    (["denoise", *MISSING, "--tile", "16"], "too small"),
    (["denoise", *MISSING, "--tile", "3"], "too small"),
    (["denoise", *MISSING, "--context", "exact"], "--context: invalid value 'exact'; use one of auto, full, fast, tile"),
    (["denoise", *MISSING, "--max-memory", "lots"], "--max-memory: invalid memory size"),
    (["denoise", *MISSING, "--max-memory", "10M"], "too small"),
    (["denoise", *MISSING, "--backend", "tensorrt"], "--backend: invalid backend"),
    (["denoise", *MISSING, "--backend", "openvino", "--precision", "fp16"], "fp16 is not supported on the CPU"),
    (["denoise", *MISSING, "--threads", "0"], "--threads"),
    (["denoise", *MISSING, "--threads", "many"], "--threads"),
    (["benchmark", "--speed", "--weights", "no_such_weights.pth", "--context", "nope"], "--context"),
    (["benchmark", "--speed", "--weights", "no_such_weights.pth", "--max-memory", "2X"], "--max-memory"),
    (["denoise", *MISSING, "--tile-overlap", "-1"], "--tile-overlap"),
    (["denoise", *MISSING, "--tile-overlap", "x"], "--tile-overlap"),
    (["denoise", *MISSING, "--precision", "fp16"], "fp16 is not supported on the CPU"),
    (["denoise", *MISSING, "--precision", "fp8"], "--precision"),
    (["denoise", *MISSING, "--device", "tpu"], "--device"),
    (["denoise", *MISSING, "--device", "cuda:x"], "--device"),
    (["denoise", *MISSING, "--device", "cuda"], "--device auto"),
    (["denoise", *MISSING, "--device", "mps"], "--device auto"),
    (["denoise", *MISSING, "--ext", "gif"], "png, jpg, tif, webp, bmp or same"),
    (["denoise", *MISSING, "--ext", "raw"], "--ext"),
    (["denoise", *MISSING, "--suffix", "a/b"], "--suffix"),
    (["denoise", *MISSING, "--jpeg-quality", "0"], "--jpeg-quality"),
    (["denoise", *MISSING, "--jpeg-quality", "101"], "--jpeg-quality"),
    (["denoise", *MISSING, "--arch", "resnet"], "--arch"),
    (["denoise", "no_such_folder/photo.png", "--model", "nope"], "--model nope"),
    (["denoise", *MISSING, "--json", "."], "--json"),
    (["denoise", *MISSING, "--json", "no_such_dir/x.json"], "--json"),
    (["denoise", *MISSING, "--bogus"], "--bogus"),
    (["enhance", *MISSING, "--task", "sunset"], "lowlight or contrast"),
    (["super-resolve", *MISSING, "--scale", "5"], "--scale"),
    (["super-resolve", *MISSING, "--scale", "two"], "--scale"),
    (["restore", "no_such_folder/photo.png", "--task", "sharpen"], "unknown task"),
    (["restore", "no_such_folder/photo.png", "--task", "denoise,,oldphoto"], "--task"),
    (["restore", "no_such_folder/photo.png", "--task", "denoise,deblur"], "cannot be chained"),
    (["restore", *MISSING, "--task", "denoise,oldphoto"], "--weights"),
    (["restore", "no_such_folder/photo.png", "--task", "denoise,oldphoto", "--model", "mirnet_v2-nf16-denoise"],
     "--model"),
    (["restore", "no_such_folder/photo.png"], "--weights"),
    (["deblur", "--left", "l.png", "--weights", "no_such_weights.pth"], "--left and --right go together"),
    (["deblur", "no_such_folder", "--weights", "no_such_weights.pth", "--tile", "abc"], "--tile"),
    (["benchmark", "--speed", "--weights", "no_such_weights.pth", "--tile", "abc"], "--tile"),
    (["benchmark", "--speed", "--weights", "no_such_weights.pth", "--device", "tpu"], "--device"),
    (["benchmark", "--speed", "--weights", "no_such_weights.pth", "--sizes", "a,b"], "--sizes"),
    (["benchmark", "--speed", "--weights", "no_such_weights.pth", "--json", "."], "--json"),
]


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)


@pytest.mark.parametrize(("args", "expected"), BAD_VALUES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD_VALUES])
def test_bad_option_values_are_one_line_exit_2_before_anything_else(no_gpu, args, expected):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert expected in lines[0]
    assert "Traceback" not in res.output and "note:" not in res.output
    assert "no_such_folder" not in lines[0] and "no_such_weights" not in lines[0]  # found before discovery/selection


def test_missing_device_message_names_the_reason_and_the_hint(no_gpu, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    res = runner.invoke(app, ["denoise", "x.png", "--device", "cuda"])
    assert res.exit_code == 2
    assert "device cuda is not available: this PyTorch build has no CUDA support" in res.stderr
    assert "use --device auto" in res.stderr


@pytest.mark.parametrize(("command", "folder"), [
    ("denoise", "photos_mirnet-denoise/"), ("enhance", "photos_mirnet-lowlight/"),
    ("super-resolve", "photos_mirnet-x4/"), ("deblur", "dpdd_mirnet-deblur/"), ("restore", "photos_mirnet-oldphoto/"),
])
def test_help_reads_well_at_80_columns(command, folder):
    res = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert res.exit_code == 0
    text = res.stdout
    assert "<bool>" not in text and "<str>" not in text and "<path>" not in text and "╭" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert folder in " ".join(text.split()).replace("- ", "-")  # the real default output folder (wrapped at "-")
    for option in ("--dry-run", "--compare", "--json PATH", "--device DEVICE", "--tile auto|0|PIXELS", "-w, --weights"):
        assert option in text


def test_root_help_documents_exit_codes():
    text = " ".join(runner.invoke(app, ["--help"], terminal_width=80).stdout.split())
    assert "Exit codes: 0" in text and "1 one or more inputs failed (also when all did)" in text and "2 usage error" in text


def test_json_takes_a_path_in_every_command():
    for command in ("denoise", "enhance", "super-resolve", "deblur", "restore", "benchmark"):
        text = runner.invoke(app, [command, "--help"], terminal_width=80).stdout
        assert "--json PATH" in text, command


def test_no_command_help_shows_python_types():
    for command in ("denoise", "enhance", "super-resolve", "deblur", "restore", "benchmark", "train", "models",
                    "download"):
        text = runner.invoke(app, [command, "--help"], terminal_width=80).stdout
        assert not re.search(r"<(str|int|float|path|bool|list)", text) and "list[" not in text, command
