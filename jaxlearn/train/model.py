"""What the training core asks of a model: a loss on a batch, per-example metrics, a data check.

:func:`~jaxlearn.train.train` and :func:`~jaxlearn.train.train_many` train any object with these
three methods (a structural protocol: nothing to inherit). The book's network,
:class:`jaxlearn.nn.mlp.MLPConfig`, is one; every problem of the optimizer benchmark suite
(:mod:`jaxlearn.suite`) is another. The methods are pure functions of arrays, so the training
core can ``jit``, ``vmap`` and ``shard_map`` them; the model object itself is static (hashable:
the compiled program is cached on it).

``loss(params, state, x, t, *, train, key, axis_name) -> (value, new_state)``
    The training objective on a mini-batch ``(x, t)``: a scalar, and the model state after the
    forward pass (Batch Norm's running statistics; return ``state`` unchanged if there is
    none). ``key`` is a PRNG key for the step's randomness (Dropout), folded from the run's key
    and the iteration number; models without randomness ignore it. ``axis_name``, inside a
    data-parallel program, names the mesh axis the global batch is split over: ``x`` and ``t``
    are this device's rows, the core averages the returned value and the gradients over the
    axis, and a model whose loss couples examples (Batch Norm) uses the axis itself.
``metrics(params, state, x, t) -> {name: (n,) array}``
    Per-example values in inference mode (a correct-prediction indicator, a cross-entropy, a
    squared error), one entry per example of ``x``. The core reports each split's mean, so a
    split can be evaluated in chunks and over devices.
``check_data(x, t, split) -> (x, t)``
    The arrays of one split, converted to what ``loss`` and ``metrics`` take (dtypes, label
    form); a clear error naming ``split`` when they do not fit the model.

>>> import jax, jax.numpy as jnp
>>> from jaxlearn.nn import mlp
>>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
>>> is_model(net)
True
>>> x, t = net.check_data(jnp.ones((5, 4)), jnp.array([0, 1, 0, 1, 1]), 'train')
>>> sorted(evaluate(net, params, state, x, t))
['accuracy', 'cross_entropy']
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from jaxlearn._compat import axis_size

Array = jax.Array

__all__ = ["Model", "evaluate", "is_model"]


@runtime_checkable
class Model(Protocol):
    """The structural type of a trainable model (see the module docstring)."""

    def loss(
        self, params: Any, state: Any, x: Array, t: Array, *, train: bool, key: Array | None,
        axis_name: Any = None,
    ) -> tuple[Array, Any]: ...  # fmt: skip

    def metrics(self, params: Any, state: Any, x: Array, t: Array) -> dict[str, Array]: ...

    def check_data(self, x: Any, t: Any, split: str) -> tuple[Array, Array]: ...


def is_model(obj: Any) -> bool:
    """Whether ``obj`` has the three methods of :class:`Model` (and is hashable, as the
    compiled programs are cached on it)."""
    try:
        hash(obj)
    except TypeError:
        return False
    return isinstance(obj, Model)


def evaluate(
    model: Model, params: Any, state: Any, x: Array, t: Array, *, chunk: int | None = None,
    axis_name: Any = None,
) -> dict[str, Array]:  # fmt: skip
    r"""Each metric's mean over the split ``(x, t)``: :math:`\bar m = \frac1n\sum_i m_i`.

    ``chunk``: evaluate ``chunk`` rows at a time (a ``lax.map``; memory of one chunk's
    activations), or the whole split at once (None). ``axis_name`` (inside ``shard_map``, the
    split replicated): each device evaluates its equal share of the rows (padded to a multiple
    of the axis size) and the sums and counts are added over the axis, so N devices give one
    device's result (exactly for counts such as accuracy, to float rounding otherwise).

    >>> import jax, jax.numpy as jnp
    >>> from jaxlearn.nn import mlp
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> x, t = jnp.zeros((6, 4)), jnp.array([0, 0, 0, 0, 0, 1])
    >>> whole = evaluate(net, params, state, x, t)
    >>> parts = evaluate(net, params, state, x, t, chunk=4)
    >>> round(float(whole['accuracy']), 4), bool(jnp.allclose(whole['cross_entropy'],
    ...                                                    parts['cross_entropy']))
    (0.8333, True)
    """
    n = x.shape[0]
    devices, index = 1, 0
    if axis_name is not None:
        devices, index = axis_size(axis_name), jax.lax.axis_index(axis_name)
    per_device = -(-n // devices)
    rows = per_device if chunk is None else min(chunk, per_device)
    per_device = -(-per_device // rows) * rows  # a whole number of chunks on every device
    valid = jnp.arange(per_device * devices) < n
    x, t = (jnp.pad(a, [(0, per_device * devices - n)] + [(0, 0)] * (a.ndim - 1)) for a in (x, t))
    if axis_name is not None:
        x, t, valid = (
            jax.lax.dynamic_slice_in_dim(a, index * per_device, per_device) for a in (x, t, valid)
        )

    def sums(part):
        xs, ts, ok = part
        values = model.metrics(params, state, xs, ts)
        return {k: jnp.sum(jnp.where(ok, v, jnp.zeros((), v.dtype))) for k, v in values.items()}

    if rows == per_device:
        total = sums((x, t, valid))
    else:
        split = (a.reshape(-1, rows, *a.shape[1:]) for a in (x, t, valid))
        total = jax.tree.map(lambda s: jnp.sum(s, axis=0), jax.lax.map(sums, tuple(split)))
    count = jnp.sum(valid)
    if axis_name is not None:
        total, count = jax.lax.psum((total, count), axis_name)
    return {k: v / count for k, v in total.items()}
