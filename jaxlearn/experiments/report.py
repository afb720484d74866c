"""What an experiment says about its result: a title, a table and notes, as plain text.

Each experiment module owns a ``report(result) -> Report`` built only from the result (its data
and its ``config``), so the command line, the notebooks and any user print the same words, and
a changed default can never leave a stale title behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

__all__ = ["Report", "describe_hidden", "format_table", "pct"]


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
    """The text of an experiment's result: ``title``, a table (``header``, ``rows``), ``notes``.

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

    def __str__(self) -> str:
        return "\n".join([self.title, format_table(self.header, self.rows), *self.notes])
