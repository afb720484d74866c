"""Display names: how tables, legends and titles spell the update rules and other names.

The one home of the book's spellings ("AdaGrad", "RMSprop", "ReLU", "He"): every report and
figure of the experiments reads them here, and so does anything built on the experiments.
A label that is not one of these names is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RULE_LABELS", "curve_label", "display", "run_name"]

#: Display names of the update rules, as the book writes them (curves, tables, legends).
RULE_LABELS: dict[str, str] = {
    "sgd": "SGD",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}
_DISPLAY = {**RULE_LABELS, "relu": "ReLU", "he": "He", "xavier": "Xavier"}


def display(name: Any) -> str:
    """The book's spelling of a rule, activation or initialisation name; others unchanged.

    >>> display('adagrad'), display('relu'), display('he'), display(0.01)
    ('AdaGrad', 'ReLU', 'He', '0.01')
    """
    return _DISPLAY.get(name, str(name)) if isinstance(name, str) else str(name)


def run_name(label: str, run: Mapping[str, Any]) -> str:
    """What a comparison's run is shown as: the ``'name'`` it records, else its label in the
    book's spelling (a result saved before runs recorded their names).

    >>> run_name('adam:lr=0.003', {'name': 'Adam'}), run_name('sgd', {})
    ('Adam', 'SGD')
    """
    return run.get("name") or display(label)


def curve_label(name: str, lr: float | None) -> str:
    """A curve's legend entry: its display name and, where known, the learning rate it ran at
    (the tuned one after a sweep), so a legend never shows a rate the run did not use.

    >>> curve_label('Adam', 0.003), curve_label('AdamW', None)
    ('Adam, lr=0.003', 'AdamW')
    """
    return name if lr is None else f"{name}, lr={lr:g}"
