"""The data an experiment trains on: a data set by name, or the user's own arrays.

A name goes through :func:`jaxlearn.data.resolve_dataset` and :func:`jaxlearn.data.load`;
arrays go through :func:`jaxlearn.data.as_dataset` (the same checks and layout). Results,
reports and figures call the data by the name returned here: the data set's own name, the
name the caller gives with ``(name, arrays)``, or :data:`YOUR_DATA`.
"""

from __future__ import annotations

import os
from typing import Any

from jaxlearn.data import DATASET_CHOICES, as_dataset, load, resolve_dataset

__all__ = ["YOUR_DATA", "get_data"]

#: A data set name (``'auto'``, ``'mnist'``, ``'fashion-mnist'``, ``'mnist-5k'``), the user's own
#: ``((x_train, t_train), (x_test, t_test))`` arrays, or ``(name, those arrays)``.
DatasetLike = Any
#: What results and figures call arrays the caller brings without a name.
YOUR_DATA = "your data"


def get_data(
    dataset: DatasetLike = "auto", data_dir: str | os.PathLike | None = None
) -> tuple[str, tuple]:
    """``(name, ((x_train, t_train), (x_test, t_test)))``: flattened float32 images, int labels.

    ``'auto'`` is MNIST when its files are found locally, else the embedded ``mnist-5k``.
    Arrays are named :data:`YOUR_DATA` unless given as ``(name, arrays)``.

    >>> name, ((x, t), (xt, tt)) = get_data('mnist-5k')
    >>> name, x.shape, xt.shape
    ('mnist-5k', (4000, 784), (1000, 784))
    >>> import numpy as np
    >>> arrays = ((np.zeros((4, 784)), [0, 1, 2, 3]), (np.zeros((2, 784)), [0, 1]))
    >>> get_data(arrays)[0], get_data(('digits', arrays))[0]
    ('your data', 'digits')
    """
    if isinstance(dataset, str):
        name = resolve_dataset(dataset, data_dir)
        return name, load(name, data_dir=data_dir)
    name = YOUR_DATA
    if isinstance(dataset, tuple) and len(dataset) == 2 and isinstance(dataset[0], str):
        name, dataset = dataset  # (name, arrays): data loaded once, e.g. by the command line
    try:
        (x, t), (xt, tt) = dataset
    except (TypeError, ValueError):
        raise ValueError(
            f"dataset must be a name ({', '.join(map(repr, DATASET_CHOICES))}), "
            "((x_train, t_train), (x_test, t_test)), or (name, those arrays)"
        ) from None
    return name, as_dataset(x, t, xt, tt)
