"""RMSprop, the book's ``RMSprop``: ``h ← ρ h + (1−ρ) g⊙g ; W ← W − η g / (√h + ε)``."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlearn.optim.base import (
    ElementwiseRule,
    ScalarOrSchedule,
    Transformation,
    as_scalar,
    check_learning_rate,
    check_non_negative,
    check_unit_interval,
    elementwise_transformation,
    learning_rate_at,
)


class RMSpropState(NamedTuple):
    """The update count and ``h``, the decaying mean of squared gradients (zeros at start)."""

    count: jax.Array
    mean_square: jax.Array


def rmsprop(
    lr: ScalarOrSchedule = 0.01, decay_rate: float = 0.99, eps: float = 1e-7
) -> Transformation:
    r"""The book's RMSprop (Tieleman & Hinton, 2012).

    .. math::
        h \leftarrow \rho h + (1 - \rho)\, g \odot g, \qquad
        W \leftarrow W - \eta_t \frac{g}{\sqrt{h} + \varepsilon}

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.01).
      decay_rate: ρ in ``[0, 1)`` (book default 0.99).
      eps: ε ``>= 0``, added outside the square root (book: 1e-7).

    optax equivalent: ``optax.rmsprop(lr, decay=decay_rate, eps=eps, eps_in_sqrt=False)``
    exactly (optax's default ``eps_in_sqrt=True`` puts ε inside the root instead).

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = jl.rmsprop(lr=0.01)
    >>> u, _ = opt.update(jnp.array([1.0]), opt.init(jnp.zeros(1)))
    >>> u.round(4)  # h = 0.01, so the first step is 0.01 · 1 / 0.1
    Array([-0.1], dtype=float32)
    """
    check_learning_rate(lr)
    check_unit_interval("decay_rate", decay_rate)
    check_non_negative("eps", eps)

    def scalars(count):
        return {
            "lr": learning_rate_at(lr, count),
            "rho": as_scalar(decay_rate),
            "eps": as_scalar(eps),
        }

    def leaf(g, h, *, lr, rho, eps):
        h = rho * h + (1 - rho) * g * g
        return -lr * g / (jnp.sqrt(h) + eps), h

    return elementwise_transformation(
        ElementwiseRule("rmsprop", ("mean_square",), RMSpropState, scalars, leaf, native="rmsprop")
    )
