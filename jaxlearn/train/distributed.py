"""Data-parallel training on many devices (and hosts) with JAX's own SPMD machinery.

jaxlearn names two mesh axes:

- ``'data'`` (:data:`DATA`): the global mini-batch is split over it. Inside the compiled step
  (a ``jax.shard_map`` over the mesh) every device takes its rows of the batch, computes its
  loss and gradient, and ``lax.pmean`` averages both; BatchNorm averages its statistics over
  the axis (``batch_norm(..., axis_name='data')``) and Dropout draws the global batch's mask
  and keeps its rows. Params and optimizer state are replicated (or the optimizer state
  split over the axis, ZeRO stage 1: :class:`ShardedOptimizer`, ``train(...,
  shard_opt_state=True)``). N devices therefore compute what one device computes on the same
  global batch, to float rounding.
- ``'trials'`` (:data:`TRIALS`): :func:`jaxlearn.train.train_many`'s K configurations are split
  over it (each device trains K / N of them, no communication); a mesh with both axes runs
  trials × data-parallel.

``mesh`` arguments take ``None`` (one device, no mesh), an int N (the first N of
``jax.devices()``, as a one-axis mesh; with P processes the first N/P of each), a sequence of
devices, or a ``jax.sharding.Mesh``. With several processes, start ``jax.distributed`` first
(:func:`jaxlearn.train.processes.initialize_from_env`): ``jax.devices()`` then lists every
process's devices and the same program runs on each (see ``docs/scaling.md``).
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

from jaxlearn._compat import all_gather_invariant, pcast_varying, shard_map, varying_axes
from jaxlearn._compat import axis_size as compat_axis_size
from jaxlearn._util import is_prng_key
from jaxlearn.optim import update_and_apply
from jaxlearn.optim.flat import FlatBuffers, ravel

Array = jax.Array
#: The mesh axis the global mini-batch is split over.
DATA = "data"
#: The mesh axis :func:`jaxlearn.train.train_many`'s configurations are split over.
TRIALS = "trials"
MeshLike = Any  # None | int | Sequence[jax.Device] | Mesh

__all__ = [
    "DATA",
    "TRIALS",
    "ShardedOptimizer",
    "axis_size",
    "fetch",
    "make_mesh",
    "place",
    "pmean_together",
    "put",
    "replicate",
    "require_axes",
    "shard_batch",
    "shard_optimizer",
    "state_specs",
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


def place(tree: Any, mesh: Mesh, specs: Any) -> Any:
    """Every leaf of ``tree`` laid out over ``mesh`` by ``specs``: a ``PartitionSpec`` for
    all of it, or a tree of them that is a prefix of ``tree`` (as ``shard_map``'s specs).

    >>> place({'a': jnp.ones(2), 'b': jnp.ones(2)}, make_mesh(1), {'a': P(), 'b': P('data')}
    ...       )['b'].sharding.spec == P('data')
    True
    """

    def one(spec, sub):
        return jax.tree.map(lambda x: put(x, mesh, spec), sub)

    return jax.tree.map(one, specs, tree, is_leaf=lambda x: isinstance(x, P))


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


def pmean_together(tree: Any, axis_name: Any) -> Any:
    """``lax.pmean`` of every leaf of ``tree`` over ``axis_name``, as one collective per dtype:
    the leaves packed into one flat buffer (:func:`jaxlearn.optim.flat.ravel`), averaged,
    unpacked (gradient bucketing, as PyTorch's DistributedDataParallel does).

    The same means as a ``pmean`` of each leaf (up to the summation order of the collective);
    every collective costs a round of messages between the devices, which across processes
    (gloo over TCP) dominates a small model's step: one per dtype instead of one per leaf made
    the all-reduce of the book's network 8 times faster over 2 processes here.

    >>> x = {'a': jnp.ones(2), 'b': jnp.arange(3.0)}
    >>> jax.vmap(lambda t: pmean_together(t, 'i'), axis_name='i')(
    ...     jax.tree.map(lambda v: jnp.stack([v, 3 * v]), x))['b'][0]
    Array([0., 2., 4.], dtype=float32)
    """
    flat, unravel = ravel(tree)
    return unravel(lax.pmean(flat, axis_name))


def local_rows(x: Array, axis_name: Any) -> Array:
    """This device's equal share of ``x``'s rows (a global batch), in axis order.

    ``x.shape[0]`` must be divisible by the axis size (checked statically by the callers).
    """
    size = compat_axis_size(axis_name)
    n = x.shape[0] // size
    return lax.dynamic_slice_in_dim(x, lax.axis_index(axis_name) * n, n)


# ---------------------------------------------------------------------------------------------
# ZeRO stage 1: the optimizer state split over the data axis
# ---------------------------------------------------------------------------------------------


def _padded(buffers: FlatBuffers, shards: int) -> FlatBuffers:
    """Each buffer padded with zeros to a multiple of ``shards`` elements."""
    return FlatBuffers({
        k: jnp.pad(v, (0, -v.shape[0] % shards)) for k, v in buffers.items()
    })  # fmt: skip


class ShardedOptimizer:
    r"""``inner`` with its state split over the mesh axis ``axis`` (ZeRO stage 1).

    The parameters, as one flat buffer per dtype (:func:`jaxlearn.optim.flat.ravel`) padded
    to a multiple of ``shards``, are cut into ``shards`` equal blocks; device ``i`` of the axis
    keeps the optimizer state of block ``i`` only, so each device holds ``1/shards`` of it.
    A step, inside ``shard_map`` after the gradients are averaged:

    .. math:: (W_i', s_i') = \mathrm{update\_and\_apply}(g_i, s_i, W_i), \qquad
        W' = \mathrm{all\_gather}_i(W_i')

    Every element gets the arithmetic of the replicated run (the same rule on the same
    values), so the results equal it to float rounding. ``inner`` must be element-wise, as
    every jaxlearn rule and optax's ``sgd``/``adam``/``adamw``/... are: a transformation that
    mixes elements (global-norm clipping, LAMB's per-leaf trust ratio) would see one block.
    The state (:meth:`init`) is ``inner``'s over the padded flat buffers: place its
    :class:`~jaxlearn.optim.flat.FlatBuffers` with :func:`state_specs`. Used by
    ``train(..., shard_opt_state=True)``; DeepSpeed's and PyTorch's ``ZeroRedundancyOptimizer``
    are the equivalent; optax has none.

    >>> import jaxlearn as jl
    >>> opt = ShardedOptimizer(jl.momentum(0.5), shards=1)   # 1 device here; N on a mesh
    >>> params = {'b': jnp.ones(2), 'w': jnp.ones(3)}
    >>> state = opt.init(params)          # the rule's state over one flat buffer
    >>> state.velocity['float32'].shape
    (5,)
    >>> specs = state_specs(state)
    >>> step = jax.shard_map(opt.update_and_apply, mesh=make_mesh(1),
    ...                      in_specs=(P(), specs, P()), out_specs=(P(), specs))
    >>> step({'b': jnp.ones(2), 'w': jnp.ones(3)}, state, params)[0]['w']
    Array([0.5, 0.5, 0.5], dtype=float32)
    """

    def __init__(self, inner: Any, shards: int, axis: str = DATA):
        self.inner, self.shards, self.axis = inner, int(shards), axis

    def __eq__(self, other: object) -> bool:  # the compiled program's cache key
        return isinstance(other, ShardedOptimizer) and (
            (self.inner, self.shards, self.axis) == (other.inner, other.shards, other.axis)
        )

    def __hash__(self) -> int:
        return hash((ShardedOptimizer, self.inner, self.shards, self.axis))

    def init(self, params: Any) -> Any:
        """``inner``'s state for all of ``params`` (flat, padded): the global state, which
        :func:`state_specs` splits over the axis."""
        return self.inner.init(_padded(ravel(params)[0], self.shards))

    def _mine(self, tree: Any) -> tuple[FlatBuffers, Any]:
        flat, unravel = ravel(tree)
        i = lax.axis_index(self.axis)

        def block(v):
            v = jnp.pad(v, (0, -v.shape[0] % self.shards))
            n = v.shape[0] // self.shards
            return lax.dynamic_slice_in_dim(v, i * n, n)

        return FlatBuffers({k: block(v) for k, v in flat.items()}), (flat, unravel)

    def _whole(self, mine: FlatBuffers, flat: FlatBuffers, unravel: Any) -> Any:
        return unravel(FlatBuffers({
            k: all_gather_invariant(v, self.axis)[: flat[k].shape[0]] for k, v in mine.items()
        }))  # fmt: skip

    def update(self, grads: Any, state: Any, params: Any = None, **extra: Any):
        """``(updates, state)`` for all the parameters from this device's block of the state
        (inside ``shard_map`` over ``axis``; ``grads`` and ``params`` whole)."""
        g, (flat, unravel) = self._mine(grads)
        p = None if params is None else self._mine(params)[0]
        updates, state = self.inner.update(g, state, p, **extra)
        return self._whole(updates, flat, unravel), state

    def update_and_apply(self, grads: Any, state: Any, params: Any, **extra: Any):
        """``(new params, state)``: this device's block updated (``inner``'s fused step), the
        new parameters gathered from every device's block."""
        g = self._mine(grads)[0]
        p, (flat, unravel) = self._mine(params)
        new, state = update_and_apply(self.inner, g, state, p, **extra)
        return self._whole(new, flat, unravel), state


def shard_optimizer(program_opt: Any, make: Any, mesh: Mesh | None) -> tuple[Any, Any]:
    """``train``'s ``(program optimizer, make(**hyperparams))`` as :class:`ShardedOptimizer`
    over ``mesh``'s ``'data'`` axis; ValueError without a data axis of 2 devices or more.

    >>> shard_optimizer(None, None, None)
    Traceback (most recent call last):
    ValueError: shard_opt_state=True splits the optimizer state ... (got no mesh)
    """
    n = axis_size(mesh, DATA)
    if n < 2:
        got = "no mesh" if mesh is None else f"a 'data' axis of {n} device"
        raise ValueError(
            f"shard_opt_state=True splits the optimizer state over the devices of the mesh's "
            f"{DATA!r} axis: give mesh= with 2 or more devices (got {got})"
        )
    return ShardedOptimizer(program_opt, n), lambda **h: ShardedOptimizer(make(**h), n)


def carry_specs(carry: Any, spec: P, shard_opt_state: bool) -> Any:
    """The training loop's carry (a NamedTuple with ``opt_state``) as a tree of
    ``PartitionSpec``: ``spec`` for everything, or with ``shard_opt_state`` the optimizer
    state's flat buffers over the data axis (:func:`state_specs`)."""
    specs = type(carry)(*(spec for _ in carry))
    if shard_opt_state:
        specs = specs._replace(opt_state=state_specs(carry.opt_state))
    return specs


def on_mesh(fn: Any, mesh: Mesh, spec: P, key_spec: P, shard_opt_state: bool = False) -> Any:
    """The training program ``fn(carry, key, first_block, data) -> (carry, losses,
    metrics)`` as a ``shard_map`` over ``mesh``: the carry, losses and metrics laid out by
    ``spec`` (the optimizer state by :func:`carry_specs`), the key by ``key_spec``, the data
    replicated. With ``shard_opt_state`` the specs follow the carry's structure, so the
    ``shard_map`` is built when the program is traced."""
    if not shard_opt_state:
        return shard_map(
            fn, mesh=mesh, in_specs=(spec, key_spec, P(), P()), out_specs=(spec, spec, spec)
        )

    def run(carry, key, first_block, data):
        specs = carry_specs(carry, spec, True)
        mapped = shard_map(
            fn, mesh=mesh, in_specs=(specs, key_spec, P(), P()), out_specs=(specs, spec, spec)
        )
        return mapped(carry, key, first_block, data)

    return run


def state_specs(opt_state: Any, axis: str = DATA) -> Any:
    """The ``PartitionSpec`` of each leaf of a :class:`ShardedOptimizer` state: its flat
    buffers split over ``axis``, everything else (step counts, hyper-parameters) replicated.

    >>> from jaxlearn.optim.flat import FlatBuffers
    >>> specs = state_specs({'count': jnp.zeros(()), 'mu': FlatBuffers({'f32': jnp.zeros(8)})})
    >>> specs['count'] == P(), specs['mu']['f32'] == P('data')
    (True, True)
    """
    def spec(x):
        if isinstance(x, FlatBuffers):
            return FlatBuffers({k: P(axis) for k in x.keys()})
        return P()

    return jax.tree.map(spec, opt_state, is_leaf=lambda x: isinstance(x, FlatBuffers))
