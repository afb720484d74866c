"""Labels as class indices: the one place where one-hot rows become integer labels."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = ["class_indices"]


def class_indices(t: Any, name: str = "t") -> Any:
    """Integer class labels ``(N,)`` (int32) from labels ``(N,)`` or one-hot rows ``(N, C)``.

    One-hot rows become their ``argmax``, as the book's ``cross_entropy_error`` reads them.
    NumPy input gives a NumPy array; JAX arrays and tracers give a JAX array (so the function
    also runs inside ``jit``). Raises ValueError naming ``name`` for any other rank.

    >>> class_indices(np.array([[0, 1, 0], [1, 0, 0]]))
    array([1, 0], dtype=int32)
    >>> class_indices(jnp.array([2, 0]))
    Array([2, 0], dtype=int32)
    >>> class_indices(np.zeros((2, 2, 2)), "t_train")
    Traceback (most recent call last):
    ValueError: t_train: expected labels (N,) or one-hot (N, classes), got shape (2, 2, 2)
    """
    xp = np if isinstance(t, (np.ndarray, list, tuple)) else jnp
    t = xp.asarray(t)
    if t.ndim == 2:
        t = xp.argmax(t, axis=-1)
    elif t.ndim != 1:
        raise ValueError(
            f"{name}: expected labels (N,) or one-hot (N, classes), got shape {t.shape}"
        )
    return t.astype(xp.int32)
