"""The update-path figure: one panel per rule over the contours of f(x, y) = x²/20 + y²."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from jaxlearn.plots.style import RULE_COLORS, RULE_LABELS, pyplot


def plot_update_paths(results: Mapping, *, ncols: int = 3, overlay: bool = False):
    """Draw :func:`jaxlearn.experiments.update_paths` results as the book does.

    One panel per rule (or a single overlay with ``overlay=True``): contours of the function,
    the path as red-ish dots joined by a line in the rule's colour, and the minimum marked "+".

    Returns the matplotlib ``Figure``.

    >>> from jaxlearn.experiments import update_paths
    >>> fig = plot_update_paths(update_paths({'sgd': 0.95}, steps=5))
    >>> [ax.get_title() for ax in fig.axes]
    ['SGD (η=0.95)']
    """
    plt = pyplot()
    runs = results["runs"]
    names = list(runs)
    if not names:
        raise ValueError("results is empty: nothing to plot")
    xs, ys = np.meshgrid(np.arange(-10, 10, 0.01), np.arange(-5, 5, 0.01))
    zs = xs**2 / 20.0 + ys**2
    panels = 1 if overlay else len(names)
    ncols = min(ncols, panels)
    nrows = math.ceil(panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    for i, name in enumerate(names):
        ax = axes.flat[0 if overlay else i]
        if i == 0 or not overlay:
            ax.contour(
                xs, ys, zs, levels=[0.25, 1, 2.5, 5, 10, 20, 40], colors="0.75", linewidths=0.8
            )
            ax.plot(0, 0, "+", color="black", markersize=12, mew=2)
            ax.set_xlim(-10, 10)
            ax.set_ylim(-5, 5)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
        path = np.asarray(runs[name]["path"])
        label = f"{RULE_LABELS.get(name, name)} (η={runs[name]['lr']:g})"
        ax.plot(
            path[:, 0],
            path[:, 1],
            "o-",
            color=RULE_COLORS.get(name),
            markersize=3,
            linewidth=1.2,
            label=label,
        )
        if not overlay:
            ax.set_title(label)
    if overlay:
        axes.flat[0].set_title("Update paths on f(x, y) = x²/20 + y²")
        axes.flat[0].legend(loc="lower right", fontsize=8)
    for ax in list(axes.flat)[panels:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
