"""jaxlearn.experiments: structure, determinism and arguments, on tiny data (fast)."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxlearn import experiments as E
from jaxlearn.results import to_jsonable


def tiny(n_train=60, n_test=20, seed=0):
    """Random 784-pixel images as uint8 (as_dataset divides by 255) with 10 classes."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n_train + n_test, 784), dtype=np.uint8)
    t = np.arange(n_train + n_test) % 10
    return (x[:n_train], t[:n_train]), (x[n_train:], t[n_train:])


def test_smooth_curve_is_the_books_kaiser_average():
    x = np.random.default_rng(0).normal(size=50)
    y = E.smooth_curve(x)
    assert y.shape == x.shape
    w = np.kaiser(11, 2)
    np.testing.assert_allclose(y[20], np.dot(w / w.sum(), x[15:26]), rtol=1e-12)
    # The ends are mirrored: the first point averages x[5..1], x[0..5].
    np.testing.assert_allclose(y[0], np.dot(w / w.sum(), np.r_[x[5:0:-1], x[:6]]), rtol=1e-12)
    with pytest.raises(ValueError, match="smooth_curve needs"):
        E.smooth_curve(np.ones(5))


def test_keys_and_data_arguments():
    assert np.array_equal(jax.random.key_data(E.as_key(3)), jax.random.key_data(jax.random.key(3)))
    with pytest.raises(TypeError, match="key must be an int seed"):
        E.as_key(1.5)
    with pytest.raises(ValueError, match="dataset must be a name"):
        E.get_data(np.zeros(3))
    with pytest.raises(ValueError, match="unknown data set"):
        E.get_data("cifar")
    name, ((x, t), (xt, tt)) = E.get_data(tiny())
    assert name == "your data" and x.dtype == np.float32 and float(x.max()) <= 1.0
    assert E.get_data(("my digits", tiny()))[0] == "my digits"  # the caller names its data


def test_compare_optimizers_and_initializers_on_user_arrays():
    kw = dict(dataset=tiny(), iterations=30, batch_size=10, hidden=[16], progress=False)
    r = E.compare_optimizers(["sgd", "adam"], key=1, **kw)
    again = E.compare_optimizers(["sgd", "adam"], key=1, **kw)
    assert r["config"]["dataset"] == "your data" and list(r["runs"]) == ["sgd", "adam"]
    assert r["config"]["iterations"] == 30 and r["config"]["hidden"] == [16]
    assert r["runs"]["adam"]["lr"] == 0.001 and r["runs"]["sgd"]["lr"] == 0.01
    np.testing.assert_array_equal(r["runs"]["sgd"]["loss"], again["runs"]["sgd"]["loss"])
    # Same initial weights and batches: the first loss is the same for every rule.
    assert r["runs"]["sgd"]["loss"][0] == r["runs"]["adam"]["loss"][0]
    json.dumps(to_jsonable(r))
    i = E.compare_initializers(key=1, **kw)
    assert list(i["runs"]) == ["std=0.01", "Xavier", "He"]
    assert i["runs"]["He"]["smoothed_loss"].shape == (30,)
    with pytest.raises(ValueError, match="unknown update rule .lbfgs."):
        E.compare_optimizers(["sgd", "lbfgs"], **kw)


def test_activation_histograms_counts_and_spread():
    r = E.activation_histograms(layers=3, num_inputs=200, nodes=50, bins=20)
    assert list(r["configs"]) == list(E.HISTOGRAM_CONFIGS)
    for c in r["configs"].values():
        assert c["counts"].shape == (3, 20) and c["edges"].shape == (21,)
    relu_he = r["configs"]["ReLU, He"]
    # Histogram range (0, 1): the counts hold the activations that fall inside it.
    assert relu_he["counts"].sum() <= 3 * 200 * 50
    tanh = r["configs"]["tanh, Xavier"]
    assert tanh["edges"][0] == -1.0 and tanh["counts"].sum() == 3 * 200 * 50
    assert np.all(r["configs"]["ReLU, std=0.01"]["std_per_layer"][1:] < 1e-2)
    full = E.activation_histograms({"s": ("sigmoid", 1.0)}, layers=2, return_activations=True)
    assert full["configs"]["s"]["activations"].shape == (2, 1000, 100)
    with pytest.raises(ValueError, match="activation must be one of"):
        E.activation_histograms({"bad": ("gelu", 1.0)})


def test_batchnorm_overfitting_and_search_shapes():
    data = tiny(80, 20)
    kw = dict(dataset=data, batch_size=20, hidden=[16, 16], progress=False)
    bn = E.batchnorm_comparison([1.0, 0.1, 0.001], epochs=3, train_size=80, **kw)
    assert bn["train_acc_bn"].shape == bn["train_acc_plain"].shape == (3, 3)
    assert bn["loss_bn"].shape == (3, 12) and bn["bn_wins"].dtype == bool
    wd = E.weight_decay_experiment((0.0, 0.1, 1.0), epochs=4, train_size=60, **kw)
    assert wd["train_acc"].shape == (3, 4) and [r["lambda"] for r in wd["runs"]] == [0, 0.1, 1]
    do = E.dropout_experiment(0.5, epochs=4, train_size=60, **kw)
    assert do["test_acc"].shape == (2, 4) and do["config"]["dropout_ratio"] == 0.5
    s = E.hyperparameter_search(6, epochs=3, train_size=80, **kw)
    assert s["val_acc"].shape == (6, 3) and np.all(np.diff(s["final_val_acc"]) <= 0)
    assert np.all((s["lr"] >= 1e-6) & (s["lr"] <= 1e-2))
    assert np.all((s["weight_decay"] >= 1e-8) & (s["weight_decay"] <= 1e-4))
    json.dumps(to_jsonable({"bn": bn, "wd": wd, "do": do, "s": s}))
    with pytest.raises(ValueError, match="train_size"):
        E.weight_decay_experiment(train_size=1000, **kw)
    with pytest.raises(ValueError, match="weight_scales"):
        E.batchnorm_comparison([1.0, -1.0], **kw)


def test_each_result_carries_its_configuration_and_its_report_says_it():
    """The report text comes from the result alone: a changed setting shows in the title."""
    from jaxlearn.experiments import batchnorm, initializers, optimizers, overfitting, search

    data = tiny(80, 20)
    kw = dict(dataset=data, batch_size=20, hidden=[16, 16], progress=False)
    bn = E.batchnorm_comparison([1.0, 0.1], epochs=2, train_size=40, lr=0.05, **kw)
    assert bn["config"] == {"dataset": "your data", "train_size": 40, "epochs": 2, "batch_size": 20,
                            "lr": 0.05, "hidden": [16, 16], "seeds": [0]}  # fmt: skip
    assert batchnorm.report(bn).title.startswith(
        "Batch Normalization on your data (40 training images, [16]x2, SGD 0.05, 2 epochs)"
    )
    wd = E.weight_decay_experiment(epochs=2, train_size=60, **kw)
    assert overfitting.report(wd).title == (
        "Weight decay on your data (60 training images, [16]x2, SGD 0.01, 2 epochs)"
    )
    do = E.dropout_experiment(0.3, epochs=2, train_size=60, **kw)
    assert "Dropout (ratio 0.3) on your data (60 training images" in overfitting.report(do).title
    s = E.hyperparameter_search(4, epochs=2, train_size=50, validation_rate=0.2, **kw)
    assert "4 trials, 2 epochs (40 train / 10 validation images), top 4" in search.report(s).title
    o = E.compare_optimizers(["adam"], iterations=20, **kw)
    rep = optimizers.report(o)
    assert rep.title == "Update rules on your data: [16]x2 ReLU, He init, batch 20, 20 iterations"
    assert rep.rows[0][:2] == ["Adam", "0.001"]
    i = E.compare_initializers({"He": "he"}, iterations=20, lr=0.1, **kw)
    assert "SGD lr=0.1, batch 20, 20 iterations" in initializers.report(i).title
    assert E.update_paths({"sgd": 0.9}, steps=3, start=(1.0, 1.0))["config"] == {
        "steps": 3, "start": [1.0, 1.0]}  # fmt: skip


#: The book's settings of each training experiment (chapter 6's scripts) and its quick length.
BOOK_SETTINGS = {
    "compare_optimizers": (dict(iterations=2000, batch_size=128, hidden=(100,) * 4), 500),
    "compare_initializers": (
        dict(iterations=2000, batch_size=128, lr=0.01, hidden=(100,) * 4), 500),
    "batchnorm_comparison": (
        dict(epochs=20, train_size=1000, batch_size=100, lr=0.01, hidden=(100,) * 5), 10),
    "weight_decay_experiment": (
        dict(epochs=201, train_size=300, batch_size=100, lr=0.01, hidden=(100,) * 6), 101),
    "dropout_experiment": (
        dict(epochs=301, train_size=300, batch_size=100, lr=0.01, hidden=(100,) * 6), 151),
    "hyperparameter_search": (dict(epochs=50, train_size=500, batch_size=100, hidden=(100,) * 6),
                              50),
}  # fmt: skip
DEFAULTS = {
    "compare_optimizers": ("optimizers", "BOOK", "QUICK"),
    "compare_initializers": ("initializers", "BOOK", "QUICK"),
    "batchnorm_comparison": ("batchnorm", "BOOK", "QUICK"),
    "weight_decay_experiment": ("overfitting", "WEIGHT_DECAY_BOOK", "WEIGHT_DECAY_QUICK"),
    "dropout_experiment": ("overfitting", "DROPOUT_BOOK", "DROPOUT_QUICK"),
    "hyperparameter_search": ("search", "BOOK", "QUICK"),
}


@pytest.mark.parametrize("experiment", list(BOOK_SETTINGS))
def test_each_experiment_declares_the_books_settings_once(experiment):
    import importlib

    module, book, quick = DEFAULTS[experiment]
    module = importlib.import_module(f"jaxlearn.experiments.{module}")
    book, quick = getattr(module, book), getattr(module, quick)
    want, quick_length = BOOK_SETTINGS[experiment]
    full = E.Settings().fill(book, quick, experiment)
    short = E.Settings(quick=True).fill(book, quick, experiment)
    length = "iterations" if "iterations" in want else "epochs"
    for name in ("iterations", "epochs", "train_size", "batch_size", "lr", "hidden"):
        assert getattr(full, name) == want.get(name), name  # None: the experiment has no such
    assert getattr(short, length) == quick_length
    # An explicit length wins over quick; a setting the experiment does not take is an error.
    assert getattr(E.Settings(quick=True, **{length: 7}).fill(book, quick, experiment),
                   length) == 7  # fmt: skip
    for name in {"iterations", "epochs", "train_size", "lr"} - set(want):
        with pytest.raises(TypeError, match=f"{experiment} takes no {name}; its settings are"):
            getattr(E, experiment)(**{name: 3})


def test_settings_check_their_values_and_names_before_any_work():
    for bad, message in [
        (dict(seeds=0), "seeds must be a positive int, got 0"),
        (dict(seeds=True), "seeds must be a positive int"),
        (dict(batch_size=0), "batch_size must be a positive int"),
        (dict(iterations=2.5), "iterations must be a positive int"),
        (dict(lr=-1.0), "lr must be a positive number"),
        (dict(lr=float("nan")), "lr must be a positive number"),
        (dict(hidden=[100, 0]), "hidden: each layer size must be a positive int"),
        (dict(hidden="100"), "hidden must be a list of layer sizes"),
        (dict(quick="yes"), "quick must be True or False"),
    ]:
        with pytest.raises(ValueError, match=message):
            E.Settings(**bad)
    with pytest.raises(TypeError, match="unknown setting 'seed'; the settings are seeds, key"):
        E.compare_optimizers(["sgd"], seed=3)
    with pytest.raises(TypeError, match="settings must be a Settings, got dict"):
        E.compare_optimizers(["sgd"], settings={"seeds": 2})
    assert E.Settings(hidden=[16, 8]).hidden == (16, 8)


def test_settings_object_and_keywords_give_the_same_run():
    kw = dict(dataset=tiny(), iterations=20, batch_size=10, hidden=[16], progress=False)
    by_keywords = E.compare_initializers({"He": "he"}, key=2, **kw)
    settings = E.Settings(key=2, **kw)
    by_object = E.compare_initializers({"He": "he"}, settings=settings)
    np.testing.assert_array_equal(by_object["runs"]["He"]["loss"],
                                  by_keywords["runs"]["He"]["loss"])  # fmt: skip
    assert by_object["config"] == by_keywords["config"]
    # A keyword wins over the settings object (a new key: the same compiled program).
    assert E.compare_initializers({"He": "he"}, settings=settings,
                                  key=7)["config"]["seeds"] == [7]  # fmt: skip


def test_every_experiment_returns_a_result_that_survives_json():
    from jaxlearn.experiments import overfitting

    data = tiny(60, 20)
    kw = dict(dataset=data, batch_size=20, hidden=[8], progress=False)
    results = [
        E.compare_optimizers(["sgd"], iterations=12, key=4, **kw),
        E.weight_decay_experiment(epochs=2, train_size=60, **kw),
        E.update_paths({"sgd": 0.9}, steps=2),
        E.activation_histograms(layers=1, num_inputs=10, nodes=5),
    ]
    assert [r.experiment for r in results] == ["optimizers", "weight-decay", "paths", "histograms"]
    assert all(isinstance(r, E.Result) and isinstance(r, dict) for r in results)
    assert results[0].seeds == results[0]["config"]["seeds"] == [4]
    assert results[2].seeds == [0]  # paths: one key, seed 0
    assert E.Result("x", {"seeds": [4, 5]}).n_seeds == 2
    for r in results:
        loaded = E.Result.of(json.loads(json.dumps(to_jsonable(r))))
        assert loaded.experiment == r.experiment and loaded.config == to_jsonable(r.config)
        assert loaded.seeds == r.seeds
    # The iteration at the end of each epoch: 60 images / batch 20 = 3 updates an epoch (the
    # book's iter_per_epoch = max(train_size // batch_size, 1)), in the CSV too.
    assert results[1].epoch_ends() == [3, 6]
    rows = overfitting.tidy(results[1])[1]
    assert sorted({row[2] for row in rows}) == [3, 6]
    assert E.Result("x", {"train_size": 10, "batch_size": 20}, epochs=[1, 2]).epoch_ends() == [1, 2]
