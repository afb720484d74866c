"""What every chapter experiment shares: its data, its key, the book's ``smooth_curve``."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from jaxlearn._util import is_prng_key
from jaxlearn.data import as_dataset, load, resolve_dataset

Array = jax.Array
#: A data set name (``'auto'``, ``'mnist'``, ``'fashion-mnist'``, ``'mnist-5k'``) or the user's
#: own ``((x_train, t_train), (x_test, t_test))`` arrays.
DatasetLike = Any


#: Display names of the update rules, as the book writes them (curves, tables, legends).
RULE_LABELS: dict[str, str] = {
    "sgd": "SGD",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}
_DISPLAY = {**RULE_LABELS, "relu": "ReLU", "he": "He", "xavier": "Xavier"}


def display(name: Any) -> str:
    """The book's spelling of a rule, activation or initialisation name; others unchanged.

    >>> display('adagrad'), display('relu'), display('he'), display(0.01)
    ('AdaGrad', 'ReLU', 'He', '0.01')
    """
    return _DISPLAY.get(name, str(name)) if isinstance(name, str) else str(name)


def as_key(key: Array | int) -> Array:
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


def get_data(
    dataset: DatasetLike = "auto", data_dir: str | os.PathLike | None = None
) -> tuple[str, tuple]:
    """``(name, ((x_train, t_train), (x_test, t_test)))``: flattened float32 images, int labels.

    ``'auto'`` is MNIST when its files are found locally, else the embedded ``mnist-5k``;
    arrays the user brings are checked by :func:`jaxlearn.data.as_dataset` (name ``'user'``).

    >>> name, ((x, t), (xt, tt)) = get_data('mnist-5k')
    >>> name, x.shape, xt.shape
    ('mnist-5k', (4000, 784), (1000, 784))
    """
    if isinstance(dataset, str):
        name = resolve_dataset(dataset, data_dir)
        return name, load(name, data_dir=data_dir)
    try:
        (x, t), (xt, tt) = dataset
    except (TypeError, ValueError):
        raise ValueError(
            "dataset must be a name ('auto', 'mnist', 'fashion-mnist', 'mnist-5k') or "
            "((x_train, t_train), (x_test, t_test))"
        ) from None
    return "user", as_dataset(x, t, xt, tt)


def smooth_curve(x: Any) -> np.ndarray:
    """The book's ``common/util.py`` ``smooth_curve``: a Kaiser-window (11, β=2) moving average.

    The ends are mirrored so the output has the input's length.

    >>> smooth_curve(np.ones(20)).round(6).tolist() == [1.0] * 20
    True
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 1 or x.size < 11:
        raise ValueError(f"smooth_curve needs a 1-D curve of >= 11 points, got shape {x.shape}")
    window_len = 11
    s = np.r_[x[window_len - 1 : 0 : -1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5 : len(y) - 5]


def final_value(curve: Any, fraction: float = 0.05) -> float:
    """The mean of the last ``fraction`` of a curve (at least one point): a steady "final" value.

    >>> final_value(np.arange(100.0), 0.1)
    94.5
    """
    curve = np.asarray(curve, np.float64)
    n = max(1, int(round(len(curve) * fraction)))
    return float(curve[-n:].mean())
