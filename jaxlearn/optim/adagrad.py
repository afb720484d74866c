"""AdaGrad, the book's ``AdaGrad``: ``h ← h + g⊙g ; W ← W − η g / (√h + ε)``."""

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
    elementwise_transformation,
    learning_rate_at,
)


class AdaGradState(NamedTuple):
    """The update count and ``h``, the running sum of squared gradients (zeros at start)."""

    count: jax.Array
    sum_of_squares: jax.Array


def adagrad(lr: ScalarOrSchedule = 0.01, eps: float = 1e-7) -> Transformation:
    r"""The book's AdaGrad (Duchi et al., 2011).

    .. math::
        h \leftarrow h + g \odot g, \qquad W \leftarrow W - \eta_t \frac{g}{\sqrt{h} + \varepsilon}

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.01).
      eps: ε ``>= 0``, added *outside* the square root (book: 1e-7, fixed).

    optax difference: ``optax.adagrad`` starts ``h`` at ``initial_accumulator_value=0.1`` and
    puts ε *inside* the root (``g / √(h + ε)``). With ε = 0 the two agree exactly:
    ``jl.adagrad(lr, eps=0) == optax.adagrad(lr, initial_accumulator_value=0, eps=0)``.
    (With ε = 0, a zero gradient on the first step gives 0/0; the book's ε avoids that.)

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = jl.adagrad(lr=0.5)
    >>> u, _ = opt.update(jnp.array([2.0, -0.1]), opt.init(jnp.zeros(2)))
    >>> u.round(4)  # the first step is -η·sign(g), whatever |g|
    Array([-0.5,  0.5], dtype=float32)
    """
    check_learning_rate(lr)
    check_non_negative("eps", eps)

    def scalars(count):
        return {"lr": learning_rate_at(lr, count), "eps": as_scalar(eps)}

    def leaf(g, h, *, lr, eps):
        h = h + g * g
        return -lr * g / (jnp.sqrt(h) + eps), h

    return elementwise_transformation(
        ElementwiseRule(
            "adagrad", ("sum_of_squares",), AdaGradState, scalars, leaf, native="adagrad"
        )
    )
