"""The activations of the book's networks, by the names its code uses."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["ACTIVATIONS", "activation"]

#: The activation functions by name (the book's ``Relu`` and ``Sigmoid`` layers, and tanh).
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
}


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation called ``name``; ValueError listing the choices otherwise.

    >>> activation('relu')(jnp.array([-1.0, 2.0]))
    Array([0., 2.], dtype=float32)
    >>> activation('gelu')
    Traceback (most recent call last):
    ValueError: activation must be one of ['relu', 'sigmoid', 'tanh'], got 'gelu'
    """
    fn = ACTIVATIONS.get(name) if isinstance(name, str) else None
    if fn is None:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return fn
