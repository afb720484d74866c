"""AdaGrad, the book's ``AdaGrad``: ``h ← h + g⊙g ; W ← W − η g / (√h + ε)``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlearn.optim.base import (
    ElementwiseRule,
    ScalarOrSchedule,
    Transformation,
    abs_sq,
    as_scalar,
    check_learning_rate,
    check_non_negative,
    check_state_dtype,
    elementwise_transformation,
    learning_rate_at,
)


class AdaGradState(NamedTuple):
    """The update count and ``h``, the running sum of squared gradients (zeros at start)."""

    count: jax.Array
    sum_of_squares: jax.Array


def adagrad(
    lr: ScalarOrSchedule = 0.01, eps: float = 1e-7, *, accumulator_dtype: Any = None
) -> Transformation:
    r"""The book's AdaGrad (Duchi et al., 2011).

    .. math::
        h \leftarrow h + g \odot g, \qquad W \leftarrow W - \eta_t \frac{g}{\sqrt{h} + \varepsilon}

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.01).
      eps: ε ``>= 0``, added *outside* the square root (book: 1e-7, fixed).
      accumulator_dtype: the real dtype ``h`` is stored in (``None``: the parameter's
        precision, the book's); each step computes in the wider of the parameter's and this
        dtype (at least float32) and rounds the new ``h`` to it,
        :math:`h \leftarrow \mathrm{round}_{\,\mathrm{accumulator\_dtype}}(h + |g|^2)`.
        A complex dtype gives ``h`` its precision (complex64: float32). (optax's ``adagrad``
        has no such option.)

    Complex parameters: :math:`h \leftarrow h + g \bar g` (``abs_sq``, real), as in optax;
    ``h`` is stored real (float32 for complex64), where optax keeps it complex with a zero
    imaginary part.

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
        h = h + abs_sq(g)  # g * g for real g
        return -lr * g / (jnp.sqrt(h) + eps), h

    return elementwise_transformation(
        ElementwiseRule(
            "adagrad",
            ("sum_of_squares",),
            AdaGradState,
            scalars,
            leaf,
            {"lr": lr, "eps": eps, "accumulator_dtype": accumulator_dtype},
            real_slots=("sum_of_squares",),
            slot_dtypes=(check_state_dtype("accumulator_dtype", accumulator_dtype),),
            native="adagrad",
        )
    )
