"""Loss curves and their finals: the book's ``smooth_curve``, a steady "final" value, and one
curve's record over its seeds (what the optimizer and initialisation comparisons keep per run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jaxlearn.experiments.report import pct

__all__ = [
    "LOSS_RUN_COLUMNS",
    "cell",
    "final_value",
    "first_loss",
    "loss_run",
    "loss_run_cells",
    "mean_final",
    "per_seed",
    "smooth_curve",
    "spread",
]


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


def loss_run(loss: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray, **extra: Any) -> dict:
    """One curve's record from its seeds: ``loss`` ``(N, iterations)``, final accuracies ``(N,)``.

    ``{**extra, 'loss', 'smoothed_loss', 'final_loss' (mean of the last 5% of the smoothed
    curve), 'train_acc', 'test_acc'}``: for one seed the arrays lose their seed axis and the
    finals are numbers (the single-run layout); for N seeds they keep it, the finals are
    length-N lists, and ``'summary'`` holds each final's :func:`spread`.

    >>> run = loss_run(np.ones((1, 20)), np.array([0.5]), np.array([0.25]), lr=0.1)
    >>> run['lr'], run['loss'].shape, run['final_loss'], run['test_acc']
    (0.1, (20,), 1.0, 0.25)
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


def first_loss(run: dict) -> float:
    """The loss of a :func:`loss_run` record's first update (mean over seeds): the same for
    every run of a comparison that starts from the same weights and batches.

    >>> first_loss({'loss': np.array([[2.0, 1.0], [3.0, 1.0]])})
    2.5
    """
    return float(np.mean(np.asarray(run["loss"])[..., 0]))


def cell(run: dict, quantity: str, fmt: Callable[[Any], str]) -> str:
    """A table cell of a :func:`loss_run` record: the value, or ``mean ± std`` over seeds.

    >>> cell({'test_acc': 0.5}, 'test_acc', str)
    '0.5'
    """
    summary = run.get("summary")
    if summary is None:
        return fmt(run[quantity])
    return f"{fmt(summary[quantity]['mean'])} ± {fmt(summary[quantity]['std'])}"


#: The columns every table of :func:`loss_run` records ends with (the optimizer and the
#: initialisation comparisons), each filled by :func:`loss_run_cells`.
LOSS_RUN_COLUMNS = ("first loss", "final loss", "train acc", "test acc")


def loss_run_cells(run: dict) -> list[str]:
    """A :func:`loss_run` record's cells under :data:`LOSS_RUN_COLUMNS`: its first loss, its
    final loss and its final accuracies (``mean ± std`` over seeds where it has several).

    >>> loss_run_cells({'loss': np.array([2.3, 0.5]), 'final_loss': 0.5, 'train_acc': 0.9,
    ...                 'test_acc': 0.875})
    ['2.3', '0.5', '90.0%', '87.5%']
    """
    return [f"{first_loss(run):.4g}", cell(run, "final_loss", lambda v: f"{v:.4g}"),
            cell(run, "train_acc", pct), cell(run, "test_acc", pct)]  # fmt: skip


def mean_final(run: dict, quantity: str = "final_loss") -> float:
    """A final quantity of a :func:`loss_run` record, averaged over seeds.

    >>> mean_final({'final_loss': 0.25})
    0.25
    """
    summary = run.get("summary")
    return summary[quantity]["mean"] if summary else float(run[quantity])
