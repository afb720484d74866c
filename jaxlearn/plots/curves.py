"""Loss-curve figures: update rules and weight initialisations on MNIST (figures 6-9, 6-15)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlearn.experiments.common import display
from jaxlearn.plots.style import RULE_COLORS, band, curve_colors, pyplot, seeds_note

#: Colours of the initialisation curves (Okabe–Ito, distinct from nothing else on the plot).
INIT_COLORS = {"std=0.01": "#0072B2", "Xavier": "#E69F00", "He": "#009E73"}


def _loss_axes(ax, runs: Mapping[str, Mapping], colors: Mapping[str, str]) -> None:
    """Smoothed loss per run: one curve, or the mean and min–max band over seeds."""
    for name, run in runs.items():
        y = np.asarray(run["smoothed_loss"])
        x = np.arange(1, y.shape[-1] + 1)
        band(ax, x, y, color=colors[name], label=display(name))
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss (smoothed)")
    ax.set_ylim(0, 1)  # the book's view; the flat ln 10 ≈ 2.3 curves sit above, clipped
    ax.legend(loc="upper right")  # loss curves start high on the left and end low on the right
    ax.grid(alpha=0.3)


def plot_optimizer_comparison(results: Mapping):
    """Smoothed training loss per optimizer, as the book's figure 6-9.

    With several seeds each curve is the mean over seeds and a band spans the lowest to the
    highest seed; with a learning-rate sweep a second panel shows each optimizer's final
    validation loss against the learning rate (the tuned rate marked).

    >>> import numpy as np
    >>> runs = {'sgd': {'smoothed_loss': np.linspace(2, 0.5, 20)}}
    >>> config = {'dataset': 'mnist-5k', 'iterations': 20, 'batch_size': 8}
    >>> fig = plot_optimizer_comparison({'runs': runs, 'config': config})
    >>> fig.axes[0].get_legend_handles_labels()[1], fig.axes[0].get_title().splitlines()[0]
    (['SGD'], 'Update rules on mnist-5k')
    """
    plt = pyplot()
    c, runs = results["config"], results["runs"]
    colors = curve_colors(runs, RULE_COLORS)
    sweep = bool(c.get("lrs"))
    fig, axes = plt.subplots(1, 2 if sweep else 1, figsize=(11.6 if sweep else 6.4, 4.4),
                             squeeze=False)  # fmt: skip
    ax = axes[0, 0]
    _loss_axes(ax, runs, colors)
    tuned = ", tuned lr" if sweep else ""
    ax.set_title(
        f"Update rules on {c['dataset']}\nbatch {c['batch_size']}, {c['iterations']} "
        f"iterations{tuned}{seeds_note(results)}", fontsize=10,
    )  # fmt: skip
    if sweep:
        _sweep_axes(axes[0, 1], runs, colors)
    fig.tight_layout()
    return fig


def _sweep_axes(ax, runs: Mapping[str, Mapping], colors: Mapping[str, str]) -> None:
    for name, run in runs.items():
        lrs = np.asarray(run["sweep"]["lr"])
        loss = np.asarray(run["sweep"]["val_loss"], np.float64)
        mean = loss.mean(axis=1)
        ax.errorbar(lrs, mean, yerr=[mean - loss.min(axis=1), loss.max(axis=1) - mean],
                    fmt="o-", color=colors[name], label=display(name), capsize=2,
                    markersize=4)  # fmt: skip
        best = int(np.argmin(np.abs(lrs - run["lr"])))
        ax.plot(lrs[best], mean[best], "*", color=colors[name], markersize=14)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final validation loss")
    finite = [v for run in runs.values() for v in np.ravel(run["sweep"]["val_loss"])
              if np.isfinite(v)]  # fmt: skip
    if finite:
        ax.set_ylim(0, min(max(finite) * 1.05, 2.5))  # diverged rates run off the top
    ax.set_title("Learning-rate sweep (★ tuned; bars: min–max over seeds)", fontsize=10)
    ax.grid(alpha=0.3)


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
    plt = pyplot()
    c = results["config"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    _loss_axes(ax, results["runs"], curve_colors(results["runs"], INIT_COLORS))
    ax.set_ylim(0, 2.5)
    ax.set_title(
        f"Weight initialisation on {c['dataset']} ({display(c['activation'])}, SGD)\n"
        f"η={c['lr']:g}, batch {c['batch_size']}, {c['iterations']} iterations"
        f"{seeds_note(results)}", fontsize=10,
    )  # fmt: skip
    fig.tight_layout()
    return fig
