"""K runs of one experiment trained as one program: the bridge to :mod:`jaxlearn.train`."""

from __future__ import annotations

from typing import Any

import jax

from jaxlearn.train import train, train_many

__all__ = ["train_runs"]


def train_runs(
    net: Any, params: Any, state: Any, opt: Any, data: Any, keys: jax.Array, **options: Any
) -> Any:
    """K stacked runs (leading axis K on ``params``, ``state``, ``keys`` and any
    ``hyperparams``): one ``train_many`` program, or ``train`` itself when K is 1, so a
    single-seed experiment runs exactly the single-run program. The result always has the K
    axis."""
    if keys.shape[0] > 1:
        return train_many(net, params, state, opt, data, key=keys, **options)
    first = jax.tree.map(lambda a: a[0], (params, state, options.pop("hyperparams", None)))
    r = train(net, first[0], first[1], opt, data, key=keys[0], hyperparams=first[2], **options)
    return r.stacked()
