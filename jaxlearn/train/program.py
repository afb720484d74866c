"""The one compiled training program that :func:`~jaxlearn.train.train` and
:func:`~jaxlearn.train.train_many` run, on one device or on a mesh.

A call of the program runs ``blocks_per_call`` blocks; a block is ``block_len`` updates (a
``lax.scan`` over mini-batches drawn on device) followed, when the plan says so, by an
evaluation of the model's metrics on each evaluated split, on device. ``train_many``'s program
is the same one under ``vmap``; with a mesh it is wrapped in ``shard_map``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from jaxlearn.train import distributed
from jaxlearn.train.batches import batch_with_replacement, batch_without_replacement
from jaxlearn.train.config import Plan, RunConfig
from jaxlearn.train.distributed import DATA, TRIALS
from jaxlearn.train.model import Model, evaluate
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


#: RunConfig fields that change only what is shown, never the compiled program.
_PRESENTATION = {"progress": None, "desc": None}


class Layout(NamedTuple):
    """What a program's compilation depends on besides net and opt: the run's settings (every
    RunConfig field but the presentational ones, so a new option keys the cache by itself),
    its plan, and whether it trains K configurations under ``vmap``."""

    config: RunConfig
    plan: Plan
    vmapped: bool

    @classmethod
    def of(cls, config: RunConfig, plan: Plan, vmapped: bool) -> Layout:
        return cls(dataclasses.replace(config, **_PRESENTATION), plan, vmapped)


def _step_body(
    model: Model, opt: Any, key: Array, train: tuple, layout: Layout, axis
) -> tuple[Callable, Callable]:
    """The ``lax.scan`` body, ``step(carry, (i, idx))``: iteration i's batch, one update; and
    ``draws(its)``, the ``idx`` of a block's iterations.

    With replacement the block's batches are drawn before its scan, in one vectorised call (the
    indices each step would draw, since each is a function of ``(key, i)`` alone; measured on
    the book's network, 2 % of a step's time when drawn inside the step); without, each step
    draws from the carried epoch permutation (``idx`` None). With ``axis`` (inside
    ``shard_map``) every device draws the same global batch from the replicated key and keeps
    its equal share of the indices, in axis order.
    """
    x, t = train
    n = x.shape[0]
    config = layout.config
    # Separate streams for batches and the model's randomness (Dropout), each folded with the
    # iteration number.
    k_data, k_step = jax.random.split(key)

    def draws(its: Array) -> Array | None:
        if not config.replace:
            return None
        return jax.vmap(lambda i: batch_with_replacement(k_data, i, n, config.batch_size))(its)

    def step(carry: Carry, xs: tuple) -> tuple[Carry, Array]:
        i, idx = xs
        perm = carry.perm
        if idx is None:
            idx, perm = batch_without_replacement(k_data, i, perm, n, config.batch_size)
        if axis is not None:
            idx = distributed.local_rows(idx, axis)
        step_key = jax.random.fold_in(k_step, i)
        params, state, opt_state, value = train_step(
            model, opt, carry.params, carry.state, carry.opt_state, (x[idx], t[idx]), step_key,
            axis,
        )  # fmt: skip
        return Carry(params, state, opt_state, perm), value

    return step, draws


@functools.lru_cache(maxsize=32)
def program(model: Model, opt: Any, layout: Layout) -> Callable:
    """The jitted ``run(carry, key, first_block, data) -> (carry, losses, metrics)``.

    Cached on ``(model, opt, layout)``, so repeated runs (a sequential search, a benchmark, a
    new learning rate held in the optimizer state) compile once. ``data`` is ``(train,
    evaluated)``: the training split's ``(x, t)`` and ``{split: (x, t)}`` to evaluate;
    ``metrics`` is ``{split: {metric: one value per block}}`` (empty when the plan does not
    evaluate).
    """
    plan, mesh, share_batches = layout.plan, layout.config.mesh, layout.config.share_batches
    chunk = layout.config.eval_batch_size
    data_axis = DATA if distributed.axis_size(mesh, DATA) > 1 else None
    has_trials = mesh is not None and TRIALS in mesh.axis_names
    trial_axis = TRIALS if layout.vmapped and has_trials else None

    def run_one(carry: Carry, key: Array, first_block: Array, data: tuple):
        train, evaluated = data
        step, draws = _step_body(model, opt, key, train, layout, data_axis)

        def block(carry: Carry, b: Array):
            its = b * plan.block_len + jnp.arange(plan.block_len)
            carry, losses = jax.lax.scan(step, carry, (its, draws(its)))
            metrics = {}
            if plan.evaluate:
                metrics = {
                    name: evaluate(model, carry.params, carry.state, xs, ts, chunk=chunk,
                                   axis_name=data_axis)
                    for name, (xs, ts) in evaluated.items()
                }  # fmt: skip
            return carry, (losses, metrics)

        blocks = first_block + jnp.arange(plan.blocks_per_call)
        carry, (losses, metrics) = jax.lax.scan(block, carry, blocks)
        return carry, losses.reshape(-1), metrics

    fn = run_one
    if layout.vmapped:
        fn = _vmapped(run_one, share_batches, layout.config.trials_at_once)
    if mesh is not None:
        spec = P(trial_axis) if trial_axis else P()
        key_spec = spec if layout.vmapped and not share_batches else P()
        fn = distributed.on_mesh(fn, mesh, spec, key_spec, layout.config.shard_opt_state)
    return jax.jit(fn, donate_argnums=(0,))


def _vmapped(run_one: Callable, shared: bool, at_once: int | None) -> Callable:
    """``run_one`` over K configurations: one ``vmap``, or with ``at_once`` a ``lax.map`` over
    groups of that many, each group one ``vmap`` (the same values; a group's activations stay
    in cache where K copies of a convolutional network's would not).

    With one ``shared`` key the epoch's permutation is the same for every
    configuration, so it enters unbatched: the batch is then gathered once, not K times, and a
    first layer's products over the K configurations become one product with the shared batch.
    The carry keeps its (K, n) ``perm`` outside, so its layout does not depend on the sharing.
    """
    if shared:
        return _shared_batches(run_one, at_once)
    if at_once is None:
        return jax.vmap(run_one, in_axes=(0, 0, None, None))

    def fn(carry: Carry, key: Array, first_block: Array, data: tuple):
        return jax.lax.map(lambda ck: run_one(*ck, first_block, data), (carry, key),
                           batch_size=at_once)  # fmt: skip

    return fn


def _shared_batches(run_one: Callable, at_once: int | None) -> Callable:
    """:func:`_vmapped` with one key: ``perm`` (identical in every row) passed unbatched."""
    axes = Carry(0, 0, 0, None)

    def fn(carry: Carry, key: Array, first_block: Array, data: tuple):
        k, perm = carry.perm.shape[0], carry.perm[0]
        if at_once is None:
            vmapped = jax.vmap(run_one, in_axes=(axes, None, None, None), out_axes=(axes, 0, 0))
            carry, losses, metrics = vmapped(carry._replace(perm=perm), key, first_block, data)
            perms = jnp.broadcast_to(carry.perm, (k, *perm.shape))
            return carry._replace(perm=perms), losses, metrics
        return jax.lax.map(lambda c: run_one(Carry(*c, perm), key, first_block, data),
                           tuple(carry[:3]), batch_size=at_once)  # fmt: skip

    return fn
