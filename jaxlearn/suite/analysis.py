"""From a suite result to verdicts: every optimizer against a baseline, per problem and across
problems.

:func:`analyze` reads only the result's numbers (the evaluation runs' *test* finals, never used
to choose a setting; their steps to the validation target; the tuning trials' finals) and
applies the statistics of :mod:`jaxlearn.suite.stats`, :mod:`~jaxlearn.suite.profiles` and
:mod:`~jaxlearn.suite.tuning_curves`:

- **per problem**, each optimizer A against the baseline B over the E paired evaluation seeds:
  the difference of the means of the final test metric and of steps to target, each with its
  paired bootstrap interval, P(A better than B), the paired t-test (its spread at least the
  measure's own rounding: one test example of an accuracy, one evaluation interval of steps
  to target), and a verdict —
  better / not distinguishable / worse — with Holm's correction across the problems at α. A
  run without a value counts as its metric at step 0 (diverged: no progress) or as the step
  budget (target missed);
- **across problems**: performance profiles on steps to target (median over the seeds) and
  AlgoPerf's integrated score up to τ = 4; the interquartile mean of normalised test scores
  with a stratified-bootstrap interval;
- **tuning**: the expected best validation result after k of the K trials, and every trial's
  learning rate and final validation value (sensitivity).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlearn.suite import profiles, stats, tuning_curves

__all__ = ["BASELINE", "analyze", "learning_rate_name"]

#: The default baseline, the book's Adam tuned by the suite.
BASELINE = "adam"


def _array(values: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], np.float64)


def _finals(cell: dict | None, metric: str, seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """``(test finals, test metric at step 0)``, NaN where the cell has no evaluation runs."""
    ev = None if cell is None else cell.get("eval")
    if ev is None:
        return np.full(seeds, np.nan), np.full(seeds, np.nan)
    return _array(ev["final"]["test"]), _array(ev["start"]["test"][metric])


def _steps(cell: dict | None, seeds: int) -> np.ndarray:
    """Steps to target per seed, inf when missed (or when the cell has no evaluation runs)."""
    ev = None if cell is None else cell.get("eval")
    if ev is None:
        return np.full(seeds, np.inf)
    return np.array([np.inf if v is None else v for v in ev["steps_to_target"]], np.float64)


def learning_rate_name(space: dict) -> str | None:
    """The learning rate's name in a space (``'lr'`` or ``'learning_rate'``), if it is tuned."""
    for name in ("lr", "learning_rate"):
        if name in space and len(space[name].get("feasible_points", [0, 0])) > 1:
            return name
    return None


def analyze(
    result: dict, *, baseline: str = BASELINE, alpha: float = 0.05, n_resamples: int = 9999
) -> dict:
    """Verdicts, profiles and tuning curves of ``result`` against the optimizer ``baseline``.

    Returns a JSON-ready dict: ``{'baseline', 'alpha', 'problems', 'final': {spec: {problem:
    comparison}}, 'steps': {spec: {problem: comparison}}, 'profile': {'tau', 'ratio', 'rho'},
    'score': {spec: float}, 'iqm': {spec: {'iqm', 'ci'}}, 'tuning': {problem: {spec: curve}},
    'sensitivity': {problem: {spec: {'learning_rate', 'value'}}}}``; each comparison is
    :func:`jaxlearn.suite.stats.compare_paired`'s dict with ``p_holm`` and ``verdict``.
    ValueError when the baseline is not in the result.
    """
    if baseline not in result["optimizers"]:
        raise ValueError(
            f"baseline {baseline!r} is not among the result's optimizers "
            f"({', '.join(result['optimizers'])})"
        )
    seeds = result["config"]["seeds"]
    problems = list(result["cells"])
    specs = list(result["optimizers"])
    out: dict[str, Any] = {"baseline": baseline, "alpha": alpha, "problems": problems,
                           "final": {}, "steps": {}}  # fmt: skip
    for spec in specs:
        if spec == baseline:
            continue
        finals, steps = {}, {}
        for problem in problems:
            info = result["problems"][problem]
            target, budget = info["target"], info["steps"]
            higher = target["mode"] == "max"
            cells = result["cells"][problem]
            a, start = _finals(cells.get(spec), target["metric"], seeds)
            b, start_b = _finals(cells.get(baseline), target["metric"], seeds)
            start = np.where(np.isfinite(start), start, start_b)  # paired: the same at step 0
            if not np.isfinite(start).all():
                continue  # neither optimizer has evaluation runs here: nothing to compare
            counting = target["metric"] in info.get("counting_metrics", ())
            finals[problem] = stats.compare_paired(
                a, b, higher_is_better=higher, missing=start, n_resamples=n_resamples,
                resolution=1 / info["sizes"]["test"] if counting else 0.0,
            )  # fmt: skip
            steps[problem] = stats.compare_paired(
                _steps(cells.get(spec), seeds), _steps(cells.get(baseline), seeds),
                higher_is_better=False, missing=budget, n_resamples=n_resamples,
                resolution=info["eval_every"],
            )  # fmt: skip
        out["final"][spec] = stats.verdicts(finals, alpha=alpha) if finals else {}
        out["steps"][spec] = stats.verdicts(steps, alpha=alpha) if steps else {}

    # Across problems.
    steps_by_opt = {s: np.stack([_steps(result["cells"][p].get(s), seeds) for p in problems])
                    for s in specs}  # fmt: skip
    prof = profiles.performance_profile(steps_by_opt)
    out["profile"] = prof
    out["score"] = profiles.performance_score(steps_by_opt)
    scores = {}
    for spec in specs:
        rows = []
        for problem in problems:
            target = result["problems"][problem]["target"]
            value, start = _finals(result["cells"][problem].get(spec), target["metric"], seeds)
            if not np.isfinite(start).all():  # no evaluation runs: no progress at all
                rows.append(np.zeros(seeds))
                continue
            rows.append(profiles.normalized_score(value, start, target["value"]))
        scores[spec] = np.stack(rows)
    out["iqm"] = profiles.interquartile_mean(scores, n_resamples=n_resamples)

    # Tuning.
    out["tuning"], out["sensitivity"] = {}, {}
    for problem in problems:
        higher = result["problems"][problem]["target"]["mode"] == "max"
        out["tuning"][problem], out["sensitivity"][problem] = {}, {}
        for spec, cell in result["cells"][problem].items():
            finals = _array(cell["tune"]["final"])
            if np.isfinite(finals).any():
                out["tuning"][problem][spec] = tuning_curves.tuning_curve(
                    finals, higher_is_better=higher
                )
            lr = learning_rate_name(result["optimizers"][spec]["space"])
            if lr is not None:
                out["sensitivity"][problem][spec] = {
                    "learning_rate": [h[lr] for h in cell["tune"]["hyperparams"]],
                    "value": finals,
                }
    return out
