r"""Across problems: performance profiles on steps to target, AlgoPerf's integrated score, and
the interquartile mean of normalised scores with stratified-bootstrap confidence intervals.

Inputs are keyed by optimizer name; each value holds one number per problem (or per problem and
seed), the problems in the same order for every optimizer. What the numbers mean and where they
come from (Dolan & Moré 2002; Dahl et al. 2023, AlgoPerf; Agarwal et al. 2021, rliable):
``docs/suite-statistics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["interquartile_mean", "normalized_score", "performance_profile", "performance_score"]


def normalized_score(
    value: ArrayLike, start: ArrayLike, target: ArrayLike, *, diverged: float = 0.0
) -> np.ndarray:
    r"""How far a run went from the metric at step 0 to the problem's target:

    .. math::
        s = \frac{\text{start} - \text{value}}{\text{start} - \text{target}}

    1 means the run reached the target, 0 that it made no progress from step 0, a negative
    score that it ended worse than it started, above 1 that it went past the target. The one
    formula serves both directions: for a higher-is-better metric (accuracy) numerator and
    denominator both change sign, :math:`s = (\text{value} - \text{start}) /
    (\text{target} - \text{start})`. A run without a value (NaN or ±inf: diverged) scores
    ``diverged`` (default 0: no progress). Arguments broadcast against each other.

    >>> normalized_score([2.3, 0.5, 0.1], start=2.3, target=0.5).round(3)  # a loss
    array([0.   , 1.   , 1.222])
    >>> normalized_score([0.1, 0.55, 0.9, float('nan')], start=0.1, target=0.9).round(3)
    array([0.   , 0.562, 1.   , 0.   ])
    """
    value, start, target = np.broadcast_arrays(
        *(np.asarray(x, np.float64) for x in (value, start, target))
    )
    if not (np.isfinite(start).all() and np.isfinite(target).all()):
        raise ValueError("start and target must be finite")
    if (start == target).any():
        raise ValueError("the target equals the metric at step 0: the score is undefined")
    score = (start - value) / (start - target)
    return np.where(np.isfinite(value), score, np.float64(diverged))


def _steps_matrix(steps: Mapping[str, ArrayLike]) -> tuple[list[str], np.ndarray]:
    """(names, steps to target of shape (optimizers, problems)), seeds reduced by the median."""
    if not steps:
        raise ValueError("no optimizer's steps to target given")
    names, rows = list(steps), []
    for name in names:
        t = np.asarray(steps[name], np.float64)
        if t.ndim == 2:
            t = np.median(t, axis=1)  # a missed seed is inf: inf once half of them missed
        if t.ndim != 1:
            raise ValueError(f"steps[{name!r}] must have shape (P,) or (P, E), got {t.shape}")
        if np.isnan(t).any() or (t <= 0).any():
            raise ValueError(
                f"steps[{name!r}] must be positive step counts or inf (target missed), got {t}"
            )
        rows.append(t)
    if len({len(t) for t in rows}) > 1:
        shapes = {n: len(t) for n, t in zip(names, rows)}
        raise ValueError(f"every optimizer needs the same problems, got counts {shapes}")
    return names, np.stack(rows)


def performance_profile(
    steps: Mapping[str, ArrayLike], *, max_tau: float = 4.0, num_points: int = 100
) -> dict:
    r"""Dolan–Moré performance profiles of steps to target (Dolan & Moré, 2002).

    With :math:`t_{o,p}` optimizer o's steps to target on problem p (∞ when missed),

    .. math::
        r_{o,p} = \frac{t_{o,p}}{\min_{o'} t_{o',p}}, \qquad
        \rho_o(\tau) = \frac{1}{P}\,\bigl|\{p : r_{o,p} \le \tau\}\bigr|

    the fraction of problems o solves within τ times the best optimizer's steps; a problem no
    optimizer solved counts as unsolved for all. τ runs over ``num_points`` evenly spaced
    values from 1 to ``max_tau``, as AlgoPerf's ``compute_performance_profiles`` (Dahl et al.,
    2023; ``scoring/performance_profile.py`` of mlcommons/algorithmic-efficiency).

    Args:
      steps: optimizer name -> shape ``(P,)`` steps to target, or ``(P, E)`` one per seed,
        reduced to the median over seeds (a robust summary, as AlgoPerf takes the median of
        independent studies; inf once half the seeds missed).
      max_tau, num_points: the τ grid.

    Returns:
      ``{'tau': (T,), 'rho': {name: (T,)}, 'ratio': {name: (P,)}}``.

    >>> prof = performance_profile({'A': [100, 300], 'B': [200, 150]})
    >>> prof['ratio']['A'].tolist(), prof['rho']['A'][[0, 32, 33, -1]].tolist()
    ([1.0, 2.0], [0.5, 0.5, 1.0, 1.0])
    """
    if not max_tau >= 1 or num_points < 2:
        raise ValueError(f"need max_tau >= 1 and num_points >= 2, got {max_tau}, {num_points}")
    names, t = _steps_matrix(steps)
    best = t.min(axis=0)
    with np.errstate(invalid="ignore"):  # inf / inf where nobody solved the problem
        ratio = np.where(np.isfinite(best), t / best, np.inf)
    tau = np.linspace(1.0, max_tau, num_points)
    rho = (ratio[:, None, :] <= tau[None, :, None]).mean(axis=-1)
    return {
        "tau": tau,
        "rho": {n: rho[i] for i, n in enumerate(names)},
        "ratio": {n: ratio[i] for i, n in enumerate(names)},
    }


def performance_score(
    steps: Mapping[str, ArrayLike], *, max_tau: float = 4.0, num_points: int = 100
) -> dict[str, float]:
    r"""AlgoPerf's benchmark score: the performance profile integrated up to τ = ``max_tau``,
    normalised by the τ range (Dahl et al., 2023).

    .. math::
        S_o = \frac{1}{\tau_{\max} - 1} \int_1^{\tau_{\max}} \rho_o(\tau)\, d\tau

    computed as AlgoPerf does (``compute_leaderboard_score`` with ``normalize=True`` over the
    profile of ``compute_performance_profiles(min_tau=1, max_tau=4, num_points=100)``): the
    trapezoid rule on the τ grid of :func:`performance_profile`. 1 means fastest on every
    problem, 0 that no problem was solved within ``max_tau`` times the best. The trapezoid
    rounds each step of ρ over one grid interval (here: width 3/99), so it differs from the
    exact area by at most that width times the step's height.

    >>> s = performance_score({'A': [100, 300], 'B': [200, 150]})
    >>> round(s['A'], 6), round(s['B'], 6)  # exact area: (0.5·1 + 1·2)/3 = 0.8333
    (0.835859, 0.835859)
    """
    if not max_tau > 1:
        raise ValueError(f"the score integrates over [1, max_tau]: need max_tau > 1, got {max_tau}")
    prof = performance_profile(steps, max_tau=max_tau, num_points=num_points)
    return {
        n: float(np.trapezoid(rho, prof["tau"]) / (max_tau - 1.0)) for n, rho in prof["rho"].items()
    }


def _iqm(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """The 25 % trimmed mean of all runs of all problems (rliable's ``aggregate_iqm``)."""
    return stats.trim_mean(np.concatenate(samples, axis=axis), 0.25, axis=axis)


def interquartile_mean(
    scores: Mapping[str, ArrayLike],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, dict]:
    r"""The interquartile mean of normalised scores over all runs of all problems, with a
    stratified-bootstrap confidence interval, as rliable computes it (Agarwal et al., 2021).

    .. math::
        \mathrm{IQM} = \frac{1}{n - 2\lfloor n/4 \rfloor}
        \sum_{i = \lfloor n/4 \rfloor + 1}^{n - \lfloor n/4 \rfloor} x_{(i)}

    over the :math:`n = P E` scores sorted (``scipy.stats.trim_mean(x, 0.25)``, rliable's
    ``aggregate_iqm``): the mean of the middle half, robust to a few outlying runs yet using
    more of them than the median. The interval is the percentile interval of the IQM over
    ``n_resamples`` stratified resamples: each problem's E runs are resampled with replacement
    on their own, so every resample keeps E runs of each problem (rliable's
    ``StratifiedBootstrap``; here ``scipy.stats.bootstrap`` with one sample per problem, which
    resamples each sample independently).

    Args:
      scores: optimizer name -> shape ``(P, E)`` normalised scores (:func:`normalized_score`).
      confidence, n_resamples, seed: the interval's coverage, resamples and NumPy seed.

    Returns:
      ``{name: {'iqm': float, 'ci': (low, high)}}``.

    >>> r = interquartile_mean({'A': [[0.0, 1.0, 1.0, 9.0], [1.0, 1.0, 1.0, 1.0]]})
    >>> r['A']['iqm']
    1.0
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    out = {}
    for name, s in scores.items():
        s = np.asarray(s, np.float64)
        if s.ndim != 2 or 0 in s.shape:
            raise ValueError(f"scores[{name!r}] must have shape (P, E), got {s.shape}")
        if not np.isfinite(s).all():
            raise ValueError(
                f"scores[{name!r}] has non-finite values: score diverged runs with "
                "normalized_score(..., diverged=...)"
            )
        ci = stats.bootstrap(
            tuple(s), _iqm, vectorized=True, confidence_level=confidence,
            n_resamples=n_resamples, method="percentile", random_state=np.random.default_rng(seed),
        ).confidence_interval  # fmt: skip
        out[name] = {"iqm": float(_iqm(*s)), "ci": (float(ci.low), float(ci.high))}
    return out
