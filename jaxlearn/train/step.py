"""One training step of the book's network: forward, loss, gradients, update — one pure function.

The optimizer is given either as a ready ``(init, update)`` pair (its hyper-parameters fixed
when it was built) or as a *rule*: a factory such as ``jl.sgd`` or its name ``'sgd'``, called
as ``rule(lr=lr)`` inside the compiled program. With a rule the learning rate is an ordinary
(traced) argument, so one compiled program serves every learning rate and ``vmap`` can give
each configuration its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Union

import jax
from jax.sharding import PartitionSpec as P

from jaxlearn._compat import shard_map
from jaxlearn.nn import mlp
from jaxlearn.nn.mlp import MLPConfig
from jaxlearn.nn.regularization import l2_penalty
from jaxlearn.optim import RULES, Transformation, apply_updates
from jaxlearn.train import distributed

Array = jax.Array
#: A ready optimizer (``jl.sgd(0.01)`` or any optax transformation), a factory
#: (``jl.sgd``, ``optax.adam``) or a rule name (``'sgd'``).
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
    >>> import optax  # optax factories work too: their rate is called learning_rate
    >>> resolve_optimizer(optax.adam)(1e-3).update({'w': jnp.ones(2)},
    ...     optax.adam(1e-3).init({'w': jnp.ones(2)}))[0]['w'].round(4)
    Array([-0.001, -0.001], dtype=float32)
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
    # jaxlearn's factories call the rate ``lr``; optax's (optax.adam, optax.sgd, ...) call it
    # ``learning_rate`` and have no default, so both spellings are accepted.
    try:
        names = inspect.signature(opt).parameters
    except (TypeError, ValueError):  # builtins without a signature: assume jaxlearn's name
        names = {"lr": None}
    if "lr" in names:
        return lambda lr: opt() if lr is None else opt(lr=lr)
    if "learning_rate" in names:

        def build(lr):
            if lr is None:
                raise ValueError(
                    f"opt: {getattr(opt, '__name__', opt)} needs lr= (optax "
                    f"factories have no default learning rate)"
                )
            return opt(learning_rate=lr)

        return build
    raise TypeError(
        f"opt: the factory {getattr(opt, '__name__', opt)} takes neither lr nor learning_rate"
    )


def loss_fn(
    net: MLPConfig,
    params: dict,
    state: dict,
    x: Array,
    t: Array,
    key: Array | None,
    weight_decay: float | Array | None = None,
    axis_name: Any = None,
) -> tuple[Array, dict]:
    """Training loss ``(value, new_state)``: the book's ``loss(train_flg=True)``.

    ``weight_decay`` (λ, may be traced) adds ``½λΣ‖W‖²`` over the weight matrices on top of
    ``net.weight_decay_lambda``, so λ can differ per ``vmap``-ed configuration.
    ``axis_name``: ``x``/``t`` are this device's rows of a global batch (see
    :func:`jaxlearn.nn.mlp.apply`); the value is this device's loss.

    >>> import jax.numpy as jnp
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> x, t = jnp.ones((2, 4)), jnp.array([0, 1])
    >>> base, _ = loss_fn(net, params, state, x, t, None)
    >>> decayed, _ = loss_fn(net, params, state, x, t, None, weight_decay=0.1)
    >>> bool(decayed > base)
    True
    """
    value, new_state = mlp.loss(net, params, state, x, t, train=True, key=key, axis_name=axis_name)
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
    axis_name: Any = None,
) -> tuple[dict, dict, Any, Array]:
    """One update on the mini-batch ``(x, t)``: ``(params, state, opt_state, loss)``.

    Pure and unjitted (the building block of :func:`make_train_step` and the compiled loops).

    Data-parallel (``axis_name``, inside ``shard_map`` or ``pmap``; ``x``, ``t`` this device's
    equal share of the global batch, in axis order; params and states replicated): each device
    takes the gradient of its own loss, then the gradients and the loss are averaged with
    ``lax.pmean``; BatchNorm statistics are averaged over the axis and Dropout uses the global
    batch's mask (:func:`jaxlearn.nn.mlp.apply`). Every device then applies the same update,
    the one a single device computes on the whole batch. The same code is right under
    ``pmap``, ``shard_map`` and ``shard_map(check_vma=False)``: the gradient is taken with
    respect to a device-varying copy of the params (see
    :func:`jaxlearn.train.distributed.to_varying`).

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> opt = jl.sgd(0.1)
    >>> x, t = jnp.ones((2, 4)), jnp.array([0, 0])
    >>> params, state, opt_state, l0 = train_step(net, opt, params, state, opt.init(params), x, t)
    >>> *_, l1 = train_step(net, opt, params, state, opt_state, x, t)
    >>> bool(l1 < l0)
    True
    """
    local = params if axis_name is None else distributed.to_varying(params, axis_name)
    (value, new_state), grads = jax.value_and_grad(loss_fn, argnums=1, has_aux=True)(
        net, local, state, x, t, key, weight_decay, axis_name
    )
    if axis_name is not None:
        grads, value = jax.lax.pmean((grads, value), axis_name)
    updates, opt_state = opt.update(grads, opt_state, params)
    return apply_updates(params, updates), new_state, opt_state, value


def make_train_step(
    net: MLPConfig,
    opt: OptimizerLike,
    *,
    weight_decay: float | None = None,
    donate: bool = True,
    mesh: distributed.MeshLike = None,
) -> Callable[..., tuple[dict, dict, Any, Array]]:
    """A jitted ``step(params, state, opt_state, x, t, key=None, lr=None)`` for a Python loop.

    Returns ``(params, state, opt_state, loss)``. With ``donate`` the params, state and
    optimizer state passed in are donated (their buffers reused for the outputs: do not use
    them after the call). ``lr`` is used when ``opt`` is a rule (``jl.sgd`` or ``'sgd'``).
    Dispatching one step at a time from Python is the book's loop; :func:`jaxlearn.train.train`
    runs whole epochs inside one compiled ``lax.scan`` instead, which is several times faster.

    ``mesh`` (an int N, a sequence of devices or a ``Mesh`` with a ``'data'`` axis): the step
    is data-parallel, a ``shard_map`` of :func:`train_step` with ``axis_name='data'``. Pass
    the *global* batch (its length divisible by the axis size; it is split over the axis) and
    replicated or host params/states (they are replicated onto the mesh); the returned
    params/states are replicated and equal the one-device step's to float rounding.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> step = make_train_step(net, jl.sgd(0.1))
    >>> opt_state = jl.sgd(0.1).init(params)
    >>> params, state, opt_state, loss = step(params, state, opt_state,
    ...                                       jnp.ones((2, 4)), jnp.array([0, 1]))
    >>> loss.shape
    ()
    >>> step1 = make_train_step(net, jl.sgd(0.1), mesh=1)  # data-parallel over 1 device
    >>> step1(params, state, opt_state, jnp.ones((2, 4)), jnp.array([0, 1]))[3].shape
    ()
    """
    make_opt = resolve_optimizer(opt)
    mesh = distributed.make_mesh(mesh, distributed.DATA)
    donate_argnums = (0, 1, 2) if donate else ()

    if mesh is None:

        def step(params, state, opt_state, x, t, key=None, lr=None):
            return train_step(net, make_opt(lr), params, state, opt_state, x, t, key, weight_decay)

        return jax.jit(step, donate_argnums=donate_argnums)

    data = distributed.DATA
    if data not in mesh.axis_names:
        raise ValueError(f"mesh: needs a {data!r} axis, got axes {mesh.axis_names}")

    def local(params, state, opt_state, x, t, key, lr):
        return train_step(
            net, make_opt(lr), params, state, opt_state, x, t, key, weight_decay, data
        )

    rep_, batch = P(), P(data)
    sharded = jax.jit(
        shard_map(
            local, mesh=mesh, in_specs=(rep_, rep_, rep_, batch, batch, rep_, rep_),
            out_specs=rep_,
        ),
        donate_argnums=donate_argnums,
    )  # fmt: skip

    def parallel_step(params, state, opt_state, x, t, key=None, lr=None):
        params, state, opt_state, key, lr = distributed.replicate(
            (params, state, opt_state, key, lr), mesh
        )
        x, t = distributed.shard_batch((x, t), mesh, data)
        return sharded(params, state, opt_state, x, t, key, lr)

    return parallel_step
