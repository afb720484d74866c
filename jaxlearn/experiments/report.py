"""What an experiment says about its result: a title, a table and notes, as plain text.

Each experiment module owns a ``report(result) -> Report`` built only from the result (its data
and its ``config``), so the command line, the notebooks and any user print the same words, and
a changed default can never leave a stale title behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "TIDY_HEADER",
    "Report",
    "curve_rows",
    "describe_hidden",
    "format_table",
    "iterations_per_epoch",
    "loss_run_rows",
    "pct",
]

#: The columns of every training experiment's long-format CSV (``tidy(result)``): one row per
#: measured value, so ``pandas.read_csv`` gives a tidy table to group, filter and plot.
TIDY_HEADER = ("label", "seed", "iteration", "metric", "value")


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with right-aligned columns (floats to 4 significant digits).

    >>> print(format_table(['a', 'bb'], [[1, 2.5]]))
    a   bb
    -  ---
    1  2.5
    """
    cells = [[str(h) for h in header]] + [
        [f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def pct(x: Any) -> str:
    """A fraction as a percentage with one decimal.

    >>> pct(0.9731)
    '97.3%'
    """
    return f"{100 * float(x):.1f}%"


def describe_hidden(hidden: Sequence[int]) -> str:
    """Hidden layer sizes as the book writes them: ``[100]x4``, or the list when they differ.

    >>> describe_hidden([100] * 4), describe_hidden([50, 20])
    ('[100]x4', '[50, 20]')
    """
    hidden = list(hidden)
    if hidden and all(h == hidden[0] for h in hidden):
        return f"[{hidden[0]}]x{len(hidden)}"
    return str(hidden)


@dataclasses.dataclass
class Report:
    """The text of an experiment's result: ``title``, a table (``header``, ``rows``), ``notes``
    and any further tables (``more``).

    >>> print(Report('Title', ['a'], [[1]], ['a note']))
    Title
    a
    -
    1
    a note
    """

    title: str
    header: Sequence[str]
    rows: list[list[Any]]
    notes: list[str] = dataclasses.field(default_factory=list)
    #: Further tables that belong to the same result (a learning-rate sweep), printed after.
    more: list[Report] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        parts = [self.title, format_table(self.header, self.rows), *self.notes]
        return "\n".join(parts + [f"\n{extra}" for extra in self.more])


def curve_rows(
    label: str, seeds: Sequence[int], iterations: Sequence[int], metric: str, values: Any
) -> list[tuple]:
    """Long-format rows ``(label, seed, iteration, metric, value)`` of one curve: ``values`` of
    shape ``(len(iterations),)`` for one seed or ``(len(seeds), len(iterations))``.

    >>> curve_rows('sgd', [0], [1, 2], 'loss', [2.3, 2.1])
    [('sgd', 0, 1, 'loss', 2.3), ('sgd', 0, 2, 'loss', 2.1)]
    """
    v = np.asarray(values, np.float64).reshape(len(seeds), len(iterations))
    return [
        (label, int(seed), int(it), metric, float(x))
        for seed, row in zip(seeds, v)
        for it, x in zip(iterations, row)
    ]


def iterations_per_epoch(config: dict) -> int:
    """Updates per epoch of an epoch-based experiment (the book's ``iter_per_epoch``)."""
    return max(config["train_size"] // config["batch_size"], 1)


def loss_run_rows(result: dict) -> list[tuple]:
    """Long-format rows of a result whose ``runs`` are loss-curve records (the optimizer and
    initialisation comparisons): each run's loss per iteration and its final train and test
    accuracy (at the last iteration), per seed."""
    c = result["config"]
    seeds, last = c.get("seeds", [0]), c["iterations"]
    rows = []
    for label, run in result["runs"].items():
        rows += curve_rows(label, seeds, range(1, last + 1), "loss", run["loss"])
        for metric in ("train_acc", "test_acc"):
            rows += curve_rows(label, seeds, [last], metric, run[metric])
    return rows
