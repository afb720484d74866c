"""The hyper-parameter search: the top trials' accuracy curves and the (lr, λ) map (fig. 6-24)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from jaxlearn.plots.style import band, pyplot, row, seeds_note

VAL_COLOR, TRAIN_COLOR = "#D55E00", "#0072B2"


def plot_search(results: Mapping, *, top: int = 20, ncols: int = 5):
    """The book's grid of the ``top`` trials (validation solid, train dashed), best first.

    >>> import numpy as np
    >>> r = {'lr': np.array([1e-2, 1e-5]), 'weight_decay': np.array([1e-7, 1e-5]),
    ...      'val_acc': np.ones((2, 3)), 'train_acc': np.ones((2, 3)),
    ...      'final_val_acc': np.array([0.8, 0.1]), 'epochs': np.arange(1, 4),
    ...      'config': {'dataset': 'x'}}
    >>> [ax.get_title().splitlines()[0] for ax in plot_search(r).axes]
    ['Best-1 (val 0.80)', 'Best-2 (val 0.10)']
    """
    plt = pyplot()
    n = min(top, len(results["lr"]))
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    epochs = np.asarray(results["epochs"])
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.6 * ncols, 2.2 * nrows), squeeze=False, sharex=True, sharey=True
    )
    for i in range(n):
        ax = axes.flat[i]
        band(ax, epochs, row(results["val_acc"], i), color=VAL_COLOR, label="validation")
        band(ax, epochs, row(results["train_acc"], i), style="--", color=TRAIN_COLOR,
             label="train")  # fmt: skip
        ax.set_title(
            f"Best-{i + 1} (val {results['final_val_acc'][i]:.2f})\n"
            f"lr {results['lr'][i]:.1e}, λ {results['weight_decay'][i]:.1e}",
            fontsize=8,
        )
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
        if i % ncols == 0:
            ax.set_ylabel("accuracy", fontsize=8)
        if i >= n - ncols:
            ax.set_xlabel("epochs", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"Hyper-parameter search: top {n} of {len(results['lr'])} trials "
        f"({results['config']['dataset']}{seeds_note(results)})"
    )
    fig.tight_layout()
    return fig


def plot_search_map(results: Mapping):
    """Every trial at its (lr, λ), coloured by final validation accuracy (log–log axes).

    >>> import numpy as np
    >>> r = {'lr': np.array([1e-2, 1e-5]), 'weight_decay': np.array([1e-7, 1e-5]),
    ...      'final_val_acc': np.array([0.8, 0.1]), 'config': {'dataset': 'x'}}
    >>> plot_search_map(r).axes[0].get_xlabel()
    'learning rate'
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4.2))
    sc = ax.scatter(
        results["lr"], results["weight_decay"], c=results["final_val_acc"], cmap="viridis",
        vmin=0, vmax=1, s=24, edgecolors="k", linewidths=0.3,
    )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("weight decay λ")
    ax.set_title(f"Validation accuracy of each trial ({results['config']['dataset']})")
    fig.colorbar(sc, ax=ax, label="final validation accuracy")
    fig.tight_layout()
    return fig
