"""Stochastic gradient descent, the book's ``SGD``: ``W ← W − η g``."""

from __future__ import annotations

from typing import NamedTuple

import jax

from jaxlearn.optim.base import (
    ElementwiseRule,
    ScalarOrSchedule,
    Transformation,
    check_learning_rate,
    elementwise_transformation,
    learning_rate_at,
)


class SGDState(NamedTuple):
    """SGD keeps no accumulator, only the update count (which drives a schedule)."""

    count: jax.Array


def sgd(lr: ScalarOrSchedule = 0.01) -> Transformation:
    r"""The book's SGD.

    .. math:: W \leftarrow W - \eta_t\, g

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.01).

    Returns:
      An ``(init, update)`` pair; ``update`` returns ``-η_t g``.

    optax equivalent: ``optax.sgd(lr)`` exactly, on real and complex parameters alike.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = jl.sgd(lr=0.1)
    >>> params = {'w': jnp.array([1.0, -2.0])}
    >>> updates, state = opt.update({'w': jnp.array([0.5, -0.5])}, opt.init(params), params)
    >>> jl.apply_updates(params, updates)['w']
    Array([ 0.95, -1.95], dtype=float32)
    """
    check_learning_rate(lr)

    def scalars(count):
        return {"lr": learning_rate_at(lr, count)}

    def leaf(g, *, lr):
        return (-lr * g,)

    return elementwise_transformation(
        ElementwiseRule("sgd", (), SGDState, scalars, leaf, {"lr": lr}, native="sgd")
    )
