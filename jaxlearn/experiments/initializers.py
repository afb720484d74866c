"""Weight initialisation on MNIST (the book's ``ch06/weight_init_compare.py``, figure 6-15).

[100]×4 ReLU network, SGD η=0.01, batch 128, 2000 iterations; W std 0.01, Xavier (√(1/n)) and
He (√(2/n)). Expected: std 0.01 does not learn (the loss stays at ln 10 ≈ 2.30); He learns
fastest. The three networks train together in one ``vmap``-ed program.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxlearn.experiments.curves import LOSS_RUN_COLUMNS, loss_run, loss_run_cells
from jaxlearn.experiments.data import get_data
from jaxlearn.experiments.display import display
from jaxlearn.experiments.records import TIDY_HEADER, Result, loss_run_rows
from jaxlearn.experiments.report import (
    Report,
    describe_hidden,
    seeds_in_title,
    spread_note,
)
from jaxlearn.experiments.settings import Settings
from jaxlearn.experiments.training import train_runs
from jaxlearn.nn import mlp
from jaxlearn.optim import sgd

#: The book's three initialisations: label → ``weight_init_std`` as ``MultiLayerNetExtend``
#: takes it.
INIT_STDS: dict[str, str | float] = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}
#: The book's settings ([100]×4 ReLU network, SGD η=0.01, batch 128, 2000 iterations) and what
#: ``quick=True`` changes (500 iterations).
BOOK = Settings(iterations=2000, batch_size=128, lr=0.01, hidden=(100,) * 4)
QUICK = Settings(iterations=500)


def compare_initializers(
    inits: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    **overrides: Any,
) -> Result:
    """Train one ReLU network per weight initialisation with SGD; record the loss.

    The configurations (and seeds) train in one ``vmap``-ed program
    (:func:`jaxlearn.train.train_many`); within a seed they see the same mini-batches.

    Args:
      inits: label → a ``weight_init_std`` as the book's network takes it (``'he'``,
        ``'xavier'``, a number) or any initializer with ``jax.nn.initializers``' signature
        ``(key, shape, dtype) -> W`` (``jax.nn.initializers.glorot_normal()``,
        ``jaxlearn.initializers.he()``); default :data:`INIT_STDS`.
      settings, overrides: a :class:`~jaxlearn.experiments.settings.Settings` and/or its fields as
        keywords: ``seeds`` (each its own draw and mini-batches), ``key``, ``dataset``,
        ``iterations``, ``batch_size``, ``lr``, ``hidden``, ``quick``, ``progress``. Defaults:
        :data:`~jaxlearn.experiments.initializers.BOOK` (2000 iterations, batch 128, SGD 0.01,
        [100]×4) and :data:`~jaxlearn.experiments.initializers.QUICK` (500 iterations).

    Returns:
      A :class:`~jaxlearn.experiments.records.Result` ``{'experiment': 'init', 'config':
      {'dataset', 'train_size', 'iterations', 'batch_size', 'lr', 'hidden', 'activation',
      'seeds'}, 'runs': {label: {'std' (the std as given, or the initializer's name), 'loss',
      'smoothed_loss', 'final_loss', 'train_acc', 'test_acc'}}}``, with a leading seed axis
      and a ``'summary'`` (mean, std, min, max of each final) for several seeds, as
      :func:`~jaxlearn.experiments.compare_optimizers` returns them.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((64, 784)), rng.integers(0, 10, 64)),
    ...         (rng.random((16, 784)), rng.integers(0, 10, 16)))
    >>> r = compare_initializers(dataset=data, iterations=20, batch_size=8, hidden=[10],
    ...                          progress=False)
    >>> sorted(r['runs']), r['runs']['He']['loss'].shape
    (['He', 'Xavier', 'std=0.01'], (20,))
    """
    s = Settings.of(settings, **overrides).fill(BOOK, QUICK, "compare_initializers")
    inits = dict(INIT_STDS if inits is None else inits)
    if not inits:
        raise ValueError("inits: empty")
    name, data = get_data(s.dataset)
    keys, _ = s.seed_keys()
    n_in = data[0][0].shape[1]
    nets = [mlp.make(n_in, list(s.hidden), 10, weight_init_std=std) for std in inits.values()]
    # Seed-major: within a seed, the same key (so the same N(0, 1) draw for every scale) and
    # the same mini-batches for every configuration.
    split = [jax.random.split(k) for k in keys]
    stacked = [mlp.init_params(net, k_init) for k_init, _ in split for net in nets]
    params, state = jax.tree.map(lambda *a: jnp.stack(a), *stacked)
    train_keys = jnp.stack([k_train for _, k_train in split for _ in nets])
    r = train_runs(
        nets[0], params, state, sgd(s.lr), data, train_keys, iterations=s.iterations,
        batch_size=s.batch_size, eval_every=s.iterations, progress=s.progress, desc="init",
    )  # fmt: skip
    k = len(nets)
    loss = r.loss.reshape(s.seeds, k, -1)
    train_acc, test_acc = (a[:, -1].reshape(s.seeds, k) for a in (r.train_acc, r.test_acc))
    runs = {
        label: loss_run(loss[:, i], train_acc[:, i], test_acc[:, i], std=_describe(std))
        for i, (label, std) in enumerate(inits.items())
    }
    config = s.config(name, len(data[0][0]), activation=nets[0].activation)
    return Result("init", config, runs=runs)


def _describe(spec: Any) -> str | float:
    """A weight_init_std as a result keeps it: the name or number, or an initializer's name."""
    if callable(spec):
        return getattr(spec, "__qualname__", None) or type(spec).__name__
    return spec


def report(result: dict) -> Report:
    """The table of :func:`compare_initializers`' result: one row per initial weight scale."""
    result = Result.of(result)
    c, seeds = result.config, result.n_seeds
    rows = [
        [label, str(run["std"]), *loss_run_cells(run)]
        for label, run in result["runs"].items()
    ]  # fmt: skip
    notes = ["ln 10 = 2.3026: the loss of a network that has learned nothing", *spread_note(seeds)]
    return Report(
        f"Weight initialisation on {c['dataset']}: {describe_hidden(c['hidden'])} "
        f"{display(c['activation'])}, SGD lr={c['lr']:g}, batch {c['batch_size']}, "
        f"{c['iterations']} iterations{seeds_in_title(seeds)}",
        ["init", "weight_init_std", *LOSS_RUN_COLUMNS],
        rows,
        notes,
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The result as long-format CSV rows (:data:`~jaxlearn.experiments.records.TIDY_HEADER`):
    every run's loss per iteration and its final train/test accuracy, per seed."""
    return TIDY_HEADER, loss_run_rows(result)


__all__ = ["BOOK", "INIT_STDS", "QUICK", "compare_initializers", "report", "tidy"]
