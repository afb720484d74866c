"""One look for every figure: a fixed colour per update rule, the rules' display names, and
line styles that keep coinciding curves apart."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# The rules' display names have one home, beside the experiments that print them.
from jaxlearn.experiments.display import RULE_LABELS  # noqa: F401 (re-exported)
from jaxlearn.experiments.records import Result

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


#: Line styles and markers cycled over the curves of one panel: two curves that coincide (two
#: rules that learn alike) still show both, by their dashes and their markers.
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def curve_colors(labels, fixed: Mapping[str, str]) -> dict[str, str]:
    """A colour per label: ``fixed[label]`` where given, else the next of :data:`EXTRA_COLORS`.

    >>> curve_colors(['sgd', 'AdamW'], RULE_COLORS)
    {'sgd': '#0072B2', 'AdamW': '#000000'}
    """
    return colors_by({label: label for label in labels}, fixed)


def colors_by(kinds: Mapping[str, str | None], fixed: Mapping[str, str]) -> dict[str, str]:
    """A colour per label from its kind: ``fixed[kind]`` for the first label of a kind that has
    one, else the next of :data:`EXTRA_COLORS`, so no two curves share a colour.

    >>> colors_by({'Adam': 'adam', 'adam:lr=0.1': 'adam', 'AdamW': None}, RULE_COLORS)
    {'Adam': '#D55E00', 'adam:lr=0.1': '#000000', 'AdamW': '#882255'}
    """
    extra = iter(EXTRA_COLORS * (1 + len(kinds) // len(EXTRA_COLORS)))
    used: set[str] = set()
    colors = {}
    for label, kind in kinds.items():
        color = fixed.get(kind) if kind is not None else None
        colors[label] = color if color and color not in used else next(extra)
        used.add(colors[label])
    return colors


def curve_styles(n: int, length: int) -> list[dict]:
    """Line style, marker and marker positions for ``n`` curves of ``length`` points: about
    eight markers a curve, each curve's at other points than the others'.

    >>> [(s['linestyle'], s['marker'], s['markevery']) for s in curve_styles(2, 80)]
    [('-', 'o', (0, 10)), ('--', 's', (5, 10))]
    """
    every = max(1, length // 8)
    return [
        {"linestyle": LINE_STYLES[i % len(LINE_STYLES)], "marker": MARKERS[i % len(MARKERS)],
         "markevery": (i * every // n, every), "markersize": 4}
        for i in range(n)
    ]  # fmt: skip


def band(ax, x, ys, *, color: str, label: str, style: str | None = "-", **kw):
    """Plot one curve, or for a stack of curves (one per seed) their mean with the min–max band.

    ``ys`` of shape ``(n,)`` is drawn as it is; ``(seeds, n)`` as the mean line and a shaded
    band from the lowest to the highest seed at each point. ``style`` is a format string
    (``None`` when ``kw`` sets the line style).
    """
    ys = np.asarray(ys, np.float64)
    fmt = () if style is None else (style,)
    if ys.ndim == 1:
        return ax.plot(x, ys, *fmt, color=color, label=label, **kw)
    lines = ax.plot(x, ys.mean(axis=0), *fmt, color=color, label=label, **kw)
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
    n = Result.of(results).n_seeds
    return f", mean of {n} seeds (band: min–max)" if n > 1 else ""


def log_if_decades(ax, curves, decades: float = 1.0) -> bool:
    """A log y-axis when the curves' values span at least ``decades`` powers of ten (a linear
    axis would flatten every curve but the highest), else a linear one from 0. True for log.

    The limits hug the data: nothing is clipped.
    """
    values = np.concatenate([np.ravel(np.asarray(c, np.float64)) for c in curves])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return False
    lo, hi = values.min(), values.max()
    if lo > 0 and hi / lo >= 10.0**decades:
        ax.set_yscale("log")
        ax.set_ylim(lo / 1.3, hi * 1.3)
        return True
    ax.set_ylim(min(0.0, lo), hi * 1.05 if hi > 0 else 1.0)
    return False


def legend_below(fig, ax, ncol: int = 2) -> None:
    """One legend for a grid of panels, below them (inside any panel it would cover a curve)."""
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=ncol, fontsize=8)


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
