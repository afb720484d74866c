"""Small predicates and dtype rules shared by every layer of jaxlearn (no jaxlearn imports)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxlearn._compat import Tracer


def is_concrete(value: Any) -> bool:
    """True when ``value`` can be inspected in Python (not a tracer under jit/vmap/grad).

    >>> seen = []
    >>> _ = jax.jit(lambda x: seen.append(is_concrete(x)) or x)(1.0)  # traced inside jit
    >>> is_concrete(1.0), seen
    (True, [False])
    """
    return not isinstance(value, Tracer)


def is_prng_key(value: Any) -> bool:
    """True for a typed PRNG key array (``jax.random.key``), False for anything else.

    >>> is_prng_key(jax.random.key(0)), is_prng_key(jax.random.PRNGKey(0)), is_prng_key(None)
    (True, False, False)
    """
    dtype = getattr(value, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def compute_dtype(dtype: Any) -> jnp.dtype:
    """The dtype element-wise math and reductions run in: at least float32.

    bf16/f16 are widened (x² of 1000 is inf in f16, and 0.999 rounds to 1.0 in bf16); float32
    and float64 stay as they are.

    >>> compute_dtype(jnp.bfloat16), compute_dtype(jnp.float32)
    (dtype('float32'), dtype('float32'))
    """
    return jnp.promote_types(dtype, jnp.float32)
