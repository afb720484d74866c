"""The update rules on MNIST (the book's ``ch06/optimizer_compare_mnist.py``, figure 6-9).

[100]×4 ReLU network, He initialisation, batch 128, 2000 iterations, each rule at its book
defaults. Expected: SGD is the slowest; Momentum, AdaGrad and Adam learn faster and close
together.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax

from jaxlearn.experiments.common import (
    DatasetLike,
    as_key,
    display,
    final_value,
    get_data,
    smooth_curve,
)
from jaxlearn.experiments.report import Report, describe_hidden, pct
from jaxlearn.nn import mlp
from jaxlearn.optim import RULES
from jaxlearn.train import train

#: The book's four rules (all six: ``tuple(jaxlearn.RULES)``).
BOOK_RULES = ("sgd", "momentum", "adagrad", "adam")
#: Iterations of the full run and of ``quick=True`` (enough for SGD to trail clearly).
ITERATIONS, QUICK_ITERATIONS = 2000, 500


def compare_optimizers(
    rules: Sequence[str] = BOOK_RULES,
    *,
    key: jax.Array | int = 0,
    dataset: DatasetLike = "auto",
    iterations: int | None = None,
    batch_size: int = 128,
    hidden: Sequence[int] = (100, 100, 100, 100),
    quick: bool = False,
    progress: bool | None = None,
) -> dict:
    """Train the same network with each update rule and record the per-iteration loss.

    Every rule starts from the same initial weights and sees the same mini-batches (one key),
    so the curves differ only by the rule. Train/test accuracy is evaluated once, at the end.

    Args:
      rules: rule names from :data:`jaxlearn.RULES`, each at its book defaults.
      key: PRNG key or int seed (initial weights, mini-batches).
      dataset: a data set name or ``((x_train, t_train), (x_test, t_test))`` arrays.
      iterations: updates per rule (default 2000, the book's; 500 with ``quick``).
      batch_size, hidden: the book's 128 and [100]×4.
      quick: the shorter run (``QUICK_ITERATIONS``, 500).
      progress: show a progress bar per rule (default: when stderr is a terminal).

    Returns:
      ``{'experiment': 'optimizers', 'config': {'dataset', 'train_size', 'iterations',
      'batch_size', 'hidden', 'activation', 'weight_init_std'}, 'runs': {rule: {'lr', 'loss'
      (iterations,), 'smoothed_loss' (iterations,), 'final_loss' (mean of the last 5% of the
      smoothed curve), 'train_acc', 'test_acc'}}}``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((64, 784)), rng.integers(0, 10, 64)),
    ...         (rng.random((16, 784)), rng.integers(0, 10, 16)))
    >>> r = compare_optimizers(['sgd'], dataset=data, iterations=20, batch_size=8,
    ...                        hidden=[10], progress=False)
    >>> r['runs']['sgd']['loss'].shape, r['config']['dataset']
    ((20,), 'user')
    """
    unknown = [r for r in rules if r not in RULES]
    if unknown or not rules:
        raise ValueError(f"rules: unknown or empty {list(rules)}; choose from {list(RULES)}")
    iterations = iterations or (QUICK_ITERATIONS if quick else ITERATIONS)
    name, data = get_data(dataset)
    k_init, k_train = jax.random.split(as_key(key))
    net, params, state = mlp.init(k_init, data[0][0].shape[1], list(hidden), 10)
    runs = {}
    for rule in rules:
        opt = RULES[rule]()
        r = train(
            net, params, state, opt, data, key=k_train, iterations=iterations,
            batch_size=batch_size, eval_every=iterations, progress=progress, desc=rule,
        )  # fmt: skip
        smoothed = smooth_curve(r.loss)
        runs[rule] = {
            "lr": float(opt.hyperparams["lr"]),
            "loss": r.loss,
            "smoothed_loss": smoothed,
            "final_loss": final_value(smoothed),
            "train_acc": float(r.train_acc[-1]),
            "test_acc": float(r.test_acc[-1]),
        }
    config = {
        "dataset": name,
        "train_size": len(data[0][0]),
        "iterations": iterations,
        "batch_size": batch_size,
        "hidden": list(hidden),
        "activation": net.activation,
        "weight_init_std": net.weight_init_std,
    }
    return {"experiment": "optimizers", "config": config, "runs": runs}


def report(result: dict) -> Report:
    """The table of :func:`compare_optimizers`' result: one row per rule.

    >>> r = {'config': {'dataset': 'x', 'hidden': [10], 'activation': 'relu',
    ...                 'weight_init_std': 'he', 'batch_size': 8, 'iterations': 20},
    ...      'runs': {'sgd': {'lr': 0.01, 'loss': [2.3], 'final_loss': 1.5, 'train_acc': 0.5,
    ...                       'test_acc': 0.4}}}
    >>> print(report(r).title)
    Update rules on x: [10]x1 ReLU, He init, batch 8, 20 iterations
    """
    c = result["config"]
    runs = result["runs"]
    rows = [
        [display(n), run["lr"], float(run["loss"][0]), run["final_loss"],
         pct(run["train_acc"]), pct(run["test_acc"])]
        for n, run in runs.items()
    ]  # fmt: skip
    slowest = max(runs, key=lambda n: runs[n]["final_loss"])
    return Report(
        f"Update rules on {c['dataset']}: {describe_hidden(c['hidden'])} "
        f"{display(c['activation'])}, {display(c['weight_init_std'])} init, "
        f"batch {c['batch_size']}, {c['iterations']} iterations",
        ["rule", "lr", "first loss", "final loss", "train acc", "test acc"],
        rows,
        [
            "final loss: mean of the last 5% of the smoothed curve; slowest: "
            f"{display(slowest)}"
        ],
    )


__all__ = ["BOOK_RULES", "compare_optimizers", "report"]
