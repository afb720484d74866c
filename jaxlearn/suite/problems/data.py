"""The fixed train / validation / test splits of the built-in problems' data sets.

Each data set's official test set is the ``'test'`` split; the validation split is carved out
of its training set by a fixed permutation (seed :data:`SPLIT_SEED`), the same for every
optimizer, seed and run. ``train_size`` keeps a fixed subset of the rest (a smaller problem,
the same for everyone).
"""

from __future__ import annotations

import functools
import os

import numpy as np

from jaxlearn.data import load

#: The permutation that separates validation from training images (part of a problem's
#: definition: changing it is a new problem version).
SPLIT_SEED = 20261203

__all__ = ["SPLIT_SEED", "image_splits"]


@functools.lru_cache(maxsize=8)
def image_splits(
    dataset: str, valid_size: int, train_size: int | None = None,
    data_dir: str | os.PathLike | None = None, download: bool = False,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """``{'train', 'valid', 'test'}`` of ``dataset`` (flattened float32 images in [0, 1], int
    labels): ``valid_size`` training images set aside, ``train_size`` (default: all) of the
    others kept, the official test set as ``'test'``.

    >>> s = image_splits("mnist-5k", 500, 3000)
    >>> [s[k][0].shape[0] for k in ("train", "valid", "test")]
    [3000, 500, 1000]
    >>> bool(np.array_equal(s["valid"][1], image_splits("mnist-5k", 500, 3000)["valid"][1]))
    True
    """
    (x, t), (xt, tt) = load(dataset, data_dir=data_dir, download=download)
    if valid_size >= len(x):
        raise ValueError(f"{dataset}: valid_size {valid_size} >= the {len(x)} training images")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    valid, rest = order[:valid_size], order[valid_size:]
    if train_size is not None:
        if train_size > len(rest):
            raise ValueError(f"{dataset}: train_size {train_size} > the {len(rest)} left")
        rest = np.sort(rest[:train_size])
    return {"train": (x[rest], t[rest]), "valid": (x[valid], t[valid]), "test": (xt, tt)}
