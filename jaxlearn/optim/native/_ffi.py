"""The FFI call: one kernel over a group of leaves, each result written in place into its input.

A call's operands are ``(scalar rows, W..., g..., slot0..., slot1...)`` and its results
``(W'..., slot0'..., slot1'...)``, each result aliased to its input (``kernels.cc`` says the
same from the C++ side). Under ``jit`` over arrays sharded across devices the call carries an
element-wise partitioning rule, so each device updates its own blocks with its own rows of
scalars and nothing is gathered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxlearn import _compat
from jaxlearn.optim.native._library import Kernel

Array = jax.Array


def call(
    kernel: Kernel, rows: Array, ws: Sequence[Array], gs: Sequence[Array], slots: Sequence[list]
) -> tuple[list[Array], list[list[Array]]]:
    """``(W'..., [slot_j'...] per slot)`` from one call of ``kernel`` on a group of leaves.

    ``rows`` is ``(*batch, n_scalars)``: one row per configuration under ``vmap``, the leaves
    then being ``(*batch, *leaf shape)``.
    """
    k, n_slots = len(ws), len(slots)
    shapes = [jnp.shape(w) for w in ws]
    # 0-d leaves travel as (1,) (a free reshape): a partitioning rule names each dimension.
    flat = [jnp.reshape(x, (1,)) if jnp.ndim(x) == 0 else x for x in (*ws, *gs, *sum(slots, []))]
    fn = _partitioned(kernel, jnp.ndim(rows) - 1, [jnp.ndim(x) for x in flat[:k]], n_slots)
    out = [jnp.reshape(x, shapes[i % k]) for i, x in enumerate(fn(rows, *flat))]
    return out[:k], [out[k + j * k : k + (j + 1) * k] for j in range(n_slots)]


def kernel_fn(kernel: Kernel, k: int) -> Callable[..., tuple[Array, ...]]:
    """``(scalar rows, *W, *g, *slots) -> (*W', *slots')`` through the handler, for ``k``
    leaves (no reshapes, no partitioning rule)."""

    def fn(rows, *operands):
        ffi = _compat.ffi_module()
        # Inside shard_map every operand must vary over the same mesh axes, and the results
        # carry the inputs' types (shape, dtype and those axes).
        operands = _compat.match_varying([rows, *operands])
        results = [_compat.typeof(x) for x in (*operands[1 : 1 + k], *operands[1 + 2 * k :])]
        aliases = {1 + i: i for i in range(k)}
        aliases.update({1 + 2 * k + j: k + j for j in range(len(results) - k)})
        return tuple(ffi.ffi_call(kernel.target, results, input_output_aliases=aliases)(*operands))

    return fn


def _partitioned(kernel: Kernel, n_batch: int, ranks: list[int], n_slots: int):
    """The handler call, with an element-wise partitioning rule where jax offers
    ``custom_partitioning``: leaf i's W, g, slots and results share its factors, and the
    ``n_batch`` leading (configuration) dimensions are shared with the scalar rows. Without
    it, XLA would gather sharded operands around the call."""
    k = len(ranks)
    fn = kernel_fn(kernel, k)
    custom_partitioning = _compat.custom_partitioning()
    if custom_partitioning is None:
        return fn
    from jax.sharding import NamedSharding, PartitionSpec

    batch = [f"b{d}" for d in range(n_batch)]
    leaf = [" ".join(batch + [f"l{i}x{d}" for d in range(n_batch, r)]) for i, r in enumerate(ranks)]
    rule = " ".join([*batch, "s"]) + ", " + ", ".join(leaf * (2 + n_slots))
    rule += " -> " + ", ".join(leaf * (1 + n_slots))

    def infer(mesh, arg_shapes, result_shape):
        return tuple([a.sharding for a in arg_shapes[1 : 1 + k]] * (1 + n_slots))

    def partition(mesh, arg_shapes, result_shape):
        ws = [a.sharding for a in arg_shapes[1 : 1 + k]]
        if n_batch:
            # Every leaf's configuration rows must sit with their scalar rows: all leaves take
            # the first leaf's batch-dimension sharding (other dimensions replicated).
            spec = tuple(getattr(ws[0], "spec", ()))[:n_batch]
            ws = [NamedSharding(mesh, PartitionSpec(*spec))] * k
            rows = NamedSharding(mesh, PartitionSpec(*spec))
        else:
            rows = NamedSharding(mesh, PartitionSpec())
        return mesh, fn, tuple(ws * (1 + n_slots)), (rows, *ws * (2 + n_slots))

    wrapped = custom_partitioning(fn)
    wrapped.def_partition(
        partition=partition, infer_sharding_from_operands=infer, sharding_rule=rule
    )
    return wrapped
