"""Packages of ``mirnet_cli`` import each other only downward: training and benchmarks share the datasets below them."""

from __future__ import annotations

import ast
from pathlib import Path

import mirnet_cli

PACKAGE_DIR = Path(mirnet_cli.__file__).parent


def imported_modules(path: Path, root: Path = PACKAGE_DIR.parent) -> set[str]:
    """Absolute names of the ``mirnet_cli`` modules that ``path`` (a file below ``root``) imports anywhere (module
    level or in functions)."""
    package = ".".join(path.relative_to(root).parent.parts)  # a module's package; an __init__.py's own package
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # "from . import x" names a module
    return {name for name in found if name == "mirnet_cli" or name.startswith("mirnet_cli.")}


def package_imports(subpackage: str) -> dict[str, set[str]]:
    """Every module of ``mirnet_cli.<subpackage>`` and the ``mirnet_cli`` modules it imports."""
    return {
        str(path.relative_to(PACKAGE_DIR.parent)): imported_modules(path)
        for path in sorted((PACKAGE_DIR / subpackage).rglob("*.py"))
    }


def offenders(subpackage: str, forbidden: str) -> list[str]:
    return [
        f"{path} -> {name}"
        for path, names in package_imports(subpackage).items()
        for name in sorted(names)
        if name == f"mirnet_cli.{forbidden}" or name.startswith(f"mirnet_cli.{forbidden}.")
    ]


def test_train_does_not_import_benchmark() -> None:
    assert offenders("train", "benchmark") == []


def test_benchmark_does_not_import_train() -> None:
    assert offenders("benchmark", "train") == []


def test_datasets_import_neither_benchmark_nor_train() -> None:
    assert offenders("datasets", "benchmark") == []
    assert offenders("datasets", "train") == []


def test_both_read_the_shared_datasets() -> None:
    assert any(name.startswith("mirnet_cli.datasets") for names in package_imports("train").values() for name in names)
    assert any(
        name.startswith("mirnet_cli.datasets") for names in package_imports("benchmark").values() for name in names
    )


def test_imported_modules_sees_nested_and_relative_imports(tmp_path: Path) -> None:
    folder = tmp_path / "mirnet_cli" / "train"
    folder.mkdir(parents=True)
    text = ("from ..benchmark.datasets import load_dataset\n"
            "from . import state\n"
            "def f():\n    from ...x import y\n    import mirnet_cli.benchmark.speed\n")
    for name in ("mod.py", "__init__.py"):  # the same package either way
        (folder / name).write_text(text, encoding="utf-8")
        found = imported_modules(folder / name, root=tmp_path)
        assert {"mirnet_cli.benchmark.datasets", "mirnet_cli.train.state", "mirnet_cli.benchmark.speed"} <= found
        assert not any(n.endswith(".x") for n in found)  # beyond the top package: not ours
