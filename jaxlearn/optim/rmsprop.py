"""RMSprop, the book's ``RMSprop``: ``h ← ρ h + (1−ρ) g⊙g ; W ← W − η g / (√h + ε)``.

With ``momentum`` and/or ``centered`` it is optax's (and PyTorch's, Keras's) RMSprop with those
options, computed in optax's order.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn._util import is_concrete
from jaxlearn.optim.base import (
    ElementwiseRule,
    PyTree,
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
)


class RMSpropState(NamedTuple):
    """The update count and ``h``, the decaying mean of squared gradients (zeros at start)."""

    count: jax.Array
    mean_square: jax.Array


class RMSpropVariantState(NamedTuple):
    """The state of RMSprop with ``momentum`` and/or ``centered``.

    Attributes:
      count: the update count.
      mean_square: ``h``, the decaying mean of ``|g|²``.
      mean_grad: ``m``, the decaying mean of ``g`` (``centered=True``; None otherwise).
      velocity: ``v``, the momentum buffer in update units (``momentum != 0``; None otherwise).
    """

    count: jax.Array
    mean_square: jax.Array
    mean_grad: Any = None
    velocity: Any = None


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

    With ``momentum`` α > 0 and/or ``centered=True`` (Graves, 2013):

    .. math::
        h &\leftarrow (1 - \rho)\, |g|^2 + \rho h, \qquad
        m \leftarrow (1 - \rho)\, g + \rho m \quad (\text{centred only}) \\
        u &= -\eta_t \frac{1}{\sqrt{h - |m|^2} + \varepsilon}\, g
        \quad (\sqrt{h} \text{ when not centred}), \qquad
        v \leftarrow u + \alpha v, \qquad W \leftarrow W + v

    (``v = u`` without momentum). The centred form divides by the gradient's running standard
    deviation instead of its root mean square.

    Args:
      lr: η, a number ``>= 0`` or a schedule ``step -> η`` (book default 0.01).
      decay_rate: ρ in ``[0, 1)`` (book default 0.99).
      eps: ε ``>= 0``, added outside the square root (book: 1e-7).
      momentum: α in ``[0, 1)``; 0 (the default, the book's) keeps no velocity. A velocity
        ``v`` is kept when α is not a concrete 0 (a traced α from
        ``optax.inject_hyperparams`` under ``jit`` follows the state ``init`` made: with a
        concrete 0 there, later injected values have no effect; give a non-zero α at
        ``init``, or ``static_args='momentum'``). PyTorch ``momentum``, Keras ``momentum``.
      centered: divide by the centred second moment :math:`h - |m|^2` (the variance of the
        gradient), keeping ``m``. PyTorch and Keras ``centered``. As in optax, rounding can
        make :math:`h - |m|^2` slightly negative for a constant gradient, giving NaN.
      accumulator_dtype: the dtype ``h`` (and ``m``, ``v``) are stored in (``None``: the
        parameter's precision, the book's). Each step computes in the wider of the parameter's
        and this dtype (at least float32) and rounds each accumulator to it,
        :math:`h \leftarrow \mathrm{round}_{\,\mathrm{accumulator\_dtype}}(\ldots)`. Complex
        parameters get the complex dtype of this precision for ``m`` and ``v``. (optax's
        ``rmsprop`` has no such option.)

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
        return {
            "lr": learning_rate_at(lr, count),
            "rho": as_scalar(decay_rate),
            "eps": as_scalar(eps),
        }

    def variant_scalars(count):
        # optax's (1 − decay) is Python's double-precision one for a Python float: so is this.
        return {
            **scalars(count),
            "one_minus_rho": as_scalar(1 - decay_rate),
            "alpha": as_scalar(momentum),
        }

    def book_leaf(g, h, *, lr, rho, eps):
        # The book's (1 − ρ)·g·g in its order; conj and .real are no-ops for real g.
        h = rho * h + ((1 - rho) * g * jnp.conj(g)).real
        return -lr * g / (jnp.sqrt(h) + eps), h

    def variant_leaf(with_velocity):
        # optax.rmsprop's order: scale_by_rms / scale_by_stddev, scale(−η), trace.
        def leaf(g, h, *rest, lr, rho, one_minus_rho, eps, alpha):
            h = one_minus_rho * abs_sq(g) + rho * h
            new = [h]
            d = h
            if centered:
                m = one_minus_rho * g + rho * rest[0]
                d = h - abs_sq(m)
                new.append(m)
            u = -lr * ((1 / (jnp.sqrt(d) + eps)) * g)
            if with_velocity:
                u = u + alpha * rest[-1]
                new.append(u)
            return (u, *new)

        return leaf

    def build(with_velocity: bool) -> Transformation:
        if not (centered or with_velocity):
            name, slots, state_cls = "rmsprop", ("mean_square",), RMSpropState
            step_scalars, leaf = scalars, book_leaf
        else:
            slots = ("mean_square",) + ("mean_grad",) * centered + ("velocity",) * with_velocity
            name = "_".join(("rmsprop", *("centered",) * centered, *("momentum",) * with_velocity))
            state_cls, step_scalars, leaf = (
                RMSpropVariantState,
                variant_scalars,
                variant_leaf(with_velocity),
            )
        rule = ElementwiseRule(
            name,
            slots,
            state_cls,
            step_scalars,
            leaf,
            {
                "lr": lr,
                "decay_rate": decay_rate,
                "eps": eps,
                "momentum": momentum,
                "centered": centered,
                "accumulator_dtype": accumulator_dtype,
            },
            real_slots=("mean_square",),
            slot_dtypes=(acc_dtype,) * len(slots),
            # The compiled kernel is the book's rule; the variants run on XLA.
            native="rmsprop" if leaf is book_leaf else None,
        )
        return elementwise_transformation(rule)

    if is_concrete(momentum):
        return build(with_velocity=float(np.real(momentum)) != 0.0)
    return _follow_the_state(build(True), build(False))


def _follow_the_state(with_v: Transformation, without_v: Transformation) -> Transformation:
    """A traced momentum (``optax.inject_hyperparams`` under ``jit``): whether there is a
    velocity was decided by ``init``, where the value was concrete; the state says which."""

    def pick(state: Any) -> Transformation:
        return with_v if getattr(state, "velocity", None) is not None else without_v

    def update(grads: PyTree, state: Any, params: PyTree | None = None, **extra: Any):
        return pick(state).update(grads, state, params, **extra)

    def update_and_apply(grads: PyTree, state: Any, params: PyTree, **extra: Any):
        return pick(state).update_and_apply(grads, state, params, **extra)

    transformation = Transformation(with_v.init, update)
    transformation.rule = with_v.rule
    transformation.hyperparams = with_v.hyperparams
    transformation.update_and_apply = update_and_apply
    return transformation
