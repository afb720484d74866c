"""The book's ``MultiLayerNetExtend`` as pure functions.

Layers: for each hidden layer ``i = 1 … L−1``: Affine → [BatchNorm] → activation → [Dropout];
then the output Affine ``L``. Loss: softmax cross-entropy as the book computes it, plus weight
decay ``½λΣ‖W‖²`` over all affine weights (output layer included).

Pytrees, flat dicts named as in the book:

- ``params``: ``{'W1', 'b1', …, 'WL', 'bL'}`` plus ``{'gamma1', 'beta1', …}`` for each hidden
  layer when ``use_batchnorm``;
- ``state``: ``{'mean1', 'var1', …}`` (BatchNorm running statistics; ``{}`` without BatchNorm).

The network's shape and options live in a frozen, hashable :class:`MLPConfig` (static under
``jit``: pass it as a closure or ``static_argnums``); params and state are plain pytrees, so
K stacked copies run under ``vmap``.

Example:
    >>> import jax, jax.numpy as jnp
    >>> net, params, state = init(jax.random.key(0), 784, [100, 100], 10, use_batchnorm=True)
    >>> sorted(params)
    ['W1', 'W2', 'W3', 'b1', 'b2', 'b3', 'beta1', 'beta2', 'gamma1', 'gamma2']
    >>> x, t = jnp.ones((4, 784)), jnp.array([0, 1, 2, 3])
    >>> value, state = loss(net, params, state, x, t, train=True)
    >>> value.shape, accuracy(net, params, state, x, t).shape
    ((), ())
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn import initializers
from jaxlearn._checks import check_non_negative, check_unit_interval, per_configuration
from jaxlearn._compat import axis_size
from jaxlearn.data.labels import class_indices
from jaxlearn.nn.activations import activation as activation_fn
from jaxlearn.nn.batchnorm import batch_norm, batchnorm_init
from jaxlearn.nn.dropout import dropout
from jaxlearn.nn.regularization import is_weight, l2_penalty

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class MLPConfig:
    """The static description of a ``MultiLayerNetExtend`` (hashable; not a pytree)."""

    input_size: int
    hidden_sizes: tuple[int, ...]
    output_size: int
    activation: str = "relu"
    weight_init_std: str | float | Callable[..., Array] = "he"
    use_batchnorm: bool = False
    use_dropout: bool = False
    dropout_ratio: float = 0.5
    weight_decay_lambda: float = 0.0
    dtype: str = "float32"

    @property
    def sizes(self) -> tuple[int, ...]:
        """Node counts of every layer, input to output."""
        return (self.input_size, *self.hidden_sizes, self.output_size)

    @property
    def num_layers(self) -> int:
        """Number of affine layers (hidden + output)."""
        return len(self.hidden_sizes) + 1

    # The training core's model protocol (jaxlearn.train.model): the network as a trainable
    # model, by the module's functions below.

    def loss(
        self, params: dict, state: dict, x: Array, t: Array, *, train: bool,
        key: Array | None = None, axis_name: Any = None,
    ) -> tuple[Array, dict]:  # fmt: skip
        """:func:`loss` of this network (the book's loss, weight decay included)."""
        return loss(self, params, state, x, t, train=train, key=key, axis_name=axis_name)

    def metrics(self, params: dict, state: dict, x: Array, t: Array) -> dict[str, Array]:
        """Per example, in inference mode: ``'accuracy'`` (1 where ``argmax(logits) == t``) and
        ``'cross_entropy'`` (the book's ``−log(y_t + 1e-7)``, without weight decay)."""
        return _metrics(self, params, state, x, t)

    def check_data(self, x: Any, t: Any, split: str) -> tuple[Array, Array]:
        """``(x, t)`` of one split as device arrays: ``x`` flattened images ``(N, input_size)``
        in the network's dtype, ``t`` int labels (one-hot targets are converted)."""
        t = jnp.asarray(class_indices(np.asarray(t), f"t_{split}"))
        x = jnp.asarray(x, self.dtype)
        if x.ndim != 2:
            raise ValueError(f"x_{split}: expected flattened images (N, features), got {x.shape}")
        if x.shape[0] != t.shape[0]:
            raise ValueError(f"x_{split}: {x.shape[0]} examples but {t.shape[0]} labels")
        if x.shape[1] != self.input_size:
            raise ValueError(
                f"x_{split}: {x.shape[1]} features, but net.input_size={self.input_size}"
            )
        return x, t


def make(
    input_size: int,
    hidden_sizes: Sequence[int],
    output_size: int,
    *,
    activation: str = "relu",
    weight_init_std: str | float | Callable[..., Array] = "he",
    use_batchnorm: bool = False,
    use_dropout: bool = False,
    dropout_ratio: float = 0.5,
    weight_decay_lambda: float = 0.0,
    dtype: Any = jnp.float32,
) -> MLPConfig:
    """Validate the options and build the :class:`MLPConfig` (no arrays; see :func:`init`).

    Example:
        >>> make(784, [100] * 4, 10).sizes
        (784, 100, 100, 100, 100, 10)
    """
    sizes = (input_size, *hidden_sizes, output_size)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes):
        raise ValueError(f"layer sizes must be positive ints, got {sizes}")
    activation_fn(activation)  # validates the names
    if not callable(weight_init_std):  # an initializer (key, shape, dtype) -> W is taken as is
        initializers.weight_std(weight_init_std, 1, "weight_init_std")
    check_unit_interval("dropout_ratio", dropout_ratio)
    check_non_negative("weight_decay_lambda", weight_decay_lambda)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {jnp.dtype(dtype)}")
    return MLPConfig(
        input_size,
        tuple(hidden_sizes),
        output_size,
        activation,
        weight_init_std,
        bool(use_batchnorm),
        bool(use_dropout),
        float(dropout_ratio),
        float(weight_decay_lambda),
        jnp.dtype(dtype).name,
    )


def init_params(net: MLPConfig, key: Array) -> tuple[dict, dict]:
    """``(params, state)`` for ``net``: W = std·N(0, 1) (untruncated), biases 0, γ 1, β 0.

    Pure in ``key``, so ``jax.vmap(functools.partial(init_params, net))(keys)`` stacks K nets.

    Example:
        >>> import jax
        >>> params, state = init_params(make(4, [3], 2), jax.random.key(0))
        >>> params['W1'].shape
        (4, 3)
    """
    dtype = jnp.dtype(net.dtype)
    params, state = {}, {}
    keys = jax.random.split(key, net.num_layers)
    for i in range(1, net.num_layers + 1):
        n_in, n_out = net.sizes[i - 1], net.sizes[i]
        spec = net.weight_init_std
        if not callable(spec):
            spec = initializers.normal(initializers.weight_std(spec, n_in))
        params[f"W{i}"] = jnp.asarray(spec(keys[i - 1], (n_in, n_out), dtype), dtype)
        params[f"b{i}"] = jnp.zeros((n_out,), dtype)
        if net.use_batchnorm and i < net.num_layers:
            p, s = batchnorm_init(n_out, dtype)
            params[f"gamma{i}"], params[f"beta{i}"] = p["gamma"], p["beta"]
            state[f"mean{i}"], state[f"var{i}"] = s["mean"], s["var"]
    return params, state


def init(
    key: Array,
    input_size: int,
    hidden_sizes: Sequence[int],
    output_size: int,
    **options: Any,
) -> tuple[MLPConfig, dict, dict]:
    """``net, params, state = init(key, input_size, hidden_sizes, output_size, **options)``.

    Options (the book's ``MultiLayerNetExtend`` arguments and defaults, except
    ``weight_init_std``'s default, 'he', which the book's experiments pass):
    ``activation='relu'|'sigmoid'|'tanh'``,
    ``weight_init_std='he'|'relu'|'xavier'|'sigmoid'|float`` or any initializer with
    ``jax.nn.initializers``' signature ``(key, shape, dtype) -> W``, ``use_batchnorm=False``,
    ``use_dropout=False``, ``dropout_ratio=0.5``, ``weight_decay_lambda=0.0``,
    ``dtype=float32``. flax equivalent: a stack of ``nn.Dense`` / ``nn.BatchNorm`` /
    ``nn.Dropout`` (inverted form there; the book's form here).

    Example:
        >>> import jax
        >>> net, params, state = init(jax.random.key(0), 4, [3], 2)
        >>> params['W1'].shape, params['W2'].shape, state
        ((4, 3), (3, 2), {})
    """
    net = make(input_size, hidden_sizes, output_size, **options)
    params, state = init_params(net, key)
    return net, params, state


def apply(
    net: MLPConfig,
    params: dict,
    state: dict,
    x: Array,
    *,
    train: bool,
    key: Array | None = None,
    axis_name: Any = None,
) -> tuple[Array, dict]:
    """Forward pass: ``(logits, new_state)``; the book's ``predict(x, train_flg)``.

    ``key`` is required when ``net.use_dropout`` and ``train`` (one subkey per hidden layer).
    BatchNorm uses the batch statistics when ``train`` (and updates ``new_state``), the running
    statistics otherwise (``new_state`` then equals ``state``). Dropout uses the book's form
    with ``jax.random.fold_in(key, i)`` for hidden layer ``i``.

    ``axis_name`` (inside ``shard_map``/``pmap``, ``x`` being this device's rows of a global
    batch split in axis order): BatchNorm averages its statistics over the axis, and Dropout
    draws the mask of the *global* batch and keeps this device's rows, so N devices compute
    what one device computes on the concatenated batch (each device draws the whole mask: N
    times the random bits of one device, for the same masks).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> net, params, state = init(jax.random.key(0), 4, [3], 2, use_dropout=True)
        >>> logits, _ = apply(net, params, state, jnp.ones((5, 4)), train=True,
        ...                   key=jax.random.key(1))
        >>> logits.shape
        (5, 2)
    """
    _check_key(net, train, key)
    _check_x(net, x)
    return _apply(net, params, state, x, train, key, axis_name)


def _check_x(net: MLPConfig, x: Array) -> None:
    shape = jnp.shape(x)
    if len(shape) != 2 or shape[1] != net.input_size:
        raise ValueError(f"x must have shape (batch, input_size={net.input_size}), got {shape}")


def _check_t(net: MLPConfig, x: Array, t: Array) -> None:
    n, shape = jnp.shape(x)[0], jnp.shape(t)
    if shape not in ((n,), (n, net.output_size)):
        raise ValueError(
            f"t must be {n} int labels, shape ({n},), or one-hot targets of shape "
            f"({n}, {net.output_size}) for x of batch {n}; got shape {shape}"
        )


def _check_key(net: MLPConfig, train: bool, key: Array | None) -> None:
    if net.use_dropout and train and key is None:
        raise ValueError("apply(train=True) with use_dropout=True needs a PRNG key, got key=None")


def _global_dropout(key: Array, h: Array, rate: float, axis_name: Any) -> Array:
    """Book-form Dropout of this device's rows with the mask of the global batch.

    The mask is drawn exactly as :func:`dropout` draws it for the concatenated batch (it *is*
    ``dropout`` applied to ones of the global shape), then sliced at this device's offset.
    """
    n = h.shape[0]
    size, index = axis_size(axis_name), jax.lax.axis_index(axis_name)
    keep = dropout(key, jnp.ones((n * size, *h.shape[1:]), jnp.float32), rate, train=True)
    keep = jax.lax.dynamic_slice_in_dim(keep, index * n, n)
    return jnp.where(keep != 0, h, jnp.zeros((), h.dtype))


@functools.partial(jax.jit, static_argnums=(0, 4, 6))
def _apply(
    net: MLPConfig,
    params: dict,
    state: dict,
    x: Array,
    train: bool,
    key: Any,
    axis_name: Any = None,
):
    act = activation_fn(net.activation)
    new_state = dict(state)
    h = x
    for i in range(1, net.num_layers):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if net.use_batchnorm:
            bn_params = {"gamma": params[f"gamma{i}"], "beta": params[f"beta{i}"]}
            bn_state = {"mean": state[f"mean{i}"], "var": state[f"var{i}"]}
            h, s = batch_norm(h, bn_params, bn_state, train=train, axis_name=axis_name)
            new_state[f"mean{i}"], new_state[f"var{i}"] = s["mean"], s["var"]
        h = act(h)
        if net.use_dropout:
            sub = jax.random.fold_in(key, i) if train else None
            if train and axis_name is not None:
                h = _global_dropout(sub, h, net.dropout_ratio, axis_name)
            else:
                h = dropout(sub, h, net.dropout_ratio, train=train)
    L = net.num_layers
    logits = h @ params[f"W{L}"] + params[f"b{L}"]
    return logits, (new_state if train else state)


def cross_entropy(logits: Array, t: Array) -> Array:
    """The book's ``softmax`` + ``cross_entropy_error``: ``−Σ log(y[n, t_n] + 1e-7) / N``.

    Differs from ``optax.softmax_cross_entropy_with_integer_labels(logits, t).mean()`` by the
    1e-7 inside the log (negligible unless y_t underflows). ``t``: int labels or one-hot.

    Example:
        >>> import jax.numpy as jnp
        >>> print(round(float(cross_entropy(jnp.zeros((2, 10)), jnp.array([3, 4]))), 4))
        2.3026
    """
    return jnp.sum(cross_entropies(logits, t)) / logits.shape[0]


def cross_entropies(logits: Array, t: Array) -> Array:
    """Per example, the book's ``−log(y[n, t_n] + 1e-7)`` with ``y = softmax(logits)``
    (the terms :func:`cross_entropy` averages). optax:
    ``optax.softmax_cross_entropy_with_integer_labels`` without the 1e-7.

    Example:
        >>> import jax.numpy as jnp
        >>> cross_entropies(jnp.zeros((2, 10)), jnp.array([3, 4])).round(4).tolist()
        [2.3026, 2.3026]
    """
    z = logits - jnp.max(logits, axis=-1, keepdims=True)  # the book's overflow guard
    y = jnp.exp(z) / jnp.sum(jnp.exp(z), axis=-1, keepdims=True)
    labels = class_indices(t)
    y_t = jnp.take_along_axis(y, labels[:, None], axis=-1)[:, 0]
    return -jnp.log(y_t + 1e-7)


def loss(
    net: MLPConfig,
    params: dict,
    state: dict,
    x: Array,
    t: Array,
    *,
    train: bool,
    key: Array | None = None,
    axis_name: Any = None,
) -> tuple[Array, dict]:
    """``(cross_entropy(apply(x), t) + ½λΣ_i‖W_i‖², new_state)``, the book's ``loss``.

    Weight decay covers every ``W`` (output layer included), not biases, γ or β.
    ``jax.grad(loss, argnums=1, has_aux=True)`` gives the book's ``gradient``.
    ``axis_name``: as in :func:`apply`; the value is then this device's loss on its rows (the
    caller averages it over the axis, see :func:`jaxlearn.train.train_step`).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> net, params, state = init(jax.random.key(0), 4, [3], 2, weight_decay_lambda=0.1)
        >>> grads, state = jax.grad(loss, argnums=1, has_aux=True)(
        ...     net, params, state, jnp.ones((2, 4)), jnp.array([0, 1]), train=True)
        >>> sorted(grads)
        ['W1', 'W2', 'b1', 'b2']
    """
    _check_key(net, train, key)
    _check_x(net, x)
    _check_t(net, x, t)
    return _loss(net, params, state, x, t, train, key, axis_name)


@functools.partial(jax.jit, static_argnums=(0, 5, 7))
def _loss(
    net: MLPConfig,
    params: dict,
    state: dict,
    x: Array,
    t: Array,
    train: bool,
    key: Any,
    axis_name: Any = None,
):
    logits, new_state = _apply(net, params, state, x, train, key, axis_name)
    value = cross_entropy(logits, t)
    if net.weight_decay_lambda:
        # Every W (output layer included; not b, gamma, beta): the book's weight-decay term.
        value = value + l2_penalty(params, net.weight_decay_lambda)
    return value, new_state


def accuracy(
    net: MLPConfig, params: dict, state: dict, x: Array, t: Array, *, axis_name: Any = None
) -> Array:
    """Fraction of ``argmax(logits) == t`` in inference mode (the book's ``accuracy``).

    ``axis_name`` (inside ``shard_map``/``pmap``, ``x`` and ``t`` the whole, replicated set):
    each device scores its equal share of the rows (padded to a multiple of the axis size)
    and the integer counts are summed over the axis, so the result equals one device's exactly.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> net, params, state = init(jax.random.key(0), 4, [3], 2)
        >>> print(accuracy(net, params, state, jnp.zeros((2, 4)), jnp.array([0, 0])))
        1.0
    """
    _check_x(net, x)
    _check_t(net, x, t)
    return _accuracy(net, params, state, x, t, axis_name)


@functools.partial(jax.jit, static_argnums=(0, 5))
def _accuracy(net: MLPConfig, params: dict, state: dict, x: Array, t: Array, axis_name: Any):
    labels = class_indices(t)
    if axis_name is not None:  # this device's rows; padding rows are labelled -1
        size, n = axis_size(axis_name), x.shape[0]
        per = -(-n // size)
        x = jnp.pad(x, ((0, per * size - n), (0, 0)))
        labels = jnp.pad(labels, (0, per * size - n), constant_values=-1)
        start = jax.lax.axis_index(axis_name) * per
        x = jax.lax.dynamic_slice_in_dim(x, start, per)
        labels = jax.lax.dynamic_slice_in_dim(labels, start, per)
    logits, _ = _apply(net, params, state, x, False, None)
    valid = labels >= 0
    counts = (jnp.sum((jnp.argmax(logits, axis=-1) == labels) & valid), jnp.sum(valid))
    if axis_name is not None:
        counts = jax.lax.psum(counts, axis_name)
    return counts[0] / counts[1]


@functools.partial(jax.jit, static_argnums=(0,))
def _metrics(net: MLPConfig, params: dict, state: dict, x: Array, t: Array) -> dict[str, Array]:
    logits, _ = _apply(net, params, state, x, False, None)
    correct = jnp.argmax(logits, axis=-1) == class_indices(t)
    return {"accuracy": correct, "cross_entropy": cross_entropies(logits, t)}


def init_many(
    net: MLPConfig, key: Array, num: int, *, weight_scale: Any = None
) -> tuple[dict, dict]:
    """K stacked ``(params, state)``, each from its own key, for ``train_many`` or ``vmap``.

    ``weight_scale``: a (K,) array (or a scalar) of weight standard deviations overriding
    ``net.weight_init_std``: ``W = scale_k · N(0, 1)`` in every layer (the Batch Norm
    experiment's scales); configuration k's draw does not depend on its scale.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> net = make(4, [3], 2)
        >>> params, state = init_many(net, jax.random.key(0), 2,
        ...                           weight_scale=jnp.array([1.0, 0.01]))
        >>> unit, _ = init_many(net, jax.random.key(0), 2, weight_scale=1.0)
        >>> params['W1'].shape, bool(jnp.allclose(params['W1'][1], 0.01 * unit['W1'][1]))
        ((2, 4, 3), True)
    """
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise ValueError(f"num must be a positive int, got {num!r}")
    keys = jax.random.split(key, num)
    if weight_scale is None:
        return jax.vmap(functools.partial(init_params, net))(keys)
    scale = per_configuration("weight_scale", weight_scale, num, jnp.float32)
    unit = dataclasses.replace(net, weight_init_std=1.0)
    params, state = jax.vmap(functools.partial(init_params, unit))(keys)

    def scaled(w, s):
        return w * s.astype(w.dtype) if is_weight(w) else w

    params = jax.vmap(lambda p, s: jax.tree.map(lambda w: scaled(w, s), p))(params, scale)
    return params, state
