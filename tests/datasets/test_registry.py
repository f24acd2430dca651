"""The dataset registry: dispatch by name, clear layout errors, every adapter on the shared real data."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mirnet_cli.datasets import load_dataset
from mirnet_cli.errors import MirnetError
from tests.conftest import shared_path


def test_wrong_layout_names_the_expected_one(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(MirnetError, match=r"lol: .* expected layout: low/ \+ high/"):
        load_dataset("lol", tmp_path)
    with pytest.raises(MirnetError, match=r"dpdd: .*inputL/ \+ inputR/ \+ target/"):
        load_dataset("dpdd", tmp_path)
    with pytest.raises(MirnetError, match="ValidationNoisyBlocksSrgb.mat"):
        load_dataset("sidd", tmp_path)
    with pytest.raises(MirnetError, match="not a folder"):
        load_dataset("fivek", tmp_path / "missing")
    with pytest.raises(MirnetError, match="unknown dataset"):
        load_dataset("imagenet", tmp_path)


def test_real_shared_layouts():
    data = shared_path("data")
    assert len(load_dataset("lol", data / "lol")) == 15
    assert len(load_dataset("fivek", data / "fivek")) == 9
    assert len(load_dataset("sidd", data / "sidd" / "crops")) == 6
    assert load_dataset("sidd", data / "sidd" / "val_block").layout.startswith("noisy.mat")
    assert len(load_dataset("realsr", data / "set5", scale=4)) == 5
    assert len(load_dataset("dnd", data / "dnd")) == 1


# ----- the registry table drives the dispatcher and the CLI


def _all_names() -> list[tuple[str, str]]:
    """Every accepted ``--dataset`` value with the name it stands for."""
    from mirnet_cli.datasets import DATASET_SPECS

    return [(key, spec.name) for spec in DATASET_SPECS for key in (spec.name, *spec.aliases)]


def test_registry_table_is_consistent():
    from mirnet_cli.datasets import DATASET_SPECS, DATASET_TASKS, DATASETS, dataset_task

    keys = [key for key, _ in _all_names()]
    assert len(keys) == len(set(keys)), "a name or alias is registered twice"
    assert all(key == key.strip().lower() for key in keys)
    assert DATASETS == tuple(spec.name for spec in DATASET_SPECS)
    for spec in DATASET_SPECS:
        assert spec.help and "\n" not in spec.help
        assert DATASET_TASKS.get(spec.name) == spec.task
        for mode, task in spec.degrade_tasks.items():
            assert dataset_task(spec.name, degrade=mode) == task
    assert dataset_task("realsr", 2) == "super-resolve:x2" and dataset_task("folder") is None


@pytest.mark.parametrize("key, name", _all_names())
def test_every_name_and_alias_reaches_its_adapter(tmp_path, key, name):
    # A missing folder: the adapter itself answers, naming the test set, so the dispatch went to it.
    with pytest.raises(MirnetError, match=rf"^{name}: "):
        load_dataset(f" {key.upper()} ", tmp_path / "missing")


def test_unknown_dataset_lists_every_name(tmp_path):
    from mirnet_cli.datasets import DATASETS

    with pytest.raises(MirnetError) as info:
        load_dataset("imagenet", tmp_path)
    assert all(name in str(info.value) for name in DATASETS)


def test_cli_accepts_every_registered_name_and_alias(tmp_path):
    from typer.testing import CliRunner

    from mirnet_cli.cli.app import app

    runner = CliRunner()
    for key, name in _all_names():
        result = runner.invoke(app, ["benchmark", "--dataset", key, "--data-dir", str(tmp_path / "missing")])
        assert result.exit_code == 2, result.output  # usage error: the run could not start
        assert f"error: {name}: " in result.output and "unknown dataset" not in result.output
    result = runner.invoke(app, ["benchmark", "--dataset", "imagenet", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "unknown dataset 'imagenet'" in result.output


def test_benchmark_help_lists_every_test_set_from_the_table():
    from typer.testing import CliRunner

    from mirnet_cli.cli.app import app
    from mirnet_cli.datasets import DATASET_SPECS
    from mirnet_cli.datasets._registry import dataset_choices

    result = CliRunner().invoke(app, ["benchmark", "--help"], env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})
    assert result.exit_code == 0
    # Help text is wrapped (also after a hyphen): compare with whitespace squeezed and hyphen breaks joined.
    text = " ".join(result.output.split()).replace("- ", "-")
    for spec in DATASET_SPECS:
        aliases = f" (also {', '.join(spec.aliases)})" if spec.aliases else ""
        assert f"* {spec.name}{aliases}: {spec.help}" in text
    # The --dataset option lists every name with its aliases: "sidd, dnd, lol (lolv1), ... or synthetic".
    assert f"Test set adapter: {dataset_choices()}" in text
    assert all(f"{s.name} ({', '.join(s.aliases)})" in dataset_choices() for s in DATASET_SPECS if s.aliases)


def test_benchmark_help_imports_no_numpy():
    code = (
        "import sys; from mirnet_cli.cli.app import app\n"
        "try:\n    app(['benchmark', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', [m for m in ('torch', 'numpy', 'PIL', 'cv2', 'scipy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
