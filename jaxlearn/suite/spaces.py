"""Search spaces as data, and the quasi-random trials drawn from them.

A space maps each hyper-parameter (a keyword argument of the optimizer's factory) to a range or
a list of feasible points, in the JSON form of AlgoPerf's ``tuning_search_space.json``::

    {"lr":    {"min": 1e-4, "max": 1e-1, "scaling": "log"},
     "beta1": {"min": 0.5,  "max": 0.99, "scaling": "log1m"},
     "eps":   {"feasible_points": [1e-7]}}

``scaling``: ``"linear"`` (uniform), ``"log"`` (log-uniform) or ``"log1m"`` (log-uniform in
``1 − value``: momentum-like values near 1, AlgoPerf's ``one_minus_beta1``). A list of one
feasible point fixes the value; a longer list is a categorical choice.

:meth:`SearchSpace.sample` draws K trials from a scrambled Halton sequence
(``scipy.stats.qmc.Halton``, a fixed seed: the same K points for every optimizer with the same
number of free dimensions), as AlgoPerf's quasi-random search does. The defaults of the book's
rules and of the common optax aliases are in ``default_spaces.json`` beside this file.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np
from scipy.stats import qmc

__all__ = ["HALTON_SEED", "SearchSpace", "default_space", "default_spaces"]

#: The seed of the scrambled Halton sequence (part of the protocol, a fixed point set).
HALTON_SEED = 0
#: A chosen value this close (as a fraction of its range's length, in the sampling scale) to
#: either end of its range is flagged: the best setting may lie outside the range.
BOUNDARY = 0.1
_SCALINGS = ("linear", "log", "log1m")


@dataclasses.dataclass(frozen=True)
class Range:
    """One hyper-parameter's range: ``[low, high]`` in ``scaling``, or ``points``."""

    low: float | None = None
    high: float | None = None
    scaling: str = "linear"
    points: tuple[Any, ...] | None = None

    def to_json(self) -> dict:
        if self.points is not None:
            return {"feasible_points": list(self.points)}
        return {"min": self.low, "max": self.high, "scaling": self.scaling}

    @property
    def free(self) -> bool:
        """Whether drawing it takes a dimension of the sequence (not a single fixed point)."""
        return self.points is None or len(self.points) > 1

    def _warp(self, value: float) -> float:
        if self.scaling == "log":
            return math.log(value)
        return math.log1p(-value) if self.scaling == "log1m" else value

    def value(self, u: float) -> Any:
        """The value at the unit-interval coordinate ``u``."""
        if self.points is not None:
            return self.points[min(int(u * len(self.points)), len(self.points) - 1)]
        if u <= 0 or u >= 1:  # the ends exactly, not their round trip through the warp
            return self.low if u <= 0 else self.high
        a, b = self._warp(self.low), self._warp(self.high)
        w = a + u * (b - a)
        if self.scaling == "log":
            return math.exp(w)
        return -math.expm1(w) if self.scaling == "log1m" else w

    def coordinate(self, value: Any) -> float | None:
        """Where ``value`` sits in the range, 0 (low end) … 1 (high end); None for points."""
        if self.points is not None:
            return None
        a, b = self._warp(self.low), self._warp(self.high)
        return (self._warp(float(value)) - a) / (b - a)


def _range(name: str, spec: Any) -> Range:
    where = f"search space: {name!r}"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: expected {{'min', 'max', 'scaling'}} or "
                         f"{{'feasible_points': [...]}}, got {spec!r}")  # fmt: skip
    if "feasible_points" in spec:
        points = spec["feasible_points"]
        if set(spec) != {"feasible_points"} or not isinstance(points, list) or not points:
            raise ValueError(f"{where}: 'feasible_points' must be a non-empty list, alone")
        return Range(points=tuple(points))
    unknown = set(spec) - {"min", "max", "scaling"}
    if unknown or not {"min", "max"} <= set(spec):
        raise ValueError(
            f"{where}: a range is {{'min', 'max', 'scaling'}}, got keys {sorted(spec)}"
        )
    low, high, scaling = spec["min"], spec["max"], spec.get("scaling", "linear")
    if scaling not in _SCALINGS:
        raise ValueError(f"{where}: scaling must be one of {', '.join(_SCALINGS)}, got {scaling!r}")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not math.isfinite(low) or not math.isfinite(high) or not low < high:
        raise ValueError(f"{where}: needs finite numbers min < max, got {low!r}, {high!r}")
    if scaling == "log" and low <= 0:
        raise ValueError(f"{where}: a log range needs min > 0, got {low}")
    if scaling == "log1m" and high >= 1:
        raise ValueError(f"{where}: a log1m range needs max < 1, got {high}")
    return Range(float(low), float(high), scaling)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Hyper-parameter ranges by name (see the module docstring); hashable, JSON round-trips.

    >>> space = SearchSpace.from_json({"lr": {"min": 1e-3, "max": 1.0, "scaling": "log"},
    ...                                "momentum": {"feasible_points": [0.9]}})
    >>> trials = space.sample(4)
    >>> [round(t["lr"], 4) for t in trials], trials[0]["momentum"]
    ([0.002, 0.0627, 0.0112, 0.3527], 0.9)
    >>> space.near_boundary({"lr": 0.0011, "momentum": 0.9})
    ['lr']
    """

    ranges: tuple[tuple[str, Range], ...]

    @classmethod
    def from_json(cls, spec: Mapping[str, Any]) -> SearchSpace:
        """A space from its JSON form; ValueError naming the hyper-parameter at fault."""
        if not isinstance(spec, Mapping):
            raise ValueError(f"search space: expected a JSON object, got {type(spec).__name__}")
        return cls(tuple((str(name), _range(str(name), value)) for name, value in spec.items()))

    def to_json(self) -> dict[str, dict]:
        return {name: r.to_json() for name, r in self.ranges}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.ranges)

    def without(self, names: Any) -> SearchSpace:
        """This space without ``names`` (values pinned elsewhere, e.g. in the spec)."""
        return SearchSpace(tuple((n, r) for n, r in self.ranges if n not in set(names)))

    def merged(self, other: SearchSpace) -> SearchSpace:
        """This space with ``other``'s ranges added or replacing its own."""
        mine = dict(self.ranges)
        mine.update(other.ranges)
        return SearchSpace(tuple(mine.items()))

    def sample(self, k: int, seed: int = HALTON_SEED) -> list[dict[str, Any]]:
        """``k`` trials, each ``{name: value}``, from a scrambled Halton sequence."""
        free = [(n, r) for n, r in self.ranges if r.free]
        units = (qmc.Halton(d=len(free), scramble=True, seed=seed).random(k) if free
                 else np.zeros((k, 0)))  # fmt: skip
        trials = []
        for row in units:
            values = {n: r.points[0] for n, r in self.ranges if not r.free}
            values.update({n: r.value(float(u)) for (n, r), u in zip(free, row)})
            trials.append({n: values[n] for n in self.names})
        return trials

    def extremes(self) -> list[dict[str, Any]]:
        """Two settings at the ranges' ends (all low, all high): built once before any training
        to prove the optimizer accepts the whole space."""
        return [{n: r.value(end) for n, r in self.ranges} for end in (0.0, 1.0)]

    def near_boundary(self, values: Mapping[str, Any]) -> list[str]:
        """The names whose chosen value lies within ``BOUNDARY`` of an end of its range."""
        out = []
        for name, r in self.ranges:
            u = r.coordinate(values[name]) if name in values else None
            if u is not None and (u < BOUNDARY or u > 1 - BOUNDARY):
                out.append(name)
        return out


def default_spaces() -> dict[str, dict]:
    """The shipped default spaces, ``{optimizer kind: space JSON}`` (``default_spaces.json``)."""
    text = resources.files("jaxlearn.suite").joinpath("default_spaces.json").read_text()
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def default_space(kind: str) -> SearchSpace | None:
    """The default space of an optimizer kind (``'adam'``, ``'optax:lion'``), or None."""
    spec = default_spaces().get(kind)
    return None if spec is None else SearchSpace.from_json(spec)
