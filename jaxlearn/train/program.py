"""The one compiled training program that :func:`~jaxlearn.train.train` and
:func:`~jaxlearn.train.train_many` run, on one device or on a mesh.

A call of the program runs ``blocks_per_call`` blocks; a block is ``block_len`` updates (a
``lax.scan`` over mini-batches drawn on device) followed, when the plan says so, by a
train/test accuracy evaluation on device. ``train_many``'s program is the same one under
``vmap``; with a mesh it is wrapped in ``shard_map``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from jaxlearn._compat import shard_map
from jaxlearn.nn import mlp
from jaxlearn.nn.mlp import MLPConfig
from jaxlearn.train import distributed
from jaxlearn.train.batches import batch_with_replacement, batch_without_replacement
from jaxlearn.train.config import Plan, RunConfig
from jaxlearn.train.distributed import DATA, TRIALS
from jaxlearn.train.step import train_step

Array = jax.Array


class Carry(NamedTuple):
    """What the compiled loop carries from update to update (donated between calls).

    ``perm`` is the epoch's permutation when drawing without replacement, else an unused
    1-element array (jax 0.11.2's XLA:CPU crashes on a 0-element scan carry in shard_map).
    """

    params: Any
    state: Any
    opt_state: Any
    perm: Array


class Layout(NamedTuple):
    """The static shape of a program: all that its compilation depends on besides net and opt."""

    batch_size: int
    replace: bool
    plan: Plan
    vmapped: bool
    share_batches: bool
    mesh: Mesh | None

    @classmethod
    def of(cls, config: RunConfig, plan: Plan, vmapped: bool, mesh: Mesh | None) -> Layout:
        return cls(config.batch_size, config.replace, plan, vmapped, config.share_batches, mesh)


def _step_body(net: MLPConfig, opt: Any, key: Array, data: tuple, layout: Layout, axis) -> Callable:
    """The ``lax.scan`` body: draw iteration i's batch from ``key``, update once.

    With ``axis`` (inside ``shard_map``) every device draws the same global batch from the
    replicated key and keeps its equal share of the indices, in axis order.
    """
    x, t = data[0], data[1]
    n = x.shape[0]
    # Separate streams for batches and Dropout masks, each folded with the iteration number.
    k_data, k_drop = jax.random.split(key)

    def step(carry: Carry, i: Array) -> tuple[Carry, Array]:
        perm = carry.perm
        if layout.replace:
            idx = batch_with_replacement(k_data, i, n, layout.batch_size)
        else:
            idx, perm = batch_without_replacement(k_data, i, perm, n, layout.batch_size)
        if axis is not None:
            idx = distributed.local_rows(idx, axis)
        drop_key = jax.random.fold_in(k_drop, i) if net.use_dropout else None
        params, state, opt_state, value = train_step(
            net, opt, carry.params, carry.state, carry.opt_state, (x[idx], t[idx]), drop_key, axis
        )
        return Carry(params, state, opt_state, perm), value

    return step


@functools.lru_cache(maxsize=32)
def program(net: MLPConfig, opt: Any, layout: Layout) -> Callable:
    """The jitted ``run(carry, key, first_block, data) -> (carry, losses, accuracies)``.

    Cached on ``(net, opt, layout)``, so repeated runs (a sequential search, a benchmark, a
    new learning rate held in the optimizer state) compile once. ``data`` is
    ``(x_train, t_train, x_test, t_test)`` (test arrays None when absent); ``accuracies`` has
    one ``(train, test)`` row per block (zeros when the plan does not evaluate).
    """
    plan, mesh = layout.plan, layout.mesh
    data_axis = DATA if distributed.axis_size(mesh, DATA) > 1 else None
    has_trials = mesh is not None and TRIALS in mesh.axis_names
    trial_axis = TRIALS if layout.vmapped and has_trials else None

    def run_one(carry: Carry, key: Array, first_block: Array, data: tuple):
        step = _step_body(net, opt, key, data, layout, data_axis)

        def block(carry: Carry, b: Array):
            its = b * plan.block_len + jnp.arange(plan.block_len)
            carry, losses = jax.lax.scan(step, carry, its)
            accs = jnp.zeros((2,), jnp.float32)
            if plan.evaluate:
                x, t, xt, tt = data

                def acc(xs, ts):
                    return mlp.accuracy(
                        net, carry.params, carry.state, xs, ts, axis_name=data_axis
                    )

                train_acc = acc(x, t)
                test_acc = jnp.nan if xt is None else acc(xt, tt)
                accs = jnp.stack([train_acc, jnp.asarray(test_acc, train_acc.dtype)])
            return carry, (losses, accs)

        blocks = first_block + jnp.arange(plan.blocks_per_call)
        carry, (losses, accs) = jax.lax.scan(block, carry, blocks)
        return carry, losses.reshape(-1), accs

    key_axis = None if layout.share_batches else 0
    fn = jax.vmap(run_one, in_axes=(0, key_axis, None, None)) if layout.vmapped else run_one
    if mesh is not None:
        spec = P(trial_axis) if trial_axis else P()
        key_spec = spec if layout.vmapped and not layout.share_batches else P()
        fn = shard_map(
            fn, mesh=mesh, in_specs=(spec, key_spec, P(), P()), out_specs=(spec, spec, spec)
        )
    return jax.jit(fn, donate_argnums=(0,))
