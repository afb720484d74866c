"""Overfitting and its two remedies (the book's ``ch06/overfit_weight_decay.py`` and
``ch06/overfit_dropout.py``, figures 6-20 to 6-23).

300 training images, [100]×6 ReLU network, SGD η=0.01, batch 100. Without regularisation the
network reaches ~100% on its training images while test accuracy stays far below; weight
decay (λ=0.1, 201 epochs) and Dropout (ratio 0.2, 301 epochs) narrow that gap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.experiments.curves import final_value, per_seed, spread
from jaxlearn.experiments.data import get_data
from jaxlearn.experiments.keys import by_seed
from jaxlearn.experiments.records import TIDY_HEADER, Result, curve_rows
from jaxlearn.experiments.report import (
    Report,
    describe_hidden,
    pct,
    seeds_in_title,
    spread_note,
)
from jaxlearn.experiments.settings import Settings
from jaxlearn.experiments.training import train_runs
from jaxlearn.nn import mlp
from jaxlearn.nn.regularization import with_weight_decay
from jaxlearn.optim import sgd

#: The book's weight-decay run (300 training images, [100]×6 network, SGD η=0.01, batch 100,
#: 201 epochs) and what ``quick=True`` changes (101 epochs).
WEIGHT_DECAY_BOOK = Settings(epochs=201, train_size=300, batch_size=100, lr=0.01,
                             hidden=(100,) * 6)  # fmt: skip
WEIGHT_DECAY_QUICK = Settings(epochs=101)
#: The book's Dropout run, the same for 301 epochs (151 with ``quick=True``).
DROPOUT_BOOK = dataclasses.replace(WEIGHT_DECAY_BOOK, epochs=301)
DROPOUT_QUICK = Settings(epochs=151)
_FINALS = ("final_train_acc", "final_test_acc", "gap")


def _subset(s: Settings) -> tuple[str, tuple]:
    name, ((x, t), (xt, tt)) = get_data(s.dataset)
    if s.train_size > len(x):
        raise ValueError(f"train_size ({s.train_size}) exceeds the {len(x)} training images")
    return name, ((x[: s.train_size], t[: s.train_size]), (xt, tt))


def _summary(train_acc: np.ndarray, test_acc: np.ndarray) -> dict:
    """Finals of one run over its seeds, ``(seeds, epochs)`` accuracies in: means over the
    last 10% of epochs (a single epoch's test accuracy is noisy)."""
    values = {
        "final_train_acc": [final_value(a, 0.1) for a in train_acc],
        "final_test_acc": [final_value(a, 0.1) for a in test_acc],
        "gap": [final_value(a - b, 0.1) for a, b in zip(train_acc, test_acc)],
    }
    n = len(train_acc)
    out = {k: per_seed(v, n) for k, v in values.items()}
    if n > 1:
        out["summary"] = {k: spread(v) for k, v in values.items()}
    return out


def weight_decay_experiment(
    lambdas: Sequence[float] = (0.0, 0.1),
    *,
    settings: Settings | None = None,
    **overrides: Any,
) -> Result:
    """Train on a tiny training set at each weight-decay λ (one ``vmap``-ed program).

    Every λ starts from the same weights and sees the same mini-batches; accuracy on the
    training subset and the full test set is measured after every epoch. λ is SGD's coupled
    weight decay (:func:`jaxlearn.nn.with_weight_decay`), held in each run's optimizer state.

    Args:
      lambdas: the weight-decay strengths λ ≥ 0 compared (the book's 0 and 0.1).
      settings, overrides: a :class:`~jaxlearn.experiments.settings.Settings` and/or its fields as
        keywords: ``seeds`` (repeats of the whole comparison), ``key``, ``dataset``, ``epochs``,
        ``train_size``, ``batch_size``, ``lr``, ``hidden``, ``quick``, ``progress``. Defaults:
        :data:`~jaxlearn.experiments.overfitting.WEIGHT_DECAY_BOOK` (201 epochs, 300 images, batch
        100, SGD 0.01, [100]×6) and :data:`~jaxlearn.experiments.overfitting.WEIGHT_DECAY_QUICK`
        (101 epochs).

    Returns:
      A :class:`~jaxlearn.experiments.records.Result` ``{'experiment': 'weight-decay', 'config':
      {'dataset', 'train_size', 'epochs', 'batch_size', 'lr', 'hidden', 'seeds'}, 'epochs' (E,),
      'lambdas' (L,), 'train_acc' (L, E), 'test_acc' (L, E), 'runs': [{'lambda', 'final_train_acc',
      'final_test_acc', 'gap'} …]}``, the finals being means over the last 10% of epochs; with N
      seeds the accuracies are ``(N, L, E)``, the finals length-N lists, and each run has a
      ``'summary'`` (mean, std, min, max of each final).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((40, 784)), rng.integers(0, 10, 40)),
    ...         (rng.random((8, 784)), rng.integers(0, 10, 8)))
    >>> r = weight_decay_experiment(dataset=data, epochs=3, train_size=40, batch_size=20,
    ...                             hidden=[10], progress=False)
    >>> r['train_acc'].shape, [run['lambda'] for run in r['runs']]
    ((2, 3), [0.0, 0.1])
    """
    s = Settings.of(settings, **overrides).fill(
        WEIGHT_DECAY_BOOK, WEIGHT_DECAY_QUICK, "weight_decay_experiment"
    )
    lambdas = np.asarray(lambdas, np.float64)
    if lambdas.ndim != 1 or lambdas.size == 0 or np.any(lambdas < 0):
        raise ValueError(f"lambdas must be a non-empty 1-D sequence of λ >= 0, got {lambdas}")
    name, data = _subset(s)
    net = mlp.make(data[0][0].shape[1], list(s.hidden), 10)
    params, state, train_keys = _shared_within_seed(net, s.seed_keys()[0], len(lambdas))
    r = train_runs(
        net, params, state, with_weight_decay(sgd), data, train_keys,
        hyperparams={"lr": np.full(s.seeds * len(lambdas), s.lr),
                     "weight_decay": np.tile(lambdas, s.seeds)},
        epochs=s.epochs, batch_size=s.batch_size, progress=s.progress, desc="weight decay",
    )  # fmt: skip
    train_acc, test_acc = by_seed(r.train_acc, s.seeds), by_seed(r.test_acc, s.seeds)
    runs = [
        {"lambda": float(lam), **_summary(*_seed_rows(train_acc, test_acc, i, s.seeds))}
        for i, lam in enumerate(lambdas)
    ]
    return Result(
        "weight-decay", s.config(name, s.train_size), epochs=np.arange(1, s.epochs + 1),
        lambdas=lambdas, train_acc=train_acc, test_acc=test_acc, runs=runs,
    )  # fmt: skip


def _shared_within_seed(net: mlp.MLPConfig, keys: list, k: int) -> tuple:
    """``(params, state, train keys)`` for ``k`` configurations per seed, seed-major: within
    a seed they share the initial weights and the mini-batches (common random numbers)."""
    split = [jax.random.split(key) for key in keys]
    inits = [mlp.init_params(net, k_init) for k_init, _ in split for _ in range(k)]
    params, state = jax.tree.map(lambda *a: jnp.stack(a), *inits)
    return params, state, jnp.stack([k_train for _, k_train in split for _ in range(k)])


def _seed_rows(train_acc: np.ndarray, test_acc: np.ndarray, i: int, seeds: int) -> tuple:
    """Configuration ``i``'s accuracies as ``(seeds, epochs)`` arrays."""
    if seeds == 1:
        return train_acc[i][None], test_acc[i][None]
    return train_acc[:, i], test_acc[:, i]


def dropout_experiment(
    dropout_ratio: float = 0.2,
    *,
    settings: Settings | None = None,
    **overrides: Any,
) -> Result:
    """Train on a tiny training set without and with Dropout (the book's form).

    Both networks start from the same weights and see the same mini-batches; each variant's
    seeds train in one ``vmap``-ed program.

    Args:
      dropout_ratio: the share of hidden units dropped in training (the book's 0.2).
      settings, overrides: as :func:`weight_decay_experiment`'s; defaults
        :data:`~jaxlearn.experiments.overfitting.DROPOUT_BOOK` (301 epochs) and
        :data:`~jaxlearn.experiments.overfitting.DROPOUT_QUICK` (151 epochs).

    Returns:
      A :class:`~jaxlearn.experiments.records.Result` ``{'experiment': 'dropout', 'config':
      {'dataset', 'train_size', 'epochs', 'batch_size', 'lr', 'hidden', 'seeds', 'dropout_ratio'},
      'epochs' (E,), 'train_acc' (2, E), 'test_acc' (2, E) (row 0 without, row 1 with Dropout),
      'runs': [{'dropout', 'final_train_acc', 'final_test_acc', 'gap'} …]}``; with N seeds the
      accuracies are ``(N, 2, E)`` and the finals as in :func:`weight_decay_experiment`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((40, 784)), rng.integers(0, 10, 40)),
    ...         (rng.random((8, 784)), rng.integers(0, 10, 8)))
    >>> r = dropout_experiment(dataset=data, epochs=3, train_size=40, batch_size=20,
    ...                        hidden=[10], progress=False)
    >>> r['test_acc'].shape, [run['dropout'] for run in r['runs']]
    ((2, 3), [False, True])
    """
    s = Settings.of(settings, **overrides).fill(DROPOUT_BOOK, DROPOUT_QUICK, "dropout_experiment")
    name, data = _subset(s)
    keys, seeds = s.seed_keys()[0], s.seeds
    train_acc, test_acc, runs = [], [], []
    for use_dropout in (False, True):
        net = mlp.make(data[0][0].shape[1], list(s.hidden), 10, use_dropout=use_dropout,
                       dropout_ratio=dropout_ratio)  # fmt: skip
        params, state, train_keys = _shared_within_seed(net, keys, 1)
        r = train_runs(
            net, params, state, sgd(s.lr), data, train_keys, epochs=s.epochs,
            batch_size=s.batch_size, progress=s.progress,
            desc="Dropout" if use_dropout else "no Dropout",
        )  # fmt: skip
        train_acc.append(r.train_acc)  # (seeds, epochs)
        test_acc.append(r.test_acc)
        runs.append({"dropout": use_dropout, **_summary(r.train_acc, r.test_acc)})
    axis = 0 if seeds == 1 else 1  # (2, E) for one seed, (N, 2, E) for several

    def stack(rows: list) -> np.ndarray:
        return np.stack([row[0] for row in rows]) if seeds == 1 else np.stack(rows, axis)

    return Result(
        "dropout", s.config(name, s.train_size, dropout_ratio=dropout_ratio),
        epochs=np.arange(1, s.epochs + 1), train_acc=stack(train_acc), test_acc=stack(test_acc),
        runs=runs,
    )  # fmt: skip


def _cell(run: dict, quantity: str) -> str:
    if "summary" not in run:
        return pct(run[quantity])
    s = run["summary"][quantity]
    return f"{pct(s['mean'])} ± {pct(s['std'])}"


def report(result: dict) -> Report:
    """The table of :func:`weight_decay_experiment`'s or :func:`dropout_experiment`'s result."""
    result = Result.of(result)
    c, seeds = result.config, result.n_seeds
    setting = f"{c['train_size']} training images, {describe_hidden(c['hidden'])}, SGD {c['lr']:g}"
    if result["experiment"] == "weight-decay":
        title = f"Weight decay on {c['dataset']}"
        first, label = "lambda", lambda run: f"{run['lambda']:g}"
    else:
        title = f"Dropout (ratio {c['dropout_ratio']:g}) on {c['dataset']}"
        first, label = "network", lambda run: "with Dropout" if run["dropout"] else "without"
    rows = [[label(run), *(_cell(run, q) for q in _FINALS)] for run in result["runs"]]
    notes = ["accuracies: means over the last 10% of epochs", *spread_note(seeds)]
    return Report(
        f"{title} ({setting}, {c['epochs']} epochs{seeds_in_title(seeds)})",
        [first, "train acc", "test acc", "gap"],
        rows,
        notes,
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The result as long-format CSV rows (:data:`~jaxlearn.experiments.records.TIDY_HEADER`):
    train and test accuracy after every epoch, per run (``'lambda=0.1'`` or ``'with
    Dropout'``) and seed."""
    result = Result.of(result)
    seeds, epochs = result.seeds, result.epoch_ends()
    rows = []
    for i, run in enumerate(result["runs"]):
        if "lambda" in run:
            label = f"lambda={run['lambda']:g}"
        else:
            label = "with Dropout" if run["dropout"] else "without Dropout"
        for metric in ("train_acc", "test_acc"):
            rows += curve_rows(label, seeds, epochs, metric, np.asarray(result[metric])[..., i, :])
    return TIDY_HEADER, rows


__all__ = [
    "DROPOUT_BOOK",
    "DROPOUT_QUICK",
    "WEIGHT_DECAY_BOOK",
    "WEIGHT_DECAY_QUICK",
    "dropout_experiment",
    "report",
    "tidy",
    "weight_decay_experiment",
]
