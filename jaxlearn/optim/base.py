"""The machinery every update rule shares.

A rule of the book is an *element-wise* formula: given one gradient element and the matching
accumulator elements (velocity, squared-gradient sums, moments), it returns the update and the
new accumulators. :func:`elementwise_transformation` writes that formula once and lifts it to
any pytree (dicts, lists, tuples, NamedTuples, nested, ``None`` leaves, empty trees), returning
an ``(init, update)`` pair that follows optax's ``GradientTransformation`` protocol, in the
spirit of ``jax.example_libraries.optimizers``.

Two kinds of quantity enter a formula:

* *scalars of the step* (the learning rate η_t, Adam's bias corrections), computed once per step
  from the update count, in float32 (float64 under x64) so that bf16/f16 training stays finite
  (in bf16, 0.999 rounds to 1.0 and 1 − 0.999^t would be 0);
* *per-element math*, evaluated in the widest of the gradient's and the accumulators' dtypes
  (at least float32) and cast back, so updates keep the gradient's dtype and each accumulator
  keeps its own (the parameter's, unless a state-dtype option such as Adam's ``mu_dtype`` or
  ``accumulator_dtype`` chose another).

Complex parameters follow optax: a first moment or velocity is complex like the gradient, a
second moment is accumulated from :func:`abs_sq` ``= g·conj(g)`` and is real. jaxlearn stores a
second moment in the *real* dtype of the parameter's precision (float32 for complex64), where
optax keeps it in the complex dtype with a zero imaginary part: the same values in half the
memory.

``update(grads, state, params=None, **extra_args)`` accepts and ignores extra keyword arguments
(``value=``, ``grad=``, ``value_fn=``, which line-search optimizers pass), as optax's
``GradientTransformationExtraArgs`` does; so does ``update_and_apply``.

Argument checks accept Python numbers, NumPy/JAX arrays and tracers: a value is range-checked
whenever it is concrete (which includes ``optax.inject_hyperparams`` in eager mode), and skipped
when it is a tracer, since its value is then unknown until run time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlearn._checks import check_non_negative, check_unit_interval  # noqa: F401 (re-exported)
from jaxlearn._util import compute_dtype
from jaxlearn.optim import native

Array = jax.Array
PyTree = Any
#: A learning rate: a number, a 0-d array, or a schedule ``step -> lr`` (any optax schedule).
ScalarOrSchedule = Union[float, Array, Callable[[Array], Array]]  # noqa: UP007 (runtime alias)

_INT32_MAX = np.iinfo(np.int32).max


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def check_learning_rate(lr: ScalarOrSchedule) -> None:
    """A learning rate is a schedule (any callable) or a finite number ``>= 0``."""
    if callable(lr):
        return
    check_non_negative("lr", lr)  # also rejects strings, bools and non-scalar arrays


def check_state_dtype(name: str, dtype: Any) -> jnp.dtype | None:
    """A state-dtype option (``mu_dtype``, ``accumulator_dtype``): None, a real floating dtype
    or a complex one, as optax accepts.

    Raises TypeError naming ``name`` for anything else. :func:`slot_dtype` says what each
    accumulator is stored in for a given parameter.

    >>> check_state_dtype("mu_dtype", "bfloat16")
    dtype(bfloat16)
    >>> check_state_dtype("mu_dtype", "complex64")
    dtype('complex64')
    >>> check_state_dtype("mu_dtype", "int8")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: mu_dtype must be None or a floating or complex dtype (...), got int8
    """
    if dtype is None:
        return None
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or not jnp.issubdtype(dt, jnp.inexact):
        got = dt if dt is not None else repr(dtype)
        raise TypeError(
            f"{name} must be None or a floating or complex dtype (bfloat16, float16, float32, "
            f"float64, complex64, complex128), got {got}"
        )
    return dt


# --------------------------------------------------------------------------------------------
# Scalars of the step
# --------------------------------------------------------------------------------------------


def scalar_dtype() -> jnp.dtype:
    """float64 under x64, float32 otherwise: the precision of step scalars and powers."""
    return jnp.result_type(float)


def as_scalar(value: Any) -> Array:
    """A hyper-parameter as a 0-d array of :func:`scalar_dtype` (never bf16/f16).

    A complex value is taken by its real part: ``optax.inject_hyperparams`` casts the
    hyper-parameters to the parameters' dtype, complex for complex parameters (the argument
    checks have already rejected a non-zero imaginary part where the value is concrete).
    """
    value = jnp.asarray(value)
    if jnp.iscomplexobj(value):
        value = value.real
    return value.astype(scalar_dtype())


def learning_rate_at(lr: ScalarOrSchedule, count: Array) -> Array:
    """η_t: the schedule evaluated at the update count (0 on the first update), or the constant."""
    value = lr(count) if callable(lr) else lr
    if np.shape(value) != ():
        raise ValueError(
            f"the learning-rate schedule must return a scalar, got shape {np.shape(value)}"
        )
    return as_scalar(value)


def safe_increment(count: Array) -> Array:
    """``count + 1`` for an int32 counter, saturating instead of wrapping to negative."""
    return jnp.where(count < _INT32_MAX, count + 1, count).astype(jnp.int32)


# --------------------------------------------------------------------------------------------
# Pytree checks
# --------------------------------------------------------------------------------------------


def _leaves_with_paths(tree: PyTree) -> list[tuple[tuple, Any]]:
    # None is kept as a leaf here so a None in one tree and an array in the other is caught.
    return jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: x is None)[0]


def path_str(path: tuple) -> str:
    """A readable leaf path, e.g. ``['layer1']['w']`` (``<root>`` for a bare array)."""
    return jax.tree_util.keystr(path) or "<root>"


def check_floating(tree: PyTree, what: str) -> None:
    """Raise TypeError naming the first leaf of ``tree`` that is not a floating-point or complex
    array (integers and bools have no gradient step)."""
    for path, leaf in _leaves_with_paths(tree):
        if leaf is None:
            continue
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            dtype = np.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{what}{path_str(path)} has dtype {dtype}; update rules need "
                f"floating-point leaves (f16, bf16, f32, f64) or complex ones (c64, c128)"
            )


def check_same_structure(tree: PyTree, reference: PyTree, what: str, ref_what: str) -> None:
    """Raise ValueError at the first path where ``tree`` and ``reference`` differ.

    Differences are in structure (a missing/extra/renamed key, a None against an array) or in a
    leaf's shape. Shapes are static, so under ``jit`` this costs nothing at run time.
    """
    got = _leaves_with_paths(tree)
    want = _leaves_with_paths(reference)
    for (p_got, leaf_got), (p_want, leaf_want) in zip(got, want):
        if p_got != p_want:
            raise ValueError(
                f"{what} does not match {ref_what}: {what} has a leaf at "
                f"{path_str(p_got)} where {ref_what} has one at {path_str(p_want)}"
            )
        if (leaf_got is None) != (leaf_want is None):
            raise ValueError(
                f"{what}{path_str(p_got)} is "
                f"{'None' if leaf_got is None else 'an array'} but "
                f"{ref_what}{path_str(p_want)} is "
                f"{'None' if leaf_want is None else 'an array'}"
            )
        if leaf_got is not None and np.shape(leaf_got) != np.shape(leaf_want):
            raise ValueError(
                f"{what}{path_str(p_got)} has shape {np.shape(leaf_got)} but "
                f"{ref_what} expects {np.shape(leaf_want)}"
            )
    if len(got) != len(want):
        longer, other, extra = (
            (what, ref_what, got[len(want)])
            if len(got) > len(want)
            else (ref_what, what, want[len(got)])
        )
        raise ValueError(
            f"{what} does not match {ref_what}: {longer} has a leaf at "
            f"{path_str(extra[0])} that {other} lacks"
        )
    if jax.tree_util.tree_structure(tree) != jax.tree_util.tree_structure(reference):
        raise ValueError(
            f"{what} does not match {ref_what}: same leaf paths but different "
            f"container types ({jax.tree_util.tree_structure(tree)} vs "
            f"{jax.tree_util.tree_structure(reference)})"
        )


# --------------------------------------------------------------------------------------------
# Element-wise rules, lifted to pytrees
# --------------------------------------------------------------------------------------------


#: ``leaf(g, *slots, **scalars) -> (update, *new_slots)``, all arrays of one compute dtype.
LeafFn = Callable[..., tuple[Array, ...]]
#: ``scalars(count) -> {name: 0-d array}``: η_t and any other per-step scalar.
ScalarsFn = Callable[[Array], Mapping[str, Array]]


def abs_sq(x: Array) -> Array:
    """|x|², real: ``x·conj(x)``. For a real ``x`` this is ``x * x`` (the same operation).

    The second moments of complex gradients are built from it, as in optax
    (``optax.tree.update_moment_per_elem_norm``, ``optax._src.numerics.abs_sq``).

    >>> import jax.numpy as jnp
    >>> abs_sq(jnp.array([3.0 + 4.0j])), abs_sq(jnp.array([-2.0]))
    (Array([25.], dtype=float32), Array([4.], dtype=float32))
    """
    return (jnp.conj(x) * x).real


@dataclasses.dataclass(frozen=True)
class ElementwiseRule:
    """An update rule as data: its per-element formula and per-step scalars.

    Attributes:
      name: the rule's name, for messages.
      slots: names of the accumulators, each a tree shaped like the params (zeros at init).
      state_cls: the NamedTuple of the state, fields ``('count', *slots)`` (more fields, if
        any, are left at their defaults).
      scalars: ``count -> {name: scalar}``, evaluated once per step in float32/float64.
      leaf: the per-element formula ``(g, *slots, **scalars) -> (update, *new_slots)``.
      hyperparams: the arguments the rule was built with, by name (``{'lr': 0.01}``): what a
        report or a learning-rate sweep reads, so no one inspects the factory's signature.
      real_slots: the accumulators that hold ``|g|²`` sums (second moments): real even for
        complex parameters. The others hold multiples of ``g`` and are complex with it.
      slot_dtypes: the requested dtype of each accumulator, aligned with ``slots`` (None, or an
        empty tuple for all: the parameter's precision); see ``slot_dtype``.
      native: the compiled CPU kernel that computes exactly this ``leaf`` (a row of the
        kernels' table, ``jaxlearn/optim/native/kernels.cc``), or None (XLA path). A rule
        option that changes the formula should leave it None; if it does not, a probe at first
        use catches the mismatch and the rule runs on XLA (``docs/native.md``).
    """

    name: str
    slots: tuple[str, ...]
    state_cls: type
    scalars: ScalarsFn
    leaf: LeafFn
    hyperparams: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    real_slots: tuple[str, ...] = ()
    slot_dtypes: tuple[Any, ...] = ()
    native: str | None = None


def slot_dtype(rule: ElementwiseRule, k: int, param: Any, path: tuple = ()) -> jnp.dtype | None:
    """The dtype of accumulator ``k`` for the leaf ``param``; None means "like ``param``".

    * a second moment (``rule.real_slots``): real, in the requested precision (a complex
      request gives its real counterpart: complex64 -> float32), else in the parameter's
      precision (float32 for complex64);
    * any other accumulator: a complex request as it is, for real parameters too (optax's
      ``mu_dtype``/``accumulator_dtype`` store exactly the dtype asked for); else the requested
      dtype, or the parameter's, where for a complex parameter the complex dtype of the
      requested precision (float32 -> complex64, float64 -> complex128). A bfloat16/float16
      request has no complex counterpart: ValueError naming the leaf (optax would store the
      real part only, silently dropping the imaginary one).
    """
    requested = rule.slot_dtypes[k] if rule.slot_dtypes else None
    dtype = jnp.result_type(param)
    if rule.slots[k] in rule.real_slots:
        if requested is not None:
            return jnp.finfo(requested).dtype
        return jnp.finfo(dtype).dtype if jnp.issubdtype(dtype, jnp.complexfloating) else None
    if requested is None or jnp.issubdtype(requested, jnp.complexfloating):
        return requested
    if not jnp.issubdtype(dtype, jnp.complexfloating):
        return requested
    if jnp.finfo(requested).bits < 32:
        raise ValueError(
            f"{rule.name}: the {rule.slots[k]} of params{path_str(path)} ({dtype}) is complex, "
            f"and there is no complex {requested}: use float32 (complex64), float64 "
            "(complex128) or None for its state dtype"
        )
    return jnp.promote_types(requested, jnp.complex64)


def apply_leaf(
    rule: ElementwiseRule, scalars: Mapping[str, Array], g: Array, slots: Sequence[Array]
) -> tuple[Array, ...]:
    """Run ``rule.leaf`` on one leaf: widen to the compute dtype, then cast each output back.

    The compute dtype is the widest of ``g``'s and the accumulators' dtypes, at least float32
    (complex for complex ``g``); second moments and the step scalars take its real
    counterpart. The update keeps ``g``'s dtype and each accumulator keeps its own dtype.
    """
    cd = compute_dtype(jnp.result_type(g.dtype, *(s.dtype for s in slots)))
    rd = jnp.finfo(cd).dtype  # cd itself unless complex
    out = rule.leaf(
        g.astype(cd),
        *(s.astype(rd if n in rule.real_slots else cd) for n, s in zip(rule.slots, slots)),
        **{k: v.astype(rd) for k, v in scalars.items()},
    )
    update = out[0]
    if jnp.iscomplexobj(update) and not jnp.iscomplexobj(g):
        # A complex state (mu_dtype=complex64) of a real parameter: the update's imaginary
        # part is exactly 0 (the state only ever held real values), so the real part is all.
        update = update.real
    return (update.astype(g.dtype), *(o.astype(s.dtype) for o, s in zip(out[1:], slots)))


class Transformation(optax.GradientTransformationExtraArgs):
    """An optax ``GradientTransformationExtraArgs`` that also carries its :class:`ElementwiseRule`.

    It *is* the ``(init, update)`` NamedTuple optax expects (``optax.chain``,
    ``optax.inject_hyperparams`` and tuple unpacking all see exactly two fields), and its
    ``update(grads, state, params=None, **extra_args)`` accepts and ignores extra keyword
    arguments as optax's aliases do. The extra ``rule`` attribute lets jaxlearn's fast paths
    reuse the same per-element formula, ``hyperparams`` holds the arguments it was built with
    (``jl.adam().hyperparams['lr']`` is 0.001), and the extra
    ``update_and_apply(grads, state, params, **extra_args) -> (new_params, new_state)``
    attribute runs the rule and ``W + ΔW`` in the same per-leaf pass (see
    :func:`jaxlearn.optim.update_and_apply`).
    """

    rule: ElementwiseRule
    hyperparams: dict[str, Any]
    update_and_apply: Callable[..., tuple[PyTree, Any]]


def _leaf_step(
    rule: ElementwiseRule,
    scalars: Mapping[str, Array],
    g: Array,
    slots: Sequence[Array],
    p: Array | None,
) -> tuple[Array, ...]:
    """``apply_leaf``, then (when ``p`` is given) ``W + ΔW`` cast to W's dtype, in one place."""
    out = apply_leaf(rule, scalars, g, slots)
    if p is None:
        return out
    # ``u * 1`` is exactly ``u`` for every float (±0, inf and NaN included). The 1 is hidden
    # behind a barrier so XLA cannot fold it away: XLA:CPU (jax 0.10) emits a fusion that
    # holds a lone ``add`` about 25 % slower than a multiply-add, and Momentum's update *is*
    # its new velocity, so ``W + v`` was such a lone add (measured: Momentum 1.15x optax's
    # time before, 1.03x after, on one 25M leaf and on the ResNet-50 tree).
    u = out[0] * jax.lax.optimization_barrier(jnp.ones((), out[0].dtype))
    return (jnp.asarray(p + u).astype(p.dtype), *out[1:])


def run_rule(
    rule: ElementwiseRule,
    scalars: Mapping[str, Array],
    g_leaves: Sequence[Array],
    slot_leaves: Sequence[Sequence[Array]],
    p_leaves: Sequence[Array] | None = None,
) -> list[tuple[Array, ...]]:
    """Run a rule on lists of leaves, one output tuple per leaf.

    ``slot_leaves[k][i]`` is accumulator ``k`` of leaf ``i``. Each output is
    ``(update, *new_slots)``, or ``(new_param, *new_slots)`` when ``p_leaves`` is given. For
    trees of many small leaves, the flat mode (:mod:`jaxlearn.optim.flat`) runs the same rule on
    one buffer per dtype instead.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> rule = jl.sgd(lr=0.5).rule
    >>> scalars = rule.scalars(jnp.int32(0))
    >>> run_rule(rule, scalars, [jnp.ones(2), jnp.ones(())], [], [jnp.zeros(2), jnp.ones(())])
    [(Array([-0.5, -0.5], dtype=float32),), (Array(0.5, dtype=float32),)]
    """
    p_leaves = [None] * len(g_leaves) if p_leaves is None else p_leaves
    return [
        _leaf_step(rule, scalars, g, [sl[i] for sl in slot_leaves], p_leaves[i])
        for i, g in enumerate(g_leaves)
    ]


def elementwise_transformation(rule: ElementwiseRule) -> Transformation:
    """Lift a per-element rule to an ``(init, update)`` pair over any pytree.

    ``init(params)`` returns ``rule.state_cls(count=int32 0, **{slot: zeros like params})``,
    each accumulator in the dtype ``slot_dtype`` gives it.
    ``update(grads, state, params=None, **extra_args)`` checks ``grads`` against the state
    (structure, shapes, floating or complex dtypes; all static, so free under ``jit``),
    evaluates the step scalars once and applies ``rule.leaf`` to every leaf (``run_rule``);
    ``extra_args`` are accepted and ignored, as optax's ``GradientTransformationExtraArgs``
    does. ``None`` leaves stay ``None``. The returned pair
    also has ``update_and_apply(grads, state, params, **extra_args) -> (params + ΔW,
    new_state)``, the same result as ``update`` then :func:`apply_updates` computed in one pass
    per leaf.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> opt = jl.momentum(lr=0.1)   # built by elementwise_transformation
    >>> params, grads = {'w': jnp.ones(2)}, {'w': jnp.ones(2)}
    >>> new_params, state = opt.update_and_apply(grads, opt.init(params), params)
    >>> new_params['w'], state.velocity['w']
    (Array([0.9, 0.9], dtype=float32), Array([-0.1, -0.1], dtype=float32))
    """

    def init(params: PyTree) -> Any:
        check_floating(params, "params")

        def zeros(k: int) -> PyTree:
            return jax.tree_util.tree_map_with_path(
                lambda path, p: jnp.zeros_like(p, dtype=slot_dtype(rule, k, p, path)), params
            )

        slots = {s: zeros(k) for k, s in enumerate(rule.slots)}
        return rule.state_cls(count=jnp.zeros([], jnp.int32), **slots)

    def step(grads: PyTree, state: Any, params: PyTree | None, apply: bool) -> tuple[PyTree, Any]:
        check_floating(grads, "grads")
        if not isinstance(state, rule.state_cls):
            raise TypeError(
                f"{rule.name}: state must be a {rule.state_cls.__name__} (from "
                f"this rule's init), got {type(state).__name__}"
            )
        slot_trees = [getattr(state, s) for s in rule.slots]
        if slot_trees:
            check_same_structure(grads, slot_trees[0], "grads", f"the {rule.name} state")
        if params is not None:
            check_same_structure(grads, params, "grads", "params")
        scalars = rule.scalars(state.count)
        g_leaves, treedef = jax.tree.flatten(grads)
        slot_leaves = [treedef.flatten_up_to(t) for t in slot_trees]
        if apply:  # the fused step: the compiled kernels where they apply (native/)
            p_leaves = treedef.flatten_up_to(params)
            outs = native.run_rule(rule, scalars, g_leaves, slot_leaves, p_leaves, run_rule)
        else:
            outs = run_rule(rule, scalars, g_leaves, slot_leaves)
        n_out = 1 + len(rule.slots)
        columns = [[o[k] for o in outs] for k in range(n_out)]
        first = treedef.unflatten(columns[0])
        new_slots = {s: treedef.unflatten(col) for s, col in zip(rule.slots, columns[1:])}
        return first, rule.state_cls(count=safe_increment(state.count), **new_slots)

    def update(
        grads: PyTree, state: Any, params: PyTree | None = None, **extra_args: Any
    ) -> tuple[PyTree, Any]:
        del extra_args  # accepted and ignored, as optax's GradientTransformationExtraArgs
        return step(grads, state, params, apply=False)

    def update_and_apply(
        grads: PyTree, state: Any, params: PyTree, **extra_args: Any
    ) -> tuple[PyTree, Any]:
        del extra_args
        if params is None:
            raise ValueError(f"{rule.name}: update_and_apply needs params, got None")
        check_floating(params, "params")
        return step(grads, state, params, apply=True)

    transformation = Transformation(init, update)
    transformation.rule = rule
    transformation.hyperparams = dict(rule.hyperparams)
    transformation.update_and_apply = update_and_apply
    return transformation


# --------------------------------------------------------------------------------------------
# Applying updates
# --------------------------------------------------------------------------------------------


def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """New parameters ``W + ΔW``, leaf by leaf, each keeping the parameter's dtype.

    The same as ``optax.apply_updates`` (which jaxlearn's updates also work with), plus clear
    errors: ValueError naming the first path where ``updates`` does not match ``params``, and
    TypeError for a non-floating leaf (optax would silently truncate ``1 + 0.5`` to ``1`` in an
    integer parameter).

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> jl.apply_updates({'w': jnp.ones(2, jnp.bfloat16)}, {'w': jnp.full(2, 0.5)})
    {'w': Array([1.5, 1.5], dtype=bfloat16)}
    """
    check_same_structure(updates, params, "updates", "params")
    check_floating(params, "params")
    check_floating(updates, "updates")
    return jax.tree.map(
        lambda p, u: None if p is None else jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
        params,
        updates,
        is_leaf=lambda x: x is None,
    )
