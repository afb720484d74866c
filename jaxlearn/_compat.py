"""Every jax-version difference and private-API use in jaxlearn, in one place.

The rest of the package imports these names instead of probing ``jax`` itself, so supporting a
new (or older) jax release is a change to this file alone. Each entry says which releases
spell it which way.
"""

from __future__ import annotations

from typing import Any

import jax
from jax import lax

__all__ = [
    "OPTAX_ALIAS_MODULE",
    "all_gather_invariant",
    "Tracer",
    "axis_size",
    "beyond_this_call",
    "backends_initialized",
    "custom_partitioning",
    "distributed_client",
    "ffi_module",
    "match_varying",
    "pcast_varying",
    "shard_map",
    "typeof",
    "varying_axes",
    "weak_typed",
]

#: The module that defines optax's optimizer aliases (``optax.adam``, ``optax.lion``, ...): how
#: ``jaxlearn.experiments`` tells an optimizer from the other transformations optax exports.
#: optax-private (every release since 0.1); if it moves, every optax callable is offered.
OPTAX_ALIAS_MODULE = "optax._src.alias"

#: The abstract value of a traced array (``jax.core.Tracer`` in every supported release).
Tracer = jax.core.Tracer

#: ``jax.shard_map`` (public since jax 0.7).
shard_map = jax.shard_map

#: ``jax.typeof`` (jax >= 0.6).
typeof = jax.typeof


def axis_size(axis_name: Any) -> int | jax.Array:
    """The size of a named mapped axis (``lax.axis_size``, jax >= 0.6).

    >>> jax.vmap(lambda x: x * axis_size('i'), axis_name='i')(jax.numpy.ones(3))
    Array([3., 3., 3.], dtype=float32)
    """
    return lax.axis_size(axis_name)


def varying_axes(value: Any) -> frozenset | None:
    """The mesh axes ``value`` varies over inside ``shard_map``; None where jax does not track
    them (outside ``shard_map``, under ``pmap``, or in releases without varying-axis types).

    Spelled ``aval.vma`` in some releases and ``aval.manual_axis_type.varying`` in others: both
    are tried.
    """
    aval = typeof(value)
    varying = getattr(aval, "vma", None)
    if varying is None:
        varying = getattr(getattr(aval, "manual_axis_type", None), "varying", None)
    return varying


def pcast_varying(x: jax.Array, axis_name: Any) -> jax.Array:
    """``x`` marked as varying over ``axis_name``: ``lax.pcast(..., to='varying')`` (jax >= 0.8)."""
    return lax.pcast(x, axis_name, to="varying")


def weak_typed(x: jax.Array) -> jax.Array:
    """The same values as a weakly-typed array (as ``jnp.asarray(1.0)`` is).

    There is no public API for this: it uses ``jax._src.lax.lax._convert_element_type``, and
    returns ``x`` unchanged (strongly typed) if that private function moves.
    """
    try:
        from jax._src.lax.lax import _convert_element_type

        return _convert_element_type(x, x.dtype, weak_type=True)
    except Exception:  # pragma: no cover - private API moved: keep the strong array
        return x


def ffi_module() -> Any | None:
    """``jax.ffi`` (jax >= 0.4.38), or None where this jax cannot call foreign functions (then
    jaxlearn's native kernels stay off).

    >>> ffi_module() is None or hasattr(ffi_module(), 'ffi_call')
    True
    """
    module = getattr(jax, "ffi", None)
    if module is None:  # pragma: no cover - a jax built without it
        return None
    needed = ("ffi_call", "register_ffi_target", "pycapsule")
    return module if all(hasattr(module, n) for n in needed) else None


def beyond_this_call(x: Any) -> bool:
    """True when a kernel called on ``x`` could not see all of it: a concrete array with shards
    on other processes (not fully addressable), or a traced value whose type carries an
    explicit-mode mesh sharding over an axis that is not manual. False for local arrays, for
    values inside ``shard_map`` (their own block) and under ``jit`` with automatic sharding
    (where jax says nothing at trace time and a partitioning rule handles the call).

    >>> beyond_this_call(jax.numpy.ones(3))
    False
    """
    if isinstance(x, jax.Array) and not isinstance(x, Tracer):
        return not getattr(x, "is_fully_addressable", True)
    sharding = getattr(typeof(x), "sharding", None)
    spec = getattr(sharding, "spec", None)
    if spec is None:
        return False
    mesh = getattr(sharding, "mesh", None)
    manual = set(getattr(mesh, "manual_axes", ()) or ())
    for entry in spec:
        names = entry if isinstance(entry, tuple) else (entry,)
        if any(n is not None and n not in manual for n in names):
            return True
    return False


def match_varying(xs: list) -> list:
    """``xs`` each marked as varying over every mesh axis any of them varies over (inside
    ``shard_map``; unchanged elsewhere), as a primitive whose operands must agree requires.

    >>> [x.shape for x in match_varying([jax.numpy.ones(2), jax.numpy.ones(())])]
    [(2,), ()]
    """
    axes = [varying_axes(x) or frozenset() for x in xs]
    union = frozenset().union(*axes)
    if not union:
        return list(xs)
    return [
        x if a == union else pcast_varying(x, tuple(sorted(union - a))) for x, a in zip(xs, axes)
    ]


def custom_partitioning() -> Any | None:
    """``jax.experimental.custom_partitioning.custom_partitioning`` (experimental in every
    release so far), or None where it is missing.

    >>> custom_partitioning() is None or callable(custom_partitioning())
    True
    """
    try:
        from jax.experimental.custom_partitioning import custom_partitioning as cp
    except ImportError:  # pragma: no cover - moved or removed
        return None
    return cp


def distributed_client() -> Any | None:
    """The ``jax.distributed`` client of this process (its key-value store and barriers, the
    channel :mod:`jaxlearn.train.processes` uses), or None when ``jax.distributed`` is not
    initialized.

    There is no public API for the key-value store: this is
    ``jax._src.distributed.global_state.client`` (every release since 0.4; orbax uses it the
    same way). ``jax.distributed.is_initialized()`` is the public half.

    >>> distributed_client() is None   # a single process
    True
    """
    from jax._src import distributed

    return distributed.global_state.client


def backends_initialized() -> bool:
    """Whether JAX has started its backends (after which ``jax.distributed.initialize``
    refuses to run): ``jax._src.xla_bridge.backends_are_initialized`` (every release since
    0.4), False if that private function moves (JAX's own error then says it).

    >>> import jax.numpy as jnp; _ = jnp.ones(1); backends_initialized()
    True
    """
    try:
        from jax._src.xla_bridge import backends_are_initialized
    except ImportError:  # pragma: no cover
        return False
    return backends_are_initialized()


def all_gather_invariant(x: jax.Array, axis_name: str) -> jax.Array:
    """Every device's block of ``x`` along the mapped axis ``axis_name``, concatenated, and
    typed as the same on every device (invariant), so it can leave ``shard_map`` through
    ``out_specs=P()`` or stay in a replicated loop carry.

    ``lax.all_gather`` gives a *varying* result; the invariant form is
    ``jax._src.lax.parallel.all_gather_invariant`` (private, jax >= 0.7). Where it is missing,
    each device places its block in zeros and ``lax.psum`` adds them (the same values; ``-0.0``
    becomes ``0.0``; N times the traffic).
    """
    try:
        from jax._src.lax.parallel import all_gather_invariant as gather
    except ImportError:  # pragma: no cover - moved: the psum form
        n = x.shape[0]
        full = jax.numpy.zeros((n * lax.axis_size(axis_name), *x.shape[1:]), x.dtype)
        full = lax.dynamic_update_slice_in_dim(full, x, lax.axis_index(axis_name) * n, 0)
        return lax.psum(full, axis_name)
    return gather(x, axis_name, tiled=True)
