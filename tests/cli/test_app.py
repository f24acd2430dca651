"""The app shell: version, help without heavy imports, `python -m mirnet_cli`."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from mirnet_cli import __version__
from mirnet_cli.cli.app import app


def test_version():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"mirnet {__version__}"


def test_help_does_not_import_torch():
    code = (
        "import sys; from mirnet_cli.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'numpy', 'PIL', 'cv2', 'huggingface_hub') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_python_dash_m_entry_point():
    res = subprocess.run([sys.executable, "-m", "mirnet_cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and __version__ in res.stdout


def test_every_command_has_help():
    for cmd in ("denoise", "enhance", "super-resolve", "deblur", "restore", "models", "download", "benchmark"):
        res = CliRunner().invoke(app, [cmd, "--help"])
        assert res.exit_code == 0, cmd
