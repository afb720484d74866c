"""Weight decay as the book does it: ½λΣ‖W‖² added to the loss, or λW added to the gradient."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlearn._checks import check_non_negative

Mask = Any  # None, a pytree of bools shaped like params, or params -> such a pytree

__all__ = [
    "AddWeightDecayState",
    "add_weight_decay",
    "decay_mask",
    "is_weight",
    "l2_penalty",
    "with_weight_decay",
]


def is_weight(leaf: Any) -> bool:
    """Whether a parameter leaf is a weight: ndim >= 2 (an affine matrix or a conv kernel).

    The one definition of "the weights" in jaxlearn: weight decay (:func:`l2_penalty`,
    :func:`add_weight_decay`, the network's ``weight_decay_lambda``) acts on these leaves and on
    no others (not biases, ``gamma`` or ``beta``), as the book decays only ``W1 … WL``; the
    network scales exactly these by its initial weight std (:func:`jaxlearn.nn.mlp.init_many`).

    >>> import jax.numpy as jnp
    >>> is_weight(jnp.ones((3, 2))), is_weight(jnp.ones(2))
    (True, False)
    """
    return jnp.ndim(leaf) >= 2


def decay_mask(params: Any) -> Any:
    """A pytree of bools shaped like ``params``: :func:`is_weight` of each leaf.

    >>> import jax.numpy as jnp
    >>> decay_mask({'W1': jnp.ones((2, 2)), 'b1': jnp.ones(2)})
    {'W1': True, 'b1': False}
    """
    return jax.tree.map(is_weight, params)


def _resolve_mask(params: Any, mask: Mask) -> Any:
    """A pytree of Python bools, one per leaf of ``params`` (default: :func:`decay_mask`)."""
    if mask is None:
        return decay_mask(params)
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

    ``mask=None`` selects the weights (:func:`decay_mask`: leaves with ndim >= 2; not biases,
    gamma, beta); a pytree of bools or a callable ``params -> bools`` overrides it. Sums run in
    at least float32. Its gradient is ``λW`` on the masked leaves: :func:`add_weight_decay`
    adds exactly that to the gradient instead.

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

    def update_fn(updates: Any, state: AddWeightDecayState, params: Any = None, **extra_args):
        del extra_args  # accepted and ignored, as optax's transformations do
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

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@functools.cache
def with_weight_decay(
    factory: Callable[..., optax.GradientTransformation],
) -> Callable[..., optax.GradientTransformation]:
    r"""``factory`` with coupled weight decay in front: a factory taking ``weight_decay`` too.

    .. math:: g \leftarrow g + \lambda W \ \text{(the weights)}, \quad
        \text{then } \mathrm{factory}(\dots).\mathrm{update}(g)

    ``with_weight_decay(jl.sgd)(lr=0.01, weight_decay=0.1)`` is
    ``optax.chain(add_weight_decay(0.1), jl.sgd(lr=0.01))``: the book's weight decay (the
    gradient of :func:`l2_penalty`) before the rule. As a factory, λ can be a per-run
    hyper-parameter held in the optimizer state (``train_many(..., hyperparams={'lr': …,
    'weight_decay': …})``). The same ``factory`` always gives the same wrapper, so compiled
    training programs keyed on it are reused.

    optax equivalent: ``optax.chain(optax.add_decayed_weights(λ, mask), factory(...))`` with
    the weights as the mask.

    Example:
        >>> import jax.numpy as jnp, jaxlearn as jl
        >>> opt = with_weight_decay(jl.sgd)(lr=0.5, weight_decay=0.1)
        >>> params = {'W': jnp.ones((1, 2)), 'b': jnp.ones(2)}
        >>> updates, _ = opt.update({'W': jnp.zeros((1, 2)), 'b': jnp.zeros(2)},
        ...                         opt.init(params), params)
        >>> print(updates['W'], updates['b'])
        [[-0.05 -0.05]] [-0. -0.]
    """

    def build(*, weight_decay: float | jax.Array = 0.0, **arguments: Any):
        return optax.chain(add_weight_decay(weight_decay), factory(**arguments))

    build.__name__ = f"with_weight_decay({getattr(factory, '__name__', factory)})"
    return build
