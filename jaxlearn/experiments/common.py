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
    name = "user"
    if isinstance(dataset, tuple) and len(dataset) == 2 and isinstance(dataset[0], str):
        name, dataset = dataset  # (name, arrays): data loaded once, e.g. by the command line
    try:
        (x, t), (xt, tt) = dataset
    except (TypeError, ValueError):
        raise ValueError(
            "dataset must be a name ('auto', 'mnist', 'fashion-mnist', 'mnist-5k'), "
            "((x_train, t_train), (x_test, t_test)), or (name, those arrays)"
        ) from None
    return name, as_dataset(x, t, xt, tt)


def seed_keys(key: Array | int, seeds: int) -> tuple[list[Array], list[int]]:
    """``(keys, ids)`` of ``seeds`` runs: an int seed ``k`` gives the seeds ``k, k+1, …`` (each
    run exactly the single-seed run ``key=k+i``); a PRNG key gives itself, then
    ``fold_in(key, i)``.

    >>> keys, ids = seed_keys(3, 2)
    >>> ids, bool((jax.random.key_data(keys[1]) == jax.random.key_data(as_key(4))).all())
    ([3, 4], True)
    """
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"seeds must be a positive int, got {seeds!r}")
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


def spread(values: Any) -> dict[str, float]:
    """Mean, standard deviation (population) and range of per-seed values.

    >>> spread([1.0, 3.0])
    {'mean': 2.0, 'std': 1.0, 'min': 1.0, 'max': 3.0}
    """
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
            "max": float(v.max())}  # fmt: skip


def per_seed(values: Any, seeds: int) -> Any:
    """A per-seed quantity as results keep it: the value itself for one seed, a list for many.

    >>> per_seed(np.array([0.5]), 1), per_seed(np.array([0.5, 0.25]), 2)
    (0.5, [0.5, 0.25])
    """
    v = np.asarray(values, np.float64)
    return float(v[0]) if seeds == 1 else v.tolist()


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


def train_runs(
    net: Any, params: Any, state: Any, opt: Any, data: Any, keys: Array, **options: Any
) -> Any:
    """K stacked runs (leading axis K on ``params``, ``state``, ``keys`` and any
    ``hyperparams``): one ``train_many`` program, or ``train`` itself when K is 1, so a
    single-seed experiment runs exactly the single-run program. The result always has the K
    axis."""
    from jaxlearn.train import train, train_many

    if keys.shape[0] > 1:
        return train_many(net, params, state, opt, data, key=keys, **options)
    first = jax.tree.map(lambda a: a[0], (params, state, options.pop("hyperparams", None)))
    r = train(net, first[0], first[1], opt, data, key=keys[0], hyperparams=first[2], **options)
    return r.stacked()


def loss_run(loss: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray, **extra: Any) -> dict:
    """One curve's record from its seeds: ``loss`` ``(N, iterations)``, final accuracies ``(N,)``.

    ``{**extra, 'loss', 'smoothed_loss', 'final_loss' (mean of the last 5% of the smoothed
    curve), 'train_acc', 'test_acc'}``: for one seed the arrays lose their seed axis and the
    finals are numbers (the single-run layout); for N seeds they keep it, the finals are
    length-N lists, and ``'summary'`` holds each final's :func:`spread`.
    """
    n = loss.shape[0]
    smoothed = np.stack([smooth_curve(curve) for curve in loss])
    finals = np.array([final_value(curve) for curve in smoothed])
    run = {
        **extra,
        "loss": loss[0] if n == 1 else loss,
        "smoothed_loss": smoothed[0] if n == 1 else smoothed,
        "final_loss": per_seed(finals, n),
        "train_acc": per_seed(train_acc, n),
        "test_acc": per_seed(test_acc, n),
    }
    if n > 1:
        run["summary"] = {
            "final_loss": spread(finals),
            "train_acc": spread(train_acc),
            "test_acc": spread(test_acc),
        }
    return run


def cell(run: dict, quantity: str, fmt: Any) -> str:
    """A table cell of a :func:`loss_run` record: the value, or ``mean ± std`` over seeds."""
    summary = run.get("summary")
    if summary is None:
        return fmt(run[quantity])
    return f"{fmt(summary[quantity]['mean'])} ± {fmt(summary[quantity]['std'])}"


def mean_final(run: dict, quantity: str = "final_loss") -> float:
    """A final quantity of a :func:`loss_run` record, averaged over seeds."""
    summary = run.get("summary")
    return summary[quantity]["mean"] if summary else float(run[quantity])
