"""Momentum SGD, the book's ``Momentum``: ``v ← α v − η g ; W ← W + v``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from jaxlearn.optim.base import (
    ElementwiseRule,
    ScalarOrSchedule,
    Transformation,
    as_scalar,
    check_learning_rate,
    check_state_dtype,
    check_unit_interval,
    elementwise_transformation,
    learning_rate_at,
)


class MomentumState(NamedTuple):
    """The update count and the velocity ``v`` (a tree like the params, zeros at start)."""

    count: jax.Array
    velocity: jax.Array


def momentum(
    lr: ScalarOrSchedule = 0.01, momentum: float = 0.9, *, accumulator_dtype: Any = None
) -> Transformation:
    r"""The book's Momentum.

    .. math::
        v \leftarrow \alpha v - \eta_t\, g, \qquad W \leftarrow W + v

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.01).
      momentum: α in ``[0, 1)`` (book default 0.9).
      accumulator_dtype: the dtype ``v`` is stored in (``None``: the parameter's, the book's).
        ``jnp.bfloat16`` halves its memory, ``jnp.float32`` keeps a bf16 model's velocity at
        float32 precision. Each step computes in the wider of the parameter's and this dtype
        (at least float32) and rounds ``v`` to it: :math:`v \leftarrow \mathrm{round}_{\,
        \mathrm{accumulator\_dtype}}(\alpha v - \eta_t g)`. A complex dtype is stored as
        asked, for real parameters too; complex parameters given a real dtype get the complex
        dtype of its precision (bfloat16/float16: a ValueError at ``init``). optax:
        ``optax.sgd(..., accumulator_dtype=...)``.

    Complex parameters: ``v`` is complex like ``g``, as in optax.

    optax equivalent: ``optax.sgd(lr, momentum=momentum)`` for a *constant* η (optax keeps the
    un-scaled trace ``t ← α t + g`` and multiplies by η afterwards, so ``v = −η t``). With a
    schedule the two differ: here η_t scales only the newest gradient, as the book's formula
    says; optax rescales the whole accumulated trace by the current η_t.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = jl.momentum(lr=0.1)
    >>> params, g = jnp.array([1.0]), jnp.array([1.0])
    >>> state = opt.init(params)
    >>> u1, state = opt.update(g, state)
    >>> u2, state = opt.update(g, state)
    >>> u1, u2  # v = -0.1, then 0.9 * -0.1 - 0.1
    (Array([-0.1], dtype=float32), Array([-0.19], dtype=float32))
    """
    check_learning_rate(lr)
    check_unit_interval("momentum", momentum)

    def scalars(count):
        return {"lr": learning_rate_at(lr, count), "alpha": as_scalar(momentum)}

    def leaf(g, v, *, lr, alpha):
        v = alpha * v - lr * g
        return v, v

    return elementwise_transformation(
        ElementwiseRule(
            "momentum",
            ("velocity",),
            MomentumState,
            scalars,
            leaf,
            {"lr": lr, "momentum": momentum, "accumulator_dtype": accumulator_dtype},
            slot_dtypes=(check_state_dtype("accumulator_dtype", accumulator_dtype),),
            native="momentum",
        )
    )
