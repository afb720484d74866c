"""Overfitting and its two remedies (the book's ``ch06/overfit_weight_decay.py`` and
``ch06/overfit_dropout.py``, figures 6-20 to 6-23).

300 training images, [100]×6 ReLU network, SGD η=0.01, batch 100. Without regularisation the
network reaches ~100% on its training images while test accuracy stays far below; weight
decay (λ=0.1, 201 epochs) and Dropout (ratio 0.2, 301 epochs) narrow that gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.experiments.common import (
    DatasetLike,
    by_seed,
    final_value,
    get_data,
    per_seed,
    seed_keys,
    spread,
    train_runs,
)
from jaxlearn.experiments.report import (
    TIDY_HEADER,
    Report,
    curve_rows,
    describe_hidden,
    iterations_per_epoch,
    pct,
)
from jaxlearn.nn import mlp
from jaxlearn.nn.regularization import with_weight_decay
from jaxlearn.optim import sgd

TRAIN_SIZE = 300
WEIGHT_DECAY_EPOCHS, QUICK_WEIGHT_DECAY_EPOCHS = 201, 101
DROPOUT_EPOCHS, QUICK_DROPOUT_EPOCHS = 301, 151
_FINALS = ("final_train_acc", "final_test_acc", "gap")


def _subset(dataset: DatasetLike, train_size: int) -> tuple[str, tuple]:
    name, ((x, t), (xt, tt)) = get_data(dataset)
    if train_size > len(x):
        raise ValueError(f"train_size ({train_size}) exceeds the {len(x)} training images")
    return name, ((x[:train_size], t[:train_size]), (xt, tt))


def _config(name, train_size, epochs, batch_size, lr, hidden, seeds) -> dict:
    return {
        "dataset": name,
        "train_size": train_size,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "hidden": list(hidden),
        "seeds": seeds,
    }


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
    seeds: int = 1,
    key: jax.Array | int = 0,
    dataset: DatasetLike = "auto",
    epochs: int | None = None,
    train_size: int = TRAIN_SIZE,
    batch_size: int = 100,
    lr: float = 0.01,
    hidden: Sequence[int] = (100,) * 6,
    quick: bool = False,
    progress: bool | None = None,
) -> dict:
    """Train on a tiny training set at each weight-decay λ (one ``vmap``-ed program).

    Every λ starts from the same weights and sees the same mini-batches; accuracy on the
    training subset and the full test set is measured after every epoch. λ is SGD's coupled
    weight decay (:func:`jaxlearn.nn.with_weight_decay`), held in each run's optimizer state.
    ``seeds`` repeats the whole comparison (seed ``i`` of ``key=k`` is the run ``key=k+i``).

    Returns:
      ``{'experiment': 'weight-decay', 'config': {'dataset', 'train_size', 'epochs',
      'batch_size', 'lr', 'hidden', 'seeds'}, 'epochs' (E,), 'lambdas' (L,), 'train_acc'
      (L, E), 'test_acc' (L, E), 'runs': [{'lambda', 'final_train_acc', 'final_test_acc',
      'gap'} …]}``, the finals being means over the last 10% of epochs; with N seeds the
      accuracies are ``(N, L, E)``, the finals length-N lists, and each run has a
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
    lambdas = np.asarray(lambdas, np.float64)
    if lambdas.ndim != 1 or lambdas.size == 0 or np.any(lambdas < 0):
        raise ValueError(f"lambdas must be a non-empty 1-D sequence of λ >= 0, got {lambdas}")
    epochs = epochs or (QUICK_WEIGHT_DECAY_EPOCHS if quick else WEIGHT_DECAY_EPOCHS)
    name, data = _subset(dataset, train_size)
    keys, ids = seed_keys(key, seeds)
    net = mlp.make(data[0][0].shape[1], list(hidden), 10)
    params, state, train_keys = _shared_within_seed(net, keys, len(lambdas))
    r = train_runs(
        net, params, state, with_weight_decay(sgd), data, train_keys,
        hyperparams={"lr": np.full(seeds * len(lambdas), lr),
                     "weight_decay": np.tile(lambdas, seeds)},
        epochs=epochs, batch_size=batch_size, progress=progress, desc="weight decay",
    )  # fmt: skip
    train_acc, test_acc = by_seed(r.train_acc, seeds), by_seed(r.test_acc, seeds)
    runs = [
        {"lambda": float(lam), **_summary(*_seed_rows(train_acc, test_acc, i, seeds))}
        for i, lam in enumerate(lambdas)
    ]
    return {
        "experiment": "weight-decay",
        "config": _config(name, train_size, epochs, batch_size, lr, hidden, ids),
        "epochs": np.arange(1, epochs + 1),
        "lambdas": lambdas,
        "train_acc": train_acc,
        "test_acc": test_acc,
        "runs": runs,
    }


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
    seeds: int = 1,
    key: jax.Array | int = 0,
    dataset: DatasetLike = "auto",
    epochs: int | None = None,
    train_size: int = TRAIN_SIZE,
    batch_size: int = 100,
    lr: float = 0.01,
    hidden: Sequence[int] = (100,) * 6,
    quick: bool = False,
    progress: bool | None = None,
) -> dict:
    """Train on a tiny training set without and with Dropout (the book's form).

    Both networks start from the same weights and see the same mini-batches. ``seeds``
    repeats both (seed ``i`` of ``key=k`` is the run ``key=k+i``), each variant's seeds in
    one ``vmap``-ed program.

    Returns:
      ``{'experiment': 'dropout', 'config': {'dataset', 'train_size', 'epochs', 'batch_size',
      'lr', 'hidden', 'seeds', 'dropout_ratio'}, 'epochs' (E,), 'train_acc' (2, E),
      'test_acc' (2, E) (row 0 without, row 1 with Dropout), 'runs': [{'dropout',
      'final_train_acc', 'final_test_acc', 'gap'} …]}``; with N seeds the accuracies are
      ``(N, 2, E)`` and the finals as in :func:`weight_decay_experiment`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((40, 784)), rng.integers(0, 10, 40)),
    ...         (rng.random((8, 784)), rng.integers(0, 10, 8)))
    >>> r = dropout_experiment(dataset=data, epochs=3, train_size=40, batch_size=20,
    ...                        hidden=[10], progress=False)
    >>> r['test_acc'].shape, [run['dropout'] for run in r['runs']]
    ((2, 3), [False, True])
    """
    epochs = epochs or (QUICK_DROPOUT_EPOCHS if quick else DROPOUT_EPOCHS)
    name, data = _subset(dataset, train_size)
    keys, ids = seed_keys(key, seeds)
    train_acc, test_acc, runs = [], [], []
    for use_dropout in (False, True):
        net = mlp.make(data[0][0].shape[1], list(hidden), 10, use_dropout=use_dropout,
                       dropout_ratio=dropout_ratio)  # fmt: skip
        params, state, train_keys = _shared_within_seed(net, keys, 1)
        r = train_runs(
            net, params, state, sgd(lr), data, train_keys, epochs=epochs,
            batch_size=batch_size, progress=progress,
            desc="Dropout" if use_dropout else "no Dropout",
        )  # fmt: skip
        train_acc.append(r.train_acc)  # (seeds, epochs)
        test_acc.append(r.test_acc)
        runs.append({"dropout": use_dropout, **_summary(r.train_acc, r.test_acc)})
    axis = 0 if seeds == 1 else 1  # (2, E) for one seed, (N, 2, E) for several

    def stack(rows: list) -> np.ndarray:
        return np.stack([row[0] for row in rows]) if seeds == 1 else np.stack(rows, axis)

    return {
        "experiment": "dropout",
        "config": {
            **_config(name, train_size, epochs, batch_size, lr, hidden, ids),
            "dropout_ratio": dropout_ratio,
        },
        "epochs": np.arange(1, epochs + 1),
        "train_acc": stack(train_acc),
        "test_acc": stack(test_acc),
        "runs": runs,
    }


def _cell(run: dict, quantity: str) -> str:
    if "summary" not in run:
        return pct(run[quantity])
    s = run["summary"][quantity]
    return f"{pct(s['mean'])} ± {pct(s['std'])}"


def report(result: dict) -> Report:
    """The table of :func:`weight_decay_experiment`'s or :func:`dropout_experiment`'s result."""
    c = result["config"]
    seeds = len(c.get("seeds", [0]))
    setting = f"{c['train_size']} training images, {describe_hidden(c['hidden'])}, SGD {c['lr']:g}"
    if result["experiment"] == "weight-decay":
        title = f"Weight decay on {c['dataset']}"
        first, label = "lambda", lambda run: f"{run['lambda']:g}"
    else:
        title = f"Dropout (ratio {c['dropout_ratio']:g}) on {c['dataset']}"
        first, label = "network", lambda run: "with Dropout" if run["dropout"] else "without"
    rows = [[label(run), *(_cell(run, q) for q in _FINALS)] for run in result["runs"]]
    notes = ["accuracies: means over the last 10% of epochs"]
    if seeds > 1:
        notes.append(f"± : standard deviation over the {seeds} seeds")
    return Report(
        f"{title} ({setting}, {c['epochs']} epochs" + (f", {seeds} seeds)" if seeds > 1 else ")"),
        [first, "train acc", "test acc", "gap"],
        rows,
        notes,
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The result as long-format CSV rows (:data:`~jaxlearn.experiments.report.TIDY_HEADER`):
    train and test accuracy after every epoch, per run (``'lambda=0.1'`` or ``'with
    Dropout'``) and seed."""
    c = result["config"]
    seeds, per_epoch = c.get("seeds", [0]), iterations_per_epoch(c)
    epochs = [e * per_epoch for e in np.asarray(result["epochs"])]
    rows = []
    for i, run in enumerate(result["runs"]):
        if "lambda" in run:
            label = f"lambda={run['lambda']:g}"
        else:
            label = "with Dropout" if run["dropout"] else "without Dropout"
        for metric in ("train_acc", "test_acc"):
            rows += curve_rows(label, seeds, epochs, metric, np.asarray(result[metric])[..., i, :])
    return TIDY_HEADER, rows


__all__ = ["dropout_experiment", "report", "tidy", "weight_decay_experiment"]
