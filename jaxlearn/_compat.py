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
    "Tracer",
    "axis_size",
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

#: ``jax.shard_map`` (public since jax 0.7); ``jax.experimental.shard_map.shard_map`` before.
try:
    shard_map = jax.shard_map
except AttributeError:  # pragma: no cover - older jax
    from jax.experimental.shard_map import shard_map  # type: ignore[no-redef]

#: ``jax.typeof`` (jax >= 0.6); ``jax.core.get_aval`` before.
typeof = getattr(jax, "typeof", None) or jax.core.get_aval


def axis_size(axis_name: Any) -> int | jax.Array:
    """The size of a named mapped axis (``lax.axis_size``, jax >= 0.6; ``psum(1)`` before).

    >>> jax.vmap(lambda x: x * axis_size('i'), axis_name='i')(jax.numpy.ones(3))
    Array([3., 3., 3.], dtype=float32)
    """
    size = getattr(lax, "axis_size", None)
    if size is not None:
        return size(axis_name)
    return lax.psum(1, axis_name)  # pragma: no cover - older jax


def varying_axes(value: Any) -> frozenset | None:
    """The mesh axes ``value`` varies over inside ``shard_map``; None where jax does not track
    them (outside ``shard_map``, under ``pmap``, or in releases without varying-axis types).

    Spelled ``aval.vma`` in jax 0.6 – 0.8 and ``aval.manual_axis_type.varying`` later.
    """
    aval = typeof(value)
    varying = getattr(aval, "vma", None)
    if varying is None:
        varying = getattr(getattr(aval, "manual_axis_type", None), "varying", None)
    return varying


def pcast_varying(x: jax.Array, axis_name: Any) -> jax.Array:
    """``x`` marked as varying over ``axis_name``: ``lax.pcast(..., to='varying')`` (jax >= 0.8),
    ``lax.pvary`` (jax 0.6 – 0.7), or ``x`` unchanged where jax tracks no varying axes."""
    pcast = getattr(lax, "pcast", None)
    if pcast is not None:
        return pcast(x, axis_name, to="varying")
    pvary = getattr(lax, "pvary", None)  # pragma: no cover - older jax
    return x if pvary is None else pvary(x, axis_name)  # pragma: no cover


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
