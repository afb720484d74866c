"""Skip updates whose gradients contain NaN or inf: :func:`skip_nonfinite`.

A single NaN in a gradient poisons every accumulator it touches (momentum's velocity, AdaGrad's
``h``, Adam's moments) for the rest of training, silently. :func:`skip_nonfinite` wraps any
update rule (a jaxlearn rule, an optax transformation, an ``optax.chain``) so that such a step
changes nothing: the updates are zeros, the inner rule's state is kept as it was, and counters
in the wrapper's state record what happened. After ``max_consecutive`` non-finite steps in a row
it either lets the step through (``on_limit='apply'``, optax's behaviour) or raises
(``on_limit='raise'``).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jaxlearn._compat import Tracer
from jaxlearn.optim.base import safe_increment

PyTree = Any
OnLimit = Literal["apply", "raise"]

__all__ = ["NonFiniteGradientError", "SkipNonfiniteState", "all_finite", "skip_nonfinite"]


class NonFiniteGradientError(FloatingPointError):
    """Raised by ``skip_nonfinite(..., on_limit='raise')`` when the limit is passed."""


class SkipNonfiniteState(NamedTuple):
    """The state of :func:`skip_nonfinite`.

    Attributes:
      inner_state: the wrapped rule's state (left untouched by a skipped step).
      consecutive: int32, non-finite steps in a row up to now (0 after a finite step).
      skipped: int32, total updates skipped (zeroed) so far.
      nonfinite: int32, total steps with non-finite gradients (skipped or let through).
    """

    inner_state: Any
    consecutive: jax.Array
    skipped: jax.Array
    nonfinite: jax.Array


def all_finite(tree: PyTree) -> jax.Array:
    """A boolean 0-d array: True when every inexact leaf of ``tree`` is free of NaN and inf.

    ``None`` leaves, integer/bool leaves and zero-size arrays count as finite.

    >>> import jax.numpy as jnp
    >>> all_finite({'w': jnp.ones(2), 'b': None}), all_finite([jnp.array([1.0, jnp.inf])])
    (Array(True, dtype=bool), Array(False, dtype=bool))
    """
    ok = jnp.asarray(True)
    for leaf in jax.tree.leaves(tree):
        leaf = jnp.asarray(leaf)
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            ok = jnp.logical_and(ok, jnp.all(jnp.isfinite(leaf)))
    return ok


def _check_args(inner: Any, max_consecutive: Any, on_limit: Any) -> None:
    init, update = getattr(inner, "init", None), getattr(inner, "update", None)
    if not (callable(init) and callable(update)):
        raise TypeError(
            "inner must be an (init, update) pair (a jaxlearn rule or an optax "
            f"GradientTransformation), got {type(inner).__name__}"
        )
    if isinstance(max_consecutive, (bool, np.bool_)) or not isinstance(
        max_consecutive, (int, np.integer)
    ):
        raise TypeError(f"max_consecutive must be an int, got {type(max_consecutive).__name__}")
    if not 0 <= int(max_consecutive) <= np.iinfo(np.int32).max:
        raise ValueError(f"max_consecutive must be in [0, 2**31 - 1], got {max_consecutive!r}")
    if on_limit not in ("apply", "raise"):
        raise ValueError(f"on_limit must be 'apply' or 'raise', got {on_limit!r}")


def _limit_message(consecutive: Any, max_consecutive: int) -> str:
    return (
        f"skip_nonfinite: {int(consecutive)} consecutive steps with NaN/inf gradients, more "
        f"than max_consecutive={max_consecutive} (on_limit='raise')"
    )


def skip_nonfinite(
    inner: optax.GradientTransformation,
    *,
    max_consecutive: int = 10,
    on_limit: OnLimit = "apply",
) -> optax.GradientTransformation:
    """Wrap ``inner`` so that a step with NaN/inf in its gradients changes nothing.

    ``update(grads, state, params=None)``:

    - gradients all finite: ``inner``'s update and new state, ``consecutive`` reset to 0;
    - some NaN/inf, and at most ``max_consecutive`` such steps in a row (this one included):
      the step is *skipped*: every update is ``-0.0`` (so ``apply_updates`` returns the
      parameters bit for bit, ``-0.0`` and NaN included, which ``+0.0`` would not for ``-0.0``),
      ``inner``'s state is returned unchanged (its step count too, so a schedule counts only
      applied steps), and ``consecutive``, ``skipped``, ``nonfinite`` are incremented;
    - the ``max_consecutive + 1``-th non-finite step in a row and any after it:
      ``on_limit='apply'`` lets it through to ``inner`` (``nonfinite`` counts it, ``skipped``
      does not); ``on_limit='raise'`` raises :class:`NonFiniteGradientError`.

    Raising: in eager mode the error is raised directly. Under ``jit``/``vmap``/``scan`` the
    check runs as a host callback (``jax.debug.callback``) that raises; jax re-raises it from
    the jitted call as a ``jax.errors.JaxRuntimeError`` (a ``RuntimeError``) whose message
    contains this one. For an error as a value, use ``on_limit='apply'`` and test
    ``state.consecutive > max_consecutive`` yourself (or under ``checkify``).

    Counters are int32 and saturate at 2**31 - 1. The finiteness test costs one reduction per
    leaf; the inner update runs under ``lax.cond``, so a skipped step does not compute it.
    Composes like any optax transformation: ``skip_nonfinite(optax.chain(...))`` or
    ``optax.chain(clip, skip_nonfinite(jl.adam()))`` (then only ``inner`` is protected).

    optax comparison: ``optax.apply_if_finite(inner, max_consecutive_errors)`` has the same
    skip-and-keep semantics and threshold (``notfinite_count > max_consecutive_errors`` lets
    the step through) with counters ``notfinite_count``, ``last_finite``,
    ``total_notfinite``. Differences: skipped updates here are ``-0.0`` rather than ``+0.0``
    (bit-identical parameters), there is a ``skipped`` counter, and ``on_limit='raise'``.

    Args:
      inner: the update rule to protect.
      max_consecutive: non-finite steps in a row that are skipped (``>= 0``; default 10).
      on_limit: ``'apply'`` (default) or ``'raise'``.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.optim.nonfinite import skip_nonfinite
    >>> opt = skip_nonfinite(jl.sgd(lr=0.1))
    >>> params = {'w': jnp.array([1.0, 2.0])}
    >>> state = opt.init(params)
    >>> updates, state = opt.update({'w': jnp.array([1.0, jnp.nan])}, state, params)
    >>> jl.apply_updates(params, updates)['w'], int(state.skipped)
    (Array([1., 2.], dtype=float32), 1)
    >>> updates, state = opt.update({'w': jnp.array([1.0, 1.0])}, state, params)
    >>> jl.apply_updates(params, updates)['w'], int(state.consecutive)
    (Array([0.9, 1.9], dtype=float32), 0)
    """
    _check_args(inner, max_consecutive, on_limit)
    max_consecutive = int(max_consecutive)
    inner = optax.with_extra_args_support(inner)

    def init(params: PyTree) -> SkipNonfiniteState:
        zero = jnp.zeros([], jnp.int32)
        return SkipNonfiniteState(inner.init(params), zero, zero, zero)

    def update(
        grads: PyTree, state: SkipNonfiniteState, params: PyTree | None = None, **extra: Any
    ) -> tuple[PyTree, SkipNonfiniteState]:
        if not isinstance(state, SkipNonfiniteState):
            raise TypeError(
                "skip_nonfinite: state must be a SkipNonfiniteState (from this "
                f"transformation's init), got {type(state).__name__}"
            )
        finite = all_finite(grads)
        consecutive = jnp.where(finite, 0, safe_increment(state.consecutive)).astype(jnp.int32)
        over = consecutive > max_consecutive
        if on_limit == "raise":
            if isinstance(over, Tracer):

                def _raise_if_over(flag, count):
                    if bool(flag):
                        raise NonFiniteGradientError(_limit_message(count, max_consecutive))

                jax.debug.callback(_raise_if_over, over, consecutive)
            elif bool(over):
                raise NonFiniteGradientError(_limit_message(consecutive, max_consecutive))
        apply = jnp.logical_or(finite, over)

        def do_update(operands):
            g, s, p = operands
            return inner.update(g, s, p, **extra)

        out_shapes = jax.eval_shape(do_update, (grads, state.inner_state, params))

        def skip(operands):
            _, s, _ = operands
            updates = jax.tree.map(lambda a: jnp.full(a.shape, -0.0, a.dtype), out_shapes[0])
            return updates, s

        updates, inner_state = lax.cond(apply, do_update, skip, (grads, state.inner_state, params))
        skipped = jnp.where(apply, state.skipped, safe_increment(state.skipped))
        nonfinite = jnp.where(finite, state.nonfinite, safe_increment(state.nonfinite))
        new_state = SkipNonfiniteState(
            inner_state, consecutive, skipped.astype(jnp.int32), nonfinite.astype(jnp.int32)
        )
        return updates, new_state

    return optax.GradientTransformationExtraArgs(init, update)
