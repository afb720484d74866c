"""RMSprop, the book's ``RMSprop``: ``h ← ρ h + (1−ρ) g⊙g ; W ← W − η g / (√h + ε)``.

optax's ``momentum`` and ``centered`` options are composed onto it in
:mod:`jaxlearn.optim.rmsprop_options`; with both off (the defaults) this file's rule runs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn._util import is_concrete
from jaxlearn.optim.base import (
    ElementwiseRule,
    ScalarOrSchedule,
    Transformation,
    as_scalar,
    check_learning_rate,
    check_non_negative,
    check_state_dtype,
    check_unit_interval,
    elementwise_transformation,
    learning_rate_at,
)
from jaxlearn.optim.rmsprop_options import RMSpropVariantState, with_options  # noqa: F401


class RMSpropState(NamedTuple):
    """The update count and ``h``, the decaying mean of squared gradients (zeros at start)."""

    count: jax.Array
    mean_square: jax.Array


def rmsprop(
    lr: ScalarOrSchedule = 0.01,
    decay_rate: float = 0.99,
    eps: float = 1e-7,
    *,
    momentum: float = 0.0,
    centered: bool = False,
    accumulator_dtype: Any = None,
) -> Transformation:
    r"""The book's RMSprop (Tieleman & Hinton, 2012), with optax's momentum and centred options.

    .. math::
        h \leftarrow \rho h + (1 - \rho)\, g \odot g, \qquad
        W \leftarrow W - \eta_t \frac{g}{\sqrt{h} + \varepsilon}

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.01).
      decay_rate: ρ in ``[0, 1)`` (book default 0.99).
      eps: ε ``>= 0``, added outside the square root (book: 1e-7).
      momentum: α in ``[0, 1)``; 0 (the default, the book's) keeps no velocity. Otherwise a
        velocity ``v ← u + α v`` carries the step ``u`` above, as optax's, PyTorch's and
        Keras's ``momentum`` (``jaxlearn/optim/rmsprop_options.py`` has the formulas, and
        what a traced α under ``optax.inject_hyperparams`` does).
      centered: divide by :math:`\sqrt{h - |m|^2} + \varepsilon`, ``m`` the decaying mean of
        ``g`` (Graves, 2013): the gradient's running standard deviation instead of its root
        mean square. PyTorch and Keras ``centered``.
      accumulator_dtype: the dtype ``h`` (and ``m``, ``v``) are stored in (``None``: the
        parameter's precision, the book's). Each step computes in the wider of the parameter's
        and this dtype (at least float32) and rounds each accumulator to it,
        :math:`h \leftarrow \mathrm{round}_{\,\mathrm{accumulator\_dtype}}(\ldots)`. ``h`` is
        real: a complex dtype gives it that precision (complex64: float32); ``m`` and ``v``
        take the complex dtype as optax's first moments do. (optax's ``rmsprop`` has no such
        option.)

    Complex parameters: ``h`` accumulates :math:`g \bar g` (real) and ``m``, ``v`` are complex,
    as in optax; ``h`` is stored real (float32 for complex64), where optax keeps it complex
    with a zero imaginary part.

    optax equivalent: ``optax.rmsprop(lr, decay=decay_rate, eps=eps, eps_in_sqrt=False,
    momentum=momentum or None, centered=centered)`` (optax's default ``eps_in_sqrt=True`` puts
    ε inside the root instead). With both options off the book's order of operations is kept
    (equal to optax to float rounding); with either on, optax's order (equal bit for bit in
    float32 and float64).

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = jl.rmsprop(lr=0.01)
    >>> u, _ = opt.update(jnp.array([1.0]), opt.init(jnp.zeros(1)))
    >>> u.round(4)  # h = 0.01, so the first step is 0.01 · 1 / 0.1
    Array([-0.1], dtype=float32)
    >>> opt = jl.rmsprop(lr=0.01, momentum=0.9)
    >>> state = opt.init(jnp.zeros(1))
    >>> u1, state = opt.update(jnp.array([1.0]), state)
    >>> u2, state = opt.update(jnp.array([1.0]), state)
    >>> u2.round(4)  # 0.9 · (−0.1) + (−0.01 / √0.0199)
    Array([-0.1609], dtype=float32)
    """
    check_learning_rate(lr)
    check_unit_interval("decay_rate", decay_rate)
    check_non_negative("eps", eps)
    check_unit_interval("momentum", momentum)
    if not isinstance(centered, (bool, np.bool_)):
        raise TypeError(f"centered must be a bool, got {type(centered).__name__}")
    acc_dtype = check_state_dtype("accumulator_dtype", accumulator_dtype)

    def scalars(count):
        lr_t = learning_rate_at(lr, count)
        return {"lr": lr_t, "rho": as_scalar(decay_rate), "eps": as_scalar(eps)}

    def leaf(g, h, *, lr, rho, eps):
        # The book's (1 − ρ)·g·g in its order; conj and .real are no-ops for real g.
        h = rho * h + ((1 - rho) * g * jnp.conj(g)).real
        return -lr * g / (jnp.sqrt(h) + eps), h

    hyperparams = {"lr": lr, "decay_rate": decay_rate, "eps": eps, "momentum": momentum,
                   "centered": centered, "accumulator_dtype": accumulator_dtype}  # fmt: skip
    rule = ElementwiseRule("rmsprop", ("mean_square",), RMSpropState, scalars, leaf, hyperparams,
                           real_slots=("mean_square",), slot_dtypes=(acc_dtype,),
                           native="rmsprop")  # fmt: skip
    book = elementwise_transformation(rule)
    if not centered and is_concrete(momentum) and float(np.real(momentum)) == 0.0:
        return book
    return with_options(book, momentum=momentum, centered=centered)
