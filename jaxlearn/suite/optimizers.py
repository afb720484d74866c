"""An optimizer as the suite takes it: a spec, its search space and its learning-rate schedule.

``SPEC[@SCHEDULE]``, where SPEC is any form :mod:`jaxlearn.experiments.specs` reads —
``'adam'``, ``'momentum:momentum=0.95'``, ``'optax:lion'``, ``'optax.contrib:prodigy'``,
``'mymodule:my_factory'`` — and SCHEDULE one of :data:`~jaxlearn.suite.schedules.SCHEDULES`
(default ``constant``): ``'optax:adamw@warmup_cosine'``.

Every argument of the factory that the spec does not pin is tuned over the optimizer's search
space: the default of its kind (``default_spaces.json``: the book's six rules and the common
optax aliases), the factory's own ``search_space`` attribute (your code), or a space given with
the run (``spaces={kind: {...}}``, the command line's ``--spaces FILE.json``). Values pinned in
the spec are fixed, e.g. ``'optax:lion:learning_rate=1e-4'`` tunes Lion's other arguments at
that learning rate. A schedule's own parameters (the warm-up fraction) join the space.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import optax

from jaxlearn.experiments.specs import Entry, SpecError, parse_spec
from jaxlearn.suite.schedules import SCHEDULE_SPACES, SCHEDULES, with_schedule
from jaxlearn.suite.spaces import SearchSpace, default_space

__all__ = ["SuiteOptimizer", "resolve"]


@dataclasses.dataclass(frozen=True)
class SuiteOptimizer:
    """One optimizer of a suite run.

    Attributes:
      spec: the spec as given (its key in results and file names).
      label: its name in tables and figures.
      kind: ``'adam'``, ``'optax:lion'``, ``'optax.contrib:prodigy'``, ``'module:factory'``:
        which default space it takes.
      entry: the parsed spec (factory, pinned arguments, learning-rate argument).
      schedule: the learning-rate schedule's name.
      space: the tuned hyper-parameters (the schedule's included).
    """

    spec: str
    label: str
    kind: str
    entry: Entry = dataclasses.field(compare=False)
    schedule: str
    space: SearchSpace

    @property
    def pinned(self) -> dict[str, Any]:
        """The arguments the spec fixes."""
        return dict(self.entry.kwargs)

    def factory(self, steps: int) -> Callable[..., optax.GradientTransformation]:
        """``build(**hyperparams)``: the optimizer at a trial's values, its schedule spread over
        ``steps`` updates, the pinned arguments applied."""
        base = with_schedule(self.entry.factory, self.entry.lr_name, self.schedule, steps)
        pinned = self.pinned

        def build(**hyperparams: Any) -> optax.GradientTransformation:
            return base(**pinned, **hyperparams)

        build.__name__ = self.spec
        return build

    def check(self, steps: int) -> None:
        """Build the optimizer at both ends of its space (no arrays): a space that does not fit
        the factory is a SpecError naming the optimizer, before any training."""
        build = self.factory(steps)
        for values in self.space.extremes():
            try:
                build(**values)
            except (TypeError, ValueError) as err:
                raise SpecError(
                    f"{self.spec}: its search space does not fit the optimizer ({err}); the "
                    f"space is {self.space.to_json()}"
                ) from None


def _kind(spec: str, entry: Entry) -> str:
    """``'adam'`` for a rule; ``'optax:NAME'``, ``'optax.contrib:NAME'``, ``'module:factory'``."""
    if entry.rule is not None:
        return entry.rule
    head, _, rest = spec.partition(":")
    return f"{head}:{rest.partition(':')[0]}"


def resolve(spec: str, spaces: Mapping[str, Mapping] | None = None) -> SuiteOptimizer:
    """A :class:`SuiteOptimizer` from ``SPEC[@SCHEDULE]``; ``spaces`` (``{kind: space JSON}``)
    replaces the default space of a kind. SpecError, naming the spec, for anything that does
    not fit: an unknown optimizer or schedule, a ready object, no space.

    >>> opt = resolve("adam@warmup_cosine")
    >>> opt.kind, opt.schedule, opt.space.names
    ('adam', 'warmup_cosine', ('lr', 'beta1', 'beta2', 'eps', 'warmup_fraction'))
    >>> resolve("optax:lion:learning_rate=1e-4").space.names
    ('b1', 'b2', 'weight_decay')
    >>> resolve("adam@cosine")
    Traceback (most recent call last):
    jaxlearn.experiments.specs.SpecError: 'adam@cosine': unknown schedule 'cosine'; ...
    """
    if not isinstance(spec, str) or not spec:
        raise SpecError(f"an optimizer spec is a non-empty string, got {spec!r}")
    text, _, schedule = spec.partition("@")
    schedule = schedule or "constant"
    if schedule not in SCHEDULES:
        raise SpecError(
            f"{spec!r}: unknown schedule {schedule!r}; the schedules are {', '.join(SCHEDULES)}"
        )
    entry = parse_spec(text)
    kind = _kind(text, entry)
    given = (spaces or {}).get(kind)
    if given is not None:
        space = SearchSpace.from_json(given)
    else:
        space = default_space(kind)
        own = getattr(entry.factory, "search_space", None)
        if space is None and own is not None:
            space = SearchSpace.from_json(own)
    if space is None:
        raise SpecError(
            f"{spec!r}: no search space for {kind}: pass one ({{{kind!r}: {{...}}}} in a "
            "--spaces JSON file) or give the factory a search_space attribute"
        )
    extra = SearchSpace.from_json(SCHEDULE_SPACES[schedule]).without(space.names)
    space = space.merged(extra).without(entry.kwargs)
    if schedule != "constant" and entry.lr_name not in (*space.names, *entry.kwargs):
        raise SpecError(
            f"{spec!r}: a {schedule} schedule needs a learning rate ({entry.lr_name}) in the "
            "space or the spec"
        )
    pinned_lr = entry.kwargs.get(entry.lr_name) if entry.lr_name else None
    label = entry.name + ("" if pinned_lr is None else f" {entry.lr_name}={pinned_lr:g}")
    label += "" if schedule == "constant" else f" @{schedule}"
    return SuiteOptimizer(spec, label, kind, entry, schedule, space)
