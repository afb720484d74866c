"""The Batch Norm grid: train accuracy against epochs at 16 weight scales (figure 6-19)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from jaxlearn.plots.style import band, pyplot, row, seeds_note

BN_COLOR, PLAIN_COLOR = "#D55E00", "#0072B2"


def plot_batchnorm_grid(results: Mapping):
    """A 4×4 grid (for 16 scales): with Batch Norm solid, without dashed, one panel per scale.

    >>> import numpy as np
    >>> r = {'weight_scales': np.array([1.0, 0.1]), 'epochs': np.arange(1, 4),
    ...      'train_acc_bn': np.ones((2, 3)), 'train_acc_plain': np.zeros((2, 3)),
    ...      'config': {'dataset': 'x'}}
    >>> [ax.get_title() for ax in plot_batchnorm_grid(r).axes]
    ['W: 1', 'W: 0.1']
    """
    plt = pyplot()
    scales = np.asarray(results["weight_scales"])
    epochs = np.asarray(results["epochs"])
    n = len(scales)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.0 * ncols, 2.4 * nrows), squeeze=False, sharex=True, sharey=True
    )
    for i, w in enumerate(scales):
        ax = axes.flat[i]
        band(ax, epochs, row(results["train_acc_bn"], i), color=BN_COLOR,
             label="Batch Normalization")  # fmt: skip
        band(ax, epochs, row(results["train_acc_plain"], i), style="--", color=PLAIN_COLOR,
             label="Normal (without BatchNorm)")  # fmt: skip
        ax.set_title(f"W: {w:.3g}", fontsize=9)
        ax.set_ylim(0, 1)
        if i % ncols == 0:
            ax.set_ylabel("accuracy")
        if i >= n - ncols:
            ax.set_xlabel("epochs")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[n - 1].legend(loc="lower right", fontsize=7)
    fig.suptitle(
        "Batch Normalization vs initial weight scale "
        f"(train accuracy, {results['config']['dataset']}{seeds_note(results)})"
    )
    fig.tight_layout()
    return fig
