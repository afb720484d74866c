"""Weight initialisation on MNIST (the book's ``ch06/weight_init_compare.py``, figure 6-15).

[100]×4 ReLU network, SGD η=0.01, batch 128, 2000 iterations; W std 0.01, Xavier (√(1/n)) and
He (√(2/n)). Expected: std 0.01 does not learn (the loss stays at ln 10 ≈ 2.30); He learns
fastest. The three networks train together in one ``vmap``-ed program.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.experiments.common import (
    DatasetLike,
    cell,
    display,
    get_data,
    loss_run,
    seed_keys,
    train_runs,
)
from jaxlearn.experiments.report import TIDY_HEADER, Report, describe_hidden, loss_run_rows, pct
from jaxlearn.nn import mlp
from jaxlearn.optim import sgd

#: The book's three initialisations: label → ``weight_init_std`` as ``MultiLayerNetExtend``
#: takes it.
INIT_STDS: dict[str, str | float] = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}
ITERATIONS, QUICK_ITERATIONS = 2000, 500


def compare_initializers(
    inits: Mapping[str, Any] | None = None,
    *,
    seeds: int = 1,
    key: jax.Array | int = 0,
    dataset: DatasetLike = "auto",
    iterations: int | None = None,
    batch_size: int = 128,
    lr: float = 0.01,
    hidden: Sequence[int] = (100, 100, 100, 100),
    quick: bool = False,
    progress: bool | None = None,
) -> dict:
    """Train one ReLU network per weight initialisation with SGD; record the loss.

    The configurations (and seeds) train in one ``vmap``-ed program
    (:func:`jaxlearn.train.train_many`); within a seed they see the same mini-batches.

    Args:
      inits: label → a ``weight_init_std`` as the book's network takes it (``'he'``,
        ``'xavier'``, a number) or any initializer with ``jax.nn.initializers``' signature
        ``(key, shape, dtype) -> W`` (``jax.nn.initializers.glorot_normal()``,
        ``jaxlearn.initializers.he()``); default :data:`INIT_STDS`.
      seeds: runs per initialisation, each its own draw and mini-batches (seed ``i`` of
        ``key=k`` is the single-seed run ``key=k+i``).
      key, dataset, quick, progress: as in :func:`~jaxlearn.experiments.compare_optimizers`.
      iterations, batch_size, lr, hidden: the book's 2000 (500 with ``quick``), 128, 0.01 and
        [100]×4.

    Returns:
      ``{'experiment': 'init', 'config': {'dataset', 'train_size', 'iterations', 'batch_size',
      'lr', 'hidden', 'activation', 'seeds'}, 'runs': {label: {'std' (the std as given, or the
      initializer's name), 'loss', 'smoothed_loss', 'final_loss', 'train_acc', 'test_acc'}}}``,
      with the seed axis and ``'summary'`` of :func:`~jaxlearn.experiments.common.loss_run`
      for several seeds.

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
    keys, ids = seed_keys(key, seeds)
    n_in = data[0][0].shape[1]
    nets = [mlp.make(n_in, list(hidden), 10, weight_init_std=s) for s in inits.values()]
    # Seed-major: within a seed, the same key (so the same N(0, 1) draw for every scale) and
    # the same mini-batches for every configuration.
    split = [jax.random.split(k) for k in keys]
    stacked = [mlp.init_params(net, k_init) for k_init, _ in split for net in nets]
    params, state = jax.tree.map(lambda *a: jnp.stack(a), *stacked)
    train_keys = jnp.stack([k_train for _, k_train in split for _ in nets])
    r = train_runs(
        nets[0], params, state, sgd(lr), data, train_keys, iterations=iterations,
        batch_size=batch_size, eval_every=iterations, progress=progress, desc="init",
    )  # fmt: skip
    k = len(nets)
    loss = r.loss.reshape(seeds, k, -1)
    train_acc, test_acc = (a[:, -1].reshape(seeds, k) for a in (r.train_acc, r.test_acc))
    runs = {
        label: loss_run(loss[:, i], train_acc[:, i], test_acc[:, i], std=_describe(std))
        for i, (label, std) in enumerate(inits.items())
    }
    config = {
        "dataset": name,
        "train_size": len(data[0][0]),
        "iterations": iterations,
        "batch_size": batch_size,
        "lr": lr,
        "hidden": list(hidden),
        "activation": nets[0].activation,
        "seeds": ids,
    }
    return {"experiment": "init", "config": config, "runs": runs}


def _describe(spec: Any) -> str | float:
    """A weight_init_std as a result keeps it: the name or number, or an initializer's name."""
    if callable(spec):
        return getattr(spec, "__qualname__", None) or type(spec).__name__
    return spec


def report(result: dict) -> Report:
    """The table of :func:`compare_initializers`' result: one row per initial weight scale."""
    c = result["config"]
    rows = [
        [label, str(run["std"]), f"{float(np.mean(np.asarray(run['loss'])[..., 0])):.4g}",
         cell(run, "final_loss", lambda v: f"{v:.4g}"), cell(run, "train_acc", pct),
         cell(run, "test_acc", pct)]
        for label, run in result["runs"].items()
    ]  # fmt: skip
    seeds = len(c.get("seeds", [0]))
    notes = ["ln 10 = 2.3026: the loss of a network that has learned nothing"]
    if seeds > 1:
        notes.append(f"± : standard deviation over the {seeds} seeds")
    return Report(
        f"Weight initialisation on {c['dataset']}: {describe_hidden(c['hidden'])} "
        f"{display(c['activation'])}, SGD lr={c['lr']:g}, batch {c['batch_size']}, "
        f"{c['iterations']} iterations" + (f", {seeds} seeds" if seeds > 1 else ""),
        ["init", "weight_init_std", "first loss", "final loss", "train acc", "test acc"],
        rows,
        notes,
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The result as long-format CSV rows (:data:`~jaxlearn.experiments.report.TIDY_HEADER`):
    every run's loss per iteration and its final train/test accuracy, per seed."""
    return TIDY_HEADER, loss_run_rows(result)


__all__ = ["INIT_STDS", "compare_initializers", "report", "tidy"]
