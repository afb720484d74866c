"""Figures of the suite's verdicts: performance profiles, the IQM of normalised scores, tuning
curves, learning-rate sensitivity, and a forest plot of the per-problem verdicts.

Each function takes what a function of :mod:`jaxlearn.suite` returns (the shapes are in each
docstring) and returns a matplotlib Figure. What the numbers mean: ``docs/suite-statistics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlearn.experiments.display import display
from jaxlearn.plots.style import RULE_COLORS, curve_colors, pyplot

#: Colour of each verdict (Okabe–Ito): better, not distinguishable, worse.
VERDICT_COLORS = {"better": "#009E73", "not distinguishable": "#999999", "worse": "#D55E00"}


def _profile_steps(ratio: np.ndarray, tau_min: float, tau_max: float):
    """The exact step function ρ(τ) on [tau_min, tau_max]: its corners (x, y)."""
    jumps = np.sort(ratio[(ratio > tau_min) & (ratio <= tau_max)])
    x = np.concatenate([[tau_min], jumps, [tau_max]])
    y = (ratio[None, :] <= x[:, None]).mean(axis=1)
    return x, y


def plot_performance_profile(
    profile: Mapping, *, scores: Mapping[str, float] | None = None, log_x: bool = False
):
    """ρ(τ) per optimizer: the fraction of problems solved within τ × the best steps to target.

    Drawn exactly (a step at each optimizer's ratio) over the τ range of ``profile``; the
    legend carries AlgoPerf's score when ``scores`` is given.

    Args:
      profile: :func:`jaxlearn.suite.profiles.performance_profile`'s dict: ``'tau'`` (T,),
        ``'ratio'`` {name: (P,)}.
      scores: {name: score} from :func:`jaxlearn.suite.profiles.performance_score`.
      log_x: τ on a log₂ axis (for profiles that run far beyond τ = 4).

    >>> from jaxlearn.suite.profiles import performance_profile
    >>> prof = performance_profile({'adam': [100, 300], 'Lion': [200, 150]})
    >>> fig = plot_performance_profile(prof, scores={'adam': 0.84, 'Lion': 0.84})
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['Adam (score 0.84)', 'Lion (score 0.84)']
    >>> fig.axes[0].lines[0].get_ydata().tolist()  # Adam: 1 problem at τ = 1, both from τ = 2
    [0.5, 1.0, 1.0]
    """
    plt = pyplot()
    tau = np.asarray(profile["tau"])
    ratios = profile["ratio"]
    colors = curve_colors(ratios, RULE_COLORS)
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for name, ratio in ratios.items():
        x, y = _profile_steps(np.asarray(ratio, np.float64), tau[0], tau[-1])
        label = display(name) + (f" (score {scores[name]:.2f})" if scores else "")
        ax.plot(x, y, drawstyle="steps-post", color=colors[name], label=label, linewidth=2)
    if scores and tau[-1] > 4:
        ax.axvline(4, color="k", linewidth=0.8, linestyle=":")  # the score integrates to τ = 4
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xlim(tau[0], tau[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("τ: steps to target ÷ the fastest optimizer's")
    ax.set_ylabel("fraction of problems solved within τ")
    n = len(next(iter(ratios.values())))
    ax.set_title(f"Performance profiles on {n} problems (Dolan–Moré)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)  # outside the data
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_iqm(iqms: Mapping[str, Mapping]):
    """The interquartile mean of normalised scores per optimizer, with its interval.

    Args:
      iqms: :func:`jaxlearn.suite.profiles.interquartile_mean`'s dict:
        {name: {'iqm': float, 'ci': (low, high)}}.

    >>> fig = plot_iqm({'adam': {'iqm': 0.8, 'ci': (0.7, 0.9)}, 'Lion': {'iqm': 0.6,
    ...                 'ci': (0.4, 0.7)}})
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Adam', 'Lion']
    """
    plt = pyplot()
    names = list(iqms)
    colors = curve_colors(names, RULE_COLORS)
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.5 * len(names)))
    for row, name in enumerate(names):
        value, (low, high) = iqms[name]["iqm"], iqms[name]["ci"]
        ax.errorbar(value, row, xerr=[[value - low], [high - value]], fmt="o",
                    color=colors[name], capsize=4, markersize=7)  # fmt: skip
    ax.axvline(0, color="k", linewidth=0.8, linestyle=":")
    ax.axvline(1, color="k", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(names)), [display(n) for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)  # the first optimizer on top
    ax.set_xlabel("IQM of normalised score (0: the metric at step 0; 1: the target)")
    ax.set_title("Interquartile mean, 95 % stratified-bootstrap interval", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def plot_tuning_curves(curves: Mapping[str, Mapping], *, problem: str, metric: str):
    """Expected best validation result after k trials, per optimizer, on one problem
    (mean ± one standard deviation over the draws of k trials).

    Args:
      curves: {name: :func:`jaxlearn.suite.tuning_curves.tuning_curve`'s dict} — ``'k'``,
        ``'mean'``, ``'std'``, each (K,).
      problem, metric: for the title and the y label.

    >>> from jaxlearn.suite.tuning_curves import tuning_curve
    >>> c = {'adam': tuning_curve([0.9, 0.7, float('nan')], higher_is_better=True)}
    >>> fig = plot_tuning_curves(c, problem='mnist', metric='accuracy')
    >>> fig.axes[0].lines[0].get_ydata().round(3).tolist()
    [0.767, 0.811, 0.841]
    """
    plt = pyplot()
    colors = curve_colors(curves, RULE_COLORS)
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for name, c in curves.items():
        k, mean, std = (np.asarray(c[f]) for f in ("k", "mean", "std"))
        ax.plot(k, mean, "o-", color=colors[name], label=display(name), markersize=3)
        ax.fill_between(k, mean - std, mean + std, color=colors[name], alpha=0.18, linewidth=0)
    ax.set_xlabel("tuning trials k")
    ax.set_ylabel(f"expected best validation {metric}")
    ax.set_title(f"Tuning curves on {problem} (band: ± 1 sd over draws of k trials)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)  # outside the data
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_sensitivity(
    trials: Mapping[str, Mapping], *, problem: str, metric: str, higher_is_better: bool
):
    """Every tuning trial's final validation result against its learning rate (log axis).

    A diverged trial (NaN or ±inf) is an ``x`` on the edge of the worse side (the top for a
    loss, the bottom for an accuracy), marked "diverged", so it is seen, not dropped.

    Args:
      trials: {name: {'learning_rate': (K,), 'value': (K,)}} — each optimizer's trials.
      problem, metric: for the title and the y label.
      higher_is_better: the metric's direction (where the worse edge is).

    >>> t = {'adam': {'learning_rate': [1e-4, 1e-3, 1e-1], 'value': [0.5, 0.3, float('nan')]}}
    >>> fig = plot_sensitivity(t, problem='mnist', metric='loss', higher_is_better=False)
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['Adam', 'Adam: 1 of 3 diverged']
    """
    plt = pyplot()
    from matplotlib.transforms import blended_transform_factory

    colors = curve_colors(trials, RULE_COLORS)
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    edge = 0.0 if higher_is_better else 1.0  # in axes coordinates: the worse side
    on_edge = blended_transform_factory(ax.transData, ax.transAxes)
    any_diverged = False
    for name, t in trials.items():
        lr = np.asarray(t["learning_rate"], np.float64)
        value = np.asarray(t["value"], np.float64)
        if lr.shape != value.shape:
            raise ValueError(
                f"trials[{name!r}]: learning_rate {lr.shape} and value {value.shape} differ"
            )
        ok = np.isfinite(value)
        ax.plot(lr[ok], value[ok], "o", color=colors[name], label=display(name), alpha=0.8)
        if (~ok).any():
            any_diverged = True
            ax.plot(lr[~ok], np.full((~ok).sum(), edge), "x", color=colors[name],
                    transform=on_edge, clip_on=False, markersize=9, markeredgewidth=2,
                    label=f"{display(name)}: {(~ok).sum()} of {len(value)} diverged")  # fmt: skip
    if any_diverged:
        ax.text(1.01, edge, "diverged", transform=ax.transAxes, va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"final validation {metric}")
    # Room above the axes for the diverged markers on the top edge.
    ax.set_title(f"Learning-rate sensitivity on {problem}: every trial", fontsize=10, pad=12)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_verdicts(
    verdicts: Mapping[str, Mapping], *, optimizer: str, baseline: str, measure: str
):
    """A forest plot: per problem, the difference of the means with its interval, coloured by
    the Holm-corrected verdict, with the adjusted p-value and P(A better than B) beside it.

    Each problem has its own x axis (the metrics differ), centred on 0 (no difference); the
    grey arrow points to the side where A is better.

    Args:
      verdicts: :func:`jaxlearn.suite.stats.verdicts`'s dict: {problem: {'difference',
        'ci', 'p_holm', 'prob_improvement', 'verdict', 'higher_is_better', 'alpha'}}.
      optimizer, baseline: the names of A and B; measure: e.g. ``'final validation metric'``
        or ``'steps to target'``.

    >>> v = {'mnist': {'difference': 0.02, 'ci': (0.01, 0.03), 'p_holm': 0.01, 'alpha': 0.05,
    ...                'prob_improvement': 0.9, 'verdict': 'better', 'higher_is_better': True}}
    >>> fig = plot_verdicts(v, optimizer='Lion', baseline='adam', measure='final accuracy')
    >>> fig.axes[0].texts[0].get_text()
    'better   p = 0.01   P(A>B) = 0.90'
    """
    plt = pyplot()
    problems = list(verdicts)
    if not problems:
        raise ValueError("plot_verdicts needs at least one problem's verdict")
    fig, axes = plt.subplots(len(problems), 1, figsize=(9.0, 1.0 + 0.7 * len(problems)),
                             squeeze=False)  # fmt: skip
    for ax, name in zip(axes[:, 0], problems):
        v = verdicts[name]
        diff, (low, high) = v["difference"], v["ci"]
        color = VERDICT_COLORS[v["verdict"]]
        ax.errorbar(diff, 0, xerr=[[diff - low], [high - diff]], fmt="o", color=color,
                    capsize=4, markersize=7)  # fmt: skip
        ax.axvline(0, color="k", linewidth=0.8)
        reach = max(abs(low), abs(high), abs(diff)) * 1.2 or 1.0
        ax.set_xlim(-reach, reach)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.tick_params(axis="x", labelsize=7)
        ax.locator_params(axis="x", nbins=5)
        ax.text(1.02, 0.5, f"{v['verdict']}   p = {v['p_holm']:.2g}   "
                f"P(A>B) = {v['prob_improvement']:.2f}", transform=ax.transAxes,
                va="center", color=color, fontsize=9)  # fmt: skip
        better_right = v["higher_is_better"]
        ax.text(0.98 if better_right else 0.02, 0.8, "A better →" if better_right else "← A better",
                transform=ax.transAxes, ha="right" if better_right else "left", va="center",
                color="0.5", fontsize=7)  # fmt: skip
    alpha = verdicts[problems[0]].get("alpha", 0.05)
    fig.suptitle(
        f"{display(optimizer)} (A) against {display(baseline)} (B): {measure}, mean A − B\n"
        f"bars: 95 % paired bootstrap interval; colour: paired t-test, Holm over "
        f"{len(problems)} problems, α = {alpha:g}", fontsize=9,
    )  # fmt: skip
    fig.tight_layout()  # it makes room for the verdict texts right of the axes
    return fig
