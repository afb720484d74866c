"""One training step of the book's network: forward, loss, gradients, update — one pure function.

The optimizer is given either as a ready ``(init, update)`` pair (its hyper-parameters fixed
when it was built) or as a *rule*: a factory such as ``jl.sgd`` or its name ``'sgd'``, called
as ``rule(lr=lr)`` inside the compiled program. With a rule the learning rate is an ordinary
(traced) argument, so one compiled program serves every learning rate and ``vmap`` can give
each configuration its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

import jax

from jaxlearn.nn import mlp
from jaxlearn.nn.mlp import MLPConfig
from jaxlearn.nn.regularization import l2_penalty
from jaxlearn.optim import RULES, Transformation, apply_updates

Array = jax.Array
#: A ready optimizer (``jl.sgd(0.01)``), a rule factory (``jl.sgd``) or a rule name (``'sgd'``).
OptimizerLike = Union[Transformation, Callable[..., Transformation], str]  # noqa: UP007


def is_transformation(opt: Any) -> bool:
    """True for a ready ``(init, update)`` pair, False for a rule factory or name."""
    return hasattr(opt, "init") and hasattr(opt, "update")


def resolve_optimizer(opt: OptimizerLike) -> Callable[[Any], Transformation]:
    """``lr -> Transformation``: a ready pair ignores ``lr``; a rule is built with it.

    A rule called with ``lr=None`` gets its book default.

    >>> import jax.numpy as jnp
    >>> make = resolve_optimizer('sgd')
    >>> make(0.1).update({'w': jnp.ones(2)}, make(0.1).init({'w': jnp.ones(2)}))[0]['w']
    Array([-0.1, -0.1], dtype=float32)
    """
    if isinstance(opt, str):
        if opt not in RULES:
            raise ValueError(f"opt: unknown update rule {opt!r}; choose from {sorted(RULES)}")
        opt = RULES[opt]
    if is_transformation(opt):
        return lambda lr: opt
    if not callable(opt):
        raise TypeError(
            f"opt must be an (init, update) pair, a rule factory such as jl.sgd, or a rule "
            f"name, got {type(opt).__name__}"
        )
    return lambda lr: opt() if lr is None else opt(lr=lr)


def loss_fn(
    net: MLPConfig,
    params: dict,
    state: dict,
    x: Array,
    t: Array,
    key: Array | None,
    weight_decay: float | Array | None = None,
) -> tuple[Array, dict]:
    """Training loss ``(value, new_state)``: the book's ``loss(train_flg=True)``.

    ``weight_decay`` (λ, may be traced) adds ``½λΣ‖W‖²`` over the weight matrices on top of
    ``net.weight_decay_lambda``, so λ can differ per ``vmap``-ed configuration.

    >>> import jax.numpy as jnp
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> x, t = jnp.ones((2, 4)), jnp.array([0, 1])
    >>> base, _ = loss_fn(net, params, state, x, t, None)
    >>> decayed, _ = loss_fn(net, params, state, x, t, None, weight_decay=0.1)
    >>> bool(decayed > base)
    True
    """
    value, new_state = mlp.loss(net, params, state, x, t, train=True, key=key)
    if weight_decay is not None:
        value = value + l2_penalty(params, weight_decay)  # ndim >= 2 leaves: the W matrices
    return value, new_state


def train_step(
    net: MLPConfig,
    opt: Transformation,
    params: dict,
    state: dict,
    opt_state: Any,
    x: Array,
    t: Array,
    key: Array | None = None,
    weight_decay: float | Array | None = None,
) -> tuple[dict, dict, Any, Array]:
    """One update on the mini-batch ``(x, t)``: ``(params, state, opt_state, loss)``.

    Pure and unjitted (the building block of :func:`make_train_step` and the compiled loops).

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> opt = jl.sgd(0.1)
    >>> x, t = jnp.ones((2, 4)), jnp.array([0, 0])
    >>> params, state, opt_state, l0 = train_step(net, opt, params, state, opt.init(params), x, t)
    >>> *_, l1 = train_step(net, opt, params, state, opt_state, x, t)
    >>> bool(l1 < l0)
    True
    """
    (value, new_state), grads = jax.value_and_grad(loss_fn, argnums=1, has_aux=True)(
        net, params, state, x, t, key, weight_decay
    )
    updates, opt_state = opt.update(grads, opt_state, params)
    return apply_updates(params, updates), new_state, opt_state, value


def make_train_step(
    net: MLPConfig,
    opt: OptimizerLike,
    *,
    weight_decay: float | None = None,
    donate: bool = True,
) -> Callable[..., tuple[dict, dict, Any, Array]]:
    """A jitted ``step(params, state, opt_state, x, t, key=None, lr=None)`` for a Python loop.

    Returns ``(params, state, opt_state, loss)``. With ``donate`` the params, state and
    optimizer state passed in are donated (their buffers reused for the outputs: do not use
    them after the call). ``lr`` is used when ``opt`` is a rule (``jl.sgd`` or ``'sgd'``).
    Dispatching one step at a time from Python is the book's loop; :func:`jaxlearn.train.train`
    runs whole epochs inside one compiled ``lax.scan`` instead, which is several times faster.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> step = make_train_step(net, jl.sgd(0.1))
    >>> opt_state = jl.sgd(0.1).init(params)
    >>> params, state, opt_state, loss = step(params, state, opt_state,
    ...                                       jnp.ones((2, 4)), jnp.array([0, 1]))
    >>> loss.shape
    ()
    """
    make_opt = resolve_optimizer(opt)

    def step(params, state, opt_state, x, t, key=None, lr=None):
        return train_step(net, make_opt(lr), params, state, opt_state, x, t, key, weight_decay)

    return jax.jit(step, donate_argnums=(0, 1, 2) if donate else ())
