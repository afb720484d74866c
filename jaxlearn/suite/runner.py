"""A whole suite run: every optimizer on every problem under one protocol, resumable.

:func:`run` checks everything first (the specs, the spaces against their factories, the
problems, the data), then runs the (problem, optimizer) cells in order, each written to
``out`` as it finishes and read back instead of recomputed when a run is resumed, and
returns (and writes) the result: ``suite.json`` (with provenance and the configuration's
hash), ``suite.csv`` (tidy) and the figures.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxlearn.experiments.specs import SpecError
from jaxlearn.suite import store
from jaxlearn.suite.optimizers import SuiteOptimizer, resolve
from jaxlearn.suite.problem import Problem
from jaxlearn.suite.problems import PROBLEMS, get
from jaxlearn.suite.problems.images import ImageProblem
from jaxlearn.suite.protocol import PROTOCOL_VERSION, run_cell
from jaxlearn.suite.references import REFERENCE_RULES, load_references
from jaxlearn.suite.results import provenance

__all__ = ["DEFAULT_BUDGET", "DEFAULT_SEEDS", "QUICK_BUDGET", "QUICK_SEEDS", "run", "setup"]

#: K tuning trials and E evaluation seeds of a full run, and of ``quick=True``.
DEFAULT_BUDGET, DEFAULT_SEEDS = 16, 5
QUICK_BUDGET, QUICK_SEEDS = 4, 2


def _positive(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _problems(
    problems: Sequence[str | Problem] | None, quick: bool, data_dir: str | None, download: bool
) -> list[Problem]:
    chosen = []
    for p in problems if problems is not None else list(PROBLEMS):
        problem = get(p) if isinstance(p, str) else p
        if not isinstance(problem, Problem):
            raise TypeError(f"problems: expected names or Problem objects, got {type(p).__name__}")
        if isinstance(problem, ImageProblem) and (data_dir or download):
            problem = dataclasses.replace(problem, data_dir=data_dir, download=download)
        problem = problem.quick() if quick else problem
        problem.check()
        chosen.append(problem)
    names = [p.name for p in chosen]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"problems: need at least one, each once; got {names}")
    return chosen


def setup(
    rules: Sequence[str], *, problems: Sequence[str | Problem] | None = None,
    budget: int | None = None, seeds: int | None = None, quick: bool = False,
    spaces: Mapping[str, Mapping] | None = None, data_dir: str | None = None,
    download: bool = False,
) -> tuple[list[Problem], list[SuiteOptimizer], dict]:  # fmt: skip
    """Everything :func:`run` checks before any training: ``(problems, optimizers, config)``.

    Errors name what is wrong (an unknown problem or spec, a space that does not fit its
    optimizer, a data set that cannot be found).
    """
    budget = _positive("budget", budget or (QUICK_BUDGET if quick else DEFAULT_BUDGET))
    seeds = _positive("seeds", seeds or (QUICK_SEEDS if quick else DEFAULT_SEEDS))
    if isinstance(rules, str):
        rules = [rules]
    optimizers = [resolve(r, spaces) for r in rules]
    specs = [o.spec for o in optimizers]
    if not specs or len(set(specs)) != len(specs):
        raise SpecError(f"rules: need at least one optimizer, each once; got {specs}")
    chosen = _problems(problems, quick, data_dir, download)
    for problem in chosen:
        for optimizer in optimizers:
            optimizer.check(problem.steps)
        problem.data()  # load and check now: a missing data set fails before any training
    config = {
        "protocol": PROTOCOL_VERSION, "budget": budget, "seeds": seeds, "quick": quick,
        "problems": [p.name for p in chosen], "optimizers": specs,
    }  # fmt: skip
    return chosen, optimizers, config


def _problem_info(problem: Problem) -> dict:
    return {
        "description": problem.description, "version": problem.version,
        "target": problem.target._asdict(), "steps": problem.steps,
        "batch_size": problem.batch_size, "eval_every": problem.eval_every,
        "fingerprint": store.problem_fingerprint(problem),
        "sizes": {split: len(x) for split, (x, _) in problem.data().items()},
        "counting_metrics": list(problem.counting_metrics),
    }  # fmt: skip


def _optimizer_info(opt: SuiteOptimizer) -> dict:
    return {"label": opt.label, "kind": opt.kind, "schedule": opt.schedule,
            "pinned": opt.pinned, "space": opt.space.to_json()}  # fmt: skip


def run(
    rules: Sequence[str], *, problems: Sequence[str | Problem] | None = None,
    budget: int | None = None, seeds: int | None = None, quick: bool = False,
    out: str | Path | None = None, spaces: Mapping[str, Mapping] | None = None,
    data_dir: str | None = None, download: bool = False, progress: bool | None = None,
    references: str | None = None, log: Callable[[str], None] | None = print,
) -> dict:  # fmt: skip
    """Benchmark each optimizer of ``rules`` on each problem under the suite's protocol.

    Args:
      rules: optimizer specs, ``SPEC[@SCHEDULE]`` (:mod:`jaxlearn.suite.optimizers`):
        ``'adam'``, ``'optax:lion:learning_rate=1e-4'``, ``'optax:adamw@warmup_cosine'``,
        ``'mymodule:my_factory'``.
      problems: names of built-in problems (:data:`jaxlearn.suite.PROBLEMS`) or your own
        :class:`~jaxlearn.suite.Problem` objects; default: every built-in problem.
      budget, seeds: K tuning trials per cell and E evaluation seeds (default 16 and 5; 4
        and 2 with ``quick``).
      quick: every problem's quick variant (smoke tests: fewer steps, less data).
      out: a folder: each finished cell is written there at once, and a run with the same
        ``out`` resumes (cells with the same configuration hash are read back, not
        recomputed; a cell made with another configuration is an error); at the end
        ``suite.json``, ``suite.csv`` and the figures. None: nothing is written.
      spaces: ``{kind: space JSON}`` replacing default search spaces
        (:mod:`jaxlearn.suite.spaces`).
      data_dir, download: where the image problems find their data (or fetch it).
      progress: progress bars (default: on a terminal); ``log``: where to say what happens
        (None: silent).
      references: add the tuned SGD, Momentum, Adam and AdamW
        (:mod:`jaxlearn.suite.references`) to the comparison: ``'shipped'`` reads the cells
        that ship with the package (no training; their K and E must be this run's),
        ``'rerun'`` computes them in this run; None (default): only ``rules``.

    Returns:
      The result dict (:mod:`jaxlearn.suite.results`).

    optax/flax equivalent: none; DeepOBS, AlgoPerf and "Descending through a crowded
    valley" (Schmidt et al., 2021) are the protocols this follows.

    >>> r = run(["sgd"], problems=["book_function"], budget=2, seeds=2, quick=True, log=None)
    >>> cell = r["cells"]["book_function"]["sgd"]
    >>> len(cell["tune"]["final"]), len(cell["eval"]["final"]["test"])
    (2, 2)
    """
    say = log or (lambda _: None)
    if references not in (None, "shipped", "rerun"):
        raise ValueError(f"references must be None, 'shipped' or 'rerun', got {references!r}")
    rules = [rules] if isinstance(rules, str) else list(rules)
    if references == "rerun":
        rules += [r for r in REFERENCE_RULES if r not in rules]
    chosen, optimizers, config = setup(
        rules, problems=problems, budget=budget, seeds=seeds, quick=quick, spaces=spaces,
        data_dir=data_dir, download=download,
    )  # fmt: skip
    shipped = None
    if references == "shipped":
        shipped = load_references(chosen, config["budget"], config["seeds"], quick,
                                  skip=tuple(config["optimizers"]))  # fmt: skip
    config["references"] = references
    config["hash"] = store.config_hash(config)
    result = {
        "protocol": PROTOCOL_VERSION, "provenance": provenance(), "config": config,
        "problems": {p.name: _problem_info(p) for p in chosen},
        "optimizers": {o.spec: _optimizer_info(o) for o in optimizers},
        "cells": {p.name: {} for p in chosen},
    }  # fmt: skip
    cells = [(p, o) for p in chosen for o in optimizers]
    for n, (problem, optimizer) in enumerate(cells, 1):
        cfg = store.cell_config(problem, optimizer, config["budget"], config["seeds"])
        digest, fingerprint = store.config_hash(cfg), store.problem_fingerprint(problem)
        path = None if out is None else store.cell_path(out, problem.name, optimizer.spec)
        cell = None if path is None else store.read_cell(path, digest, fingerprint)
        if cell is not None:
            say(f"[{n}/{len(cells)}] {problem.name} · {optimizer.label}: read back from {path}")
        else:
            start = time.perf_counter()
            cell = run_cell(problem, optimizer, config["budget"], config["seeds"], progress)
            seconds = time.perf_counter() - start
            cell["seconds"] = seconds
            if path is not None:
                cell = store.write_cell(path, cell, cfg, digest, fingerprint)
            say(f"[{n}/{len(cells)}] {problem.name} · {optimizer.label}: {seconds:.1f} s")
        result["cells"][problem.name][optimizer.spec] = cell
    if shipped is not None:  # the references' cells beside this run's, marked as such
        for spec, info in shipped["optimizers"].items():
            result["optimizers"][spec] = {**info, "reference": True}
        for problem_name, cells in shipped["cells"].items():
            result["cells"][problem_name].update(cells)
        result["references"] = {"source": "shipped", "specs": list(shipped["optimizers"]),
                                "provenance": shipped["provenance"]}  # fmt: skip
        say(f"compared with the shipped references: {', '.join(shipped['optimizers'])}")
    if out is not None:
        from jaxlearn.suite.output import write_outputs

        written = write_outputs(result, out)
        say(f"wrote {', '.join(str(p) for p in written[:2])} and {len(written) - 2} figures")
    return result
