"""The settings every training experiment shares, declared once: :class:`Settings`.

The six training experiments (:func:`~jaxlearn.experiments.compare_optimizers`,
:func:`~jaxlearn.experiments.compare_initializers`,
:func:`~jaxlearn.experiments.batchnorm_comparison`,
:func:`~jaxlearn.experiments.weight_decay_experiment`,
:func:`~jaxlearn.experiments.dropout_experiment`,
:func:`~jaxlearn.experiments.hyperparameter_search`) each take their own arguments (the rules,
the weight scales, the λ values, …) and these shared ones, as ``settings=Settings(...)``, as
keywords (``seeds=5, quick=True``), or both (the keywords win). A field left ``None`` takes the
experiment's book value, which its module declares as ``BOOK`` (and what ``quick=True``
changes, as ``QUICK``); a field the experiment has no use for (``lr`` for the optimizer
comparison: each optimizer has its own) is an error, never silently ignored:

>>> from jaxlearn.experiments.optimizers import BOOK, QUICK
>>> s = Settings.of(seeds=3, quick=True).fill(BOOK, QUICK, 'compare_optimizers')
>>> s.seeds, s.iterations, s.batch_size, s.hidden
(3, 500, 128, (100, 100, 100, 100))
>>> Settings(lr=0.1).fill(BOOK, QUICK, 'compare_optimizers')
Traceback (most recent call last):
TypeError: compare_optimizers takes no lr; its settings are seeds, key, dataset, iterations, ...
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax

from jaxlearn.experiments.data import DatasetLike
from jaxlearn.experiments.keys import KeyLike, check_seeds, seed_keys

__all__ = ["Settings"]

#: The fields whose book value differs between experiments (None in ``BOOK``: not taken).
SIZES = ("iterations", "epochs", "train_size", "batch_size", "lr", "hidden")


def _positive_int(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive int, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a training experiment is run with, besides its own arguments.

    Attributes:
      seeds: runs per configuration, trained together in one program; with an int ``key=k``
        the seeds are ``k, k+1, …`` and seed ``i`` is exactly the single-seed run ``key=k+i``.
      key: a PRNG key or an int seed (initial weights, mini-batches, any split of the data).
      dataset: a data set name (``'auto'``: MNIST when its files are found locally, else the
        embedded ``mnist-5k``; ``'mnist'``, ``'fashion-mnist'``, ``'mnist-5k'``), your own
        ``((x_train, t_train), (x_test, t_test))`` arrays (called "your data" in titles), or
        ``(name, arrays)`` to name them.
      iterations: updates per run (the experiments that count updates).
      epochs: passes over the training images (the experiments that count epochs).
      train_size: how many of the training images are used (the first ones).
      batch_size: examples per update.
      lr: the learning rate of the experiment's one SGD (not of a comparison of optimizers).
      hidden: the hidden layers' sizes.
      quick: a shorter run in which the book's outcome still shows (the experiment's ``QUICK``);
        an explicit ``iterations`` or ``epochs`` wins over it.
      progress: draw a progress bar per program (default: when stderr is a terminal).
    """

    seeds: int = 1
    key: KeyLike = 0
    dataset: DatasetLike = "auto"
    iterations: int | None = None
    epochs: int | None = None
    train_size: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    hidden: tuple[int, ...] | None = None
    quick: bool = False
    progress: bool | None = None

    def __post_init__(self) -> None:
        check_seeds(self.seeds)
        for name in ("iterations", "epochs", "train_size", "batch_size"):
            _positive_int(name, getattr(self, name))
        if self.lr is not None and (
            isinstance(self.lr, bool) or not isinstance(self.lr, (int, float))
            or not 0 < self.lr < math.inf
        ):  # fmt: skip
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.hidden is not None:
            if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, Sequence):
                raise ValueError(f"hidden must be a list of layer sizes, got {self.hidden!r}")
            for size in self.hidden:
                _positive_int("hidden: each layer size", size)
            object.__setattr__(self, "hidden", tuple(self.hidden))
        if not isinstance(self.quick, bool):
            raise ValueError(f"quick must be True or False, got {self.quick!r}")

    @classmethod
    def of(cls, settings: Settings | None = None, **fields: Any) -> Settings:
        """``settings`` (or the defaults) with ``fields`` replaced; an unknown name is an error.

        >>> s = Settings.of(Settings(seeds=2), quick=True, hidden=[50, 20])
        >>> s.seeds, s.quick, s.hidden
        (2, True, (50, 20))
        >>> Settings.of(seed=2)
        Traceback (most recent call last):
        TypeError: unknown setting 'seed'; the settings are seeds, key, dataset, iterations, ...
        """
        names = [f.name for f in dataclasses.fields(cls)]
        for name in fields:
            if name not in names:
                raise TypeError(f"unknown setting {name!r}; the settings are {', '.join(names)}")
        if settings is None:
            return cls(**fields)
        if not isinstance(settings, cls):
            raise TypeError(f"settings must be a Settings, got {type(settings).__name__}")
        return dataclasses.replace(settings, **fields) if fields else settings

    def fill(self, book: Settings, quick: Settings, experiment: str) -> Settings:
        """These settings with every size left ``None`` taken from ``quick`` (when ``quick``
        is on and it sets one) or else from ``book``; a size that ``book`` leaves ``None``
        is one ``experiment`` does not take, and giving it is a TypeError."""
        taken = [f.name for f in dataclasses.fields(self)
                 if f.name not in SIZES or getattr(book, f.name) is not None]  # fmt: skip
        values = {}
        for name in SIZES:
            given, default = getattr(self, name), getattr(book, name)
            if default is None:
                if given is not None:
                    raise TypeError(
                        f"{experiment} takes no {name}; its settings are {', '.join(taken)}"
                    )
                continue
            shorter = getattr(quick, name) if self.quick else None
            values[name] = given if given is not None else (shorter or default)
        return dataclasses.replace(self, **values)

    def seed_keys(self) -> tuple[list[jax.Array], list[int]]:
        """``(keys, ids)``: one PRNG key per seed and the seed ids results record
        (see :func:`jaxlearn.experiments.keys.seed_keys`)."""
        return seed_keys(self.key, self.seeds)

    def config(self, dataset: str, train_size: int, **extra: Any) -> dict[str, Any]:
        """The ``config`` a result records: the data set's name, the training images used,
        every size this experiment takes, ``extra``, and ``'seeds'`` (the seed ids)."""
        sizes = {name: getattr(self, name) for name in SIZES if name != "train_size"}
        sizes = {k: list(v) if k == "hidden" else v for k, v in sizes.items() if v is not None}
        return {"dataset": dataset, "train_size": train_size, **sizes, **extra,
                "seeds": self.seed_keys()[1]}  # fmt: skip
