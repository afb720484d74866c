"""Figures of an optimizer-suite result: each problem's validation curves of the chosen setting.

The result is the dict :func:`jaxlearn.suite.run` returns (only its plain data is read here).
"""

from __future__ import annotations

import numpy as np

from jaxlearn.plots.style import EXTRA_COLORS, RULE_COLORS, band, pyplot

__all__ = ["optimizer_colors", "plot_suite_curves"]

#: Line styles in turn, so two optimizers with equal curves both stay visible.
_STYLES = ("-", "--", "-.", ":")


def optimizer_colors(result: dict) -> dict[str, str]:
    """A colour per optimizer spec: a book rule's own colour (whatever its spec's settings),
    then the extra colours in order.

    >>> optimizer_colors({"optimizers": {"adam": {"kind": "adam"},
    ...                                  "optax:lion": {"kind": "optax:lion"}}})
    {'adam': '#D55E00', 'optax:lion': '#000000'}
    """
    extra = iter(EXTRA_COLORS * (1 + len(result["optimizers"]) // len(EXTRA_COLORS)))
    return {spec: RULE_COLORS.get(info["kind"]) or next(extra)
            for spec, info in result["optimizers"].items()}  # fmt: skip


def _values(curves) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in c] for c in curves], np.float64)


def plot_suite_curves(result: dict, problem: str):
    """The validation target metric of ``problem`` against steps: per optimizer the mean over
    its evaluation seeds with a min–max band, the target as a dotted line. A loss-like metric
    that spans more than a decade is drawn on a log axis.

    >>> import numpy as np
    >>> r = {"problems": {"p": {"target": {"metric": "loss", "mode": "min", "value": 0.5},
    ...                         "description": "a problem"}},
    ...      "optimizers": {"sgd": {"label": "SGD", "kind": "sgd"}},
    ...      "config": {"seeds": 2, "budget": 2},
    ...      "cells": {"p": {"sgd": {"eval_steps": [1, 2],
    ...                              "eval": {"valid": {"loss": [[1.0, 0.4], [1.2, 0.6]]}}}}}}
    >>> fig = plot_suite_curves(r, "p")
    >>> fig.axes[0].get_ylabel()
    'validation loss'
    """
    plt = pyplot()
    info = result["problems"][problem]
    target = info["target"]
    colors = optimizer_colors(result)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
    lows, highs = [], []
    for n, (spec, cell) in enumerate(result["cells"][problem].items()):
        if cell.get("eval") is None:
            continue
        ev, metric = cell["eval"], target["metric"]
        ys = _values(ev["valid"][metric])
        steps = list(cell["eval_steps"])
        start = ev.get("start", {}).get("valid", {}).get(metric)
        if start is not None:  # the curve from step 0, where every optimizer starts
            ys = np.concatenate([_values([start]).T, ys], axis=1)
            steps = [0, *steps]
        label = result["optimizers"][spec]["label"]
        band(ax, steps, ys, color=colors[spec], label=label, style=_STYLES[n % len(_STYLES)])
        finite = ys[np.isfinite(ys)]
        if finite.size:
            lows.append(finite.min())
            highs.append(finite.max())
    ax.axhline(target["value"], color="0.4", linestyle=":", linewidth=1, label="target")
    if target["mode"] == "min" and lows and min(lows) > 0 and max(highs) / min(lows) > 10:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"validation {target['metric']}")
    seeds = result["config"]["seeds"]
    ax.set_title(f"{problem}: {info['description']}\nchosen setting, mean of {seeds} seeds "
                 "(band: min–max)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=8, loc="best")
    return fig
