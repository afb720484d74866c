"""What an experiment returns and writes: the :class:`Result` type and its tidy CSV rows.

Every experiment returns a :class:`Result`: a plain ``dict`` (so ``result['runs']``,
``jaxlearn.results.save_json`` and a JSON file read back all look the same) whose
``'experiment'`` and ``'config'`` are always there, and which answers the questions every
report, figure and CSV asks of it (its seeds, the iteration at each recorded epoch).
``tidy(result)`` of each experiment module turns it into long-format rows, :data:`TIDY_HEADER`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxlearn.train import RunConfig

__all__ = ["TIDY_HEADER", "Result", "curve_rows", "loss_run_rows"]

#: The columns of every training experiment's long-format CSV (``tidy(result)``): one row per
#: measured value, so ``pandas.read_csv`` gives a tidy table to group, filter and plot.
TIDY_HEADER = ("label", "seed", "iteration", "metric", "value")


class Result(dict):
    """An experiment's result: ``{'experiment': name, 'config': {...}, **data}``.

    ``config`` holds the settings the result was made with (the data set's name, the sizes,
    the lengths, ``'seeds'``: the seed of each run); ``data`` is documented by the function
    that returns it. A ``Result`` is a ``dict``: it is indexed, saved and compared as one, and
    :meth:`of` wraps any such mapping (a JSON file read back) to ask it the same questions.

    >>> r = Result('optimizers', {'dataset': 'mnist-5k', 'seeds': [3, 4]}, runs={})
    >>> r['config']['dataset'], r.experiment, r.seeds, r.n_seeds
    ('mnist-5k', 'optimizers', [3, 4], 2)
    >>> leaves, tree = jax.tree.flatten(Result('x', {'seeds': [0]}, loss=np.ones(2)))
    >>> leaves, type(jax.tree.unflatten(tree, leaves)).__name__  # a pytree, as a dict is
    (['x', 0, array([1., 1.])], 'Result')
    """

    def __init__(self, experiment: str, config: Mapping[str, Any], **data: Any):
        super().__init__(experiment=experiment, config=dict(config), **data)

    @classmethod
    def of(cls, result: Mapping[str, Any]) -> Result:
        """``result`` as a :class:`Result` (itself when it is one already).

        >>> Result.of({'experiment': 'paths', 'config': {'steps': 3}}).seeds
        [0]
        """
        if isinstance(result, Result):
            return result
        data = {k: v for k, v in result.items() if k not in ("experiment", "config")}
        return cls(result.get("experiment", ""), result.get("config", {}), **data)

    @property
    def experiment(self) -> str:
        """The experiment's name (``'optimizers'``, ``'init'``, ``'batchnorm'``, …)."""
        return self["experiment"]

    @property
    def config(self) -> dict[str, Any]:
        """The settings the result was made with."""
        return self["config"]

    @property
    def seeds(self) -> list[int]:
        """The seed of each run, ``config['seeds']`` (``[0]`` for a result made without seeds:
        the update paths and the histograms, which draw from one key)."""
        return list(self.config.get("seeds", [0]))

    @property
    def n_seeds(self) -> int:
        """How many seeds each configuration ran with."""
        return len(self.seeds)

    def epoch_ends(self) -> list[int]:
        """The update after which each recorded epoch ended (``result['epochs']`` times an
        epoch's updates), for the results that record accuracy once an epoch.

        An epoch's length is the training loop's own (:class:`jaxlearn.train.RunConfig`: the
        book's ``iter_per_epoch``), asked of it here rather than computed again.

        >>> Result('x', {'train_size': 300, 'batch_size': 100}, epochs=[1, 2]).epoch_ends()
        [3, 6]
        """
        c = self.config
        per_epoch = RunConfig(epochs=1, batch_size=c["batch_size"]).plan(c["train_size"])
        return [int(e) * per_epoch.iterations for e in np.asarray(self["epochs"])]


# A Result is a pytree as the dict it is (jax.tree.map over a result maps its arrays).
jax.tree_util.register_pytree_node(
    Result,
    lambda r: (list(r.values()), list(r.keys())),
    lambda keys, values: Result.of(dict(zip(keys, values))),
)


def curve_rows(
    label: str, seeds: Sequence[int], iterations: Iterable[int], metric: str, values: Any
) -> list[tuple]:
    """Long-format rows ``(label, seed, iteration, metric, value)`` of one curve: ``values`` of
    shape ``(len(iterations),)`` for one seed or ``(len(seeds), len(iterations))``.

    >>> curve_rows('sgd', [0], [1, 2], 'loss', [2.3, 2.1])
    [('sgd', 0, 1, 'loss', 2.3), ('sgd', 0, 2, 'loss', 2.1)]
    """
    iterations = list(iterations)
    v = np.asarray(values, np.float64).reshape(len(seeds), len(iterations))
    return [
        (label, int(seed), int(it), metric, float(x))
        for seed, row in zip(seeds, v)
        for it, x in zip(iterations, row)
    ]


def loss_run_rows(result: Mapping[str, Any]) -> list[tuple]:
    """Long-format rows of a result whose ``runs`` are loss-curve records (the optimizer and
    initialisation comparisons): each run's loss per iteration and its final train and test
    accuracy (at the last iteration), per seed."""
    result = Result.of(result)
    seeds, last = result.seeds, result.config["iterations"]
    rows = []
    for label, run in result["runs"].items():
        rows += curve_rows(label, seeds, range(1, last + 1), "loss", run["loss"])
        for metric in ("train_acc", "test_acc"):
            rows += curve_rows(label, seeds, [last], metric, run[metric])
    return rows
