"""Small private helpers shared by the ``jaxlearn.nn`` modules."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def is_concrete(value: Any) -> bool:
    """True when ``value`` can be inspected in Python (not a tracer under jit/vmap/grad)."""
    return not isinstance(value, jax.core.Tracer)


def compute_dtype(dtype: Any) -> jnp.dtype:
    """float32 for low-precision inputs (bf16/f16), the input dtype when wider (float64).

    Statistics of bf16/f16 activations overflow or lose every digit when computed in
    their own dtype (x² of 1000 in f16 is inf), so reductions run at least in float32.
    """
    return jnp.promote_types(dtype, jnp.float32)
