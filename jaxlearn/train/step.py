"""One training step of a model: forward, loss, gradients, update — one pure function.

The optimizer is an ``(init, update)`` pair whose state holds everything that varies between
runs (a learning rate in the state when it comes from
:func:`jaxlearn.optim.inject_hyperparams`), so the step never takes a learning rate: one compiled
step serves every value, and ``vmap`` over optimizer states gives each configuration its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax
from jax.sharding import PartitionSpec as P

from jaxlearn._compat import shard_map
from jaxlearn.optim.fused import update_and_apply
from jaxlearn.train import distributed
from jaxlearn.train.model import Model

Array = jax.Array


def train_step(
    model: Model,
    opt: optax.GradientTransformation,
    params: dict,
    state: dict,
    opt_state: Any,
    batch: tuple[Array, Array],
    key: Array | None = None,
    axis_name: Any = None,
) -> tuple[dict, dict, Any, Array]:
    r"""One update on the mini-batch ``batch = (x, t)``: ``(params, state, opt_state, loss)``.

    .. math:: L = \mathrm{loss}(W; x, t), \quad g = \partial L / \partial W, \quad
        (W', s') = \mathrm{update\_and\_apply}(g, s, W)

    ``model`` is any :class:`~jaxlearn.train.model.Model`; the loss is its ``loss`` in training
    mode (for the book's network, :func:`jaxlearn.nn.mlp.loss` with its own
    ``weight_decay_lambda``; per-run weight decay belongs to the optimizer, e.g.
    ``optax.chain(jl.add_weight_decay(λ), jl.sgd())``). ``key`` is the step's PRNG key for
    the model's randomness (Dropout). The update goes through the rule's
    fused step where it has one (:func:`jaxlearn.optim.update_and_apply`). Pure and unjitted:
    the building block of :func:`make_train_step` and the compiled loops.

    Data-parallel (``axis_name``, inside ``shard_map`` or ``pmap``; ``x``, ``t`` this device's
    equal share of the global batch, in axis order; params and states replicated): each device
    takes the gradient of its own loss, then the gradients and the loss are averaged with
    ``lax.pmean``, in one collective per dtype
    (:func:`~jaxlearn.train.distributed.pmean_together`); BatchNorm statistics are averaged
    over the axis and Dropout uses the global batch's mask (:func:`jaxlearn.nn.mlp.apply`).
    Every device then applies the same update, the one a single device computes on the whole
    batch. The same code is right under
    ``pmap``, ``shard_map`` and ``shard_map(check_vma=False)``: the gradient is taken with
    respect to a device-varying copy of the params (see
    :func:`jaxlearn.train.distributed.to_varying`).

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.nn import mlp
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> opt = jl.sgd(0.1)
    >>> batch = (jnp.ones((2, 4)), jnp.array([0, 0]))
    >>> params, state, opt_state, l0 = train_step(net, opt, params, state, opt.init(params), batch)
    >>> *_, l1 = train_step(net, opt, params, state, opt_state, batch)
    >>> bool(l1 < l0)
    True
    """
    x, t = batch
    local = params if axis_name is None else distributed.to_varying(params, axis_name)

    def loss(p):
        return model.loss(p, state, x, t, train=True, key=key, axis_name=axis_name)

    (value, new_state), grads = jax.value_and_grad(loss, has_aux=True)(local)
    if axis_name is not None:
        grads, value = distributed.pmean_together((grads, value), axis_name)
    params, opt_state = update_and_apply(opt, grads, opt_state, params)
    return params, new_state, opt_state, value


def make_train_step(
    model: Model,
    opt: optax.GradientTransformation,
    *,
    donate: bool = True,
    mesh: distributed.MeshLike = None,
) -> Callable[..., tuple[dict, dict, Any, Array]]:
    """A jitted ``step(params, state, opt_state, x, t, key=None)`` for a Python loop.

    Returns ``(params, state, opt_state, loss)``. With ``donate`` the params, state and
    optimizer state passed in are donated (their buffers reused for the outputs: do not use
    them after the call). Dispatching one step at a time from Python is the book's loop;
    :func:`jaxlearn.train.train` runs whole epochs inside one compiled ``lax.scan`` instead,
    which is several times faster.

    ``mesh`` (an int N, a sequence of devices or a ``Mesh`` with a ``'data'`` axis): the step
    is data-parallel, a ``shard_map`` of :func:`train_step` with ``axis_name='data'``. Pass
    the *global* batch (its length divisible by the axis size; it is split over the axis) and
    replicated or host params/states (they are replicated onto the mesh); the returned
    params/states are replicated and equal the one-device step's to float rounding.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.nn import mlp
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
    if not (hasattr(opt, "init") and hasattr(opt, "update")):
        raise TypeError(
            f"opt must be an (init, update) pair such as jl.sgd(0.1), got {type(opt).__name__}"
        )
    mesh = distributed.make_mesh(mesh, distributed.DATA)
    donate_argnums = (0, 1, 2) if donate else ()

    if mesh is None:

        def step(params, state, opt_state, x, t, key=None):
            return train_step(model, opt, params, state, opt_state, (x, t), key)

        return jax.jit(step, donate_argnums=donate_argnums)

    data = distributed.DATA
    distributed.require_axes(mesh, (data,), "make_train_step")

    def local(params, state, opt_state, x, t, key):
        return train_step(model, opt, params, state, opt_state, (x, t), key, data)

    rep_, batch = P(), P(data)
    sharded = jax.jit(
        shard_map(
            local, mesh=mesh, in_specs=(rep_, rep_, rep_, batch, batch, rep_), out_specs=rep_
        ),
        donate_argnums=donate_argnums,
    )

    def parallel_step(params, state, opt_state, x, t, key=None):
        params, state, opt_state, key = distributed.replicate((params, state, opt_state, key), mesh)
        x, t = distributed.shard_batch((x, t), mesh, data)
        return sharded(params, state, opt_state, x, t, key)

    return parallel_step
