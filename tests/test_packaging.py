"""The wheel must carry every subpackage and the weights folder (as mirnet_cli/_weights)."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mirnet_cli").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"
    assert "mirnet_cli._weights" in listed


def test_registry_and_bundled_models_are_package_data():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"]["mirnet_cli._weights"] == "weights"
    data = tool["package-data"]["mirnet_cli._weights"]
    assert "registry.json" in data and "bundled/*/model.safetensors" in data
