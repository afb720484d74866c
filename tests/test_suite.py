"""The optimizer benchmark suite's protocol: fair tuning, a test split never read while tuning,
paired evaluation seeds, diverged trials kept, resumable runs, schedules equal to optax's."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn.experiments.specs import SpecError
from jaxlearn.suite import PROBLEMS, SearchSpace, resolve, run
from jaxlearn.suite.problems import get
from jaxlearn.suite.problems.functions import NoisyQuadratic
from jaxlearn.suite.protocol import phase_keys, run_cell, run_keys
from jaxlearn.suite.schedules import multiplier, with_schedule
from jaxlearn.train import train

DOCS = Path(__file__).resolve().parent.parent / "docs" / "suite.md"

#: A cheap problem for protocol tests: the quadratic's quick variant, 40 steps.
QUAD = dataclasses.replace(get("quadratic").quick(), steps=40, eval_every=10)


@dataclasses.dataclass(frozen=True)
class PoisonedTest(NoisyQuadratic):
    """The quadratic with a test split of NaNs: reading it anywhere shows up as NaN."""

    def splits(self):
        out = super().splits()
        x, t = out["test"]
        return {**out, "test": (np.full_like(x, np.nan), t)}


@pytest.fixture(scope="module")
def adam_cell():
    return run_cell(QUAD, resolve("adam"), 3, 2, progress=False)


@pytest.fixture(scope="module")
def sgd_cell():
    return run_cell(QUAD, resolve("sgd"), 3, 2, progress=False)


def test_the_test_split_is_never_read_while_tuning(adam_cell):
    poisoned = dataclasses.replace(PoisonedTest(), **{
        f.name: getattr(QUAD, f.name) for f in dataclasses.fields(QUAD)})  # fmt: skip
    dirty = run_cell(poisoned, resolve("adam"), 3, 2, progress=False)
    assert dirty["tune"]["final"] == adam_cell["tune"]["final"]
    assert dirty["tune"]["curves"] == adam_cell["tune"]["curves"]
    assert dirty["chosen"] == adam_cell["chosen"]
    # the evaluation runs do read it: there the poison shows
    assert dirty["eval"]["final"]["test"] == [None, None]
    assert all(v is not None for v in adam_cell["eval"]["final"]["test"])


def test_evaluation_seeds_are_paired_and_fresh(adam_cell, sgd_cell):
    # seed i: the same initial weights and the same first mini-batch for both optimizers, so
    # the loss of the first update (taken before any step) is the same, and differs by seed
    first_a = [row[0] for row in sgd_cell["eval"]["train_loss"]]
    first_b = [row[0] for row in adam_cell["eval"]["train_loss"]]
    assert first_a == first_b
    assert len(set(first_a)) == 2
    assert sgd_cell["eval"]["start"] == adam_cell["eval"]["start"]  # the same weights
    # evaluation keys are not the tuning key
    tune, _ = phase_keys(QUAD, "tune", 3)
    ev, _ = run_keys(QUAD, "eval", 3)
    assert not np.isin(jax.random.key_data(ev)[:, 0], jax.random.key_data(tune)[:, 0]).any()


def test_k_trials_in_one_program_equal_k_separate_runs(sgd_cell):
    # every tuning trial is the separate run from tuning seed 0: its weights and data order
    build = resolve("sgd").factory(QUAD.steps)  # one factory: one compiled program for all
    init_key, train_key = (keys[0] for keys in run_keys(QUAD, "tune", 1))
    data = {"train": QUAD.data()["train"], "valid": QUAD.data()["valid"]}
    for values, curve in zip(sgd_cell["tune"]["hyperparams"], sgd_cell["tune"]["curves"]):
        params, state = QUAD.init(init_key)
        r = train(QUAD, params, state, build, data, key=train_key, hyperparams=values,
                  iterations=QUAD.steps, batch_size=QUAD.batch_size,
                  eval_every=QUAD.eval_every, replace=False)  # fmt: skip
        np.testing.assert_allclose(r.metrics["valid"]["loss"], curve, rtol=2e-5)


def test_diverged_trials_are_kept_counted_and_never_chosen():
    space = {"sgd": {"lr": {"feasible_points": [1e-3, 10.0]}}}  # 10 diverges on Rosenbrock
    p = dataclasses.replace(get("rosenbrock").quick(), steps=40, eval_every=10)
    cell = run_cell(p, resolve("sgd", space), 2, 1, progress=False)
    assert cell["tune"]["diverged"] == 1
    assert [h["lr"] for h in cell["tune"]["hyperparams"]] == [1e-3, 10.0]
    assert cell["tune"]["final"][1] is None and cell["chosen"]["trial"] == 0


def test_a_chosen_value_at_the_edge_of_its_range_is_flagged():
    space = SearchSpace.from_json({"lr": {"min": 1e-4, "max": 1.0, "scaling": "log"},
                                   "eps": {"feasible_points": [1e-7]}})  # fmt: skip
    assert space.near_boundary({"lr": 0.9, "eps": 1e-7}) == ["lr"]
    assert space.near_boundary({"lr": 0.01, "eps": 1e-7}) == []


def test_trials_are_scipys_scrambled_halton_points():
    from scipy.stats import qmc

    space = SearchSpace.from_json({
        "a": {"min": 0.0, "max": 2.0},
        "b": {"min": 1e-3, "max": 1e-1, "scaling": "log"},
        "c": {"min": 0.9, "max": 0.999, "scaling": "log1m"},
    })  # fmt: skip
    u = qmc.Halton(d=3, scramble=True, seed=0).random(8)
    trials = space.sample(8)
    np.testing.assert_allclose([t["a"] for t in trials], 2 * u[:, 0])
    np.testing.assert_allclose([t["b"] for t in trials], 10 ** (-3 + 2 * u[:, 1]))
    np.testing.assert_allclose([1 - t["c"] for t in trials], 10 ** (-1 - 2 * u[:, 2]))


@pytest.mark.parametrize(
    "bad, message",
    [({"lr": {"min": 1, "max": 0.1}}, "min < max"),
     ({"lr": {"min": 0, "max": 1, "scaling": "log"}}, "min > 0"),
     ({"lr": {"min": 0.1, "max": 1, "scaling": "cubic"}}, "scaling must be"),
     ({"lr": {"feasible_points": []}}, "non-empty"),
     ({"lr": [0.1]}, "expected")],
)  # fmt: skip
def test_a_bad_space_is_an_error_naming_the_hyperparameter(bad, message):
    with pytest.raises(ValueError, match=message) as err:
        SearchSpace.from_json(bad)
    assert "'lr'" in str(err.value)


def test_a_space_that_does_not_fit_its_optimizer_fails_before_training():
    with pytest.raises(SpecError, match="does not fit the optimizer"):
        resolve("adam", {"adam": {"learning_rate": {"min": 1e-4, "max": 1e-2}}}).check(10)
    with pytest.raises(SpecError, match="does not fit"):  # a negative rate the rule rejects
        resolve("sgd", {"sgd": {"lr": {"min": -1.0, "max": 1.0}}}).check(10)


@pytest.mark.parametrize("total, warmup", [(100, 0.1), (57, 0.05)])
def test_warmup_cosine_equals_optax(total, warmup):
    steps = int(warmup * total)
    ref = optax.warmup_cosine_decay_schedule(0.0, 1.0, steps, total, end_value=0.0)
    ours = [float(multiplier("warmup_cosine", jnp.float32(t), total, warmup)) for t in range(total)]
    np.testing.assert_allclose(ours, [float(ref(t)) for t in range(total)], atol=1e-6)


def test_linear_decay_equals_optax():
    ref = optax.linear_schedule(1.0, 0.0, 80)
    ours = [float(multiplier("linear_decay", jnp.float32(t), 80)) for t in range(90)]
    np.testing.assert_allclose(ours, [float(ref(t)) for t in range(90)], atol=1e-6)


def test_a_scheduled_optimizer_takes_its_rate_from_the_schedule():
    opt = with_schedule(optax.sgd, "learning_rate", "warmup_cosine", 10)(
        learning_rate=0.5, warmup_fraction=0.2)  # fmt: skip
    ref = optax.sgd(optax.warmup_cosine_decay_schedule(0.0, 0.5, 2, 10))
    p = {"w": jnp.zeros(())}
    s, r = opt.init(p), ref.init(p)
    for _ in range(10):
        u, s = opt.update({"w": jnp.ones(())}, s)
        v, r = ref.update({"w": jnp.ones(())}, r)
        assert float(u["w"]) == pytest.approx(float(v["w"]), abs=1e-7)


def test_specs_pin_values_and_name_their_space():
    lion = resolve("optax:lion:learning_rate=1e-4")
    assert "learning_rate" not in lion.space.names and lion.pinned == {"learning_rate": 1e-4}
    assert resolve("momentum").space.names == ("lr", "momentum")
    with pytest.raises(SpecError, match="no search space"):
        resolve("optax:adafactor")


def test_every_default_space_fits_its_optimizer():
    from jaxlearn.suite.spaces import default_spaces

    for kind in default_spaces():
        resolve(kind).check(100)


def test_every_built_in_problem_loads_its_splits_and_declares_its_target():
    from jaxlearn.data import available

    for name, problem in PROBLEMS.items():
        if getattr(problem, "dataset", "mnist-5k") != "mnist-5k" and not available(
            problem.dataset
        ):
            continue  # Fashion-MNIST absent: its own test below says so
        problem = problem.quick()
        data = problem.data()
        assert set(data) == {"train", "valid", "test"}, name
        params, state = problem.init(jax.random.key(0))
        x, t = data["valid"]
        values = problem.metrics(params, state, x[:4], t[:4])
        assert problem.target.metric in values, name
        assert values[problem.target.metric].shape == (min(4, len(x)),), name


def _run_cli(args, cwd, **kw):
    return subprocess.run([sys.executable, "-m", "jaxlearn.cli", *args], cwd=cwd,
                          capture_output=True, text=True, **kw)  # fmt: skip


def test_the_command_line_reports_a_bad_input_in_one_line(tmp_path):
    cases = [
        (["--rule", "adma"], "unknown update rule 'adma'"),
        (["--rule", "adam", "--problems", "nope"], "unknown problem 'nope'"),
        (["--rule", "adam@cosine"], "unknown schedule 'cosine'"),
        (["--rule", "optax:adafactor"], "no search space"),
    ]
    for args, message in cases:
        r = _run_cli(["suite", *args, "--out", str(tmp_path / "o")], tmp_path)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("jaxlearn: error:"), r.stderr
        assert message in lines[0]
    assert not (tmp_path / "o" / "cells").exists()  # nothing was trained


def _cells(result):
    drop = {"seconds", "compile_seconds", "seconds_per_step"}

    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if k not in drop}
        return x

    return clean(result["cells"])


def test_a_killed_run_resumes_without_loss(tmp_path):
    args = ["suite", "--quick", "--rule", "sgd", "--rule", "adam", "--problems",
            "book_function,rosenbrock", "--budget", "2", "--seeds", "2", "--no-progress",
            "--no-references"]  # fmt: skip
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "jaxlearn.cli", *args, "--out", str(out)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while len(list(out.glob("cells/*/*.json"))) < 2:  # two cells done, the third running
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    kept = {p: p.read_text() for p in out.glob("cells/*/*.json")}
    assert len(kept) >= 2 and not (out / "suite.json").exists()
    resumed = _run_cli([*args, "--out", str(out)], tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("read back") == len(kept)
    for path, text in kept.items():  # read back, not recomputed
        assert path.read_text() == text
    fresh = _run_cli([*args, "--out", str(tmp_path / "fresh")], tmp_path, timeout=600)
    assert fresh.returncode == 0, fresh.stderr
    a = json.loads((out / "suite.json").read_text())
    b = json.loads((tmp_path / "fresh" / "suite.json").read_text())
    assert _cells(a) == _cells(b)


def test_a_cell_made_with_another_configuration_is_an_error(tmp_path):
    common = dict(problems=["book_function"], quick=True, seeds=1, log=None, progress=False)
    run(["sgd"], budget=2, out=tmp_path, **common)
    with pytest.raises(ValueError, match="another configuration"):
        run(["sgd"], budget=3, out=tmp_path, **common)


def test_the_tidy_csv_reads_into_pandas(tmp_path):
    pd = pytest.importorskip("pandas", reason="pandas (jaxlearn[test]) is not installed")
    run(["sgd"], problems=["book_function"], quick=True, budget=2, seeds=2, out=tmp_path,
        log=None, progress=False)  # fmt: skip
    df = pd.read_csv(tmp_path / "suite.csv")
    assert list(df.columns) == ["problem", "optimizer", "phase", "trial", "seed", "step",
                                "metric", "value"]  # fmt: skip
    assert set(df.phase) == {"tune", "eval"}
    stt = df[df.metric == "steps_to_target"]
    assert len(stt) == 2 + 2  # one per tuning trial and per evaluation run
    assert (tmp_path / "figures" / "book_function.png").stat().st_size > 0


def _docs_problem_block() -> str:
    text = DOCS.read_text()
    block = re.search(r"```python\n(# your own problem.*?)```", text, re.S)
    assert block, "docs/suite.md holds the worked example of a problem"
    return block.group(1)


def test_the_documented_problem_runs_through_the_protocol(tmp_path):
    code = _docs_problem_block()
    assert len(code.strip().splitlines()) <= 45
    namespace: dict = {}
    exec(compile(code, "docs/suite.md", "exec"), namespace)
    problem = namespace["problem"]
    r = run(["sgd", "adam"], problems=[problem], budget=4, seeds=2, log=None, progress=False)
    cells = r["cells"][problem.name]
    assert set(cells) == {"sgd", "adam"}
    assert all(c["eval"]["steps_to_target"][0] is not None for c in cells.values())


def test_train_takes_a_problem_as_its_model():
    p = QUAD
    params, state = p.init(jax.random.key(0))
    r = train(p, params, state, jl.sgd(0.01), p.data(), key=jax.random.key(1), iterations=20,
              batch_size=16, eval_every=10, eval_on=("valid",))  # fmt: skip
    assert list(r.metrics) == ["valid"] and r.metrics["valid"]["loss"].shape == (2,)
    assert r.metrics["valid"]["loss"][-1] < float(p.metrics(params, state, *p.data()["valid"])[
        "loss"].mean())  # fmt: skip


def test_the_cnns_convolution_equals_lax_conv():
    from jaxlearn.suite.problems.images import _conv

    x = jax.random.normal(jax.random.key(0), (2, 28, 28, 3))
    w = jax.random.normal(jax.random.key(1), (3, 3, 3, 5))
    layout = ("NHWC", "HWIO", "NHWC")
    ref = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=layout)
    np.testing.assert_allclose(_conv(x, w), ref, atol=2e-5)
    # and its gradients (the shifted windows' transpose) equal the convolution's
    probe = jax.random.normal(jax.random.key(2), ref.shape)
    grads = jax.grad(lambda x, w: jnp.vdot(_conv(x, w), probe), argnums=(0, 1))(x, w)
    want = jax.grad(lambda x, w: jnp.vdot(jax.lax.conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=layout), probe), argnums=(0, 1))(x, w)
    for got, ref in zip(grads, want):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
