r"""Verdicts per problem: optimizer A against a baseline B over E paired evaluation seeds.

Evaluation seed i gives A and B the same initial weights and the same data order, so their runs
come in pairs :math:`(a_i, b_i)`. For one measure (the final value of the problem's target
metric, or steps to target) :func:`compare_paired` gives the difference of the means with a paired
bootstrap confidence interval, the probability of improvement and the paired t-test's p-value;
:func:`verdicts` turns the p-values of all problems into "better" / "not distinguishable" /
"worse" with Holm's correction. :func:`paired_p_value`, :func:`holm` and :func:`decide` are the
vectorised steps :func:`verdicts` is made of (the simulations in the tests run them on thousands
of draws at once). Why the paired t-test, how runs without a value enter, and the measured
false-verdict rate and power: ``docs/suite-statistics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["VERDICTS", "compare_paired", "decide", "holm", "paired_p_value", "verdicts"]

#: The three verdicts on A against the baseline B, best first.
VERDICTS = ("better", "not distinguishable", "worse")


def _with_missing(x: ArrayLike, missing: ArrayLike | None, name: str) -> np.ndarray:
    """``x`` as float64 with each non-finite value (a run without a value) replaced by
    ``missing``; an error naming the first one when ``missing`` is None."""
    x = np.asarray(x, np.float64)
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    if missing is None:
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        index = where[0] if len(where) == 1 else where
        raise ValueError(
            f"{name}[{index}] is {x[where]} (a diverged run or a missed target): pass missing=, "
            "the value such a run counts as (steps to target: the step budget; a final "
            "metric: its value at step 0)"
        )
    missing = np.asarray(missing, np.float64)
    if not np.isfinite(missing).all():
        raise ValueError(f"missing must be finite, got {missing}")
    return np.where(bad, missing, x)


def _paired(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim == 0:
        raise ValueError(
            f"a and b must be paired, with the seeds on the last axis: same shape (..., E), "
            f"got {a.shape} and {b.shape}"
        )
    if a.shape[-1] < 2:
        raise ValueError(f"a paired test needs at least 2 seeds, got E = {a.shape[-1]}")


def paired_p_value(
    a: ArrayLike, b: ArrayLike, *, missing: ArrayLike | None = None, resolution: float = 0.0
) -> Any:
    r"""Two-sided p-value of the paired t-test of :math:`H_0: \mathbb{E}[a_i - b_i] = 0`.

    .. math::
        d_i = a_i - b_i, \qquad t = \frac{\bar d}{s_d / \sqrt{E}}, \qquad
        p = 2\, P(T_{E-1} \ge |t|)

    with :math:`s_d` the sample standard deviation of the E differences
    (``scipy.stats.ttest_rel(a, b, axis=-1)``), vectorised over leading axes. Degenerate pairs,
    where every difference is the same, have no spread to test against: p = 1 when they are all
    0, p = 0 when they all favour one side by the same amount (scipy returns NaN / warns).

    Args:
      a, b: shape ``(..., E)``, the seeds on the last axis, ``E >= 2``.
      missing: the value a non-finite entry (a diverged run, a missed target) counts as: a
        number or an array broadcastable to ``(..., E)``; ``None``: such entries are an error.
      resolution: the smallest step the measure takes — the evaluation cadence for steps to
        target, 1/n for an accuracy over n examples; 0 for a continuous measure. Rounded to
        that grid, E equal differences carry no more information than the rounding allows, so
        :math:`s_d` is taken as at least the spread of the difference of two roundings,
        :math:`h/\sqrt 6` (a rounding error is uniform over a step h: variance h²/12 each).
        Without it, two seeds that both differ by one test example would give p = 0.

    Why this test: with E = 5 pairs, the exact Wilcoxon signed-rank test and the sign-flip
    permutation test have only :math:`2^5 = 32` equally likely outcomes, so their two-sided
    p-value is never below 2/32 = 0.0625 and they could never call a difference at α = 0.05.
    The t-test's size is exactly α for normal differences and below α for heavy-tailed ones
    (measured in ``tests/test_suite_stats.py``).

    >>> a = [0.30, 0.32, 0.29, 0.31, 0.30]
    >>> b = [0.35, 0.36, 0.33, 0.37, 0.34]
    >>> round(float(paired_p_value(a, b)), 5)
    0.00033
    """
    a = _with_missing(a, missing, "a")
    b = _with_missing(b, missing, "b")
    _paired(a, b)
    if not resolution >= 0:
        raise ValueError(f"resolution must be >= 0, got {resolution}")
    d = a - b
    n = d.shape[-1]
    mean, spread = d.mean(axis=-1), d.std(axis=-1, ddof=1)
    floor = resolution / np.sqrt(6.0)
    p = np.where(mean == 0, 1.0, 0.0)  # the degenerate cases; the others are overwritten
    spread_ok = (spread > 0) & (spread >= floor)
    if spread_ok.any():
        p[spread_ok] = stats.ttest_rel(a[spread_ok], b[spread_ok], axis=-1).pvalue
    floored = ~spread_ok & (mean != 0) & (floor > 0)  # below the rounding's own spread
    if floored.any():
        t = np.abs(mean[floored]) / (floor / np.sqrt(n))
        p[floored] = 2 * stats.t.sf(t, n - 1)
    return p if p.ndim else float(p)


def holm(p_values: ArrayLike, *, axis: int = -1) -> np.ndarray:
    r"""Holm's (1979) step-down adjusted p-values, controlling the family-wise error rate.

    With the m p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`,

    .. math::
        \tilde p_{(i)} = \min\Bigl(1,\; \max_{j \le i}\, (m - j + 1)\, p_{(j)}\Bigr)

    and hypothesis (i) is rejected at level α when :math:`\tilde p_{(i)} \le \alpha` — the
    same decisions as comparing :math:`p_{(i)}` with :math:`\alpha / (m - i + 1)` and stopping
    at the first that fails. Vectorised: each slice along ``axis`` is one family. scipy has
    Benjamini–Hochberg/Yekutieli (``false_discovery_control``), not Holm;
    ``statsmodels.stats.multitest.multipletests(p, method='holm')`` gives the same numbers.

    >>> holm([0.01, 0.04, 0.03, 0.005]).round(4)
    array([0.03, 0.06, 0.06, 0.02])
    """
    p = np.moveaxis(np.asarray(p_values, np.float64), axis, -1)
    if p.ndim == 0 or p.shape[-1] == 0:
        raise ValueError(f"holm needs at least one p-value along axis {axis}, got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p-values must lie in [0, 1], got {p}")
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked, axis=-1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.moveaxis(out, -1, axis)


def decide(p_holm: ArrayLike, improvement: ArrayLike, *, alpha: float = 0.05) -> np.ndarray:
    r"""The verdict from an adjusted p-value and the sign of the improvement:

    .. math::
        \text{verdict} = \begin{cases}
        \text{better} & \tilde p \le \alpha \text{ and } \Delta > 0 \\
        \text{worse} & \tilde p \le \alpha \text{ and } \Delta < 0 \\
        \text{not distinguishable} & \text{otherwise}
        \end{cases}

    where Δ is the difference of the means oriented so that positive means A is better
    (``difference`` for a higher-is-better metric, ``-difference`` for a loss or steps). The
    test is two-sided, so each of "better" and "worse" is falsely called at most α/2 of the
    time when A and B are the same.

    >>> decide([0.01, 0.01, 0.2], [0.3, -0.3, 0.3]).tolist()
    ['better', 'worse', 'not distinguishable']
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    p, delta = np.broadcast_arrays(np.asarray(p_holm, np.float64), np.asarray(improvement))
    significant = p <= alpha
    return np.where(significant & (delta > 0), VERDICTS[0],
                    np.where(significant & (delta < 0), VERDICTS[2], VERDICTS[1]))  # fmt: skip


def compare_paired(
    a: ArrayLike,
    b: ArrayLike,
    *,
    higher_is_better: bool,
    missing: ArrayLike | None = None,
    resolution: float = 0.0,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> dict:
    r"""A against B on one problem and one measure, over E paired evaluation seeds.

    .. math::
        \Delta = \bar a - \bar b, \qquad
        P(A > B) = \frac{U}{E_a E_b}
        = \frac{1}{E_a E_b}\sum_{i,j} \Bigl([a_i \succ b_j] + \tfrac12 [a_i = b_j]\Bigr)

    where :math:`\succ` is "better" in the metric's direction. Returns a dict:

    - ``difference``: Δ, in the metric's units (A − B, not oriented);
    - ``ci``: ``(low, high)``, the percentile paired bootstrap interval of Δ
      (``scipy.stats.bootstrap(..., paired=True)``: seed i's pair is resampled whole). With
      E = 5 it covers less than ``confidence`` (about 84 % for a nominal 95 %, measured in the
      tests): it describes the spread, the verdict comes from the t-test;
    - ``p_value``: the paired t-test's two-sided p-value (:func:`paired_p_value`);
    - ``prob_improvement``: the Mann–Whitney U statistic of A's runs against B's divided by
      :math:`E_a E_b` (``scipy.stats.mannwhitneyu``; ties count ½, runs without a value rank
      worst), the probability of improvement of Agarwal et al. (2021). It ignores the pairing;
      0.5 means no tendency;
    - ``higher_is_better``, ``n_seeds``, and ``missing_a`` / ``missing_b``: how many runs of each
      had no value.

    Args:
      a, b: shape ``(E,)``: A's and the baseline's values, seed i in position i.
      higher_is_better: the metric's direction (accuracy: True; a loss, steps to target: False).
      missing: the value a run without one (NaN or ±inf: diverged, or the target missed) counts
        as in Δ, its interval and the t-test — steps to target: the step budget; a final metric:
        its value at step 0 (a number, or shape ``(E,)``, one per seed). It is a bound on the
        unknown value (a missed target takes more steps than the budget), so Δ is understated,
        never overstated, and the verdict errs towards "not distinguishable". ``None``: such a
        run is an error.
      resolution: the measure's grid step (:func:`paired_p_value`): the evaluation cadence for
        steps to target, 1/n for an accuracy on n examples, 0 for a continuous measure.
      confidence: the interval's nominal coverage.
      n_resamples, seed: the bootstrap's resamples and its NumPy generator's seed (same seed,
        same interval).

    >>> r = compare_paired([0.30, 0.32, 0.29, 0.31, 0.30], [0.35, 0.36, 0.33, 0.37, 0.34],
    ...                    higher_is_better=False)
    >>> round(r['difference'], 3), r['prob_improvement'], round(r['p_value'], 5)
    (-0.046, 1.0, 0.00033)
    >>> steps_a, steps_b = [400, 500, float('inf'), 450, 400], [600, 700, 650, 800, 600]
    >>> r = compare_paired(steps_a, steps_b, higher_is_better=False, missing=1000)
    >>> r['difference'], r['missing_a'], r['prob_improvement']
    (-120.0, 1, 0.8)
    """
    a_raw, b_raw = np.asarray(a, np.float64), np.asarray(b, np.float64)
    _paired(a_raw, b_raw)
    if a_raw.ndim != 1:
        raise ValueError(f"compare_paired takes one problem: shape (E,), got {a_raw.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    av, bv = _with_missing(a_raw, missing, "a"), _with_missing(b_raw, missing, "b")

    def mean_difference(x, y, axis):
        return x.mean(axis=axis) - y.mean(axis=axis)

    ci = stats.bootstrap(
        (av, bv), mean_difference, paired=True, vectorized=True, confidence_level=confidence,
        n_resamples=n_resamples, method="percentile", random_state=np.random.default_rng(seed),
    ).confidence_interval  # fmt: skip
    # Oriented so that larger is better; a run without a value is the worst of all.
    sign = 1.0 if higher_is_better else -1.0
    oriented_a = np.where(np.isfinite(a_raw), sign * a_raw, -np.inf)
    oriented_b = np.where(np.isfinite(b_raw), sign * b_raw, -np.inf)
    u = stats.mannwhitneyu(oriented_a, oriented_b).statistic
    return {
        "difference": float(mean_difference(av, bv, -1)),
        "ci": (float(ci.low), float(ci.high)),
        "p_value": paired_p_value(av, bv, resolution=resolution),
        "prob_improvement": float(u / (len(av) * len(bv))),
        "higher_is_better": bool(higher_is_better),
        "n_seeds": len(av),
        "missing_a": int((~np.isfinite(a_raw)).sum()),
        "missing_b": int((~np.isfinite(b_raw)).sum()),
    }


def verdicts(comparisons: Mapping[str, Mapping], *, alpha: float = 0.05) -> dict[str, dict]:
    r"""Verdicts for every problem of one measure, Holm-corrected across the problems.

    Each comparison (from :func:`compare_paired`) gains ``p_holm``, its p-value adjusted over
    the m problems (:func:`holm`), ``verdict`` (:func:`decide` with Δ oriented by the metric's
    direction) and ``alpha``. The family is the m problems of one measure, so the chance that
    any problem gets a false "better" or "worse" when A and B are the same is at most α. The
    final metric and steps to target are two families, each at level α.

    >>> c = {'quadratic': compare_paired([1.0, 1.1, 0.9, 1.0, 1.05], [2.0, 2.2, 1.9, 2.1, 2.0],
    ...                                  higher_is_better=False),
    ...      'mnist': compare_paired([0.91, 0.92, 0.90, 0.93, 0.91], [0.92, 0.91, 0.91, 0.92,
    ...                              0.90], higher_is_better=True)}
    >>> {name: v['verdict'] for name, v in verdicts(c).items()}
    {'quadratic': 'better', 'mnist': 'not distinguishable'}
    """
    if not comparisons:
        raise ValueError("verdicts needs at least one problem's comparison")
    names = list(comparisons)
    for name in names:
        missing = {"difference", "p_value", "higher_is_better"} - set(comparisons[name])
        if missing:
            raise ValueError(f"comparison {name!r} lacks {sorted(missing)}: use compare_paired")
    p_holm = holm([comparisons[n]["p_value"] for n in names])
    improvement = [comparisons[n]["difference"] * (1 if comparisons[n]["higher_is_better"] else -1)
                   for n in names]  # fmt: skip
    decided = decide(p_holm, improvement, alpha=alpha)
    return {
        n: {**comparisons[n], "p_holm": float(p_holm[i]), "verdict": str(decided[i]),
            "alpha": alpha}  # fmt: skip
        for i, n in enumerate(names)
    }
