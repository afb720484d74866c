"""The optimizer benchmark suite: problems, one fair tuning protocol, and verdicts one can cite.

The statistics behind the verdicts (pure functions over NumPy arrays and plain dicts):
:mod:`jaxlearn.suite.stats` (per problem: paired comparison, Holm, verdicts),
:mod:`jaxlearn.suite.profiles` (across problems: performance profiles, AlgoPerf's score, the
interquartile mean of normalised scores) and :mod:`jaxlearn.suite.tuning_curves` (the expected
best result after k trials). What each number means: ``docs/suite-statistics.md``.
"""

# tests/test_docs.py wants every public package to declare __all__; the submodules above are
# public on their own (each declares its __all__).
__all__: list[str] = []
