"""The optimizer benchmark suite: several problems, one fair protocol, numbers one can defend.

The chapter asks which update rule one should use, and answers that none wins everywhere. This
package makes that question answerable for any optimizer: every optimizer gets the same
number K of quasi-random tuning trials over *all* its hyper-parameters on each problem's
validation split, the chosen setting is re-run on E fresh, paired evaluation seeds, and each
run records validation and test curves, steps to target, time per step and state size.

- :data:`PROBLEMS` / :class:`Problem` / :class:`Target`: the built-in problems and the protocol
  to write your own (:mod:`jaxlearn.suite.problem`);
- :class:`SearchSpace` and the default spaces, the learning-rate schedules
  (:mod:`jaxlearn.suite.spaces`, :mod:`jaxlearn.suite.schedules`);
- :func:`run`: the whole protocol over problems × optimizers, resumable, with files;
- the statistics behind the verdicts, pure functions over NumPy arrays:
  :mod:`jaxlearn.suite.stats` (per problem: paired comparison, Holm, verdicts),
  :mod:`jaxlearn.suite.profiles` (across problems: performance profiles, AlgoPerf's score,
  the interquartile mean of normalised scores), :mod:`jaxlearn.suite.tuning_curves` (the
  expected best result after k trials) — ``docs/suite-statistics.md``;
- on the command line: ``jaxlearn suite --rule adam --rule optax:lion --budget 16 --seeds 5``.

See ``docs/suite.md``.

>>> import jaxlearn.suite as suite
>>> suite.PROBLEMS["mnist_mlp"].target
Target(metric='accuracy', mode='max', value=0.95)
"""

from jaxlearn.suite import profiles, stats, tuning_curves
from jaxlearn.suite.optimizers import SuiteOptimizer, resolve
from jaxlearn.suite.problem import Problem, Target
from jaxlearn.suite.problems import PROBLEMS
from jaxlearn.suite.runner import run
from jaxlearn.suite.spaces import SearchSpace

__all__ = [
    "PROBLEMS",
    "Problem",
    "SearchSpace",
    "SuiteOptimizer",
    "Target",
    "profiles",
    "resolve",
    "run",
    "stats",
    "tuning_curves",
]
