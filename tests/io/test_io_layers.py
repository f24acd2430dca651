"""The modules of ``mirnet_cli.io`` import each other only downward: no cycles, RAW below the generic reader."""

from __future__ import annotations

import ast
from pathlib import Path

import mirnet_cli.io

IO_DIR = Path(mirnet_cli.io.__file__).parent
PACKAGE = "mirnet_cli.io"

#: Lowest layer first; a module may import only modules of a strictly lower layer.
LAYERS: list[set[str]] = [
    {"formats", "_exif"},
    {"atomic", "_encoders", "discovery"},
    {"_decode"},
    {"raw", "_write"},
    {"images"},
    {"__init__"},
]
RANK = {name: level for level, names in enumerate(LAYERS) for name in names}


def io_imports(path: Path) -> set[str]:
    """Sibling modules of ``mirnet_cli.io`` that ``path`` imports anywhere (module level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level <= 1:  # "from .." leaves the package
            module = f"{PACKAGE}.{node.module}" if node.level and node.module else node.module or PACKAGE
            # "from mirnet_cli.io import raw" and "from . import raw" name modules in the import list.
            targets = [f"{module}.{alias.name}" for alias in node.names] if module == PACKAGE else [module]
        else:
            continue
        for target in targets:
            if target.startswith(PACKAGE + "."):
                found.add(target[len(PACKAGE) + 1 :].split(".")[0])
    return found


def test_every_io_module_has_a_layer() -> None:
    modules = {p.stem for p in IO_DIR.glob("*.py")}
    assert modules == set(RANK), "place new mirnet_cli.io modules in LAYERS"


def test_io_imports_only_go_down() -> None:
    upward = []
    for path in sorted(IO_DIR.glob("*.py")):
        for target in sorted(io_imports(path)):
            if target in RANK and RANK[target] >= RANK[path.stem]:
                upward.append(f"{path.stem} -> {target}")
    assert upward == []


def test_raw_does_not_import_images() -> None:
    assert "images" not in io_imports(IO_DIR / "raw.py")
    assert "_decode" in io_imports(IO_DIR / "raw.py")


def test_io_imports_parser_sees_nested_and_relative_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from mirnet_cli.io.formats import ext_for\n"
        "from . import atomic\n"
        "from .raw import read_raw\n"
        "def f():\n    from mirnet_cli.io.images import read_image\n    import mirnet_cli.io._exif\n",
        encoding="utf-8",
    )
    assert io_imports(source) == {"formats", "atomic", "raw", "images", "_exif"}
