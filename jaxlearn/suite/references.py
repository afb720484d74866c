"""Shipped reference results: the tuned book rules and AdamW on every built-in problem.

So that a new optimizer is compared without re-running the baselines (as DeepOBS and
"Descending through a crowded valley" ship theirs), the package carries the suite's cells of
:data:`REFERENCE_RULES` — SGD, Momentum, the book's Adam and optax's AdamW — on every built-in
problem, for the default budget (K = 16 trials, E = 5 seeds) and for ``--quick`` (K = 4,
E = 2), in ``jaxlearn/suite/references/*.json.gz`` with their provenance (versions, machine,
date, command).

A shipped cell is used only if its configuration hash equals the one this version of jaxlearn
computes for the same problem, optimizer, K and E (:mod:`jaxlearn.suite.store`): a change of
protocol, of a problem, of a default space or of K and E makes them stale, and loading them is
then a :class:`ReferenceMismatch` that says how to re-run them
(``jaxlearn suite ... --rerun-references``). To regenerate the shipped files:
``python -m jaxlearn.suite.references [--quick]``.
"""

from __future__ import annotations

import gzip
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from jaxlearn.suite import store
from jaxlearn.suite.optimizers import resolve
from jaxlearn.suite.problem import Problem

__all__ = ["REFERENCE_RULES", "ReferenceMismatch", "load_references", "reference_file"]

#: The optimizers whose tuned results ship with the package.
REFERENCE_RULES = ("sgd", "momentum", "adam", "optax:adamw")


class ReferenceMismatch(ValueError):
    """The shipped references do not fit this run (another protocol, problem, space, K or E)."""


def reference_file(quick: bool) -> str:
    """The shipped file's name: ``quick.json.gz`` or ``full.json.gz``."""
    return "quick.json.gz" if quick else "full.json.gz"


def _read(quick: bool) -> dict | None:
    path = resources.files("jaxlearn.suite").joinpath("references", reference_file(quick))
    if not path.is_file():
        return None
    return json.loads(gzip.decompress(path.read_bytes()))


def load_references(
    problems: list[Problem], budget: int, seeds: int, quick: bool, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The shipped reference cells for ``problems`` at K = ``budget``, E = ``seeds``:
    ``{'optimizers': {spec: info}, 'cells': {problem: {spec: cell}}, 'provenance': ...}``
    (``skip``: specs this run computes itself). ReferenceMismatch, saying how to recompute
    them, when they are missing or were made with another configuration."""
    hint = ("pass --rerun-references to compute the references in this run, or "
            "--no-references to compare only the optimizers you name")  # fmt: skip
    shipped = _read(quick)
    if shipped is None:
        raise ReferenceMismatch(f"no shipped references ({reference_file(quick)}); {hint}")
    k, e = shipped["config"]["budget"], shipped["config"]["seeds"]
    if (budget, seeds) != (k, e):
        raise ReferenceMismatch(
            f"the shipped references have K = {k}, E = {e} and this run K = {budget}, "
            f"E = {seeds}: use --budget {k} --seeds {e}, or {hint}"
        )
    specs = [s for s in REFERENCE_RULES if s not in skip]
    out: dict[str, Any] = {"optimizers": {}, "cells": {},
                           "provenance": shipped["provenance"]}  # fmt: skip
    for spec in specs:  # labels as this version spells them (they are not part of the hash)
        out["optimizers"][spec] = {**shipped["optimizers"][spec], "label": resolve(spec).label}
    for problem in problems:
        stored = shipped["cells"].get(problem.name)
        if stored is None:
            raise ReferenceMismatch(f"no shipped references for problem {problem.name}; {hint}")
        out["cells"][problem.name] = {}
        for spec in specs:
            expected = store.config_hash(store.cell_config(problem, resolve(spec), k, e))
            cell = stored.get(spec)
            if cell is None or cell.get("hash") != expected:
                raise ReferenceMismatch(
                    f"the shipped reference {spec} on {problem.name} was made with another "
                    f"protocol, problem or search space (made by jaxlearn "
                    f"{shipped['provenance']['jaxlearn']}, protocol {shipped['protocol']}); "
                    f"{hint}"
                )
            out["cells"][problem.name][spec] = cell
    return out


def _main(argv: list[str]) -> None:  # pragma: no cover - a maintainer's command, hours long
    """``python -m jaxlearn.suite.references [--quick] [--out DIR]``: recompute the shipped
    file (resumable in ``--out``, default ``out/references``)."""
    from jaxlearn.suite.runner import run

    quick = "--quick" in argv
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path("out/references")
    out = out / ("quick" if quick else "full")
    result = run(list(REFERENCE_RULES), quick=quick, out=out, references=None)
    target = Path(__file__).parent / "references" / reference_file(quick)
    target.parent.mkdir(exist_ok=True)
    text = json.dumps(result, separators=(",", ":")).encode()
    target.write_bytes(gzip.compress(text, 9, mtime=0))
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":  # pragma: no cover
    _main(sys.argv[1:])
