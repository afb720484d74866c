r"""RMSprop's options beyond the book, as optax has them: ``momentum`` and ``centered``.

With momentum α and/or ``centered=True`` (Graves, 2013), RMSprop is optax's (and PyTorch's,
Keras's), computed in optax's order of operations (``scale_by_rms`` or ``scale_by_stddev``,
``scale(−η)``, ``trace``), so it equals ``optax.rmsprop(..., eps_in_sqrt=False)`` bit for bit:

.. math::
    h &\leftarrow (1 - \rho)\, |g|^2 + \rho h, \qquad
    m \leftarrow (1 - \rho)\, g + \rho m \quad (\text{centred only}) \\
    u &= -\eta_t \frac{1}{\sqrt{h - |m|^2} + \varepsilon}\, g
    \quad (\sqrt{h} \text{ when not centred}), \qquad
    v \leftarrow u + \alpha v, \qquad W \leftarrow W + v

(``v = u`` without momentum). :func:`jaxlearn.rmsprop` composes these onto its book rule
(its step scalars, its accumulator dtype and its arguments) when an option is on; this module
is not imported on its own. As in optax, rounding can make :math:`h - |m|^2` slightly negative
for a constant gradient, giving NaN.
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
    Transformation,
    abs_sq,
    as_scalar,
    elementwise_transformation,
)


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


def with_options(book: Transformation, *, momentum: Any, centered: bool) -> Transformation:
    """The book's RMSprop ``book`` (from :func:`jaxlearn.rmsprop`) with optax's options.

    The velocity is kept when ``momentum`` is not a concrete 0. A traced α (from
    ``optax.inject_hyperparams`` under ``jit``) follows the state ``init`` made: with a concrete
    0 there, later injected values have no effect (give a non-zero α at ``init``, or
    ``static_args='momentum'``); with ``centered=False`` that state is the book's.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = with_options(jl.rmsprop(0.01), momentum=0.9, centered=False)
    >>> u, state = opt.update(jnp.ones(1), opt.init(jnp.zeros(1)))
    >>> u.round(4), type(state).__name__, state.velocity.round(4)  # the first step is v = u
    (Array([-0.1], dtype=float32), 'RMSpropVariantState', Array([-0.1], dtype=float32))
    """
    if is_concrete(momentum):
        return _variant(book, momentum, centered, float(np.real(momentum)) != 0.0)
    without = _variant(book, momentum, centered, False) if centered else book
    return _follow_the_state(_variant(book, momentum, centered, True), without)


def _variant(book: Transformation, momentum: Any, centered: bool, velocity: bool):
    decay_rate = book.hyperparams["decay_rate"]

    def scalars(count):
        # optax's (1 − decay) is Python's double-precision one for a Python float: so is this.
        return {
            **book.rule.scalars(count),
            "one_minus_rho": as_scalar(1 - decay_rate),
            "alpha": as_scalar(momentum),
        }

    def leaf(g, h, *rest, lr, rho, one_minus_rho, eps, alpha):
        h = one_minus_rho * abs_sq(g) + rho * h
        new = [h]
        d = h
        if centered:
            m = one_minus_rho * g + rho * rest[0]
            d = h - abs_sq(m)
            new.append(m)
        u = -lr * ((1 / (jnp.sqrt(d) + eps)) * g)
        if velocity:
            u = u + alpha * rest[-1]
            new.append(u)
        return (u, *new)

    slots = ("mean_square",) + ("mean_grad",) * centered + ("velocity",) * velocity
    return elementwise_transformation(
        ElementwiseRule(
            "_".join(("rmsprop", *("centered",) * centered, *("momentum",) * velocity)),
            slots,
            RMSpropVariantState,
            scalars,
            leaf,
            book.hyperparams,
            real_slots=("mean_square",),
            slot_dtypes=book.rule.slot_dtypes[:1] * len(slots),
            native=None,  # the compiled kernel is the book's rule; these run on XLA
        )
    )


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
