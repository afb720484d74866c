"""Nesterov's accelerated gradient in the book's form (``Nesterov`` in ``common/optimizer.py``)."""

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


class NesterovState(NamedTuple):
    """The update count and the velocity ``v`` (zeros at start)."""

    count: jax.Array
    velocity: jax.Array


def nesterov(
    lr: ScalarOrSchedule = 0.01, momentum: float = 0.9, *, accumulator_dtype: Any = None
) -> Transformation:
    r"""Nesterov momentum, written (as the book does) in terms of the current parameters.

    .. math::
        W \leftarrow W + \alpha^2 v - (1 + \alpha)\,\eta_t\, g, \qquad
        v \leftarrow \alpha v - \eta_t\, g

    The parameter step uses the velocity *before* this step's update. This is the rearranged
    form of "look ahead, then step" (Sutskever et al., 2013; Bengio et al., 2012), and the form
    ``docs/book.md`` states ("Update rules"). Some printings of the book's
    ``common/optimizer.py`` update ``v`` first and then use the new ``v`` in the parameter step,
    which gives
    ``W ← W + α³ v − (1 + α + α²) η g``; that is not Nesterov's method and jaxlearn does not
    reproduce it.

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.01).
      momentum: α in ``[0, 1)`` (book default 0.9).
      accumulator_dtype: the dtype ``v`` is stored in (``None``: the parameter's, the book's);
        each step computes in the wider of the parameter's and this dtype (at least float32)
        and rounds the new ``v`` to it, :math:`v \leftarrow \mathrm{round}_{\,
        \mathrm{accumulator\_dtype}}(\alpha v - \eta_t g)`. A complex dtype is stored as
        asked, for real parameters too; complex parameters given a real dtype get the complex
        dtype of its precision (bfloat16/float16: a ValueError at ``init``). optax:
        ``optax.sgd(..., nesterov=True, accumulator_dtype=...)``.

    Complex parameters: ``v`` is complex like ``g``, as in optax.

    optax equivalent: ``optax.sgd(lr, momentum=momentum, nesterov=True)`` for a constant η
    (optax's trace ``t ← g + α t`` and update ``−η (g + α t)`` expand to the formula above
    with ``v = −η t``).

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = jl.nesterov(lr=0.1)
    >>> state = opt.init(jnp.zeros(1))
    >>> u1, state = opt.update(jnp.ones(1), state)
    >>> u2, state = opt.update(jnp.ones(1), state)
    >>> u1, u2  # -(1.9)(0.1); then 0.81 * -0.1 - 0.19
    (Array([-0.19], dtype=float32), Array([-0.271], dtype=float32))
    """
    check_learning_rate(lr)
    check_unit_interval("momentum", momentum)

    def scalars(count):
        return {"lr": learning_rate_at(lr, count), "alpha": as_scalar(momentum)}

    def leaf(g, v, *, lr, alpha):
        # α²v − (1+α)ηg written as α·v_new − ηg with v_new = αv − ηg: the same number (to
        # rounding), but the step no longer reads the old v after the new one is written, so
        # XLA can update a donated velocity buffer in place instead of copying it first.
        v_new = alpha * v - lr * g
        return alpha * v_new - lr * g, v_new

    return elementwise_transformation(
        ElementwiseRule(
            "nesterov",
            ("velocity",),
            NesterovState,
            scalars,
            leaf,
            {"lr": lr, "momentum": momentum, "accumulator_dtype": accumulator_dtype},
            slot_dtypes=(check_state_dtype("accumulator_dtype", accumulator_dtype),),
            native="nesterov",
        )
    )
