"""The data a run trains on and evaluates on, as named splits of device arrays.

A run takes its data in one of three forms:

- ``((x_train, t_train), (x_test, t_test))``, as :func:`jaxlearn.data.load` returns: the splits
  ``'train'`` and ``'test'``;
- ``(x_train, t_train)``: the split ``'train'`` alone;
- a mapping ``{'train': (x, t), 'valid': (x, t), ...}``: named splits, ``'train'`` required
  (the optimizer benchmark suite passes ``'train'`` and ``'valid'`` while tuning, so the test
  split is not even on the device).

Mini-batches are drawn from ``'train'``; every split named in ``RunConfig.eval_on`` (default:
all of them, in the order given) is evaluated with the model's metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax

from jaxlearn.train.model import Model

Array = jax.Array
#: The split mini-batches are drawn from.
TRAIN = "train"

__all__ = ["TRAIN", "device_splits"]


def _named(data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping):
        if TRAIN not in data:
            raise ValueError(f"data: a mapping of splits needs a {TRAIN!r} split, got {list(data)}")
        return dict(data)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        if isinstance(data[0], (tuple, list)):
            return {TRAIN: data[0], "test": data[1]}
        return {TRAIN: data}
    raise ValueError(
        "data must be ((x_train, t_train), (x_test, t_test)) as jaxlearn.data.load returns, "
        "(x_train, t_train), or a mapping {'train': (x, t), 'valid': (x, t), ...}"
    )


def device_splits(
    data: Any, model: Model, eval_on: tuple[str, ...] | None = None
) -> tuple[tuple[Array, Array], dict[str, tuple[Array, Array]]]:
    """``((x_train, t_train), {split: (x, t)} to evaluate)``, each checked by the model.

    ``eval_on``: the names of the splits to evaluate (None: every split given).

    >>> import jax.numpy as jnp
    >>> from jaxlearn.nn import mlp
    >>> net = mlp.make(2, [3], 2)
    >>> data = {'train': (jnp.ones((4, 2)), jnp.zeros(4)), 'valid': (jnp.ones((2, 2)), jnp.ones(2))}
    >>> train, evaluated = device_splits(data, net, ('valid',))
    >>> train[0].shape, list(evaluated)
    ((4, 2), ['valid'])
    """
    named = _named(data)
    wanted = tuple(named) if eval_on is None else tuple(eval_on)
    missing = [name for name in wanted if name not in named]
    if missing:
        raise ValueError(f"eval_on: no split named {missing[0]!r} in the data ({list(named)})")
    arrays = {}
    for name in dict.fromkeys((TRAIN, *wanted)):
        pair = named[name]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"data[{name!r}]: expected (x, t), got {type(pair).__name__}")
        arrays[name] = model.check_data(pair[0], pair[1], name)
    return arrays[TRAIN], {name: arrays[name] for name in wanted}
