"""Pytrees and gradient streams shared by the optimizer tests."""

from typing import NamedTuple

import jax
import numpy as np


class Pair(NamedTuple):
    a: object
    b: object


def nested_params(dtype=np.float64, seed=0):
    """A nested pytree: dicts, a list with a None leaf, a NamedTuple, a scalar leaf."""
    rng = np.random.default_rng(seed)
    return {
        "layer": {
            "W": rng.normal(size=(3, 4)).astype(dtype),
            "b": rng.normal(size=4).astype(dtype),
        },
        "blocks": [rng.normal(size=2).astype(dtype), None, rng.normal(size=(5, 1)).astype(dtype)],
        "pair": Pair(a=rng.normal(size=(2, 2)).astype(dtype), b=np.asarray(rng.normal(), dtype)),
    }


def grad_stream(params, steps, seed=1):
    """``steps`` random gradient trees shaped like ``params`` (None leaves kept)."""
    rng = np.random.default_rng(seed)
    return [
        jax.tree.map(lambda p: rng.normal(size=np.shape(p)).astype(np.asarray(p).dtype), params)
        for _ in range(steps)
    ]


def flat_dict(tree):
    """``{path string: leaf}`` for the non-None leaves, in a fixed order (for the book port)."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(p): np.array(x, dtype=np.float64) for p, x in leaves}
