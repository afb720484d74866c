"""Mini-batch indices drawn inside the compiled loop, from a key and the iteration number.

Every draw is a function of ``(key, iteration)`` alone (``fold_in``), so a run gives the same
batches however it is split into compiled calls, and configurations under ``vmap`` each draw
their own.
"""

from __future__ import annotations

import jax

Array = jax.Array


def batch_with_replacement(key: Array, i: Array, n: int, batch_size: int) -> Array:
    """The book's ``np.random.choice(n, batch_size)``: independent uniform indices.

    >>> import jax.numpy as jnp
    >>> idx = batch_with_replacement(jax.random.key(0), jnp.int32(3), 10, 4)
    >>> idx.shape, bool((idx >= 0).all() & (idx < 10).all())
    ((4,), True)
    """
    return jax.random.randint(jax.random.fold_in(key, i), (batch_size,), 0, n)


def epoch_permutation(key: Array, epoch: Array, n: int) -> Array:
    """The shuffled order of the ``n`` examples for one epoch.

    >>> import jax.numpy as jnp
    >>> sorted(epoch_permutation(jax.random.key(0), jnp.int32(0), 5).tolist())
    [0, 1, 2, 3, 4]
    """
    return jax.random.permutation(jax.random.fold_in(key, epoch), n)


def batch_without_replacement(
    key: Array, i: Array, perm: Array, n: int, batch_size: int
) -> tuple[Array, Array]:
    """Iteration ``i``'s batch when each epoch walks once through a fresh permutation.

    An epoch is ``n // batch_size`` iterations (the remainder of the permutation is skipped).
    ``perm`` is carried between iterations and redrawn at the first iteration of each epoch,
    so the sort behind a permutation runs once an epoch, not once a step. Returns
    ``(indices, perm)``.

    >>> import jax.numpy as jnp
    >>> key, n, b = jax.random.key(0), 6, 2
    >>> perm = jnp.zeros(n, jnp.int32)
    >>> seen = []
    >>> for i in range(3):
    ...     idx, perm = batch_without_replacement(key, jnp.int32(i), perm, n, b)
    ...     seen += idx.tolist()
    >>> sorted(seen)
    [0, 1, 2, 3, 4, 5]
    """
    per_epoch = n // batch_size
    epoch, j = i // per_epoch, i % per_epoch
    perm = jax.lax.cond(
        j == 0,
        lambda: epoch_permutation(key, epoch, n).astype(perm.dtype),
        lambda: perm,
    )
    return jax.lax.dynamic_slice(perm, (j * batch_size,), (batch_size,)), perm
