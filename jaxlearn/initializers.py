"""Weight initialisers of the book's chapter 6, with the ``jax.nn.initializers`` signature.

Each returns ``init(key, shape, dtype=jnp.float32) -> Array``: ``W = std · N(0, 1)``,
untruncated (the book's ``std * np.random.randn(n_in, n_out)``), so they plug into
``flax.linen.Dense(kernel_init=...)``, ``flax.linen.Conv`` and equinox layers.

fan_in follows ``jax.nn.initializers.variance_scaling``: ``in_axis``/``out_axis`` (default -2/-1)
name the input/output-feature axes and every other axis is receptive field, so a (n_in, n_out)
matrix has fan_in = n_in and an HWIO conv kernel has fan_in = H·W·I.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn._checks import check_non_negative
from jaxlearn._compat import Tracer
from jaxlearn._util import is_prng_key

Initializer = Callable[..., jax.Array]
Axes = int | Sequence[int]

__all__ = ["GAINS", "fan_in", "he", "normal", "weight_std", "xavier"]

#: The gain of each of the book's named scales, ``std = sqrt(gain / fan_in)``: 'he' (and 'relu',
#: the activation it is for) has gain 2; 'xavier' (and 'sigmoid') gain 1, the book's fan-in-only
#: "Xavier".
GAINS: dict[str, float] = {"he": 2.0, "relu": 2.0, "xavier": 1.0, "sigmoid": 1.0}


def _check(shape: Sequence[int], dtype: Any) -> tuple[int, ...]:
    shape = tuple(int(d) for d in shape)
    if len(shape) < 2:
        raise ValueError(
            f"shape must have rank >= 2 (a weight matrix or kernel; biases start at zero), "
            f"got shape {shape}"
        )
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {jnp.dtype(dtype)}")
    return shape


def _factory_call(factory: str, value: Any) -> None:
    """A TypeError saying the right call when a factory is handed a key (``he(key, shape)``):
    the factories make an initializer, and the initializer takes the key and the shape."""
    legacy = isinstance(value, (jax.Array, np.ndarray)) and not is_prng_key(value) and (
        value.dtype == np.uint32 and value.shape == (2,)  # jax.random.PRNGKey's raw key
    )
    if is_prng_key(value) or legacy:
        raise TypeError(
            f"{factory}() makes an initializer and takes no key (got one as its first "
            f"argument): call {factory}() first, then the initializer it returns with the key "
            f"and the shape: jl.initializers.{factory}()(key, (784, 100))"
        )


def _axes(factory: str, in_axis: Any, out_axis: Any) -> None:
    """Check ``in_axis``/``out_axis`` when the factory is called, not at the first draw."""
    _factory_call(factory, in_axis)
    for name, axes in (("in_axis", in_axis), ("out_axis", out_axis)):
        items = (axes,) if isinstance(axes, (int, np.integer)) else axes
        if not isinstance(items, (tuple, list)) or not all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in items
        ):
            raise TypeError(f"{factory}(): {name} must be an int or a sequence of ints, "
                            f"got {axes!r}")  # fmt: skip


def fan_in(shape: Sequence[int], in_axis: Axes = -2, out_axis: Axes = -1) -> int:
    """Number of inputs feeding one output unit: ``prod(shape) / prod(shape[out_axis])``.

    Same as ``jax.nn.initializers``' fan_in (``in_size × receptive field``).

    Example:
        >>> fan_in((784, 100)), fan_in((3, 3, 16, 32))
        (784, 144)
    """
    shape = _check(shape, jnp.float32)
    outs = (out_axis,) if isinstance(out_axis, (int, np.integer)) else tuple(out_axis)
    ins = (in_axis,) if isinstance(in_axis, (int, np.integer)) else tuple(in_axis)
    for a in ins + outs:
        if not -len(shape) <= a < len(shape):
            raise ValueError(f"in_axis/out_axis {a} is out of range for shape {shape}")
    return math.prod(shape) // math.prod(shape[a] for a in outs)


def weight_std(spec: str | float, n_in: int, name: str = "std") -> float:
    r"""The weight standard deviation of a layer with ``n_in`` inputs, as the book names it.

    .. math:: \sigma = \sqrt{g / n_{in}}, \quad g = 2 \text{ ('he', 'relu')},\;
        g = 1 \text{ ('xavier', 'sigmoid')}

    or ``spec`` itself when it is a number (the book's ``weight_init_std=0.01``). The one home
    of these scales: :func:`he`, :func:`xavier`, the network (:mod:`jaxlearn.nn.mlp`) and the
    activation-histogram experiment all call it. ``name`` is the argument named in errors.

    Example:
        >>> weight_std('he', 50), weight_std('xavier', 100), weight_std(0.01, 100)
        (0.2, 0.1, 0.01)
    """
    if isinstance(spec, str):
        gain = GAINS.get(spec.lower())
        if gain is None:
            raise ValueError(
                f"{name} must be a number or one of {', '.join(map(repr, GAINS))}, got {spec!r}"
            )
        return math.sqrt(gain / n_in)
    check_non_negative(name, spec)
    return float(spec)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _scaled_normal(key: jax.Array, shape: tuple[int, ...], dtype: Any, std: Any) -> jax.Array:
    # Drawn in at least float32 so a bf16/f16 weight is a rounded float32 sample (the same key
    # gives the same weights in every dtype), then cast. Jitted per (shape, dtype) with std
    # dynamic: eager callers compile once per shape, not once per std or per operation.
    draw_dtype = jnp.promote_types(dtype, jnp.float32)
    return (jax.random.normal(key, shape, draw_dtype) * std).astype(dtype)


def _gaussian(std_of: Callable[[tuple[int, ...]], float]) -> Initializer:
    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        shape = _check(shape, dtype)
        return _scaled_normal(key, shape, jnp.dtype(dtype), std_of(shape))

    return init


def normal(std: float = 0.01) -> Initializer:
    """``W = std · N(0, 1)``, untruncated; the book's ``weight_init_std=0.01`` default.

    Equivalent to ``jax.nn.initializers.normal(stddev=std)`` (which also draws untruncated).

    Example:
        >>> import jax
        >>> w = normal(0.01)(jax.random.key(0), (784, 100))
        >>> w.shape, w.dtype
        ((784, 100), dtype('float32'))
    """
    _factory_call("normal", std)
    check_non_negative("std", std)  # TypeError for bools/strings, ValueError for std < 0
    if isinstance(std, Tracer):
        raise TypeError("std must be a concrete number, not a traced value")
    std = float(std)
    return _gaussian(lambda shape: std)


def xavier(in_axis: Axes = -2, out_axis: Axes = -1) -> Initializer:
    """The book's "Xavier": ``W = sqrt(1 / fan_in) · N(0, 1)``, untruncated (for sigmoid/tanh).

    Equivalent to ``jax.nn.initializers.variance_scaling(1.0, 'fan_in', 'normal')`` (LeCun
    normal, untruncated). Glorot's original (``jax.nn.initializers.glorot_normal``) uses
    2/(fan_in + fan_out) and a truncated draw; the book keeps the fan-in form.

    Example:
        >>> import jax
        >>> w = xavier()(jax.random.key(0), (10_000, 4))
        >>> print(round(float(w.std() * 100), 1))  # sqrt(1/10000) = 0.01
        1.0
    """
    _axes("xavier", in_axis, out_axis)
    return _gaussian(lambda shape: weight_std("xavier", fan_in(shape, in_axis, out_axis)))


def he(in_axis: Axes = -2, out_axis: Axes = -1) -> Initializer:
    """He: ``W = sqrt(2 / fan_in) · N(0, 1)``, untruncated (for ReLU).

    Equivalent to ``jax.nn.initializers.variance_scaling(2.0, 'fan_in', 'normal')``;
    ``jax.nn.initializers.he_normal`` differs: it draws a *truncated* normal.

    Example:
        >>> import jax
        >>> w = he()(jax.random.key(0), (3, 3, 16, 32))  # HWIO conv kernel: fan_in = 3*3*16
        >>> w.shape
        (3, 3, 16, 32)

    It is a factory: ``he()`` makes the initializer, which then takes the key and the shape.
    Handing the key to the factory is stopped there, with the right call:

        >>> he(jax.random.key(0), (784, 100))
        Traceback (most recent call last):
        TypeError: he() makes an initializer and takes no key (got one as its first argument): ...
    """
    _axes("he", in_axis, out_axis)
    return _gaussian(lambda shape: weight_std("he", fan_in(shape, in_axis, out_axis)))
