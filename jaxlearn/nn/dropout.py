"""Dropout, in the book's form and in the inverted form that frameworks use."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlearn._checks import check_unit_interval


def dropout(
    key: jax.Array | None,
    x: jax.Array,
    rate: float | jax.Array,
    *,
    train: bool,
    inverted: bool = False,
) -> jax.Array:
    """Drop each unit of ``x`` with probability ``rate``.

    Book form (``inverted=False``, the default; the book's ``Dropout`` layer)::

        train:      y = x · [U(0, 1) > rate]          (no rescale)
        inference:  y = x · (1 − rate)

    Inverted form (``inverted=True``; ``flax.linen.Dropout``, ``optax``-era frameworks)::

        train:      y = x · [U(0, 1) > rate] / (1 − rate)
        inference:  y = x

    Both keep E[y] equal between training and inference. ``flax.linen.Dropout(rate)`` equals the
    inverted form in distribution (it draws its mask differently, so not bit for bit).
    ``key`` may be ``None`` when ``train=False``. ``rate`` in [0, 1), checked when concrete
    (a traced ``rate`` is accepted unchecked). The output keeps ``x``'s dtype.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x = jnp.ones((1000,))
        >>> y = dropout(jax.random.key(0), x, 0.2, train=True)
        >>> print(round(float((y > 0).mean()), 1))  # about 1 - rate kept
        0.8
        >>> print(dropout(None, x, 0.2, train=False)[:3])
        [0.8 0.8 0.8]
        >>> print(dropout(None, x, 0.2, train=False, inverted=True)[:3])
        [1. 1. 1.]
    """
    check_unit_interval("rate", rate)  # a traced rate (vmap over configs) passes unchecked
    x = jnp.asarray(x)
    if not train:
        return x if inverted else (x * (1 - rate)).astype(x.dtype)
    if key is None:
        raise ValueError("dropout(train=True) needs a PRNG key, got key=None")
    # The mask is drawn in float32 whatever x's dtype: bf16 uniforms have 8 bits of mantissa,
    # which would bias the kept fraction for rates that are not multiples of 2^-8.
    keep = jax.random.uniform(key, x.shape, jnp.float32) > rate
    y = jnp.where(keep, x, jnp.zeros((), x.dtype))
    if inverted:
        y = y / (1 - rate)
    return y.astype(x.dtype)
