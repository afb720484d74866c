"""What an experiment says about its result: a title, a table and notes, as plain text.

Each experiment module owns a ``report(result) -> Report`` built only from the result (its data
and its ``config``), so the command line, the notebooks and any user print the same words, and
a changed default can never leave a stale title behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

__all__ = ["Report", "describe_hidden", "format_table", "pct", "seeds_in_title", "spread_note"]


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


def seeds_in_title(n: int) -> str:
    """What a title adds for a result of ``n`` seeds: ``', 3 seeds'``, or nothing for one.

    >>> seeds_in_title(3), seeds_in_title(1)
    (', 3 seeds', '')
    """
    return f", {n} seeds" if n > 1 else ""


def spread_note(n: int) -> list[str]:
    """The note under a table of means ± standard deviations over ``n`` seeds (none for one).

    >>> spread_note(5)
    ['± : standard deviation over the 5 seeds']
    """
    return [f"± : standard deviation over the {n} seeds"] if n > 1 else []


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
