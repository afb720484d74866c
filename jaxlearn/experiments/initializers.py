"""Weight initialisation on MNIST (the book's ``ch06/weight_init_compare.py``, figure 6-15).

[100]×4 ReLU network, SGD η=0.01, batch 128, 2000 iterations; W std 0.01, Xavier (√(1/n)) and
He (√(2/n)). Expected: std 0.01 does not learn (the loss stays at ln 10 ≈ 2.30); He learns
fastest. The three networks train together in one ``vmap``-ed program.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

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
from jaxlearn.optim import sgd
from jaxlearn.train import train_many

#: Label → ``weight_init_std`` as ``MultiLayerNetExtend`` takes it.
INIT_STDS: dict[str, str | float] = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}
ITERATIONS, QUICK_ITERATIONS = 2000, 500


def compare_initializers(
    inits: dict[str, str | float] | None = None,
    *,
    key: jax.Array | int = 0,
    dataset: DatasetLike = "auto",
    iterations: int | None = None,
    batch_size: int = 128,
    lr: float = 0.01,
    hidden: Sequence[int] = (100, 100, 100, 100),
    quick: bool = False,
    progress: bool | None = None,
) -> dict:
    """Train one ReLU network per initial weight scale with SGD; record the loss.

    The configurations train in one ``vmap``-ed program (:func:`jaxlearn.train.train_many`)
    and see the same mini-batches. ``inits`` maps a label to a ``weight_init_std``
    (default :data:`INIT_STDS`).

    Returns:
      ``{'experiment': 'init', 'config': {'dataset', 'train_size', 'iterations', 'batch_size',
      'lr', 'hidden', 'activation'}, 'runs': {label: {'std' (the std string or number), 'loss',
      'smoothed_loss', 'final_loss', 'train_acc', 'test_acc'}}}``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((64, 784)), rng.integers(0, 10, 64)),
    ...         (rng.random((16, 784)), rng.integers(0, 10, 16)))
    >>> r = compare_initializers(dataset=data, iterations=20, batch_size=8, hidden=[10],
    ...                          progress=False)
    >>> sorted(r['runs']), r['runs']['He']['loss'].shape
    (['He', 'Xavier', 'std=0.01'], (20,))
    """
    inits = dict(INIT_STDS if inits is None else inits)
    if not inits:
        raise ValueError("inits: empty")
    iterations = iterations or (QUICK_ITERATIONS if quick else ITERATIONS)
    name, data = get_data(dataset)
    k_init, k_train = jax.random.split(as_key(key))
    n_in = data[0][0].shape[1]
    nets = [mlp.make(n_in, list(hidden), 10, weight_init_std=s) for s in inits.values()]
    # Same draw N(0, 1) for every configuration, scaled by each one's std.
    stacked = [mlp.init_params(n, k_init) for n in nets]
    params, state = jax.tree.map(lambda *a: jnp.stack(a), *stacked)
    keys = jnp.stack([k_train] * len(nets))  # same mini-batches for every configuration
    r = train_many(
        nets[0], params, state, sgd(lr), data, key=keys, iterations=iterations,
        batch_size=batch_size, eval_every=iterations, progress=progress, desc="init",
    )  # fmt: skip
    runs = {}
    for i, (label, std) in enumerate(inits.items()):
        smoothed = smooth_curve(r.loss[i])
        runs[label] = {
            "std": std,
            "loss": r.loss[i],
            "smoothed_loss": smoothed,
            "final_loss": final_value(smoothed),
            "train_acc": float(r.train_acc[i, -1]),
            "test_acc": float(r.test_acc[i, -1]),
        }
    config = {
        "dataset": name,
        "train_size": len(data[0][0]),
        "iterations": iterations,
        "batch_size": batch_size,
        "lr": lr,
        "hidden": list(hidden),
        "activation": nets[0].activation,
    }
    return {"experiment": "init", "config": config, "runs": runs}


def report(result: dict) -> Report:
    """The table of :func:`compare_initializers`' result: one row per initial weight scale."""
    c = result["config"]
    rows = [
        [label, str(run["std"]), float(run["loss"][0]), run["final_loss"],
         pct(run["train_acc"]), pct(run["test_acc"])]
        for label, run in result["runs"].items()
    ]  # fmt: skip
    return Report(
        f"Weight initialisation on {c['dataset']}: {describe_hidden(c['hidden'])} "
        f"{display(c['activation'])}, SGD lr={c['lr']:g}, batch {c['batch_size']}, "
        f"{c['iterations']} iterations",
        ["init", "weight_init_std", "first loss", "final loss", "train acc", "test acc"],
        rows,
        ["ln 10 = 2.3026: the loss of a network that has learned nothing"],
    )


__all__ = ["INIT_STDS", "compare_initializers", "report"]
