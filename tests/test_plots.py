"""jaxlearn.plots: what each figure shows, read back from the matplotlib objects (no pixels)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="matplotlib (jaxlearn[plots]) is not installed")

from jaxlearn.plots import (  # noqa: E402
    INIT_COLORS,
    RULE_COLORS,
    plot_initializer_comparison,
    plot_optimizer_comparison,
)

ITER = np.arange(1, 201)
CONFIG = {"dataset": "mnist-5k", "iterations": 200, "batch_size": 128, "lr": 0.01,
          "activation": "relu"}  # fmt: skip


def _run(curve, **extra):
    return {"smoothed_loss": np.asarray(curve, np.float64), **extra}


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_losses_spanning_decades_get_a_log_axis_and_nothing_is_clipped():
    runs = {"sgd": _run(2.3 * ITER**-0.2, lr=0.01, rule="sgd"),
            "adam": _run(2.3 * ITER**-1.5, lr=0.001, rule="adam")}  # fmt: skip
    ax = plot_optimizer_comparison({"config": CONFIG, "runs": runs}).axes[0]
    assert ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    ends = [2.3 * 200**-1.5, 2.3]
    assert lo < min(ends) and hi > max(ends)  # the lowest final loss and the first are shown
    # Losses within one decade keep a linear axis from 0.
    close = {"sgd": _run(np.linspace(2.3, 0.5, 200), lr=0.01, rule="sgd")}
    ax = plot_optimizer_comparison({"config": CONFIG, "runs": close}).axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0 and ax.get_ylim()[1] >= 2.3


def test_curves_are_named_with_their_rate_and_keep_their_rules_colour():
    runs = {
        "Adam": _run(np.linspace(2, 1, 200), lr=0.001, rule="adam", name="Adam"),
        "adam:lr=0.01": _run(np.linspace(2, 0.5, 200), lr=0.01, rule="adam", name="Adam"),
        "optax:lion:learning_rate=0.001": _run(np.linspace(2, 0.8, 200), lr=0.0001, rule=None,
                                               name="optax.lion"),
        "mine": _run(np.linspace(2, 0.9, 200), lr=None, rule=None, name="mine"),
    }  # fmt: skip
    lines = _lines(plot_optimizer_comparison({"config": CONFIG, "runs": runs}).axes[0])
    # The legend shows the rate each run trained at (a sweep's tuned rate), not the spec's.
    assert list(lines) == ["Adam, lr=0.001", "Adam, lr=0.01", "optax.lion, lr=0.0001", "mine"]
    assert lines["Adam, lr=0.001"].get_color() == RULE_COLORS["adam"]  # labelled "Adam"
    colors = [line.get_color() for line in lines.values()]
    assert len(set(colors)) == 4 and colors.count(RULE_COLORS["adam"]) == 1


def test_equal_curves_stay_visible():
    same = np.linspace(2.3, 0.4, 200)
    runs = {"A": _run(same, lr=0.01), "B": _run(same, lr=0.01), "C": _run(same, lr=0.01)}
    lines = list(_lines(plot_optimizer_comparison({"config": CONFIG, "runs": runs}).axes[0])
                 .values())  # fmt: skip
    styles = {(line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(styles) == 3  # each its own dashes and markers
    starts = [line.get_markevery()[0] for line in lines]
    assert len(set(starts)) == 3  # and its markers at other points


def test_the_init_legend_covers_no_curve():
    runs = {name: _run(np.full(200, 2.30) if name == "std=0.01" else np.linspace(2.3, 0.3, 200))
            for name in INIT_COLORS}  # fmt: skip
    fig = plot_initializer_comparison({"config": CONFIG, "runs": runs})
    fig.canvas.draw()
    ax = fig.axes[0]
    legend, box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= box.x1  # outside the axes: the flat std=0.01 line at the top is free
    assert ax.get_ylim()[1] > 2.30 and ax.get_yscale() == "linear"  # it spans under a decade


def test_a_sweep_figure_stacks_its_panels_at_a_readable_size():
    runs = {"sgd": _run(np.linspace(2, 1, 200), lr=0.01, rule="sgd",
                        sweep={"lr": [1e-3, 1e-2], "val_loss": [[2.0], [1.0]]})}  # fmt: skip
    fig = plot_optimizer_comparison({"config": {**CONFIG, "lrs": [1e-3, 1e-2]}, "runs": runs})
    top, bottom = fig.axes[:2]
    assert top.get_position().y0 > bottom.get_position().y1  # one above the other
    assert fig.get_figwidth() <= 9 and fig.get_figheight() >= 8


def test_arrays_are_titled_by_their_name_not_as_user():
    from jaxlearn.experiments import compare_optimizers

    rng = np.random.default_rng(0)
    data = ((rng.random((32, 784)), rng.integers(0, 10, 32)),
            (rng.random((8, 784)), rng.integers(0, 10, 8)))  # fmt: skip
    kw = dict(iterations=12, batch_size=8, hidden=[4], progress=False)
    r = compare_optimizers(["sgd"], dataset=data, **kw)
    assert plot_optimizer_comparison(r).axes[0].get_title().startswith("Update rules on your data")
    r = compare_optimizers(["sgd"], dataset=("noisy digits", data), **kw)
    assert plot_optimizer_comparison(r).axes[0].get_title().startswith("Update rules on noisy")
