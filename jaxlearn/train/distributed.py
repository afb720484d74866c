"""Data-parallel training on many devices (and hosts) with JAX's own SPMD machinery.

jaxlearn names two mesh axes:

- ``'data'`` (:data:`DATA`): the global mini-batch is split over it. Inside the compiled step
  (a ``jax.shard_map`` over the mesh) every device takes its rows of the batch, computes its
  loss and gradient, and ``lax.pmean`` averages both; BatchNorm averages its statistics over
  the axis (``batch_norm(..., axis_name='data')``) and Dropout draws the global batch's mask
  and keeps its rows. Params and optimizer state are replicated. N devices therefore compute
  what one device computes on the same global batch, to float rounding.
- ``'trials'`` (:data:`TRIALS`): :func:`jaxlearn.train.train_many`'s K configurations are split
  over it (each device trains K / N of them, no communication); a mesh with both axes runs
  trials × data-parallel.

``mesh`` arguments take ``None`` (one device, no mesh), an int N (the first N of
``jax.devices()``, as a one-axis mesh), a sequence of devices, or a ``jax.sharding.Mesh``.
On several hosts, call ``jax.distributed.initialize()`` first: ``jax.devices()`` then lists
every host's devices and the same program runs on each (see ``docs/scaling.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxlearn._compat import axis_size as compat_axis_size
from jaxlearn._compat import pcast_varying, varying_axes
from jaxlearn._util import is_prng_key

Array = jax.Array
#: The mesh axis the global mini-batch is split over.
DATA = "data"
#: The mesh axis :func:`jaxlearn.train.train_many`'s configurations are split over.
TRIALS = "trials"
MeshLike = Any  # None | int | Sequence[jax.Device] | Mesh

__all__ = [
    "DATA",
    "TRIALS",
    "axis_size",
    "fetch",
    "make_mesh",
    "put",
    "replicate",
    "require_axes",
    "shard_batch",
    "to_varying",
]


def make_mesh(devices: MeshLike, axis_names: str | Sequence[str] = DATA) -> Mesh | None:
    """The mesh for a ``mesh=``/``devices=`` argument; ``None`` stays ``None`` (one device).

    ``devices``: an int N (the first N of ``jax.devices()``; with several processes the first
    N/P of each of the P processes), a sequence of devices, or a ready ``Mesh`` (returned as
    is; its axes are checked by the caller). An int or a sequence gives a one-axis mesh named
    ``axis_names`` (default ``'data'``); a tuple of names with a devices array of that many
    dimensions gives a multi-axis mesh.

    >>> mesh = make_mesh(1)
    >>> mesh.axis_names, mesh.devices.shape
    (('data',), (1,))
    >>> make_mesh(None) is None
    True
    >>> make_mesh(len(jax.devices()) + 1)
    Traceback (most recent call last):
    ...
    ValueError: devices: ... requested but only ... available: [CpuDevice(id=0)...] (on CPU, ...)
    """
    if devices is None or isinstance(devices, Mesh):
        return devices
    names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
    available = jax.devices()
    if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        n = int(devices)
        if n < 1:
            raise ValueError(f"devices: need a positive number of devices, got {n}")
        if n > len(available):
            raise ValueError(
                f"devices: {n} requested but only {len(available)} available: {available} "
                "(on CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N before importing "
                "jax gives N host devices)"
            )
        arr = np.array(_first_devices(available, n), dtype=object)
    elif isinstance(devices, (Sequence, np.ndarray)) and not isinstance(devices, str):
        arr = np.array(list(np.ravel(np.asarray(devices, dtype=object))), dtype=object)
        if arr.size == 0 or not all(isinstance(d, jax.Device) for d in arr):
            raise ValueError(f"devices: expected jax devices, got {devices!r}")
        if np.ndim(devices) == len(names):
            arr = np.asarray(devices, dtype=object)
    else:
        raise TypeError(
            f"devices/mesh must be None, an int, a sequence of jax devices or a "
            f"jax.sharding.Mesh, got {type(devices).__name__}"
        )
    if arr.ndim != len(names):
        if len(names) != 1:
            raise ValueError(
                f"devices: {len(names)} axis names {names} need a {len(names)}-D array of "
                f"devices, got shape {arr.shape}"
            )
        arr = arr.reshape(-1)
    return Mesh(arr, names)


def _first_devices(available: list, n: int) -> list:
    """The first ``n`` devices, or with several processes (``jax.distributed``) the first
    ``n / P`` of each of the ``P`` processes: every process must hold a share of a mesh that
    its program runs on, and the same share, so that the work is even."""
    processes = jax.process_count()
    if processes == 1 or n == len(available):
        return available[:n]
    if n % processes:
        raise ValueError(
            f"devices: {n} requested over {processes} processes; with several processes "
            f"every one takes an equal share: give a multiple of {processes} (or all "
            f"{len(available)})"
        )
    per = n // processes
    by_process: dict[int, list] = {}
    for d in available:
        by_process.setdefault(d.process_index, []).append(d)
    return [d for p in sorted(by_process) for d in by_process[p][:per]]


def axis_size(mesh: Mesh | None, name: str) -> int:
    """Size of ``mesh``'s axis ``name`` (1 when there is no mesh or no such axis).

    >>> axis_size(make_mesh(1), 'data'), axis_size(None, 'data'), axis_size(make_mesh(1), 'x')
    (1, 1, 1)
    """
    if mesh is None or name not in mesh.axis_names:
        return 1
    return int(mesh.shape[name])


def require_axes(mesh: Mesh, names: Sequence[str], who: str) -> None:
    """Raise ValueError unless ``mesh`` has at least one of the axes ``names``.

    >>> require_axes(make_mesh(1, 'model'), ('trials', 'data'), 'train_many')
    Traceback (most recent call last):
    ValueError: mesh: train_many needs a mesh with a 'trials' and/or a 'data' axis, got ...
    """
    if not set(names) & set(mesh.axis_names):
        wanted = " and/or a ".join(repr(n) for n in names)
        raise ValueError(
            f"mesh: {who} needs a mesh with a {wanted} axis, got axes {mesh.axis_names}"
        )


def put(x: Any, mesh: Mesh, spec: P) -> Array:
    """``x`` (a host or device array, the same global value on every process) as a global
    array laid out by ``spec`` over ``mesh``.

    Works on one host and on several (``jax.make_array_from_callback``: each process fills
    only its own devices' shards from its copy of ``x``).

    >>> put(jnp.arange(4.0), make_mesh(1), P('data')).sharding.spec == P('data')
    True
    """
    sharding = NamedSharding(mesh, spec)
    if isinstance(x, jax.Array) and x.sharding == sharding:
        return x
    if sharding.is_fully_addressable or (isinstance(x, jax.Array) and not x.is_fully_addressable):
        return jax.device_put(x, sharding)
    if is_prng_key(x):  # several hosts: place the key data, then wrap it again
        data = put(jax.random.key_data(x), mesh, spec)  # trailing key-data dims replicated
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(jax.device_get(jnp.asarray(x)))
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Every leaf of ``tree`` copied to every device of ``mesh`` (``PartitionSpec()``).

    >>> tree = replicate({'w': jnp.ones(2)}, make_mesh(1))
    >>> tree['w'].sharding.is_fully_replicated
    True
    """
    return jax.tree.map(lambda x: put(x, mesh, P()), tree)


def shard_batch(tree: Any, mesh: Mesh, axis: str = DATA) -> Any:
    """Every leaf split along its first dimension over ``mesh``'s axis ``axis``.

    Raises ValueError when a leading dimension is not divisible by the axis size.

    >>> shard_batch({'x': jnp.ones((4, 3))}, make_mesh(1))['x'].sharding.spec == P('data')
    True
    """
    n = axis_size(mesh, axis)

    def one(path, x):
        rows = np.shape(x)[0] if np.ndim(x) else None
        if rows is None or rows % n:
            raise ValueError(
                f"{jax.tree_util.keystr(path) or 'batch'}: leading dimension {rows} is not "
                f"divisible by the {n} devices of mesh axis {axis!r}"
            )
        return put(x, mesh, P(axis))

    return jax.tree_util.tree_map_with_path(one, tree)


def fetch(x: Any) -> np.ndarray:
    """A NumPy copy of ``x``, gathered from every process when it spans several hosts.

    >>> fetch(jnp.arange(3))
    array([0, 1, 2], dtype=int32)
    """
    if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def to_varying(tree: Any, axis_name: Any) -> Any:
    """Mark ``tree``'s leaves as varying over ``axis_name`` (``lax.pcast``) where they are not.

    Inside ``shard_map`` (with its default ``check_vma=True``) the gradient with respect to a
    replicated (axis-invariant) value is summed over the axis automatically; under ``pmap`` or
    ``check_vma=False`` it is not. Differentiating with respect to a varying copy gives each
    device its own gradient in every case, so a following ``lax.pmean`` is the mean gradient
    everywhere.
    """
    names = axis_name if isinstance(axis_name, tuple) else (axis_name,)

    def one(x):
        varying = varying_axes(x)
        if varying is not None and all(n in varying for n in names):
            return x
        return pcast_varying(x, axis_name)

    return jax.tree.map(one, tree)


def local_rows(x: Array, axis_name: Any) -> Array:
    """This device's equal share of ``x``'s rows (a global batch), in axis order.

    ``x.shape[0]`` must be divisible by the axis size (checked statically by the callers).
    """
    size = compat_axis_size(axis_name)
    n = x.shape[0] // size
    return lax.dynamic_slice_in_dim(x, lax.axis_index(axis_name) * n, n)
