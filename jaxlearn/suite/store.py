"""Finished cells on disk: written whole as each one finishes, read back on resume.

A suite run writes each (problem, optimizer) cell to ``OUT/cells/PROBLEM/OPTIMIZER.json`` the
moment it finishes (atomically: a killed run leaves whole files or none). Run again with the
same ``out`` and every cell found there with the same *configuration hash* — a digest of
everything that determines the cell's numbers: the protocol version, the problem's name and
version, the optimizer's spec, space and schedule, K and E — is read back instead of trained. A cell
file whose hash differs is an error, not silently overwritten or mixed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from jaxlearn.results import save_json
from jaxlearn.suite.optimizers import SuiteOptimizer
from jaxlearn.suite.problem import Problem
from jaxlearn.suite.protocol import PROTOCOL_VERSION

__all__ = ["CellMismatch", "cell_config", "cell_path", "config_hash", "problem_fingerprint",
           "problem_identity", "read_cell", "write_cell"]  # fmt: skip


class CellMismatch(ValueError):
    """A cell file on disk was made with another configuration than the one asked for."""


def problem_identity(problem: Problem) -> dict[str, Any]:
    """What names a problem's numbers: its name, version and variant. A change to a problem
    that changes its results bumps its version (the shipped references' test compares
    :func:`problem_fingerprint` with theirs, so a change without a bump fails there)."""
    return {"name": problem.name, "version": problem.version, "quick": problem.is_quick}


def problem_fingerprint(problem: Problem) -> str:
    """A digest of the problem's whole definition: its class and every compared field."""
    fields = {f.name: repr(getattr(problem, f.name)) for f in dataclasses.fields(problem)
              if f.compare}  # fmt: skip
    return config_hash({"class": f"{type(problem).__module__}.{type(problem).__qualname__}",
                        **fields})  # fmt: skip


def cell_config(problem: Problem, optimizer: SuiteOptimizer, budget: int, seeds: int) -> dict:
    """Everything that determines a cell's numbers, JSON-ready."""
    return {
        "protocol": PROTOCOL_VERSION,
        "problem": problem_identity(problem),
        "optimizer": {
            "spec": optimizer.spec,
            "kind": optimizer.kind,
            "schedule": optimizer.schedule,
            "pinned": optimizer.pinned,
            "space": optimizer.space.to_json(),
        },  # fmt: skip
        "budget": budget,
        "seeds": seeds,
    }


def config_hash(config: Any) -> str:
    """A short SHA-256 digest of a JSON-ready configuration (key order does not matter).

    >>> config_hash({"a": 1, "b": [2]}) == config_hash({"b": [2], "a": 1})
    True
    """
    text = json.dumps(config, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "optimizer"


def cell_path(out: str | Path, problem: str, optimizer: str) -> Path:
    """``OUT/cells/PROBLEM/OPTIMIZER.json`` (the spec made file-safe, plus a digest of it so
    two specs never share a file)."""
    digest = hashlib.sha256(optimizer.encode()).hexdigest()[:6]
    return Path(out) / "cells" / _slug(problem) / f"{_slug(optimizer)}-{digest}.json"


def read_cell(path: Path, expected_hash: str, fingerprint: str | None = None) -> dict | None:
    """The cell stored at ``path`` if its hash is ``expected_hash`` (and its problem's
    :func:`problem_fingerprint` is ``fingerprint``, when given); None when there is no file;
    CellMismatch when there is one made with another configuration."""
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CellMismatch(
            f"{path}: not a readable cell file ({err}); delete it to recompute"
        ) from None
    if stored.get("hash") != expected_hash:
        raise CellMismatch(
            f"{path} was made with another configuration (hash {stored.get('hash')}, this run "
            f"{expected_hash}): use another --out, or delete the file to recompute it"
        )
    if fingerprint is not None and stored.get("fingerprint") != fingerprint:
        raise CellMismatch(
            f"{path} was made with another definition of problem {stored['problem']} of the "
            "same version: use another --out, or delete the file to recompute it"
        )
    return stored


def write_cell(path: Path, cell: dict, config: dict, digest: str, fingerprint: str) -> dict:
    """Write ``cell`` with its configuration, hash and problem fingerprint, whole or not at
    all; returns what was written."""
    stored = {**cell, "config": config, "hash": digest, "fingerprint": fingerprint}
    save_json(path, stored)
    return stored
