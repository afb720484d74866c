"""Fused optimizer steps: the update and the new parameters in one pass, jit-ready with donation.

An optimizer step is memory-bound: Adam reads W, g, m, v and writes W, m, v, so the time is the
bytes moved. Calling ``update`` and then ``apply_updates`` inside one ``jax.jit`` already lets
XLA fuse them; the helpers here go further:

* :func:`update_and_apply` computes ``W + ΔW`` inside the rule's own per-leaf
  function for jaxlearn's rules, so ``ΔW`` never exists as a separate array; for any other
  optax transformation it falls back to ``update`` then ``apply_updates``;
* :func:`fused_step` and :func:`make_step` return ``jax.jit``-compiled steps that *donate* the
  parameters and optimizer state (``donate_argnums``), so XLA writes the new values into the
  old buffers instead of allocating new ones. Donated inputs are deleted after the call: keep
  using the returned values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

from jaxlearn.optim.base import PyTree, apply_updates


def update_and_apply(
    opt: optax.GradientTransformation,
    grads: PyTree,
    state: Any,
    params: PyTree,
    **extra_args: Any,
) -> tuple[PyTree, Any]:
    r"""One optimizer step, ``(W + ΔW, new_state)``, fused where the rule allows it.

    .. math:: \Delta W, s' = \mathrm{update}(g, s, W), \qquad W' = W + \Delta W

    Equal to ``updates, s' = opt.update(grads, state, params)`` followed by
    ``apply_updates(params, updates)`` (each new parameter keeps its dtype). For jaxlearn's
    rules (anything with an ``update_and_apply`` attribute, e.g. ``jl.adam()`` or
    ``jl.optim.flat(jl.adam())``) the addition happens inside the rule's per-leaf function; for
    other optax transformations (``optax.chain``, ``optax.adam``, ...) it is the plain two-call
    form.
    ``extra_args`` (``value=``, ``grad=``, ...) are passed on to ``opt`` as optax passes them:
    a transformation without extra-args support ignores them
    (``optax.with_extra_args_support``).

    >>> import jax.numpy as jnp, optax, jaxlearn as jl
    >>> update_and_apply = jl.optim.update_and_apply
    >>> params, grads = {'w': jnp.ones(2)}, {'w': jnp.array([1.0, -1.0])}
    >>> opt = jl.sgd(lr=0.5)
    >>> new_params, state = update_and_apply(opt, grads, opt.init(params), params)
    >>> new_params['w']
    Array([0.5, 1.5], dtype=float32)
    >>> other = optax.sgd(0.5)   # any optax transformation works too
    >>> update_and_apply(other, grads, other.init(params), params)[0]['w']
    Array([0.5, 1.5], dtype=float32)
    """
    fused = getattr(opt, "update_and_apply", None)
    if fused is not None:
        return fused(grads, state, params, **extra_args)
    updates, state = optax.with_extra_args_support(opt).update(grads, state, params, **extra_args)
    return apply_updates(params, updates), state


def fused_step(
    opt: optax.GradientTransformation, *, donate: bool = True
) -> Callable[[PyTree, Any, PyTree], tuple[PyTree, Any]]:
    r"""A jitted ``step(params, state, grads) -> (new_params, new_state)`` for ``opt``.

    The body is :func:`update_and_apply`. With ``donate=True`` (the default) ``params`` and
    ``state`` are donated (``jax.jit(..., donate_argnums=(0, 1))``): XLA updates them in place
    and the arrays passed in are deleted afterwards, so always rebind
    ``params, state = step(params, state, grads)``. Gradients are not donated. The function
    compiles once per tree structure/shape/dtype and is reused on every later step.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.optim import fused_step
    >>> opt = jl.adam(lr=0.1)
    >>> step = fused_step(opt)
    >>> params = {'w': jnp.array([1.0, -2.0])}
    >>> state = opt.init(params)
    >>> params, state = step(params, state, {'w': jnp.array([0.5, -0.5])})
    >>> params['w'].round(4)
    Array([ 0.9, -1.9], dtype=float32)
    """

    def step(params: PyTree, state: Any, grads: PyTree) -> tuple[PyTree, Any]:
        return update_and_apply(opt, grads, state, params)

    return jax.jit(step, donate_argnums=(0, 1) if donate else ())


def make_step(
    opt: optax.GradientTransformation,
    loss_fn: Callable[..., jax.Array],
    *,
    donate: bool = True,
) -> Callable[..., tuple[PyTree, Any, jax.Array]]:
    r"""A jitted training step ``step(params, state, *batch) -> (params, state, loss)``.

    .. math:: L = \mathrm{loss\_fn}(W, \mathrm{batch}), \quad g = \partial L / \partial W,
        \quad (W', s') = \mathrm{update\_and\_apply}(g, s, W)

    ``loss_fn(params, *batch)`` returns a scalar; ``params`` may be any pytree, including the
    :class:`~jaxlearn.optim.flat.FlatBuffers` of :func:`~jaxlearn.optim.flat.ravel` (then the
    gradient is taken with respect to the flat buffers directly). ``params`` and ``state`` are
    donated as in :func:`fused_step`.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.optim import make_step
    >>> opt = jl.sgd(lr=0.25)
    >>> step = make_step(opt, lambda p, x: jnp.sum((p['w'] - x) ** 2))
    >>> params = {'w': jnp.zeros(2)}
    >>> state = opt.init(params)
    >>> params, state, loss = step(params, state, jnp.array([2.0, -2.0]))
    >>> params['w'], loss
    (Array([ 1., -1.], dtype=float32), Array(8., dtype=float32))
    """

    def step(params: PyTree, state: Any, *batch: Any) -> tuple[PyTree, Any, jax.Array]:
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        params, state = update_and_apply(opt, grads, state, params)
        return params, state, loss

    return jax.jit(step, donate_argnums=(0, 1) if donate else ())
