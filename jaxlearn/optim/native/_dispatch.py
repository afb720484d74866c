"""Dispatch: which leaves of a fused step go to a kernel, in which calls, and how every jax
transformation keeps the XLA formula's meaning around them.

:func:`run_rule` is the hook of ``base.elementwise_transformation``'s fused step. A rule gets a
kernel when its descriptor's ``native`` names a row of the library's table with the rule's
slots and scalars, and a probe shows that the rule's ``leaf`` computes what the kernel does;
each covered leaf then goes to the kernel, grouped by compute dtype, and every other leaf to
the XLA path (``xla_run_rule``, passed in so that this package does not import ``base``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxlearn import _compat
from jaxlearn.optim.native import _ffi, _library
from jaxlearn.optim.native._library import Kernel

Array = jax.Array

#: ``run_rule(rule, scalars, g_leaves, slot_leaves, p_leaves) -> [(W', *slots'), ...]``: the XLA
#: path (``base.run_rule``).
RunRule = Callable[..., list]

#: Leaves per kernel call. One call per group saves a launch per leaf, but XLA's compile time
#: grows with a call's operand count (its fusion pass checks every operand of an in-place call
#: against every aliased pair, once per operand). On 2,000 leaves of 1,000, 32 to 256 leaves per
#: call step alike inside a compiled loop (docs/native.md, "Trees of many small leaves": the
#: step costs the tree's separate buffers, not its calls), while Adam's loop on that tree took
#: 12.7, 15.1 and 19.9 s to compile at 32, 128 and 256.
LEAVES_PER_CALL = 32

_DTYPES = frozenset(jnp.dtype(d) for d in ("float32", "float64", "bfloat16", "float16"))


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
    kernel = kernel_for(rule, scalars) if traced else None
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


def kernel_for(rule: Any, scalars: Mapping[str, Array]) -> Kernel | None:
    """The rule's kernel, when it has one whose scalars, slots and formula are the rule's."""
    name = getattr(rule, "native", None)
    if not name or not _library.switched_on():
        return None
    lib = _library.load()
    if lib.error is not None:
        _library.say_unavailable_once()
        return None
    kernel = lib.kernels.get(name)
    if kernel is None or len(rule.slots) != kernel.slots:
        return None
    if set(scalars) != set(kernel.scalars):
        return None
    if any(jnp.ndim(v) != 0 for v in scalars.values()):
        return None
    if not _same_formula(rule, kernel):
        return None
    return kernel


#: Probe values, one per scalar name: far from 0 and 1 and from each other, with a large ε, so
#: that a formula that differs anywhere (ε inside the root, a centred variance, another
#: momentum form, scalars in another order, ...) gives clearly different numbers. A scalar
#: name not listed here probes at 0.5.
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
        _checked[key] = probe(rule, kernel)
        if not _checked[key]:
            _library.LOG.warning(
                "jaxlearn: the %s rule names the %r kernel but computes something else; "
                "it uses the XLA path",
                rule.name,
                rule.native,
            )
    return _checked[key]


def probe(rule: Any, kernel: Kernel) -> bool:
    """Run ``rule.leaf`` and ``kernel``'s loop on the same probe values (W = 0, so W' is the
    update): True when they agree to float rounding. Both sides run without compiling anything
    (the leaf on NumPy where :func:`leaf_on_numpy` can, the loop through ctypes), so the probe
    adds milliseconds, not a tenth of a second, to the first step that uses a kernel."""
    rng = np.random.default_rng(0)
    g = rng.uniform(-2.0, 2.0, 16).astype(np.float32)
    slots = [rng.uniform(0.1, 1.0, 16).astype(np.float32) for _ in rule.slots]
    scalars = {k: np.float32(_PROBE_SCALARS.get(k, 0.5)) for k in kernel.scalars}
    cpu = jax.local_devices(backend="cpu")[0]  # this process's (several with jax.distributed)
    try:
        with jax.ensure_compile_time_eval(), jax.default_device(cpu):
            try:
                want = leaf_on_numpy(rule.leaf, scalars, g, slots)
            except _NotOnNumpy:  # a primitive the NumPy evaluator lacks: jax, op by op
                want = [np.asarray(x) for x in rule.leaf(g, *slots, **scalars)]
        # The kernel's loop called directly (not through XLA: nothing to compile), in place.
        got = [np.zeros(16, np.float32), *(s.copy() for s in slots)]
        rows = np.array([scalars[k] for k in kernel.scalars], np.float32)
        _library.load().run_f32(kernel, rows, got[0], g, got[1:])
    except Exception:  # a leaf that needs other scalars, or a kernel that fails: not the same
        return False
    # The leaf's side has none of the fused multiply-adds the kernel's loop forms where XLA
    # does (NumPy, or jax op by op): equal to float rounding.
    return len(got) == len(want) and all(
        a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(got, want)
    )


class _NotOnNumpy(Exception):
    """The leaf uses a primitive that :func:`leaf_on_numpy` does not evaluate."""


#: The element-wise primitives :func:`leaf_on_numpy` evaluates, as NumPy functions: those the
#: rules' leaves trace to, and a few near them. Anything else falls back to jax.
_NUMPY_PRIMITIVES: dict[str, Callable[..., Any]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "neg": np.negative,
    "sqrt": np.sqrt,
    "square": np.square,
    "abs": np.abs,
    "max": np.maximum,
    "min": np.minimum,
    "conj": np.conj,
    "real": np.real,
    "copy": np.copy,
}


def leaf_on_numpy(
    leaf: Callable[..., Any], scalars: Mapping[str, Any], g: np.ndarray, slots: Sequence[Any]
) -> list[np.ndarray]:
    """``leaf(g, *slots, **scalars)`` evaluated on NumPy: the leaf traced to a jaxpr (no
    compilation), each equation then run by its NumPy function, in its output's dtype. Why: run
    eagerly by jax, each primitive of the leaf is compiled on its own, about 0.2 s for Adam's
    leaf once per process, which the first compiled step paid; this takes a few milliseconds.
    Raises ``_NotOnNumpy`` for a primitive outside ``_NUMPY_PRIMITIVES``.

    >>> leaf_on_numpy(lambda g, h, *, lr: (-lr * g / jnp.sqrt(h),), {"lr": np.float32(0.5)},
    ...               np.array([1.0, 2.0], np.float32), [np.array([4.0, 1.0], np.float32)])
    [array([-0.25, -1.  ], dtype=float32)]
    """
    closed = jax.make_jaxpr(lambda g, *slots: leaf(g, *slots, **scalars))(g, *slots)
    with np.errstate(all="ignore"):
        return _eval_jaxpr(closed.jaxpr, closed.consts, [g, *slots])


def _eval_jaxpr(jaxpr: Any, consts: Sequence[Any], args: Sequence[Any]) -> list[np.ndarray]:
    env: dict[Any, np.ndarray] = {}

    def read(v: Any) -> np.ndarray:
        # A literal carries its value; a variable was written by an earlier equation.
        return np.asarray(v.val, v.aval.dtype) if hasattr(v, "val") else env[v]

    for v, x in zip((*jaxpr.constvars, *jaxpr.invars), (*consts, *args)):
        env[v] = np.asarray(x)
    for eqn in jaxpr.eqns:
        xs = [read(v) for v in eqn.invars]
        name, params = eqn.primitive.name, eqn.params
        if name in _NUMPY_PRIMITIVES:
            outs = [_NUMPY_PRIMITIVES[name](*xs)]
        elif name == "integer_pow":
            outs = [np.power(xs[0], params["y"])]
        elif name == "convert_element_type":
            outs = [xs[0].astype(params["new_dtype"])]
        elif name in ("pjit", "jit", "closed_call") and hasattr(params.get("jaxpr"), "jaxpr"):
            outs = _eval_jaxpr(params["jaxpr"].jaxpr, params["jaxpr"].consts, xs)
        else:
            raise _NotOnNumpy(name)
        for v, x in zip(eqn.outvars, outs):
            env[v] = np.asarray(x).astype(v.aval.dtype, copy=False)
    return [read(v) for v in jaxpr.outvars]


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
        return _ffi.call(kernel, rows, ws, gs, slots)

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
