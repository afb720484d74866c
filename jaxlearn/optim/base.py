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
* *per-element math*, evaluated in ``promote(leaf dtype, float32)`` and cast back, so updates
  keep the gradient's dtype and accumulators keep the parameter's dtype.

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

Array = jax.Array
PyTree = Any
#: A learning rate: a number, a 0-d array, or a schedule ``step -> lr`` (any optax schedule).
ScalarOrSchedule = Union[float, Array, Callable[[Array], Array]]  # noqa: UP007 (runtime alias)

_INT32_MAX = np.iinfo(np.int32).max


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _concrete_scalar(name: str, value: Any) -> float | None:
    """The float value of a scalar hyper-parameter, or None when it is a tracer."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got a bool ({value!r})")
    shape = np.shape(value)
    if shape != ():
        raise ValueError(f"{name} must be a scalar, got an array of shape {shape}")
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from err


def check_unit_interval(name: str, value: Any) -> None:
    """Raise ValueError unless ``0 <= value < 1`` (checked only when ``value`` is concrete)."""
    v = _concrete_scalar(name, value)
    if v is not None and not (0.0 <= v < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {v!r}")


def check_non_negative(name: str, value: Any) -> None:
    """Raise ValueError unless ``value >= 0`` and finite (checked only when concrete)."""
    v = _concrete_scalar(name, value)
    if v is not None and not (0.0 <= v < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def check_learning_rate(lr: ScalarOrSchedule) -> None:
    """A learning rate is a schedule (any callable) or a finite number ``>= 0``."""
    if callable(lr):
        return
    check_non_negative("lr", lr)


# --------------------------------------------------------------------------------------------
# Scalars of the step
# --------------------------------------------------------------------------------------------


def scalar_dtype() -> jnp.dtype:
    """float64 under x64, float32 otherwise: the precision of step scalars and powers."""
    return jnp.result_type(float)


def as_scalar(value: Any) -> Array:
    """A hyper-parameter as a 0-d array of :func:`scalar_dtype` (never bf16/f16)."""
    return jnp.asarray(value).astype(scalar_dtype())


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
    """Raise TypeError naming the first leaf of ``tree`` that is not a floating-point array."""
    for path, leaf in _leaves_with_paths(tree):
        if leaf is None:
            continue
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            dtype = np.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"{what}{path_str(path)} has dtype {dtype}; update rules need "
                f"floating-point leaves (f16, bf16, f32, f64)"
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


@dataclasses.dataclass(frozen=True)
class ElementwiseRule:
    """An update rule as data: its per-element formula and per-step scalars.

    Attributes:
      name: the rule's name, for messages.
      slots: names of the accumulators, each a tree shaped like the params (zeros at init).
      state_cls: the NamedTuple of the state, fields ``('count', *slots)``.
      scalars: ``count -> {name: scalar}``, evaluated once per step in float32/float64.
      leaf: the per-element formula ``(g, *slots, **scalars) -> (update, *new_slots)``.
    """

    name: str
    slots: tuple[str, ...]
    state_cls: type
    scalars: ScalarsFn
    leaf: LeafFn


def compute_dtype(dtype: Any) -> jnp.dtype:
    """The dtype the per-element math runs in: at least float32 (bf16/f16 are widened)."""
    return jnp.promote_types(dtype, jnp.float32)


def apply_leaf(
    rule: ElementwiseRule, scalars: Mapping[str, Array], g: Array, slots: Sequence[Array]
) -> tuple[Array, ...]:
    """Run ``rule.leaf`` on one leaf: widen to the compute dtype, then cast each output back.

    The update keeps ``g``'s dtype and each accumulator keeps its own dtype.
    """
    cd = compute_dtype(g.dtype)
    out = rule.leaf(
        g.astype(cd),
        *(s.astype(cd) for s in slots),
        **{k: v.astype(cd) for k, v in scalars.items()},
    )
    return (out[0].astype(g.dtype), *(o.astype(s.dtype) for o, s in zip(out[1:], slots)))


class Transformation(optax.GradientTransformation):
    """An optax ``GradientTransformation`` that also carries its :class:`ElementwiseRule`.

    It *is* the ``(init, update)`` NamedTuple optax expects (``optax.chain``,
    ``optax.inject_hyperparams`` and tuple unpacking all see exactly two fields); the extra
    ``rule`` attribute lets jaxlearn's fast paths reuse the same per-element formula.
    """

    rule: ElementwiseRule


def elementwise_transformation(rule: ElementwiseRule) -> Transformation:
    """Lift a per-element rule to an ``(init, update)`` pair over any pytree.

    ``init(params)`` returns ``rule.state_cls(count=int32 0, **{slot: zeros_like(params)})``.
    ``update(grads, state, params=None)`` checks ``grads`` against the state (structure, shapes,
    floating dtypes; all static, so free under ``jit``), evaluates the step scalars once and
    applies ``rule.leaf`` to every leaf. ``None`` leaves stay ``None``.
    """

    def init(params: PyTree) -> Any:
        check_floating(params, "params")
        slots = {s: jax.tree.map(jnp.zeros_like, params) for s in rule.slots}
        return rule.state_cls(count=jnp.zeros([], jnp.int32), **slots)

    def update(grads: PyTree, state: Any, params: PyTree | None = None) -> tuple[PyTree, Any]:
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
        outs = [
            apply_leaf(rule, scalars, g, [sl[i] for sl in slot_leaves])
            for i, g in enumerate(g_leaves)
        ]
        n_out = 1 + len(rule.slots)
        columns = [[o[k] for o in outs] for k in range(n_out)]
        updates = treedef.unflatten(columns[0])
        new_slots = {s: treedef.unflatten(col) for s, col in zip(rule.slots, columns[1:])}
        return updates, rule.state_cls(count=safe_increment(state.count), **new_slots)

    transformation = Transformation(init, update)
    transformation.rule = rule
    return transformation


# --------------------------------------------------------------------------------------------
# Applying updates
# --------------------------------------------------------------------------------------------


def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """New parameters ``W + ΔW``, leaf by leaf, each keeping the parameter's dtype.

    The same as ``optax.apply_updates`` (which jaxlearn's updates also work with), plus a clear
    error naming the first path where ``updates`` does not match ``params``.

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> jl.apply_updates({'w': jnp.ones(2, jnp.bfloat16)}, {'w': jnp.full(2, 0.5)})
    {'w': Array([1.5, 1.5], dtype=bfloat16)}
    """
    check_same_structure(updates, params, "updates", "params")
    return jax.tree.map(
        lambda p, u: None if p is None else jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
        params,
        updates,
        is_leaf=lambda x: x is None,
    )
