"""Train/test accuracy curves: overfitting, weight decay and Dropout (figures 6-20 to 6-23)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlearn.plots.style import band, pyplot, row, seeds_note

TRAIN_COLOR, TEST_COLOR = "#0072B2", "#D55E00"


def plot_overfitting(results: Mapping):
    """One panel per run (λ values, or without/with Dropout): train solid, test dashed.

    Takes :func:`~jaxlearn.experiments.weight_decay_experiment` or
    :func:`~jaxlearn.experiments.dropout_experiment` results.

    >>> import numpy as np
    >>> r = {'experiment': 'weight-decay', 'config': {'dataset': 'x', 'train_size': 300},
    ...      'epochs': np.arange(1, 4),
    ...      'train_acc': np.ones((2, 3)), 'test_acc': np.zeros((2, 3)),
    ...      'runs': [{'lambda': 0.0, 'gap': 1.0}, {'lambda': 0.1, 'gap': 1.0}]}
    >>> [ax.get_title() for ax in plot_overfitting(r).axes]
    ['no weight decay (λ=0)', 'weight decay λ=0.1']
    """
    plt = pyplot()
    runs = results["runs"]
    epochs = np.asarray(results["epochs"])
    fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 3.8), squeeze=False)
    for i, run in enumerate(runs):
        ax = axes[0, i]
        band(ax, epochs, row(results["train_acc"], i), color=TRAIN_COLOR, label="train")
        band(ax, epochs, row(results["test_acc"], i), style="--", color=TEST_COLOR, label="test")
        ax.set_title(_title(run))
        ax.set_xlabel("epochs")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        gap = run["summary"]["gap"]["mean"] if "summary" in run else run["gap"]
        ax.text(
            0.97, 0.05, f"final gap {gap:.2f}", transform=ax.transAxes, ha="right", fontsize=8,
        )  # fmt: skip
    # One legend for the figure, below the panels: inside an axes it would cover a curve
    # (Dropout's train and test curves run through the middle of the panel).
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=2)
    what = "Weight decay" if results["experiment"] == "weight-decay" else "Dropout"
    c = results["config"]
    fig.suptitle(
        f"{what} against overfitting ({c['train_size']} training images, {c['dataset']}"
        f"{seeds_note(results)})"
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _title(run: Mapping) -> str:
    if "lambda" in run:
        lam = run["lambda"]
        return "no weight decay (λ=0)" if lam == 0 else f"weight decay λ={lam:g}"
    return "with Dropout" if run["dropout"] else "without Dropout"
