"""A suite run's result: its provenance, the terminal table, and the tidy CSV.

The result is one JSON-ready dict::

    {"protocol": 2, "provenance": {...}, "config": {..., "hash"},
     "problems": {name: {"description", "target", "steps", "batch_size", "eval_every", ...}},
     "optimizers": {spec: {"label", "kind", "schedule", "pinned", "space"}},
     "cells": {problem: {spec: cell}}}

with each cell as :func:`jaxlearn.suite.protocol.run_cell` records it. :func:`tidy` flattens
it to the long table ``problem, optimizer, phase, trial, seed, step, metric, value`` (``phase``
``tune`` or ``eval``; ``steps_to_target`` one row per run, ``inf`` when missed; a trial's
hyper-parameters as ``hyperparam:NAME`` rows), which ``pandas.read_csv`` reads as it is.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from typing import Any

import numpy as np

from jaxlearn.experiments.report import Report

__all__ = ["TIDY_HEADER", "provenance", "table", "tidy"]

#: The tidy CSV's columns.
TIDY_HEADER = ("problem", "optimizer", "phase", "trial", "seed", "step", "metric", "value")


def provenance() -> dict[str, Any]:
    """Who made the numbers: package versions, the machine, the date, the command line."""
    import jax
    import optax
    import scipy

    import jaxlearn

    devices = jax.devices()
    return {
        "jaxlearn": jaxlearn.__version__,
        "jax": jax.__version__,
        "jaxlib": getattr(jax.lib, "__version__", None) or _version("jaxlib"),
        "optax": optax.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "devices": f"{len(devices)} x {devices[0].device_kind} ({devices[0].platform})",
        "processes": jax.process_count(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def count(n: int, noun: str) -> str:
    """A count with its noun in the right number.

    >>> count(1, "problem"), count(9, "problem")
    ('1 problem', '9 problems')
    """
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _values(values: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], np.float64)


def _mean_std(values: Any) -> str:
    v = _values(values)
    if not np.isfinite(v).any():
        return "diverged"
    return f"{np.nanmean(v):.4g} ± {np.nanstd(v):.2g}" if len(v) > 1 else f"{v[0]:.4g}"


def _steps(values: list) -> str:
    hits = [v for v in values if v is not None]
    if not hits:
        return "∞"
    median = float(np.median([np.inf if v is None else v for v in values]))
    return f"{median:.0f} ({len(hits)}/{len(values)})" if np.isfinite(median) else \
        f"∞ ({len(hits)}/{len(values)})"  # fmt: skip


def _value(value: Any) -> str:
    """Three significant digits — of ``1 - value`` for a value just below 1 (a β₂ of 0.99974
    is not "1").

    >>> _value(0.0014011), _value(0.99973838), _value(0.9), _value(3)
    ('0.0014', '0.999738', '0.9', '3')
    """
    if not isinstance(value, float):
        return str(value)
    if 0.9 < value < 1:
        return f"{value:.{2 - int(np.floor(np.log10(1 - value)))}f}".rstrip("0")
    return f"{value:.3g}"


def _setting(cell: dict, names: tuple[str, ...]) -> str:
    chosen = cell["chosen"]
    if chosen is None:
        return "all diverged"
    parts = []
    for name in names:
        value = chosen["hyperparams"][name]
        parts.append(f"{name}={_value(value)}{'!' if name in chosen['boundary'] else ''}")
    return " ".join(parts)


def table(result: dict) -> Report:
    """The terminal table: per problem and optimizer, the chosen setting (``!``: at the edge of
    its range), diverged trials, the validation and test finals (mean ± std over the
    evaluation seeds), steps to target (median, and how many seeds reached it) and the time
    per step."""
    config = result["config"]
    rows = []
    for problem, cells in result["cells"].items():
        for spec, cell in cells.items():
            opt = result["optimizers"][spec]
            free = tuple(
                n for n, r in opt["space"].items() if len(r.get("feasible_points", [0, 0])) > 1
            )
            ev = cell["eval"]
            per_step = "-" if ev is None or ev["seconds_per_step"] is None else \
                f"{1e3 * ev['seconds_per_step'] / len(ev['seeds']):.2g} ms"  # fmt: skip
            rows.append([
                problem, opt["label"], _setting(cell, free),
                f"{cell['tune']['diverged']}/{config['budget']}",
                "-" if ev is None else _mean_std(ev["final"]["valid"]),
                "-" if ev is None else _mean_std(ev["final"]["test"]),
                "-" if ev is None else _steps(ev["steps_to_target"]),
                per_step,
            ])  # fmt: skip
            problem = ""  # the name once per block of rows
    targets = "; ".join(
        f"{name}: {p['target']['metric']} {'≤' if p['target']['mode'] == 'min' else '≥'} "
        f"{p['target']['value']:g}" for name, p in result["problems"].items()
    )  # fmt: skip
    title = (
        f"Optimizer suite: {count(len(result['problems']), 'problem')}, "
        f"K = {config['budget']} tuning trials, E = {config['seeds']} evaluation seeds"
        f"{' (quick)' if config['quick'] else ''}"
    )
    notes = [
        "setting: the chosen trial's hyper-parameters (! = in the outer tenth of its range)",
        "valid / test: the target metric after the last step, mean ± std over the seeds",
        "to target: median steps to reach the validation target (seeds that reached it)",
        f"targets: {targets}",
        "ms/step: one run's share of the vmapped evaluation program, compilation apart",
    ]
    header = ["problem", "optimizer", "setting", "diverged", "valid", "test", "to target",
              "ms/step"]  # fmt: skip
    return Report(title, header, rows, notes)


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The long-format rows of :data:`TIDY_HEADER` (see the module docstring)."""
    rows: list[tuple] = []
    inf = float("inf")
    for problem, cells in result["cells"].items():
        metric = result["problems"][problem]["target"]["metric"]
        for spec, cell in cells.items():
            steps = cell["eval_steps"]
            tune = cell["tune"]
            for j, values in enumerate(tune["hyperparams"]):
                base = (problem, spec, "tune", j, "")
                rows += [(*base, "", f"hyperparam:{k}", v) for k, v in values.items()]
                rows += [(*base, s, f"valid/{metric}", _nan(v))
                         for s, v in zip(steps, tune["curves"][j])]  # fmt: skip
                stt = tune["steps_to_target"][j]
                rows.append((*base, "", "steps_to_target", inf if stt is None else stt))
            ev = cell["eval"]
            if ev is None:
                continue
            for i, seed in enumerate(ev["seeds"]):
                base = (problem, spec, "eval", cell["chosen"]["trial"], seed)
                for split in ("valid", "test"):
                    for name, curves in ev[split].items():
                        rows += [(*base, s, f"{split}/{name}", _nan(v))
                                 for s, v in zip(steps, curves[i])]  # fmt: skip
                stt = ev["steps_to_target"][i]
                rows.append((*base, "", "steps_to_target", inf if stt is None else stt))
    return TIDY_HEADER, rows


def _nan(value: Any) -> float:
    return float("nan") if value is None else value
