"""One look for every figure: a fixed colour and label per update rule, used everywhere."""

from __future__ import annotations

import numpy as np

# The rules' display names have one home, beside the experiments that print them.
from jaxlearn.experiments.common import RULE_LABELS  # noqa: F401 (re-exported)

#: Colour of each update rule in every figure and notebook (colour-blind-safe Okabe–Ito).
RULE_COLORS: dict[str, str] = {
    "sgd": "#0072B2",
    "momentum": "#E69F00",
    "nesterov": "#CC79A7",
    "adagrad": "#009E73",
    "rmsprop": "#56B4E9",
    "adam": "#D55E00",
}

#: Colours for curves that are not one of the book's rules (a user's optimizer, a rule with other
#: settings), in order; none of them is a rule's colour.
EXTRA_COLORS = ("#000000", "#882255", "#999933", "#44AA99", "#AA4499", "#777777", "#332288")


def curve_colors(labels, fixed: dict[str, str]) -> dict[str, str]:
    """A colour per label: ``fixed[label]`` where given, else the next of :data:`EXTRA_COLORS`.

    >>> curve_colors(['sgd', 'AdamW'], RULE_COLORS)
    {'sgd': '#0072B2', 'AdamW': '#000000'}
    """
    extra = iter(EXTRA_COLORS * (1 + len(list(labels)) // len(EXTRA_COLORS)))
    return {label: fixed.get(label) or next(extra) for label in labels}


def band(ax, x, ys, *, color: str, label: str, style: str = "-", **kw):
    """Plot one curve, or for a stack of curves (one per seed) their mean with the min–max band.

    ``ys`` of shape ``(n,)`` is drawn as it is; ``(seeds, n)`` as the mean line and a shaded
    band from the lowest to the highest seed at each point.
    """
    ys = np.asarray(ys, np.float64)
    if ys.ndim == 1:
        return ax.plot(x, ys, style, color=color, label=label, **kw)
    lines = ax.plot(x, ys.mean(axis=0), style, color=color, label=label, **kw)
    ax.fill_between(x, ys.min(axis=0), ys.max(axis=0), color=color, alpha=0.18, linewidth=0)
    return lines


def row(values, i: int) -> np.ndarray:
    """Configuration ``i``'s curve from ``(K, n)`` results, or its seeds ``(N, n)`` from
    ``(N, K, n)`` results (what :func:`band` draws).

    >>> row(np.zeros((3, 5)), 1).shape, row(np.zeros((2, 3, 5)), 1).shape
    ((5,), (2, 5))
    """
    return np.asarray(values)[..., i, :]


def seeds_note(results) -> str:
    """``', mean of N seeds (band: min–max)'`` for a several-seed result, else ``''``."""
    n = len(results.get("config", {}).get("seeds", [0]))
    return f", mean of {n} seeds (band: min–max)" if n > 1 else ""


def pyplot():
    """matplotlib.pyplot with a non-interactive backend when no display is configured."""
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'jaxlearn[plots]'") from err
    import os

    if not os.environ.get("DISPLAY") and "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
