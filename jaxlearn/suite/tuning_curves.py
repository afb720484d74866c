r"""Tuning curves: the expected best validation result after k of an optimizer's K trials.

An optimizer that needs many trials to find a good setting looks the same as one that needs few
when only the best of K is reported; the curve over k = 1..K shows the difference (Dodge et al.,
2019, "Show your work"; Sivaprasad et al., 2020). ``docs/suite-statistics.md`` says more.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["tuning_curve"]


def tuning_curve(
    values: ArrayLike, *, higher_is_better: bool, diverged: float | None = None
) -> dict:
    r"""The expected best of k trials drawn with replacement from the K trials, k = 1..K.

    With the K values sorted from worst to best, :math:`v_{(1)} \preceq \dots \preceq v_{(K)}`,
    the best of k draws is :math:`v_{(i)}` with probability
    :math:`(i/K)^k - ((i-1)/K)^k`, so (Dodge et al., 2019)

    .. math::
        \mathbb{E}[\text{best of } k] = \sum_{i=1}^{K} v_{(i)}
        \Bigl[\bigl(\tfrac{i}{K}\bigr)^k - \bigl(\tfrac{i-1}{K}\bigr)^k\Bigr],
        \qquad
        \mathrm{sd} = \sqrt{\sum_i v_{(i)}^2 \bigl[\cdots\bigr] - \mathbb{E}^2}

    This is the exact expectation over all :math:`K^k` equally likely draws, what a bootstrap
    of the trial pool would estimate with Monte-Carlo noise, at no cost and with no seed. At
    k = K it is below the best observed value, since draws repeat. A diverged trial (NaN or
    ±inf) is kept and counts as the worst value: ``diverged`` when given (e.g. the metric at
    step 0), else the worst finite value among the K trials.

    Args:
      values: shape ``(K,)``, each trial's final validation value.
      higher_is_better: the metric's direction; "best" is the max or the min.
      diverged: the value a diverged trial counts as (``None``: the pool's worst finite value).

    Returns:
      ``{'k': (K,) ints 1..K, 'mean': (K,), 'std': (K,)}``.

    >>> c = tuning_curve([0.2, 0.9, float('nan'), 0.5], higher_is_better=True)
    >>> c['k'].tolist(), c['mean'].round(4).tolist()
    ([1, 2, 3, 4], [0.45, 0.6, 0.6938, 0.7547])
    """
    v = np.asarray(values, np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must have shape (K,) with K >= 1, got {v.shape}")
    bad = ~np.isfinite(v)
    if diverged is None:
        if bad.all():
            raise ValueError(
                f"all {v.size} trials diverged: pass diverged=, the value a diverged trial counts "
                "as (e.g. the metric at step 0)"
            )
        finite = v[~bad]
        diverged = finite.min() if higher_is_better else finite.max()
    elif not np.isfinite(diverged):
        raise ValueError(f"diverged must be finite, got {diverged}")
    v = np.where(bad, diverged, v)
    ranked = np.sort(v) if higher_is_better else -np.sort(-v)  # worst first, best last
    size = v.size
    i = np.arange(1, size + 1)
    k = np.arange(1, size + 1)[:, None]
    weight = (i / size) ** k - ((i - 1) / size) ** k  # P(best of k draws is the i-th), (K, K)
    mean = weight @ ranked
    std = np.sqrt(np.maximum(weight @ ranked**2 - mean**2, 0.0))
    return {"k": k[:, 0], "mean": mean, "std": std}
