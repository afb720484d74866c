r"""Single-pass CPU kernels behind the fused optimizer step, still a pure JAX transformation.

The C++ kernels (``kernels.cc``, ``loops.inc``, called through ``jax.ffi``) make one pass per
leaf that reads W, g and the state once and writes W and the state once, in place, vectorised,
on XLA's intra-op thread pool, where XLA:CPU moves 10–11 arrays for Adam's 7. They are the CPU
implementation of :func:`jaxlearn.update_and_apply` for jaxlearn's six rules (so of
``fused_step``, ``make_step``, flat mode and the training step), with the XLA path as the
reference and the automatic fallback, leaf by leaf. ``jit``, ``vmap``, ``grad`` and
``shard_map`` work unchanged.

``docs/native.md`` is the one description of when the kernels apply (and when XLA does), why
their results are bit-identical to the XLA path on a CPU with FMA, and how they are built.
:func:`native_available` and :func:`native_status` say which path this process takes;
``JAXLEARN_NATIVE=0`` turns the kernels off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxlearn import _compat
from jaxlearn.optim.native import _library

Array = jax.Array

#: Setting this environment variable to ``0`` (or ``off``/``false``/``no``) turns the kernels
#: off; it is read each time a step is traced.
ENV_VAR = "JAXLEARN_NATIVE"

#: Leaves per kernel call. One call per group of leaves saves a kernel launch per leaf, but
#: XLA's compile time grows faster than linearly with a call's operand count. Measured on 2,000
#: Adam leaves of 1,000: groups of 16 or 32 compile in 6.5 s, 128 in 11 s, 512 in 69 s, with
#: the same step time (a step over that many buffers costs its dispatch, not its loops).
LEAVES_PER_CALL = 32

_DTYPES = frozenset(jnp.dtype(d) for d in ("float32", "float64", "bfloat16", "float16"))


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A compiled rule: its FFI target, its state slots and its scalars in the handler's order
    (names of the rule's ``scalars(count)`` dict)."""

    target: str
    slots: int
    scalars: tuple[str, ...]


#: rule kernel name (an ``ElementwiseRule``'s ``native``) -> its kernel.
KERNELS: dict[str, Kernel] = {
    "sgd": Kernel(_library.TARGETS["sgd"][0], 0, ("lr",)),
    "momentum": Kernel(_library.TARGETS["momentum"][0], 1, ("lr", "alpha")),
    "nesterov": Kernel(_library.TARGETS["nesterov"][0], 1, ("lr", "alpha")),
    "adagrad": Kernel(_library.TARGETS["adagrad"][0], 1, ("lr", "eps")),
    "rmsprop": Kernel(_library.TARGETS["rmsprop"][0], 1, ("lr", "rho", "eps")),
    "adam": Kernel(_library.TARGETS["adam"][0], 2, ("lr_t", "b1", "b2", "eps")),
}


def _env_enabled() -> bool:
    return os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "off", "false", "no")


@contextlib.contextmanager
def kernels(on: bool) -> Iterator[None]:
    """Trace the steps inside the ``with`` block with the kernels on or off, then restore the
    switch (:data:`ENV_VAR`, read each time a step is traced: a step traced before keeps the
    path it was traced with). How a benchmark or a test puts the XLA path beside the kernels.

    optax/flax equivalent: none.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> with kernels(False):
    ...     params, _ = jax.jit(jl.update_and_apply, static_argnums=0)(
    ...         jl.sgd(0.5), [jnp.ones(2)], jl.sgd(0.5).init([jnp.ones(2)]), [jnp.ones(2)])
    ...     jl.fast.native_available()
    False
    >>> params[0]
    Array([0.5, 0.5], dtype=float32)
    """
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = "1" if on else "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = old


def native_available() -> bool:
    """True when jaxlearn's rules run their CPU steps through the compiled kernels.

    That needs the compiled library (built at install time when a C++ compiler is present), a
    jax with ``jax.ffi`` whose XLA accepts it, and ``JAXLEARN_NATIVE`` not set to ``0``. Even
    then each step uses the XLA path for what the kernels do not cover (``docs/native.md``);
    :func:`native_status` says why the answer is False.

    optax/flax equivalent: none (PyTorch's ``torch.optim`` ``fused=True`` kernels are the
    counterpart).

    >>> from jaxlearn import fast
    >>> isinstance(fast.native_available(), bool)
    True
    """
    return _env_enabled() and _library.load().error is None


def native_status() -> str:
    """One line on the kernels: in use (with the instruction set, and whether they are
    bit-identical to the XLA path on this CPU), or why not.

    optax/flax equivalent: none.

    >>> from jaxlearn import fast
    >>> fast.native_status().startswith('native kernels: ')
    True
    """
    lib = _library.load()
    if lib.error is not None:
        return f"native kernels: off ({lib.error})"
    isa = lib.info.split(";")[0]
    exact = "bit-identical to" if lib.bit_exact else "equal to float rounding to"
    if not _env_enabled():
        return f"native kernels: off ({ENV_VAR}={os.environ.get(ENV_VAR)}; built for {isa})"
    return f"native kernels: on ({isa}; {exact} the XLA path)"


#: Where the one line goes when the kernels cannot load (``logging``: a single line on stderr
#: when logging is not configured, and silenced like any other logger).
LOG = logging.getLogger(__name__)
_told = False


def _say_unavailable_once() -> None:
    """The one line saying the XLA path is used because the kernels cannot load, only when they
    would have been used: a CPU backend, a covered rule, and not turned off on purpose."""
    global _told
    if _told or jax.default_backend() != "cpu":
        return
    _told = True
    LOG.warning("jaxlearn: %s; optimizer steps use the XLA path", native_status())


# --------------------------------------------------------------------------------------------
# The hook of ``base.elementwise_transformation``'s fused step
# --------------------------------------------------------------------------------------------

#: ``run_rule(rule, scalars, g_leaves, slot_leaves, p_leaves) -> [(W', *slots'), ...]``: the XLA
#: path (``base.run_rule``), passed in by the caller so this module does not import ``base``.
RunRule = Callable[..., list]


def _kernel_for(rule: Any, scalars: Mapping[str, Array]) -> Kernel | None:
    """The rule's kernel, when it has one whose scalars, slots and formula are the rule's."""
    kernel = KERNELS.get(getattr(rule, "native", None) or "")
    if kernel is None or len(rule.slots) != kernel.slots:
        return None
    if set(scalars) != set(kernel.scalars):
        return None
    if any(jnp.ndim(v) != 0 for v in scalars.values()):
        return None
    if not _env_enabled():
        return None
    if _library.load().error is not None:
        _say_unavailable_once()
        return None
    if not _same_formula(rule, kernel):
        return None
    return kernel


#: Probe values, one per scalar name: far from 0 and 1 and from each other, with a large ε, so
#: that a formula that differs anywhere (ε inside the root, a centred variance, another
#: momentum form, ...) gives clearly different numbers.
_PROBE_SCALARS = {
    "lr": 0.03,
    "lr_t": 0.03,
    "alpha": 0.7,
    "rho": 0.8,
    "b1": 0.85,
    "b2": 0.95,
    "eps": 0.05,
}
_checked: dict[tuple, bool] = {}


def _same_formula(rule: Any, kernel: Kernel) -> bool:
    """Whether ``rule.leaf`` computes what ``kernel`` computes, checked once per formula (its
    code and closure) by running both on probe values. A rule option that changes the formula
    but leaves ``native`` set is caught here: that rule takes the XLA path, with a log line."""
    leaf = rule.leaf
    cells = tuple(c.cell_contents for c in (leaf.__closure__ or ()))
    key: tuple = (kernel.target, leaf.__code__, cells)
    try:
        hash(key)
    except TypeError:  # an unhashable closure value: key on the function itself
        key = (kernel.target, leaf)
    if key not in _checked:
        _checked[key] = _probe(rule, kernel)
        if not _checked[key]:
            LOG.warning(
                "jaxlearn: the %s rule names the %r kernel but computes something else; "
                "it uses the XLA path",
                rule.name,
                rule.native,
            )
    return _checked[key]


def _probe(rule: Any, kernel: Kernel) -> bool:
    rng = np.random.default_rng(0)
    g = rng.uniform(-2.0, 2.0, 16).astype(np.float32)
    slots = [rng.uniform(0.1, 1.0, 16).astype(np.float32) for _ in rule.slots]
    scalars = {k: np.float32(_PROBE_SCALARS.get(k, 0.5)) for k in kernel.scalars}
    try:
        with jax.ensure_compile_time_eval(), jax.default_device(jax.devices("cpu")[0]):
            want = [np.asarray(x) for x in rule.leaf(g, *slots, **scalars)]
            rows = np.array([scalars[k] for k in kernel.scalars], np.float32)
            got = _kernel_fn(kernel, 1)(rows, np.zeros(16, np.float32), g, *slots)
            got = [np.asarray(x) for x in got]
    except Exception:  # a leaf that needs other scalars, or a kernel that fails: not the same
        return False
    # W = 0, so W' is the update; the probe runs eagerly (no FMA on the XLA side): rounding.
    return len(got) == len(want) and all(
        a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(got, want)
    )


def _covered(g: Any, slots: Sequence[Any], p: Any) -> bool:
    """Whether one leaf can go to a kernel: a non-empty jax array (or tracer) of a covered
    dtype, with W and every slot of the same dtype, all of it visible to this call."""
    if not isinstance(g, jax.Array) or not isinstance(p, jax.Array):
        return False
    if g.dtype not in _DTYPES or g.size == 0:
        return False
    if p.dtype != g.dtype or any(not isinstance(s, jax.Array) or s.dtype != g.dtype for s in slots):
        return False
    return not any(_compat.beyond_this_call(x) for x in (g, p, *slots))


def run_rule(
    rule: Any,
    scalars: Mapping[str, Array],
    g_leaves: Sequence[Array],
    slot_leaves: Sequence[Sequence[Array]],
    p_leaves: Sequence[Array],
    xla_run_rule: RunRule,
) -> list[tuple[Array, ...]]:
    """``base.run_rule`` with ``p_leaves`` (the fused step), through the kernels where they
    apply and through ``xla_run_rule`` for every other leaf; one ``(W', *slots')`` per leaf.

    >>> import jax, jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.optim.base import run_rule as xla_run_rule
    >>> rule = jl.sgd(lr=0.5).rule
    >>> step = lambda g, p: run_rule(rule, rule.scalars(jnp.int32(0)), [g], [], [p],
    ...                              xla_run_rule)
    >>> jax.jit(step)(jnp.ones(2), jnp.zeros(2))
    [(Array([-0.5, -0.5], dtype=float32),)]
    """
    # Eager calls (every leaf concrete) run the XLA path: op by op, which is what a step
    # computes without jit (no fused multiply-adds). Traced steps (jit, vmap, grad, shard_map)
    # go to the kernels, which compute what the same step compiles to in XLA.
    traced = any(isinstance(x, _compat.Tracer) for x in (*g_leaves, *p_leaves))
    kernel = _kernel_for(rule, scalars) if traced else None
    if kernel is None:
        return xla_run_rule(rule, scalars, g_leaves, slot_leaves, p_leaves)
    n = len(g_leaves)
    groups: dict[Any, list[int]] = {}  # compute dtype -> leaf indices
    rest: list[int] = []
    for i in range(n):
        slots_i = [sl[i] for sl in slot_leaves]
        if _covered(g_leaves[i], slots_i, p_leaves[i]):
            groups.setdefault(jnp.promote_types(g_leaves[i].dtype, jnp.float32), []).append(i)
        else:
            rest.append(i)
    outs: list[Any] = [None] * n
    if rest:
        got = xla_run_rule(
            rule,
            scalars,
            [g_leaves[i] for i in rest],
            [[sl[i] for i in rest] for sl in slot_leaves],
            [p_leaves[i] for i in rest],
        )
        for i, o in zip(rest, got):
            outs[i] = o
    for cd, idx in groups.items():
        for a in range(0, len(idx), LEAVES_PER_CALL):
            part = idx[a : a + LEAVES_PER_CALL]
            ws, slots = _group_step(
                kernel,
                rule,
                cd,
                xla_run_rule,
                dict(scalars),
                [p_leaves[i] for i in part],
                [g_leaves[i] for i in part],
                [[sl[i] for i in part] for sl in slot_leaves],
            )
            for j, i in enumerate(part):
                outs[i] = (ws[j], *(s[j] for s in slots))
    return outs


def _group_step(kernel, rule, cd, xla_run_rule, scalars, ws, gs, slots):
    """One kernel call for a group of leaves, wrapped so that every jax transformation keeps
    the XLA formula's meaning: ``custom_jvp`` (derivatives are the XLA formula's),
    ``custom_vmap`` (under ``vmap`` every input gets the batch axis, and the kernel takes one
    row of scalars per configuration) and ``lax.platform_dependent`` (only a CPU compile calls
    the kernel; other platforms run the XLA formula)."""

    def reference(scalars, ws, gs, slots):
        outs = xla_run_rule(rule, scalars, gs, slots, ws)
        return [o[0] for o in outs], [[o[1 + j] for o in outs] for j in range(len(slots))]

    def batched_reference(scalars, ws, gs, slots):
        # Scalars of a batch shape, arrays (*batch shape, *leaf shape): the formula per row.
        fn = reference
        for _ in range(jnp.ndim(scalars[kernel.scalars[0]])):
            fn = jax.vmap(fn)
        return fn(scalars, ws, gs, slots)

    def kernel_call(scalars, ws, gs, slots):
        rows = jnp.stack([jnp.asarray(scalars[k]).astype(cd) for k in kernel.scalars], axis=-1)
        return _ffi_call(kernel, rows, ws, gs, slots)

    @jax.custom_batching.custom_vmap
    def dispatch(scalars, ws, gs, slots):
        return lax.platform_dependent(
            scalars, ws, gs, slots, cpu=kernel_call, default=batched_reference
        )

    @dispatch.def_vmap
    def dispatch_vmap(axis_size, in_batched, scalars, ws, gs, slots):
        def batched(x, b):
            return x if b else jnp.broadcast_to(x, (axis_size, *jnp.shape(x)))

        out = dispatch(*jax.tree.map(batched, (scalars, ws, gs, slots), tuple(in_batched)))
        return out, jax.tree.map(lambda _: True, out)

    @jax.custom_jvp
    def step(scalars, ws, gs, slots):
        return dispatch(scalars, ws, gs, slots)

    @step.defjvp
    def step_jvp(primals, tangents):
        return jax.jvp(reference, primals, tangents)

    return step(scalars, ws, gs, slots)


def _ffi_call(kernel: Kernel, rows: Array, ws, gs, slots):
    """The handler on a group: inputs ``(scalars, W..., g..., slot0..., slot1...)``, results
    ``(W'..., slot0'..., slot1'...)``, each result aliased to (written in place into) its
    input. ``rows`` is ``(*batch, n_scalars)``: one row per configuration under ``vmap``, the
    leaves then being ``(*batch, *leaf shape)``. Under ``jit`` over arrays sharded across
    devices the call is partitioned as the element-wise operation it is (each device updates
    its own blocks with its own rows of scalars; no gather)."""
    k, n_slots = len(ws), len(slots)
    shapes = [jnp.shape(w) for w in ws]
    # 0-d leaves travel as (1,) (a free reshape): a partitioning rule names each dimension.
    flat = [jnp.reshape(x, (1,)) if jnp.ndim(x) == 0 else x for x in (*ws, *gs, *sum(slots, []))]
    call = _partitioned(kernel, jnp.ndim(rows) - 1, [jnp.ndim(x) for x in flat[:k]], n_slots)
    out = [jnp.reshape(x, shapes[i % k]) for i, x in enumerate(call(rows, *flat))]
    return out[:k], [out[k + j * k : k + (j + 1) * k] for j in range(n_slots)]


def _kernel_fn(kernel: Kernel, k: int):
    """``(scalar rows, *W, *g, *slots) -> (*W', *slots')`` through the handler."""

    def call(rows, *operands):
        ffi = _compat.ffi_module()
        # Inside shard_map every operand must vary over the same mesh axes, and the results
        # carry the inputs' types (shape, dtype and those axes).
        operands = _compat.match_varying([rows, *operands])
        results = [_compat.typeof(x) for x in (*operands[1 : 1 + k], *operands[1 + 2 * k :])]
        aliases = {1 + i: i for i in range(k)}
        aliases.update({1 + 2 * k + j: k + j for j in range(len(results) - k)})
        return tuple(ffi.ffi_call(kernel.target, results, input_output_aliases=aliases)(*operands))

    return call


def _partitioned(kernel: Kernel, n_batch: int, ranks: list[int], n_slots: int):
    """The handler call, with an element-wise partitioning rule where jax offers
    ``custom_partitioning``: leaf i's W, g, slots and results share its factors, and the
    ``n_batch`` leading (configuration) dimensions are shared with the scalar rows. Without
    it, XLA would gather sharded operands around the call."""
    k = len(ranks)
    call = _kernel_fn(kernel, k)
    custom_partitioning = _compat.custom_partitioning()
    if custom_partitioning is None:
        return call
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
        return mesh, call, tuple(ws * (1 + n_slots)), (rows, *ws * (2 + n_slots))

    wrapped = custom_partitioning(call)
    wrapped.def_partition(
        partition=partition, infer_sharding_from_operands=infer, sharding_rule=rule
    )
    return wrapped


__all__ = ["ENV_VAR", "kernels", "native_available", "native_status"]
