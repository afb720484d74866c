"""What a training run returns: :class:`TrainResult` (final state and NumPy history) and its
:class:`Timing`."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = ["Timing", "TrainResult"]


class Timing(NamedTuple):
    """Wall-clock time of a run: ``first_call`` (seconds; compiles the program unless it was
    cached, and runs the first ``steps_per_call`` updates) and ``step`` (seconds per update
    after it, NaN when the run was one call). :attr:`compile` is the first call's excess."""

    first_call: float
    step: float
    steps_per_call: int

    @property
    def compile(self) -> float:
        """Seconds the first call took beyond its updates at the later calls' rate."""
        if np.isnan(self.step):
            return float("nan")
        return max(self.first_call - self.step * self.steps_per_call, 0.0)


class TrainResult(NamedTuple):
    """What a training run returns.

    ``params``, ``state``, ``opt_state`` are the final pytrees (JAX arrays; stacked with a
    leading K axis from :func:`train_many`). The history is NumPy: ``loss`` per iteration
    ``(iterations,)`` (the model's training loss on each mini-batch); ``metrics``, ``{split:
    {metric: (evals,)}}``, each evaluated split's metric means (for the book's network
    ``'accuracy'`` and ``'cross_entropy'`` on ``'train'`` and ``'test'``; empty when not
    evaluated); ``eval_iterations`` the number of updates done at each evaluation. From
    :func:`train_many` every array but ``eval_iterations`` has a leading K axis.
    ``train_acc``/``test_acc`` read the accuracies; :meth:`history` gives the NumPy part as a
    JSON-ready dict. ``timing`` is the run's :class:`Timing`.
    """

    params: Any
    state: Any
    opt_state: Any
    loss: np.ndarray
    metrics: dict[str, dict[str, np.ndarray]]
    eval_iterations: np.ndarray
    timing: Timing | None = None

    def metric(self, split: str, name: str) -> np.ndarray:
        """``metrics[split][name]``; NaN per evaluation when that split was not evaluated (a
        run without test data has no ``'test'``), empty when nothing was evaluated."""
        if split in self.metrics:
            return self.metrics[split][name]
        shape = (*self.loss.shape[:-1], len(self.eval_iterations))
        return np.full(shape, np.nan, np.float32)

    @property
    def train_acc(self) -> np.ndarray:
        """Training-split accuracy per evaluation (book's network and other classifiers)."""
        return self.metric("train", "accuracy")

    @property
    def test_acc(self) -> np.ndarray:
        """Test-split accuracy per evaluation; NaN without test data."""
        return self.metric("test", "accuracy")

    def stacked(self) -> TrainResult:
        """This single run with a leading K = 1 axis, the layout of :func:`train_many`."""
        first = jax.tree.map(lambda a: a[None], (self.params, self.state, self.opt_state))
        return TrainResult(
            *first, self.loss[None], jax.tree.map(lambda a: a[None], self.metrics),
            self.eval_iterations, self.timing,
        )  # fmt: skip

    def history(self) -> dict[str, Any]:
        """``{'loss', 'train_acc', 'test_acc', 'metrics', 'eval_iterations'}`` (NumPy)."""
        return {
            "loss": self.loss,
            "train_acc": self.train_acc,
            "test_acc": self.test_acc,
            "metrics": self.metrics,
            "eval_iterations": self.eval_iterations,
        }
