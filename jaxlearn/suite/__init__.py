"""The optimizer benchmark suite: problems, one fair tuning protocol, and verdicts one can cite.

The statistics behind the verdicts (pure functions over NumPy arrays and plain dicts):
:mod:`jaxlearn.suite.stats` (per problem: paired comparison, Holm, verdicts),
:mod:`jaxlearn.suite.profiles` (across problems: performance profiles, AlgoPerf's score, the
interquartile mean of normalised scores) and :mod:`jaxlearn.suite.tuning_curves` (the expected
best result after k trials). What each number means: ``docs/suite-statistics.md``.
"""

from jaxlearn.suite import profiles, stats, tuning_curves

__all__ = ["profiles", "stats", "tuning_curves"]
