"""Adam, the book's ``Adam`` (bias correction folded into the learning rate)."""

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
    check_unit_interval,
    elementwise_transformation,
    learning_rate_at,
    scalar_dtype,
)


class AdamState(NamedTuple):
    """The update count and the first and second moments ``m``, ``v`` (zeros at start)."""

    count: jax.Array
    m: jax.Array
    v: jax.Array


def adam(
    lr: ScalarOrSchedule = 0.001,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-7,
    *,
    mu_dtype: Any = None,
) -> Transformation:
    r"""The book's Adam (Kingma & Ba, 2015).

    .. math::
        m &\leftarrow m + (1 - \beta_1)(g - m), \qquad
        v \leftarrow v + (1 - \beta_2)(g \odot g - v) \\
        \eta'_t &= \eta_t \frac{\sqrt{1 - \beta_2^{\,t}}}{1 - \beta_1^{\,t}}, \qquad
        W \leftarrow W - \eta'_t \frac{m}{\sqrt{v} + \varepsilon}

    with t = 1 on the first update. The bias corrections and powers are computed in float32
    (float64 under x64) whatever the parameters' dtype: in bf16, β2 = 0.999 rounds to 1.0.

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.001).
      beta1: β1 in ``[0, 1)`` (book default 0.9).
      beta2: β2 in ``[0, 1)`` (book default 0.999).
      eps: ε ``>= 0`` (book: 1e-7).
      mu_dtype: the dtype the first moment ``m`` is stored in (``None``: the parameter's, the
        book's), as ``optax.adam(..., mu_dtype=...)``. Each step computes in the wider of the
        parameter's and this dtype (at least float32) and rounds the new ``m`` to it,
        :math:`m \leftarrow \mathrm{round}_{\,\mathrm{mu\_dtype}}(m + (1 - \beta_1)(g - m))`.
        The second moment ``v`` keeps the parameter's dtype whatever ``mu_dtype`` is, as
        optax's ``nu`` does. A complex dtype is stored as asked, for real parameters too (as
        optax does; their updates stay real); complex parameters given a real dtype get the
        complex dtype of its precision (float32: complex64), and a bfloat16/float16 one is a
        ValueError at ``init`` (optax would keep the real part only).

    Complex parameters: ``m`` is complex like ``g`` and
    :math:`v \leftarrow \beta_2 v + (1 - \beta_2)\, g \bar g` is real (``abs_sq``), as in
    optax; ``v`` is stored real (float32 for complex64), where optax keeps it complex with a
    zero imaginary part.

    optax difference: ``optax.adam`` corrects ``m`` and ``v`` themselves and adds ε to the
    corrected root, ``m̂ / (√v̂ + ε)``. Multiplying through, the book's rule is optax's with a
    step-dependent ``ε_t = ε / √(1 − β2^t)``; the two are exactly equal when ε = 0:
    ``jl.adam(lr, b1, b2, eps=0) == optax.adam(lr, b1, b2, eps=0)``.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = jl.adam(lr=0.1)
    >>> params = {'w': jnp.array([1.0, -2.0])}
    >>> updates, state = opt.update({'w': jnp.array([0.5, -0.5])}, opt.init(params), params)
    >>> jl.apply_updates(params, updates)['w'].round(4)  # the first step is ≈ η·sign(g)
    Array([ 0.9, -1.9], dtype=float32)
    """
    check_learning_rate(lr)
    check_unit_interval("beta1", beta1)
    check_unit_interval("beta2", beta2)
    check_non_negative("eps", eps)

    def scalars(count):
        t = (count + 1).astype(scalar_dtype())
        b1, b2 = as_scalar(beta1), as_scalar(beta2)
        lr_t = learning_rate_at(lr, count) * jnp.sqrt(1 - b2**t) / (1 - b1**t)
        return {"lr_t": lr_t, "b1": b1, "b2": b2, "eps": as_scalar(eps)}

    def leaf(g, m, v, *, lr_t, b1, b2, eps):
        m = m + (1 - b1) * (g - m)
        # The book's v + (1 − β2)(g² − v), expanded: with huge g (g² = inf in float32) the
        # book's form computes inf − inf = NaN, the expanded one stays inf and the step is 0.
        v = b2 * v + (1 - b2) * abs_sq(g)  # abs_sq(g) is g * g for real g
        return -lr_t * m / (jnp.sqrt(v) + eps), m, v

    return elementwise_transformation(
        ElementwiseRule(
            "adam",
            ("m", "v"),
            AdamState,
            scalars,
            leaf,
            {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps, "mu_dtype": mu_dtype},
            real_slots=("v",),
            slot_dtypes=(check_state_dtype("mu_dtype", mu_dtype), None),
            native="adam",
        )
    )
