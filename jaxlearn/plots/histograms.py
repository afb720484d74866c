"""Per-layer activation histograms (figures 6-10 to 6-14)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlearn.plots.style import pyplot


def plot_activation_histograms(results: Mapping):
    """One row per configuration, one column per layer: the book's histograms, side by side.

    ReLU rows clip the y-axis above the other bins, as the book's figure (``ylim(0, 7000)``):
    about half of ReLU's outputs are exactly 0 and that one bin would flatten the rest.

    >>> from jaxlearn.experiments import activation_histograms
    >>> r = activation_histograms({'sigmoid, std=1': ('sigmoid', 1.0)}, layers=2,
    ...                           num_inputs=20, nodes=10)
    >>> fig = plot_activation_histograms(r)
    >>> [ax.get_title() for ax in fig.axes]
    ['1-layer', '2-layer']
    """
    plt = pyplot()
    configs = results["configs"]
    layers = results["config"]["layers"]
    fig, axes = plt.subplots(
        len(configs), layers, figsize=(2.2 * layers, 1.7 * len(configs)), squeeze=False
    )
    for row, (label, c) in enumerate(configs.items()):
        edges = np.asarray(c["edges"])
        counts = np.asarray(c["counts"])
        clip = c["activation"] == "relu" and counts[:, 1:].max() > 0
        for j in range(layers):
            ax = axes[row, j]
            ax.stairs(counts[j], edges, fill=True, color="#0072B2")
            ax.set_xlim(edges[0], edges[-1])
            if clip:
                ax.set_ylim(0, 1.2 * counts[:, 1:].max())
            if row == 0:
                ax.set_title(f"{j + 1}-layer")
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
            else:
                ax.set_yticks([])
            ax.tick_params(labelsize=7)
        axes[row, 0].annotate(
            f"std {c['std']:.3g}" + (" (bin at 0 clipped)" if clip else ""),
            (0.02, 0.92),
            xycoords="axes fraction",
            fontsize=7,
            va="top",
        )
    for ax in axes[-1]:
        ax.set_xlabel("activation", fontsize=8)
    fig.suptitle("Hidden-layer activations (input N(0, 1), 100 nodes a layer, no bias)")
    fig.tight_layout()
    return fig
