"""Loss-curve figures: update rules and weight initialisations on MNIST (figures 6-9, 6-15)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlearn.experiments.display import curve_label, display, run_name
from jaxlearn.plots.style import (
    RULE_COLORS,
    band,
    colors_by,
    curve_colors,
    curve_styles,
    log_if_decades,
    pyplot,
    seeds_note,
)

#: Colours of the initialisation curves (Okabe–Ito, distinct from nothing else on the plot).
INIT_COLORS = {"std=0.01": "#0072B2", "Xavier": "#E69F00", "He": "#009E73"}


def _loss_axes(ax, runs: Mapping[str, Mapping], colors: Mapping[str, str],
               labels: Mapping[str, str]) -> None:  # fmt: skip
    """Smoothed loss per run (one curve, or the mean and min–max band over seeds), each with
    its own dashes and markers; a log y-axis when the losses span a decade or more; the legend
    outside the axes, where it hides no curve."""
    curves = {name: np.asarray(run["smoothed_loss"], np.float64) for name, run in runs.items()}
    length = max(y.shape[-1] for y in curves.values())
    for (name, y), style in zip(curves.items(), curve_styles(len(curves), length)):
        x = np.arange(1, y.shape[-1] + 1)
        band(ax, x, y, color=colors[name], label=labels[name], style=None, **style)
    log = log_if_decades(ax, [y.mean(axis=0) if y.ndim > 1 else y for y in curves.values()])
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss (smoothed" + (", log scale)" if log else ")"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    ax.grid(alpha=0.3, which="both" if log else "major")


def _rule_colors(runs: Mapping[str, Mapping]) -> dict[str, str]:
    """Each curve in its rule's colour (a curve labelled "Adam" that trains ``adam`` too), the
    first of each rule; any other curve in a colour of its own."""
    kinds = {
        label: run.get("rule", label if label in RULE_COLORS else None)
        for label, run in runs.items()
    }
    return colors_by(kinds, RULE_COLORS)


def plot_optimizer_comparison(results: Mapping):
    """Smoothed training loss per optimizer, as the book's figure 6-9.

    Each curve keeps its rule's colour and has its own dashes and markers (two optimizers that
    learn alike stay visible); the legend names each one with the learning rate it ran at.
    The y-axis is logarithmic when the losses span a decade or more (the adaptive rules end
    orders of magnitude below SGD). With several seeds each curve is the mean over seeds and
    a band spans the lowest to the highest seed; with a learning-rate sweep a second panel,
    below, shows each optimizer's final validation loss against the learning rate (the tuned
    rate marked).

    >>> import numpy as np
    >>> runs = {'sgd': {'smoothed_loss': np.linspace(2, 0.5, 20), 'lr': 0.01}}
    >>> config = {'dataset': 'mnist-5k', 'iterations': 20, 'batch_size': 8}
    >>> fig = plot_optimizer_comparison({'runs': runs, 'config': config})
    >>> fig.axes[0].get_legend_handles_labels()[1], fig.axes[0].get_title().splitlines()[0]
    (['SGD, lr=0.01'], 'Update rules on mnist-5k')
    """
    plt = pyplot()
    c, runs = results["config"], results["runs"]
    colors = _rule_colors(runs)
    labels = {name: curve_label(run_name(name, run), run.get("lr")) for name, run in runs.items()}
    sweep = bool(c.get("lrs"))
    fig, axes = plt.subplots(2 if sweep else 1, 1, figsize=(8.4, 8.6 if sweep else 4.6),
                             squeeze=False)  # fmt: skip
    ax = axes[0, 0]
    _loss_axes(ax, runs, colors, labels)
    tuned = ", tuned lr" if sweep else ""
    ax.set_title(
        f"Update rules on {c['dataset']}\nbatch {c['batch_size']}, {c['iterations']} "
        f"iterations{tuned}{seeds_note(results)}", fontsize=10,
    )  # fmt: skip
    if sweep:
        _sweep_axes(axes[1, 0], runs, colors)
    fig.tight_layout()
    return fig


def _sweep_axes(ax, runs: Mapping[str, Mapping], colors: Mapping[str, str]) -> None:
    for (name, run), style in zip(runs.items(), curve_styles(len(runs), 8)):
        lrs = np.asarray(run["sweep"]["lr"])
        loss = np.asarray(run["sweep"]["val_loss"], np.float64)
        mean = loss.mean(axis=1)
        ax.errorbar(lrs, mean, yerr=[mean - loss.min(axis=1), loss.max(axis=1) - mean],
                    color=colors[name], label=run_name(name, run), capsize=2, markersize=5,
                    linestyle=style["linestyle"], marker=style["marker"])  # fmt: skip
        best = int(np.argmin(np.abs(lrs - run["lr"])))
        ax.plot(lrs[best], mean[best], "*", color=colors[name], markersize=14)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final validation loss")
    finite = [v for run in runs.values() for v in np.ravel(run["sweep"]["val_loss"])
              if np.isfinite(v)]  # fmt: skip
    if finite:
        ax.set_ylim(0, min(max(finite) * 1.05, 2.5))  # diverged rates run off the top
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    ax.set_title("Learning-rate sweep (★ tuned; bars: min–max over seeds)", fontsize=10)
    ax.grid(alpha=0.3)


def plot_initializer_comparison(results: Mapping):
    """Smoothed training loss per initial weight scale, as the book's figure 6-15.

    Nothing is clipped: std=0.01 stays at ln 10 ≈ 2.30 and must be seen, so the legend sits
    outside the axes, and the y-axis turns logarithmic only when the losses span a decade.

    >>> import numpy as np
    >>> runs = {'He': {'smoothed_loss': np.linspace(2, 0.5, 20)}}
    >>> config = {'dataset': 'mnist-5k', 'iterations': 20, 'batch_size': 8, 'lr': 0.01,
    ...           'activation': 'relu'}
    >>> fig = plot_initializer_comparison({'runs': runs, 'config': config})
    >>> fig.axes[0].get_title().splitlines()[0]
    'Weight initialisation on mnist-5k (ReLU, SGD)'
    """
    plt = pyplot()
    c, runs = results["config"], results["runs"]
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    _loss_axes(ax, runs, curve_colors(runs, INIT_COLORS), {name: name for name in runs})
    ax.set_title(
        f"Weight initialisation on {c['dataset']} ({display(c['activation'])}, SGD)\n"
        f"η={c['lr']:g}, batch {c['batch_size']}, {c['iterations']} iterations"
        f"{seeds_note(results)}", fontsize=10,
    )  # fmt: skip
    fig.tight_layout()
    return fig
