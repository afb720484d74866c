"""Loss-curve figures: update rules and weight initialisations on MNIST (figures 6-9, 6-15)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlearn.experiments.common import display
from jaxlearn.plots.style import RULE_COLORS, RULE_LABELS, pyplot

#: Colours of the initialisation curves (Okabe–Ito, distinct from nothing else on the plot).
INIT_COLORS = {"std=0.01": "#0072B2", "Xavier": "#E69F00", "He": "#009E73"}


def _loss_figure(runs: Mapping[str, Mapping], labels, colors, title: str, subtitle: str):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, run in runs.items():
        y = np.asarray(run["smoothed_loss"])
        ax.plot(np.arange(1, len(y) + 1), y, color=colors.get(name), label=labels.get(name, name))
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss (smoothed)")
    ax.set_ylim(0, 1)  # the book's view; the flat ln 10 ≈ 2.3 curves sit above, clipped
    ax.set_title(f"{title}\n{subtitle}", fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_optimizer_comparison(results: Mapping):
    """Smoothed training loss per update rule, as the book's figure 6-9.

    >>> import numpy as np
    >>> runs = {'sgd': {'smoothed_loss': np.linspace(2, 0.5, 20)}}
    >>> config = {'dataset': 'mnist-5k', 'iterations': 20, 'batch_size': 8}
    >>> fig = plot_optimizer_comparison({'runs': runs, 'config': config})
    >>> fig.axes[0].get_legend_handles_labels()[1], fig.axes[0].get_title().splitlines()[0]
    (['SGD'], 'Update rules on mnist-5k')
    """
    c = results["config"]
    return _loss_figure(
        results["runs"], RULE_LABELS, RULE_COLORS, f"Update rules on {c['dataset']}",
        f"batch {c['batch_size']}, {c['iterations']} iterations",
    )  # fmt: skip


def plot_initializer_comparison(results: Mapping):
    """Smoothed training loss per initial weight scale, as the book's figure 6-15.

    The y-axis is not clipped here: std=0.01 stays at ln 10 ≈ 2.30 and must be seen.

    >>> import numpy as np
    >>> runs = {'He': {'smoothed_loss': np.linspace(2, 0.5, 20)}}
    >>> config = {'dataset': 'mnist-5k', 'iterations': 20, 'batch_size': 8, 'lr': 0.01,
    ...           'activation': 'relu'}
    >>> fig = plot_initializer_comparison({'runs': runs, 'config': config})
    >>> fig.axes[0].get_title().splitlines()[0]
    'Weight initialisation on mnist-5k (ReLU, SGD)'
    """
    c = results["config"]
    fig = _loss_figure(
        results["runs"], {}, INIT_COLORS,
        f"Weight initialisation on {c['dataset']} ({display(c['activation'])}, SGD)",
        f"η={c['lr']:g}, batch {c['batch_size']}, {c['iterations']} iterations",
    )  # fmt: skip
    fig.axes[0].set_ylim(0, 2.5)
    return fig
