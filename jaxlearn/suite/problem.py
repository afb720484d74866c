"""What an optimizer is benchmarked on: a :class:`Problem`, and the :class:`Target` that
defines "solved".

A problem is a model (the training core's protocol, :mod:`jaxlearn.train.model`: a loss on a
batch, per-example metrics, a data check) plus everything a fair comparison fixes in advance:

- ``init(key) -> (params, state)``: the initial parameters (and model state), pure in ``key``;
- ``splits() -> {'train', 'valid', 'test'}``: the data, one fixed split (the same for every
  optimizer and seed; the suite's tuning reads ``'valid'`` only, ``'test'`` is for the
  evaluation runs);
- the budget: ``batch_size``, ``steps`` (updates per run), ``eval_every`` (the validation
  cadence, which is also the resolution of "steps to target");
- the :class:`Target`: a metric of ``metrics``, its direction, and the value that counts as
  solved, as AlgoPerf defines a workload's validation target;
- ``quick()``: a smaller variant (fewer steps, less data) for smoke tests and CI.

Subclass :class:`Problem` (a frozen dataclass: the compiled programs are cached on it, so its
fields must be hashable) and write ``init``, ``loss``, ``metrics`` and ``splits``; see
``docs/suite.md`` for a whole problem in about 40 lines, and
:mod:`jaxlearn.suite.problems` for the built-in ones.

>>> import jax, jax.numpy as jnp, numpy as np
>>> @dataclasses.dataclass(frozen=True)
... class Mean(Problem):
...     name: str = "mean"
...     def init(self, key):
...         return {"m": jnp.zeros(())}, {}
...     def loss(self, params, state, x, t, *, train, key=None, axis_name=None):
...         return jnp.mean((x - params["m"]) ** 2), state
...     def metrics(self, params, state, x, t):
...         return {"sq_error": (x - params["m"]) ** 2}
...     def splits(self):
...         x = np.arange(8.0)
...         return {"train": (x, x), "valid": (x, x), "test": (x, x)}
>>> p = Mean(batch_size=4, steps=20, eval_every=10, target=Target("sq_error", "min", 5.5))
>>> p.data()["valid"][0].shape, p.quick().steps
((8,), 5)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
#: The three splits every problem provides.
SPLITS = ("train", "valid", "test")

__all__ = ["SPLITS", "Problem", "Target"]


class Target(NamedTuple):
    """What counts as solved: ``metric`` (a key of the problem's ``metrics``) reaches
    ``value`` on the validation split, ``mode='min'`` (at or below) or ``'max'`` (at or
    above).

    >>> Target("accuracy", "max", 0.9).reached(np.array([0.5, 0.91, 0.95]))
    array([False,  True,  True])
    """

    metric: str
    mode: Literal["min", "max"]
    value: float

    def reached(self, values: Any) -> np.ndarray:
        """Element-wise: whether each value meets the target (NaN never does)."""
        values = np.asarray(values, np.float64)
        with np.errstate(invalid="ignore"):
            return values <= self.value if self.mode == "min" else values >= self.value

    def better(self, a: Any, b: Any) -> np.ndarray:
        """Element-wise: whether ``a`` is strictly better than ``b`` in this direction."""
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return a < b if self.mode == "min" else a > b


@dataclasses.dataclass(frozen=True)
class Problem:
    """A benchmark problem (see the module docstring). Subclass it and write the four methods
    ``init``, ``loss``, ``metrics`` and ``splits``; ``check_data`` and ``quick`` have defaults.

    Attributes:
      name: the problem's name in results, tables and file names.
      version: bump it when anything that changes results changes (data, model, budget,
        target): stored results of another version are not compared with new ones.
      batch_size, steps, eval_every: the budget; ``eval_every`` must divide ``steps``.
      target: the validation :class:`Target`.
      quick_steps, quick_batch_size, quick_target: the step budget, batch size and target of
        :meth:`quick` (the target of the full problem is rarely reached in a smoke test's
        budget).
      eval_batch_size: evaluate this many examples at a time (memory), or a whole split.
      replace: draw mini-batches with replacement (the book's way); default: each epoch walks
        a fresh permutation of the training split, as DeepOBS and AlgoPerf do.
      is_quick: whether this is the :meth:`quick` variant (``splits`` may load less data).
      description: one line for tables and the report.
      trials_at_once: train the K trials of a cell this many at a time, inside the one
        compiled program (``train_many``'s ``trials_at_once``); default: all K in one
        ``vmap``. A speed setting, not part of the problem's identity: where K copies of the
        model's activations no longer fit in cache (a CNN on a CPU), groups are faster.
    """

    name: str = "problem"
    version: int = 1
    batch_size: int = 128
    steps: int = 1000
    eval_every: int = 100
    target: Target = Target("loss", "min", 0.0)
    quick_steps: int | None = None
    quick_batch_size: int | None = None
    quick_target: Target | None = None
    eval_batch_size: int | None = None
    replace: bool = False
    is_quick: bool = False
    description: str = ""
    trials_at_once: int | None = dataclasses.field(default=None, compare=False)
    #: Metrics that are means of 0/1 indicators (an accuracy); on n examples they move in steps
    #: of 1/n, which the verdicts' paired test takes into account.
    counting_metrics: ClassVar[tuple[str, ...]] = ("accuracy",)

    # -- the model: what the training core calls ------------------------------------------------

    def init(self, key: Array) -> tuple[Any, Any]:
        """``(params, state)`` from ``key``; ``state`` is ``{}`` for a model without one."""
        raise NotImplementedError(f"{type(self).__name__} must define init(key)")

    def loss(
        self, params: Any, state: Any, x: Array, t: Array, *, train: bool,
        key: Array | None = None, axis_name: Any = None,
    ) -> tuple[Array, Any]:  # fmt: skip
        """The training loss on a mini-batch, and the model state after it."""
        raise NotImplementedError(f"{type(self).__name__} must define loss(...)")

    def metrics(self, params: Any, state: Any, x: Array, t: Array) -> dict[str, Array]:
        """Per-example evaluation values in inference mode, ``{name: (n,) array}``."""
        raise NotImplementedError(f"{type(self).__name__} must define metrics(...)")

    def check_data(self, x: Any, t: Any, split: str) -> tuple[Array, Array]:
        """One split's ``(x, t)`` as device arrays with the same number of rows."""
        x, t = jnp.asarray(x), jnp.asarray(t)
        if x.shape[:1] != t.shape[:1]:
            raise ValueError(f"{self.name}: x_{split} has {x.shape[0]} rows, t_{split} {len(t)}")
        return x, t

    # -- the data -------------------------------------------------------------------------------

    def splits(self) -> dict[str, tuple[Any, Any]]:
        """``{'train': (x, t), 'valid': (x, t), 'test': (x, t)}``, the same on every call."""
        raise NotImplementedError(f"{type(self).__name__} must define splits()")

    def data(self) -> dict[str, tuple[Array, Array]]:
        """:meth:`splits`, loaded once per problem and checked (see ``load_splits``)."""
        return load_splits(self)

    # -- variants -------------------------------------------------------------------------------

    def quick(self) -> Problem:
        """The smoke-test variant: ``quick_steps`` updates (default ``steps // 4``), evaluated
        every ``eval_every`` updates when that divides them (else at the largest divisor of
        the quick budget up to a quarter of it), with ``quick_target``."""
        if self.is_quick:
            return self
        steps = self.quick_steps or max(self.steps // 4, 1)
        every = self.eval_every if steps % self.eval_every == 0 else max(steps // 4, 1)
        while steps % every:
            every -= 1
        return dataclasses.replace(
            self, steps=steps, eval_every=every, target=self.quick_target or self.target,
            batch_size=self.quick_batch_size or self.batch_size, is_quick=True,
        )  # fmt: skip

    def check(self) -> None:
        """Errors for a budget or target that cannot work, before any compute."""
        for field in ("batch_size", "steps", "eval_every"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"problem {self.name}: {field} must be a positive int, got {value}"
                )
        if self.steps % self.eval_every:
            raise ValueError(
                f"problem {self.name}: eval_every ({self.eval_every}) must divide steps "
                f"({self.steps})"
            )
        if self.target.mode not in ("min", "max"):
            raise ValueError(f"problem {self.name}: target mode must be 'min' or 'max'")


@functools.lru_cache(maxsize=16)
def load_splits(problem: Problem) -> dict[str, tuple[Array, Array]]:
    """The problem's splits as checked device arrays, cached per problem (the data is fixed).

    Raises ValueError naming the problem when a split is missing, or when the target's metric
    is not one of the problem's metrics.
    """
    raw = problem.splits()
    missing = [s for s in SPLITS if s not in raw]
    if missing:
        raise ValueError(f"problem {problem.name}: splits() lacks {missing} (needs {SPLITS})")
    data = {s: problem.check_data(raw[s][0], raw[s][1], s) for s in SPLITS}
    params, state = jax.eval_shape(problem.init, jax.random.key(0))
    x, t = data["valid"]
    names = jax.eval_shape(problem.metrics, params, state, x[:1], t[:1])
    if problem.target.metric not in names:
        raise ValueError(
            f"problem {problem.name}: the target's metric {problem.target.metric!r} is not one "
            f"of its metrics {sorted(names)}"
        )
    return data
