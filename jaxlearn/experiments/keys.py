"""PRNG keys and seeds: one key or int seed in, one key per seeded run out.

An int seed ``k`` with ``seeds=N`` gives the runs ``k, k+1, …, k+N-1``, each exactly the
single-seed run with that seed; a PRNG key gives itself, then ``fold_in(key, i)``.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxlearn._util import is_prng_key

__all__ = ["as_key", "by_seed", "check_seeds", "seed_keys"]

Array = jax.Array
#: A PRNG key (``jax.random.key``) or an int seed.
KeyLike = Any


def as_key(key: KeyLike) -> Array:
    """A PRNG key from a key or an int seed.

    >>> as_key(0).shape, as_key(jax.random.key(1)).dtype
    ((), key<fry>)
    """
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if is_prng_key(key):
        if key.shape != ():
            raise ValueError(f"key: expected a single PRNG key, got shape {key.shape}")
        return key
    raise TypeError(f"key must be an int seed or a jax.random.key, got {type(key).__name__}")


def check_seeds(seeds: Any) -> int:
    """``seeds`` when it is a positive int; ValueError otherwise.

    >>> check_seeds(3)
    3
    """
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"seeds must be a positive int, got {seeds!r}")
    return seeds


def seed_keys(key: KeyLike, seeds: int) -> tuple[list[Array], list[int]]:
    """``(keys, ids)`` of ``seeds`` runs: an int seed ``k`` gives the seeds ``k, k+1, …`` (each
    run exactly the single-seed run ``key=k+i``); a PRNG key gives itself, then
    ``fold_in(key, i)``.

    >>> keys, ids = seed_keys(3, 2)
    >>> ids, bool((jax.random.key_data(keys[1]) == jax.random.key_data(as_key(4))).all())
    ([3, 4], True)
    """
    check_seeds(seeds)
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        ids = [int(key) + i for i in range(seeds)]
        return [as_key(i) for i in ids], ids
    base = as_key(key)
    return [base] + [jax.random.fold_in(base, i) for i in range(1, seeds)], list(range(seeds))


def by_seed(values: Any, seeds: int) -> np.ndarray:
    """Seed-major stacked runs ``(seeds * K, ...)`` as results keep them: ``(K, ...)`` for one
    seed (the single-run layout), ``(seeds, K, ...)`` for several.

    >>> by_seed(np.arange(6), 1).shape, by_seed(np.arange(6), 2).shape
    ((6,), (2, 3))
    """
    v = np.asarray(values)
    v = v.reshape(seeds, -1, *v.shape[1:])
    return v[0] if seeds == 1 else v
