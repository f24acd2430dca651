"""Where the published teacher files are, when this machine has them (weights/bundled/prepare_data.py lays them out
under ``$MIRNET_TRAIN_DATA/teachers``; they are third-party data and never committed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "teachers"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def published_keys(name: str) -> dict[str, list[int]]:
    """Key → shape of a published teacher file, recorded from the file itself (tests/fixtures/teachers)."""
    return json.loads((FIXTURES / f"{name}.keys.json").read_text())


def teacher_file(fname: str) -> Path:
    root = os.environ.get("MIRNET_TRAIN_DATA")
    path = Path(root) / "teachers" / fname if root else None
    if path is None or not path.is_file():
        pytest.skip(f"the published teacher file {fname} is not on this machine "
                    "($MIRNET_TRAIN_DATA/teachers, laid out by weights/bundled/prepare_data.py)")
    return path
