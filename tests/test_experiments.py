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
    assert name == "user" and x.dtype == np.float32 and float(x.max()) <= 1.0


def test_compare_optimizers_and_initializers_on_user_arrays():
    kw = dict(dataset=tiny(), iterations=30, batch_size=10, hidden=[16], progress=False)
    r = E.compare_optimizers(["sgd", "adam"], key=1, **kw)
    again = E.compare_optimizers(["sgd", "adam"], key=1, **kw)
    assert r["config"]["dataset"] == "user" and list(r["runs"]) == ["sgd", "adam"]
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
    assert bn["config"] == {"dataset": "user", "train_size": 40, "epochs": 2, "batch_size": 20,
                            "lr": 0.05, "hidden": [16, 16], "seeds": [0]}  # fmt: skip
    assert batchnorm.report(bn).title.startswith(
        "Batch Normalization on user (40 training images, [16]x2, SGD 0.05, 2 epochs)"
    )
    wd = E.weight_decay_experiment(epochs=2, train_size=60, **kw)
    assert overfitting.report(wd).title == (
        "Weight decay on user (60 training images, [16]x2, SGD 0.01, 2 epochs)"
    )
    do = E.dropout_experiment(0.3, epochs=2, train_size=60, **kw)
    assert "Dropout (ratio 0.3) on user (60 training images" in overfitting.report(do).title
    s = E.hyperparameter_search(4, epochs=2, train_size=50, validation_rate=0.2, **kw)
    assert "4 trials, 2 epochs (40 train / 10 validation images), top 4" in search.report(s).title
    o = E.compare_optimizers(["adam"], iterations=20, **kw)
    rep = optimizers.report(o)
    assert rep.title == "Update rules on user: [16]x2 ReLU, He init, batch 20, 20 iterations"
    assert rep.rows[0][:2] == ["Adam", "0.001"]
    i = E.compare_initializers({"He": "he"}, iterations=20, lr=0.1, **kw)
    assert "SGD lr=0.1, batch 20, 20 iterations" in initializers.report(i).title
    assert E.update_paths({"sgd": 0.9}, steps=3, start=(1.0, 1.0))["config"] == {
        "steps": 3, "start": [1.0, 1.0]}  # fmt: skip
