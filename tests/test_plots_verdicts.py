"""The verdict figures draw the numbers the statistics return (jaxlearn/plots/verdicts.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="matplotlib (jaxlearn[plots]) is not installed")

from matplotlib.colors import to_hex  # noqa: E402

from jaxlearn.plots.verdicts import (  # noqa: E402
    VERDICT_COLORS,
    plot_iqm,
    plot_performance_profile,
    plot_sensitivity,
    plot_tuning_curves,
    plot_verdicts,
)
from jaxlearn.suite.profiles import performance_profile  # noqa: E402
from jaxlearn.suite.stats import compare_paired, verdicts  # noqa: E402
from jaxlearn.suite.tuning_curves import tuning_curve  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    """Each test's figures are closed after it (pyplot keeps every open figure alive)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


STEPS = {"adam": [100.0, 150.0, 500.0, np.inf], "Lion": [150.0, 100.0, 100.0, np.inf]}


def test_profile_lines_are_the_exact_step_functions_of_the_profile():
    prof = performance_profile(STEPS, max_tau=6.0)
    fig = plot_performance_profile(prof, log_x=True)
    for line, name in zip(fig.axes[0].lines, STEPS):
        x, y = line.get_data()
        # The drawn step function, read at every grid τ, is the profile's ρ there.
        at_grid = y[np.searchsorted(x, prof["tau"], side="right") - 1]
        np.testing.assert_array_equal(at_grid, prof["rho"][name])
    assert fig.axes[0].get_xscale() == "log"
    assert fig.axes[0].get_legend_handles_labels()[1] == ["Adam", "Lion"]


def test_iqm_bars_span_the_intervals():
    iqms = {"adam": {"iqm": 0.8, "ci": (0.7, 0.9)}, "Lion": {"iqm": 0.6, "ci": (0.4, 0.65)}}
    fig = plot_iqm(iqms)
    for row, container in enumerate(fig.axes[0].containers):
        (segment,) = container.lines[2][0].get_segments()
        low, high = list(iqms.values())[row]["ci"]
        np.testing.assert_allclose(segment, [[low, row], [high, row]])


def test_tuning_curve_lines_are_the_expected_best():
    curve = tuning_curve([0.5, 0.9, np.nan, 0.7], higher_is_better=True)
    fig = plot_tuning_curves({"adam": curve}, problem="mnist", metric="accuracy")
    x, y = fig.axes[0].lines[0].get_data()
    np.testing.assert_array_equal(x, [1, 2, 3, 4])
    np.testing.assert_allclose(y, curve["mean"])
    assert fig.axes[0].get_ylabel() == "expected best validation accuracy"


@pytest.mark.parametrize("higher_is_better, edge", [(False, 1.0), (True, 0.0)])
def test_sensitivity_draws_every_trial_and_diverged_ones_on_the_worse_edge(higher_is_better, edge):
    lr = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    trials = {"adam": {"learning_rate": lr, "value": [0.5, 0.3, np.inf, np.nan]}}
    fig = plot_sensitivity(trials, problem="p", metric="m", higher_is_better=higher_is_better)
    ax = fig.axes[0]
    finite, diverged = ax.lines
    np.testing.assert_array_equal(finite.get_xdata(), lr[:2])
    np.testing.assert_array_equal(diverged.get_xdata(), lr[2:])
    np.testing.assert_array_equal(diverged.get_ydata(), [edge, edge])  # in axes coordinates
    assert diverged.get_marker() == "x" and not diverged.get_clip_on()
    assert any(t.get_text() == "diverged" and t.get_position()[1] == edge for t in ax.texts)
    with pytest.raises(ValueError, match=r"trials\['adam'\]: learning_rate \(4,\)"):
        plot_sensitivity({"adam": {"learning_rate": lr, "value": [1.0]}}, problem="p",
                         metric="m", higher_is_better=True)  # fmt: skip


def test_forest_plot_colours_each_problem_by_its_verdict():
    a = np.array([0.30, 0.32, 0.29, 0.31, 0.30])
    b = np.array([0.35, 0.36, 0.33, 0.37, 0.34])
    v = verdicts({
        "loss": compare_paired(a, b, higher_is_better=False),  # better
        "accuracy": compare_paired(a, b, higher_is_better=True),  # worse
        "noise": compare_paired(a, a[::-1], higher_is_better=True),  # not distinguishable
    })  # fmt: skip
    fig = plot_verdicts(v, optimizer="Lion", baseline="adam", measure="final metric")
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy", "noise"]
    for ax, name in zip(fig.axes, v):
        (point,) = ax.lines[:1]
        assert to_hex(point.get_color()) == VERDICT_COLORS[v[name]["verdict"]].lower()
        assert point.get_xdata()[0] == pytest.approx(v[name]["difference"])
        low, high = ax.get_xlim()
        assert low == -high and high >= max(map(abs, v[name]["ci"]))  # centred on 0
        assert ax.texts[0].get_text().startswith(v[name]["verdict"])
    assert [t.get_text() for ax in fig.axes for t in ax.texts[1:]] == [
        "← A better", "A better →", "A better →"]  # fmt: skip
    with pytest.raises(ValueError, match="at least one"):
        plot_verdicts({}, optimizer="a", baseline="b", measure="m")
