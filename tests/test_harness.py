"""The experiments as an open harness: any optimizer, several seeds in one program, tuned
learning rates, tidy CSV (on tiny random data, fast)."""

from __future__ import annotations

import csv

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn import experiments as E
from jaxlearn.experiments import optimizers as opt_module
from jaxlearn.experiments.specs import SpecError, parse_spec, resolve_entries
from jaxlearn.train.program import program


def tiny(n_train=64, n_test=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n_train + n_test, 784), dtype=np.uint8)
    t = (x[:, :10].argmax(axis=1)) % 10  # learnable: the brightest of the first ten pixels
    return (x[:n_train], t[:n_train]), (x[n_train:], t[n_train:])


KW = dict(dataset=tiny(), iterations=24, batch_size=8, hidden=[12], progress=False)


def scale_by_sign(lr):
    """A user's own transformation: signSGD, written with optax's protocol by hand."""

    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None):
        return jax.tree.map(lambda g: -lr * jnp.sign(g), grads), state

    return optax.GradientTransformation(init, update)


def test_every_spec_form_trains_and_is_labelled():
    rules = {
        "SGD": "sgd",
        "Adam 3e-3": ("adam", {"lr": 3e-3}),
        "momentum:lr=0.05": "momentum:lr=0.05",
        "AdamW": optax.adamw(1e-3),
        "optax lion": "optax:lion:learning_rate=0.0003",
        "mine": scale_by_sign(0.01),
        "jl": jl.rmsprop(lr=0.005),
    }
    r = E.compare_optimizers(rules, **KW)
    assert list(r["runs"]) == list(rules)
    lrs = {label: run["lr"] for label, run in r["runs"].items()}
    assert lrs == {"SGD": 0.01, "Adam 3e-3": 0.003, "momentum:lr=0.05": 0.05, "AdamW": None,
                   "optax lion": 0.0003, "mine": None, "jl": None}  # fmt: skip
    first = {run["loss"][0] for run in r["runs"].values()}
    assert len(first) == 1  # same weights and batch for everyone
    # Each entry really trained with its own optimizer: the curves differ.
    finals = [run["final_loss"] for run in r["runs"].values()]
    assert len(set(np.round(finals, 6))) == len(finals)
    # Given as a sequence, the specs as written key the results; tables show display names
    # (the rule's spelling and its settings but the learning rate, which has its own column).
    seq = E.compare_optimizers(
        ["sgd", ("adam", {"lr": 3e-3}), "optax:sgd:learning_rate=0.1,momentum=0.5"], **KW
    )
    assert list(seq["runs"]) == ["sgd", "adam:lr=0.003", "optax:sgd:learning_rate=0.1,momentum=0.5"]
    table = opt_module.report(seq).rows
    assert [row[:2] for row in table] == [["SGD", "0.01"], ["Adam", "0.003"],
                                          ["optax.sgd momentum=0.5", "0.1"]]  # fmt: skip
    assert [run["rule"] for run in seq["runs"].values()] == ["sgd", "adam", None]
    # A mapping's keys are the names (in the book's spelling when they are a rule's name); each
    # run records the rule it trains, so "Adam 3e-3" is drawn in Adam's colour.
    assert [run["name"] for run in r["runs"].values()][:2] == ["SGD", "Adam 3e-3"]
    assert {label: run["rule"] for label, run in r["runs"].items()} == {
        "SGD": "sgd", "Adam 3e-3": "adam", "momentum:lr=0.05": "momentum", "AdamW": None,
        "optax lion": None, "mine": None, "jl": None}  # fmt: skip


def test_seeds_equal_separate_runs_and_compile_once_per_optimizer(exact_matmuls):
    before = program.cache_info().misses
    many = E.compare_optimizers(["sgd", "adam"], seeds=3, key=5, **KW)
    assert program.cache_info().misses - before == 2  # one program per optimizer
    assert many["config"]["seeds"] == [5, 6, 7]
    for label in ("sgd", "adam"):
        run = many["runs"][label]
        assert np.shape(run["loss"]) == (3, 24) and len(run["test_acc"]) == 3
        s = run["summary"]["final_loss"]
        assert s["min"] <= s["mean"] <= s["max"] and s["std"] > 0
        assert s["mean"] == pytest.approx(np.mean(run["final_loss"]))
    for i, seed in enumerate([5, 6, 7]):
        one = E.compare_optimizers(["sgd", "adam"], key=seed, **KW)
        for label in ("sgd", "adam"):
            got, want = many["runs"][label]["loss"][i], one["runs"][label]["loss"]
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5)
            assert many["runs"][label]["test_acc"][i] == pytest.approx(
                one["runs"][label]["test_acc"], abs=1 / 16
            )


def test_tuned_lr_is_the_argmin_of_the_sweep():
    r = E.compare_optimizers(["sgd", "optax:adam:learning_rate=1"], seeds=2,
                             lrs=[1e-4, 1e-2, 1.0], **KW)  # fmt: skip
    assert r["config"]["lrs"] == [1e-4, 1e-2, 1.0] and r["config"]["validation_size"] == 6
    assert r["config"]["train_size"] == 64 - 6
    for run in r["runs"].values():
        losses = np.asarray(run["sweep"]["val_loss"])
        assert losses.shape == (3, 2)
        mean = np.where(np.isfinite(losses.mean(axis=1)), losses.mean(axis=1), np.inf)
        assert run["lr"] == [1e-4, 1e-2, 1.0][int(np.argmin(mean))]
        np.testing.assert_allclose(run["sweep"]["val_loss_mean"], losses.mean(axis=1))
    assert "Learning-rate sweep" in str(opt_module.report(r))
    # The sweep replaced the spec's rate: the table shows the name without it, beside the tuned
    # rate, never the rate written in the spec.
    tuned = r["runs"]["optax:adam:learning_rate=1"]
    row = next(row for row in opt_module.report(r).rows if row[0] == "optax.adam")
    assert row[1] == f"{tuned['lr']:.4g}" and "learning_rate=1" not in str(opt_module.report(r))
    with pytest.raises(SpecError, match="AdamW cannot be swept"):
        E.compare_optimizers({"AdamW": optax.adamw(1e-3)}, lrs=[1e-3], **KW)
    with pytest.raises(ValueError, match="lrs must be a non-empty list of positive"):
        E.compare_optimizers(["sgd"], lrs=[0.0], **KW)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("adma", "unknown update rule 'adma'; the rules are sgd, momentum"),
        ("adam:beta=0.9", "adam has no argument 'beta'; its arguments are lr, beta1, beta2, eps"),
        ("adam:lr=fast", "the value 'fast' of 'lr' does not parse as a number"),
        ("adam:lr", "'lr' is not key=value"),
        ("optax:adamx", "optax has no optimizer 'adamx'; its optimizers are adabelief"),
        ("optax:adamw:lr=1", "optax.adamw has no argument 'lr'; its arguments are learning_rate"),
        (("adam", [1]), "a tuple spec is"),
        ("", "a spec is a non-empty string"),
    ],
)
def test_bad_specs_say_what_is_valid(spec, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        parse_spec(spec)


def test_entries_check_labels_and_ready_objects():
    with pytest.raises(SpecError, match="given twice"):
        resolve_entries(["sgd", "sgd"])
    with pytest.raises(SpecError, match="needs a label"):
        resolve_entries([optax.adam(1e-3)])
    with pytest.raises(SpecError, match="empty"):
        resolve_entries([])
    with pytest.raises(SpecError, match="cannot build the optimizer"):
        E.compare_optimizers(["optax:adamw"], **KW)  # optax.adamw needs a learning rate


def test_seeds_on_every_training_experiment_and_tidy_csv(tmp_path):
    pandas = pytest.importorskip("pandas", reason="pandas (jaxlearn[test]) is not installed")
    data = tiny(80, 20)
    kw = dict(dataset=data, batch_size=20, hidden=[12], progress=False, seeds=2)
    results = {
        "init": E.compare_initializers(
            {"He": "he", "glorot": jax.nn.initializers.glorot_normal()}, iterations=20, **kw
        ),
        "batchnorm": E.batchnorm_comparison([1.0, 0.01], epochs=2, train_size=40, **kw),
        "weight-decay": E.weight_decay_experiment(epochs=2, train_size=40, **kw),
        "dropout": E.dropout_experiment(epochs=2, train_size=40, **kw),
        "search": E.hyperparameter_search(3, epochs=2, train_size=50, **kw),
    }
    assert np.shape(results["init"]["runs"]["glorot"]["loss"]) == (2, 20)
    assert results["init"]["runs"]["glorot"]["std"] == "variance_scaling.<locals>.init"
    assert results["batchnorm"]["train_acc_bn"].shape == (2, 2, 2)  # seeds, scales, epochs
    assert results["weight-decay"]["train_acc"].shape == (2, 2, 2)
    assert results["dropout"]["test_acc"].shape == (2, 2, 2)
    assert results["search"]["val_acc"].shape == (2, 3, 2)
    assert len(results["search"]["final_val_acc_std"]) == 3
    assert len(results["weight-decay"]["runs"][1]["gap"]) == 2
    modules = {"init": "initializers", "batchnorm": "batchnorm", "weight-decay": "overfitting",
               "dropout": "overfitting", "search": "search"}  # fmt: skip
    for name, r in results.items():
        assert r["config"]["seeds"] == [0, 1]
        module = getattr(E, modules[name])
        assert " ± " in str(module.report(r)) or "seeds" in str(module.report(r))
        header, rows = module.tidy(r)
        path = tmp_path / f"{name}.csv"
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
        table = pandas.read_csv(path)
        assert list(table.columns) == list(header) and len(table) == len(rows)
        assert set(table["seed"]) == {0, 1}
    # The CSV holds the result's own numbers.
    table = pandas.read_csv(tmp_path / "weight-decay.csv")
    got = table[(table["label"] == "lambda=0.1") & (table["seed"] == 1)
                & (table["metric"] == "test_acc")]["value"]  # fmt: skip
    np.testing.assert_allclose(got.to_numpy(), results["weight-decay"]["test_acc"][1, 1])


def test_one_seed_keeps_the_single_run_layout():
    r = E.compare_optimizers(["sgd"], **KW)
    run = r["runs"]["sgd"]
    assert np.shape(run["loss"]) == (24,) and isinstance(run["test_acc"], float)
    assert "summary" not in run and r["config"]["seeds"] == [0]
