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

from jaxlearn.experiments.common import DatasetLike, as_key, final_value, get_data
from jaxlearn.experiments.report import Report, describe_hidden, pct
from jaxlearn.nn import mlp
from jaxlearn.nn.regularization import with_weight_decay
from jaxlearn.optim import sgd
from jaxlearn.train import train, train_many

TRAIN_SIZE = 300
WEIGHT_DECAY_EPOCHS, QUICK_WEIGHT_DECAY_EPOCHS = 201, 101
DROPOUT_EPOCHS, QUICK_DROPOUT_EPOCHS = 301, 151


def _subset(dataset: DatasetLike, train_size: int) -> tuple[str, tuple]:
    name, ((x, t), (xt, tt)) = get_data(dataset)
    if train_size > len(x):
        raise ValueError(f"train_size ({train_size}) exceeds the {len(x)} training images")
    return name, ((x[:train_size], t[:train_size]), (xt, tt))


def _config(name, train_size, epochs, batch_size, lr, hidden) -> dict:
    return {
        "dataset": name,
        "train_size": train_size,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "hidden": list(hidden),
    }


def _summary(train_acc: np.ndarray, test_acc: np.ndarray) -> dict:
    # The gap over the last 10% of epochs: a single epoch's test accuracy is noisy.
    return {
        "final_train_acc": final_value(train_acc, 0.1),
        "final_test_acc": final_value(test_acc, 0.1),
        "gap": final_value(train_acc - test_acc, 0.1),
    }


def weight_decay_experiment(
    lambdas: Sequence[float] = (0.0, 0.1),
    *,
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
    training subset and the full test set is measured after every epoch.

    Returns:
      ``{'experiment': 'weight-decay', 'config': {'dataset', 'train_size', 'epochs',
      'batch_size', 'lr', 'hidden'}, 'epochs' (E,), 'lambdas' (L,), 'train_acc' (L, E),
      'test_acc' (L, E), 'runs': [{'lambda', 'final_train_acc', 'final_test_acc', 'gap'} …]}``,
      the finals being means over the last 10% of epochs.

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
    k_init, k_train = jax.random.split(as_key(key))
    net, params, state = mlp.init(k_init, data[0][0].shape[1], list(hidden), 10)
    k = len(lambdas)
    params, state = jax.tree.map(lambda a: jnp.stack([a] * k), (params, state))
    r = train_many(
        net, params, state, with_weight_decay(sgd), data, key=jnp.stack([k_train] * k),
        hyperparams={"lr": lr, "weight_decay": lambdas}, epochs=epochs, batch_size=batch_size,
        progress=progress, desc="weight decay",
    )  # fmt: skip
    runs = [
        {"lambda": float(lam), **_summary(r.train_acc[i], r.test_acc[i])}
        for i, lam in enumerate(lambdas)
    ]
    return {
        "experiment": "weight-decay",
        "config": _config(name, train_size, epochs, batch_size, lr, hidden),
        "epochs": np.arange(1, epochs + 1),
        "lambdas": lambdas,
        "train_acc": r.train_acc,
        "test_acc": r.test_acc,
        "runs": runs,
    }


def dropout_experiment(
    dropout_ratio: float = 0.2,
    *,
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

    Both networks start from the same weights and see the same mini-batches.

    Returns:
      ``{'experiment': 'dropout', 'config': {'dataset', 'train_size', 'epochs', 'batch_size',
      'lr', 'hidden', 'dropout_ratio'}, 'epochs' (E,), 'train_acc' (2, E), 'test_acc' (2, E)
      (row 0 without, row 1 with Dropout), 'runs': [{'dropout', 'final_train_acc',
      'final_test_acc', 'gap'} …]}``.

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
    k_init, k_train = jax.random.split(as_key(key))
    train_acc, test_acc, runs = [], [], []
    for use_dropout in (False, True):
        net, params, state = mlp.init(
            k_init, data[0][0].shape[1], list(hidden), 10, use_dropout=use_dropout,
            dropout_ratio=dropout_ratio,
        )  # fmt: skip
        r = train(
            net, params, state, sgd(lr), data, key=k_train, epochs=epochs,
            batch_size=batch_size, progress=progress,
            desc="Dropout" if use_dropout else "no Dropout",
        )  # fmt: skip
        train_acc.append(r.train_acc)
        test_acc.append(r.test_acc)
        runs.append({"dropout": use_dropout, **_summary(r.train_acc, r.test_acc)})
    return {
        "experiment": "dropout",
        "config": {
            **_config(name, train_size, epochs, batch_size, lr, hidden),
            "dropout_ratio": dropout_ratio,
        },
        "epochs": np.arange(1, epochs + 1),
        "train_acc": np.stack(train_acc),
        "test_acc": np.stack(test_acc),
        "runs": runs,
    }


def report(result: dict) -> Report:
    """The table of :func:`weight_decay_experiment`'s or :func:`dropout_experiment`'s result."""
    c = result["config"]
    setting = f"{c['train_size']} training images, {describe_hidden(c['hidden'])}, SGD {c['lr']:g}"
    if result["experiment"] == "weight-decay":
        title = f"Weight decay on {c['dataset']}"
        first, label = "lambda", lambda run: f"{run['lambda']:g}"
    else:
        title = f"Dropout (ratio {c['dropout_ratio']:g}) on {c['dataset']}"
        first, label = "network", lambda run: "with Dropout" if run["dropout"] else "without"
    rows = [
        [label(run), pct(run["final_train_acc"]), pct(run["final_test_acc"]), pct(run["gap"])]
        for run in result["runs"]
    ]
    return Report(
        f"{title} ({setting}, {c['epochs']} epochs)",
        [first, "train acc", "test acc", "gap"],
        rows,
        ["accuracies: means over the last 10% of epochs"],
    )


__all__ = ["dropout_experiment", "report", "weight_decay_experiment"]
