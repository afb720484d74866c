"""Argument checks shared by every module: clear errors that name the argument.

Values may be Python numbers, NumPy/JAX arrays or tracers. A value is range-checked whenever it
is concrete, and skipped when it is a tracer (its value is unknown until run time), so the same
functions work eagerly, under ``jit``/``vmap`` and with ``optax.inject_hyperparams``.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn._compat import Tracer


def concrete_scalar(name: str, value: Any) -> float | None:
    """The float value of a scalar argument, or None when it is a tracer.

    Raises TypeError for anything that is not a real number (str, bool, complex, None) and
    ValueError for arrays that are not 0-d. A 0-d complex *array* with a zero imaginary part
    counts as its real part (``optax.inject_hyperparams`` hands complex parameters' dtype).

    >>> concrete_scalar("lr", np.float32(0.5))
    0.5
    >>> concrete_scalar("lr", "0.1")
    Traceback (most recent call last):
    TypeError: lr must be a number, got str
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got a bool ({value!r})")
    if isinstance(value, Tracer):
        if value.shape != ():
            raise ValueError(f"{name} must be a scalar, got an array of shape {value.shape}")
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        if value.shape != ():
            raise ValueError(f"{name} must be a scalar, got an array of shape {value.shape}")
        if np.issubdtype(value.dtype, np.complexfloating):
            # optax.inject_hyperparams casts hyper-parameters to complex parameters' dtype.
            if complex(value).imag != 0:
                raise ValueError(f"{name} must be real, got {complex(value)!r}")
            return float(complex(value).real)
        if not (
            np.issubdtype(value.dtype, np.floating)
            or np.issubdtype(value.dtype, np.integer)
            or value.dtype == jax.numpy.bfloat16
        ):
            raise TypeError(f"{name} must be a number, got an array of dtype {value.dtype}")
        return float(value)
    raise TypeError(f"{name} must be a number, got {type(value).__name__}")


def check_unit_interval(name: str, value: Any) -> None:
    """Raise ValueError unless ``0 <= value < 1`` (checked only when ``value`` is concrete).

    >>> check_unit_interval("momentum", 1.0)
    Traceback (most recent call last):
    ValueError: momentum must be in [0, 1), got 1.0
    """
    v = concrete_scalar(name, value)
    if v is not None and not (0.0 <= v < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {v!r}")


def check_non_negative(name: str, value: Any) -> None:
    """Raise ValueError unless ``value`` is finite and ``>= 0`` (checked only when concrete).

    >>> check_non_negative("eps", -1)
    Traceback (most recent call last):
    ValueError: eps must be a finite number >= 0, got -1.0
    """
    v = concrete_scalar(name, value)
    if v is not None and not (0.0 <= v < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def per_configuration(name: str, value: Any, k: int, dtype: Any) -> jax.Array:
    """``value`` as one entry per configuration, shape ``(k,)``: a scalar is repeated, a shape
    ``(k,)`` array is kept, anything else raises ValueError naming ``name``.

    >>> per_configuration("lr", 0.1, 2, "float32")
    Array([0.1, 0.1], dtype=float32)
    >>> per_configuration("lr", [0.1, 0.2, 0.3], 2, "float32")
    Traceback (most recent call last):
    ValueError: lr: expected a scalar or shape (2,) for 2 configurations, got shape (3,)
    """
    v = jnp.asarray(value, dtype)
    if v.ndim == 0:
        return jnp.broadcast_to(v, (k,))
    if v.shape != (k,):
        raise ValueError(
            f"{name}: expected a scalar or shape ({k},) for {k} configurations, got shape {v.shape}"
        )
    return v
