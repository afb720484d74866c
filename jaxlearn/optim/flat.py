"""Flat (multi-tensor) mode: a whole pytree as one contiguous buffer per dtype.

A tree of thousands of small leaves costs thousands of tiny compiled loops per optimizer step,
each with a fixed overhead. Keeping the parameters, the gradients and the optimizer state as one
1-D buffer per dtype turns the step into one loop per buffer, at memory bandwidth.

* :func:`ravel` packs a tree into :class:`FlatBuffers` (``{dtype name: 1-D array}``, a pytree)
  and returns the inverse ``unravel``. A model keeps its parameters flat and takes its gradient
  with respect to the flat buffers directly::

      flat_params, unravel = ravel(params)
      grads = jax.grad(lambda flat: loss(unravel(flat), batch))(flat_params)  # FlatBuffers

* :func:`flat` wraps any jaxlearn element-wise rule,
  unchanged, into an ``(init, update)`` pair whose state holds flat buffers. It accepts either
  :class:`FlatBuffers` (the fast path) or ordinary trees (ravelled on the way in, unravelled on
  the way out).

Within each dtype the buffer is the leaves' ``reshape(-1)`` concatenated in tree order, so each
element sees exactly the operations of the per-leaf path (same dtypes, same formula).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.optim.base import PyTree, Transformation, check_floating


@jax.tree_util.register_pytree_with_keys_class
class FlatBuffers:
    """One 1-D buffer per dtype, ``{dtype name: array}``; a pytree (leaves in key order).

    Behaves as a read-only mapping (``fb['float32']``, ``fb.keys()``, ``len(fb)``) and works
    with ``jax.tree.map``, ``jax.grad``, ``jax.jit`` and optax like any pytree.

    >>> import jax.numpy as jnp
    >>> fb = FlatBuffers({'float32': jnp.zeros(3)})
    >>> fb['float32'].shape, list(fb)
    ((3,), ['float32'])
    """

    __slots__ = ("_buffers",)

    def __init__(self, buffers: dict[str, Any]):
        self._buffers = dict(sorted(buffers.items()))

    def __getitem__(self, key: str) -> Any:
        return self._buffers[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._buffers)

    def __len__(self) -> int:
        return len(self._buffers)

    def keys(self):
        return self._buffers.keys()

    def values(self):
        return self._buffers.values()

    def items(self):
        return self._buffers.items()

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{k!r}: {type(v).__name__}{tuple(np.shape(v))}" for k, v in self._buffers.items()
        )
        return f"FlatBuffers({{{inner}}})"

    def tree_flatten_with_keys(self):
        keys = tuple(self._buffers)
        return [(jax.tree_util.DictKey(k), self._buffers[k]) for k in keys], keys

    @classmethod
    def tree_unflatten(cls, keys, children):
        obj = object.__new__(cls)
        obj._buffers = dict(zip(keys, children))
        return obj


def ravel(tree: PyTree) -> tuple[FlatBuffers, Callable[[FlatBuffers], PyTree]]:
    """Pack ``tree``'s leaves into one 1-D buffer per dtype; return it and its inverse.

    Leaves of one dtype are flattened (``reshape(-1)``) and concatenated in tree order;
    ``None`` leaves and empty containers are kept by ``unravel``, which slices each buffer back
    into the original shapes. Both directions are differentiable, so
    ``jax.grad(lambda flat: loss(unravel(flat)))(flat)`` is the flattened gradient
    ``ravel(jax.grad(loss)(tree))[0]``. ``unravel`` raises ValueError when a buffer is missing
    or has the wrong length.

    >>> import jax, jax.numpy as jnp
    >>> tree = {'W': jnp.ones((2, 2)), 'b': jnp.zeros(2), 'n': None}
    >>> flat, unravel = ravel(tree)
    >>> flat['float32']
    Array([1., 1., 1., 1., 0., 0.], dtype=float32)
    >>> unravel(flat)['W'].shape, unravel(flat)['n'] is None
    ((2, 2), True)
    >>> loss = lambda t: jnp.sum(t['W'] ** 2) + jnp.sum(t['b'])
    >>> jax.grad(lambda f: loss(unravel(f)))(flat)['float32']
    Array([2., 2., 2., 2., 1., 1.], dtype=float32)
    """
    leaves, treedef = jax.tree.flatten(tree)
    keys = [jnp.dtype(getattr(x, "dtype", None) or np.result_type(x)).name for x in leaves]
    shapes = [np.shape(x) for x in leaves]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    order: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        order.setdefault(k, []).append(i)
    buffers = {
        k: jnp.concatenate([jnp.reshape(jnp.asarray(leaves[i]), -1) for i in idx])
        for k, idx in order.items()
    }
    totals = {k: sum(sizes[i] for i in idx) for k, idx in order.items()}

    def unravel(flat: FlatBuffers) -> PyTree:
        for k, total in totals.items():
            if k not in flat.keys():
                raise ValueError(f"unravel: the flat buffers lack the {k!r} buffer")
            if np.shape(flat[k]) != (total,):
                raise ValueError(
                    f"unravel: the {k!r} buffer has shape {np.shape(flat[k])}, expected ({total},)"
                )
        out: list[Any] = [None] * len(leaves)
        for k, idx in order.items():
            offset = 0
            for i in idx:
                out[i] = jnp.reshape(flat[k][offset : offset + sizes[i]], shapes[i])
                offset += sizes[i]
        return treedef.unflatten(out)

    return FlatBuffers(buffers), unravel


class FlatTransformation(Transformation):
    """A :class:`~jaxlearn.optim.base.Transformation` whose state holds :class:`FlatBuffers`."""


def flat(opt: Transformation) -> FlatTransformation:
    r"""The same rule over one flat buffer per dtype (multi-tensor mode).

    ``opt`` is a jaxlearn element-wise rule (``jl.adam()``, ``jl.sgd()``, ...; anything with a
    ``.rule``); the rule itself is reused unchanged. The result follows optax's protocol:

    * ``init(params)``: ``params`` a tree or :class:`FlatBuffers`; the state is ``opt``'s own
      state type (e.g. ``AdamState``) with each accumulator a :class:`FlatBuffers`.
    * ``update(grads, state, params=None, **extra_args) -> (updates, state)`` (extra keyword
      arguments accepted and ignored, as optax's ``GradientTransformationExtraArgs``): with
      :class:`FlatBuffers`
      gradients, the updates are :class:`FlatBuffers` (the fast path: one loop per buffer);
      with a tree, it is ravelled, updated and the updates unravelled to the same tree.
    * ``update_and_apply(grads, state, params) -> (new_params, state)`` likewise, with
      ``params`` of the same kind as ``grads``.

    Each element gets exactly the tree mode's arithmetic, so results equal the tree mode's
    (same dtypes; gradients must have their parameters' dtypes, as the state is laid out by the
    parameters' dtypes).

    >>> import jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.optim.flat import flat, ravel
    >>> params = {'W': jnp.ones((2, 2)), 'b': jnp.zeros(2)}
    >>> opt = flat(jl.sgd(lr=0.5))
    >>> fparams, unravel = ravel(params)
    >>> fgrads, _ = ravel({'W': jnp.ones((2, 2)), 'b': jnp.ones(2)})
    >>> fparams, state = opt.update_and_apply(fgrads, opt.init(fparams), fparams)
    >>> fparams['float32']
    Array([ 0.5,  0.5,  0.5,  0.5, -0.5, -0.5], dtype=float32)
    >>> unravel(fparams)['b']
    Array([-0.5, -0.5], dtype=float32)
    """
    if isinstance(opt, FlatTransformation):
        return opt
    if getattr(opt, "rule", None) is None or getattr(opt, "update_and_apply", None) is None:
        raise TypeError(
            "flat needs a jaxlearn element-wise rule (jl.sgd(), jl.adam(), "
            f"...), got {type(opt).__name__}; wrap optax transformations around it instead"
        )

    def to_flat(tree: PyTree, what: str) -> tuple[FlatBuffers, Callable | None]:
        if isinstance(tree, FlatBuffers):
            return tree, None
        check_floating(tree, what)
        return ravel(tree)

    def init(params: PyTree) -> Any:
        return opt.init(to_flat(params, "params")[0])

    def update(
        grads: PyTree, state: Any, params: PyTree | None = None, **extra_args: Any
    ) -> tuple[PyTree, Any]:
        del extra_args  # accepted and ignored, as optax's GradientTransformationExtraArgs
        fgrads, unravel = to_flat(grads, "grads")
        fparams = None if params is None else to_flat(params, "params")[0]
        updates, state = opt.update(fgrads, state, fparams)
        return (updates if unravel is None else unravel(updates)), state

    def update_and_apply(
        grads: PyTree, state: Any, params: PyTree, **extra_args: Any
    ) -> tuple[PyTree, Any]:
        del extra_args
        fgrads, _ = to_flat(grads, "grads")
        fparams, unravel = to_flat(params, "params")
        new_params, state = opt.update_and_apply(fgrads, state, fparams)
        return (new_params if unravel is None else unravel(new_params)), state

    transformation = FlatTransformation(init, update)
    transformation.rule = opt.rule
    transformation.hyperparams = dict(opt.hyperparams)
    transformation.update_and_apply = update_and_apply
    return transformation


def ravel_like(tree: PyTree) -> FlatBuffers:
    """Only the flat buffers of :func:`ravel` (e.g. for gradients shaped like the parameters).

    >>> import jax.numpy as jnp
    >>> ravel_like([jnp.ones(2), jnp.zeros(1, jnp.bfloat16)]).keys()
    dict_keys(['bfloat16', 'float32'])
    """
    return ravel(tree)[0]


__all__ = [
    "FlatBuffers",
    "FlatTransformation",
    "flat",
    "ravel",
    "ravel_like",
]
