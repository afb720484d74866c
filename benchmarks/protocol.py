"""The timing protocol of the step benchmarks: runners timed interleaved, round by round, each
framework's runners together, with a settle between the frameworks.

Why the grouping: PyTorch's CPU build runs its parallel regions on GNU OpenMP, whose worker
threads spin for a few milliseconds after each region before they sleep. On a 2-core machine
whatever runs next gets about one core while they spin: measured on one 25 M leaf, an XLA or
native step timed right after a PyTorch step took 15-40 % longer than the same step timed after
another jax step. (That is why the native SGD row once trailed PyTorch's: it ran right after the
PyTorch in-place axpy in every round.) So each round runs the jax runners, in an order rotated
round by round, after a settle (a pause, then one untimed jax step that wakes XLA's threads),
then the PyTorch runners likewise. Every runner is then timed after a runner of its own
framework, and no position in the round is any runner's always.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Protocol

#: Seconds to pause before each framework's group: longer than GNU OpenMP's spin (and XLA's
#: Eigen pool's) so that the other framework's threads are asleep when the group starts.
SETTLE_S = 0.05


class Runner(Protocol):
    """What the protocol times: ``run(timed)`` does one step and records its time in ``times``
    when ``timed``; the first call's time goes to ``first_s``."""

    name: str
    times: list[float]

    def run(self, timed: bool) -> None: ...


def interleave(
    groups: Sequence[tuple[Sequence[Runner], Callable[[], object] | None]],
    rounds: int,
    warmup: int = 2,
) -> None:
    """Time every runner of every group ``warmup + rounds`` times (the first ``warmup`` rounds
    untimed). ``groups`` is ``[(runners, wake), ...]``, one per framework: each round, for each
    group, pause :data:`SETTLE_S`, call ``wake()`` (untimed; None for none), then run the
    group's runners starting at a position that moves by one every round."""
    for r in range(warmup + rounds):
        for runners, wake in groups:
            if not runners:
                continue
            time.sleep(SETTLE_S)
            if wake is not None:
                wake()
            k = r % len(runners)
            for run in [*runners[k:], *runners[:k]]:
                run.run(timed=r >= warmup)


def medians(runners: Sequence[Runner]) -> dict[str, float]:
    """Each runner's median timed step, in seconds, by name."""
    return {run.name: statistics.median(run.times) for run in runners}
