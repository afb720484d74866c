"""Weight decay as the book does it: ½λΣ‖W‖² added to the loss, or λW added to the gradient."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlearn._checks import check_non_negative

Mask = Any  # None, a pytree of bools shaped like params, or params -> such a pytree


def _resolve_mask(params: Any, mask: Mask) -> Any:
    """A pytree of Python bools, one per leaf of ``params``.

    Default: leaves of ndim >= 2 (affine weight matrices, conv kernels), not biases, gamma or
    beta, matching the book, which decays only ``W1 … WL``.
    """
    if mask is None:
        return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)
    if callable(mask):
        mask = mask(params)
    try:
        return jax.tree.map(lambda _, m: m, params, mask)
    except ValueError as e:
        raise ValueError(
            f"mask must be a pytree of bools with the structure of params: {e}"
        ) from None


def l2_penalty(params: Any, lam: float | jax.Array, mask: Mask = None) -> jax.Array:
    """``½ λ Σ ‖W‖²`` over the masked leaves of ``params`` (the book's weight-decay term).

    ``mask=None`` selects leaves with ndim >= 2 (weight matrices; not biases, gamma, beta); a
    pytree of bools or a callable ``params -> bools`` overrides it. Sums run in at least
    float32. Its gradient is ``λW`` on the masked leaves: :func:`add_weight_decay` adds exactly
    that to the gradient instead.

    Example:
        >>> import jax.numpy as jnp
        >>> params = {'W1': jnp.ones((2, 3)), 'b1': jnp.ones(3)}
        >>> print(l2_penalty(params, 0.1))  # 0.5 * 0.1 * 6; the bias is not decayed
        0.3
    """
    check_non_negative("lam", lam)  # a negative λ would reward large weights
    masks = jax.tree.leaves(_resolve_mask(params, mask))
    leaves = jax.tree.leaves(params)
    total = jnp.zeros((), jnp.float32)
    for p, m in zip(leaves, masks, strict=True):
        if m:
            pf = p.astype(jnp.promote_types(p.dtype, jnp.float32))
            total = total + jnp.sum(pf * pf)
    return 0.5 * lam * total


class AddWeightDecayState(NamedTuple):
    """Stateless: weight decay keeps nothing between steps."""


def add_weight_decay(lam: float | jax.Array, mask: Mask = None) -> optax.GradientTransformation:
    """Gradient-side weight decay: ``g ← g + λW`` on masked leaves, as an optax transformation.

    The gradient of :func:`l2_penalty` (coupled L2, applied before the update rule, as the book
    does; not AdamW's decoupled decay). Compose it first:
    ``optax.chain(add_weight_decay(λ), jl.sgd(lr))``. ``update(grads, state, params)`` needs
    ``params`` (ValueError otherwise). Each leaf keeps its dtype.

    optax equivalent: ``optax.add_decayed_weights(λ, mask=...)``; the difference is the default
    mask: optax decays every leaf when ``mask=None``, jaxlearn only leaves of ndim >= 2.

    Example:
        >>> import jax.numpy as jnp
        >>> tx = add_weight_decay(0.1)
        >>> params = {'W': jnp.ones((2, 2)), 'b': jnp.ones(2)}
        >>> grads = {'W': jnp.zeros((2, 2)), 'b': jnp.zeros(2)}
        >>> updates, _ = tx.update(grads, tx.init(params), params)
        >>> print(updates['W'][0], updates['b'])
        [0.1 0.1] [0. 0.]
    """
    check_non_negative("lam", lam)

    def init_fn(params: Any) -> AddWeightDecayState:
        del params
        return AddWeightDecayState()

    def update_fn(updates: Any, state: AddWeightDecayState, params: Any = None):
        if params is None:
            raise ValueError(
                "add_weight_decay needs params: call update(grads, state, params) "
                "(the decay term is λ·W)"
            )
        masks = _resolve_mask(params, mask)
        decayed = jax.tree.map(
            lambda g, p, m: (g + lam * p).astype(g.dtype) if m else g, updates, params, masks
        )
        return decayed, state

    return optax.GradientTransformation(init_fn, update_fn)
