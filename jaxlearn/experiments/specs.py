"""Which optimizers an experiment compares: names, specs, optax aliases or your own objects.

An *entry* of a comparison is a label and a way to build its optimizer:

- ``'adam'``: a jaxlearn rule at its book defaults (label ``'adam'``, shown as "Adam");
- ``('adam', {'lr': 3e-3})`` or the string ``'adam:lr=0.003'``: a rule with overrides;
- ``'optax:adamw:learning_rate=0.001,weight_decay=0.0001'``: any optax alias by name;
- ``'optax.contrib:prodigy'``: an optimizer of ``optax.contrib`` by name;
- ``'mymodule:my_factory:lr=0.1'``: your own factory, ``my_factory`` in a module importable from
  the current folder or ``PYTHONPATH`` (its learning-rate argument is ``learning_rate``, or
  ``lr`` when its ``search_space`` attribute names ``lr``);
- in a mapping ``{label: value}``, the value may also be any ``optax.GradientTransformation``
  (optax's, jaxlearn's, your own): ``{'AdamW': optax.adamw(1e-3)}``.

The *label* keys the results (the spec as written, or the mapping's key); the *name* is what
tables and legends show: the mapping's key (in the book's spelling when it is a rule's name),
or for a spec the rule's display name ("Adam", "optax.adamw") and its settings other than the
learning rate, which is always shown on its own (a sweep replaces it, so a name that carried
it would go stale).

A learning-rate sweep needs to rebuild an entry with other rates, so it needs the factory and
the name of its rate argument: ``'lr'`` for jaxlearn's rules, ``'learning_rate'`` for optax's
aliases (their convention). A ready transformation has neither, and sweeping it is an error.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optax

from jaxlearn._compat import OPTAX_ALIAS_MODULE
from jaxlearn.experiments.display import display
from jaxlearn.optim import RULES

__all__ = ["Entry", "SpecError", "parse_spec", "resolve_entries", "spec_name"]

#: The prefix that names an optax alias in a spec string.
OPTAX = "optax"
#: The prefix that names an optimizer of ``optax.contrib``.
OPTAX_CONTRIB = "optax.contrib"


class SpecError(ValueError):
    """A spec that names no optimizer, an unknown argument, or a value that does not parse."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One optimizer of a comparison.

    Attributes:
      label: names its curve, its table row and its key in the results.
      factory: builds the optimizer from keyword arguments (None for a ready object).
      kwargs: the arguments given to ``factory``.
      lr_name: the factory's learning-rate argument (``'lr'``, ``'learning_rate'``) or None.
      rule: the jaxlearn rule name when the entry is one of the book's rules (for its colour).
      transformation: the ready optimizer, when the entry was given as one.
      name: what tables and legends show (default: the label, in the book's spelling when it
        is a rule's name: ``'sgd'`` is shown as "SGD").
    """

    label: str
    factory: Callable[..., optax.GradientTransformation] | None = None
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    lr_name: str | None = None
    rule: str | None = None
    transformation: optax.GradientTransformation | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", display(self.label))

    def build(self, **overrides: Any) -> optax.GradientTransformation:
        """The optimizer, with ``overrides`` replacing (or adding to) ``kwargs``."""
        if self.transformation is not None:
            if overrides:
                raise SpecError(f"{self.label}: a ready optimizer cannot take {sorted(overrides)}")
            return self.transformation
        return self.factory(**{**self.kwargs, **overrides})

    @property
    def lr(self) -> float | None:
        """The learning rate this entry trains with, where it is known (given in the spec, or
        a jaxlearn rule's default, which the rule declares); None otherwise."""
        if self.lr_name is not None and self.lr_name in self.kwargs:
            return float(self.kwargs[self.lr_name])
        if self.rule is not None:
            return float(self.build().hyperparams["lr"])
        return None

    def check(self, lr: float | None = None) -> None:
        """Build the optimizer once (no arrays) so a spec that cannot be built fails before any
        training: SpecError with the factory's own complaint."""
        try:
            self.build() if lr is None else self.with_lr(lr)
        except (TypeError, ValueError) as err:
            if isinstance(err, SpecError):
                raise
            hint = f"; give it in the spec ({self.lr_name}=...)" if self.lr_name else ""
            raise SpecError(f"{self.label}: cannot build the optimizer ({err}){hint}") from None

    def with_lr(self, lr: Any) -> optax.GradientTransformation:
        """The optimizer at learning rate ``lr`` (a sweep's point); SpecError if it has none."""
        if self.lr_name is None:
            raise SpecError(
                f"{self.label}: a learning-rate sweep needs a factory with an lr / learning_rate "
                "argument (a jaxlearn rule name, a spec, or 'optax:NAME'), not a ready optimizer"
            )
        return self.build(**{self.lr_name: lr})


def _value(key: str, text: str, spec: str) -> Any:
    words = {"true": True, "false": False, "none": None}
    if text.lower() in words:
        return words[text.lower()]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SpecError(
            f"{spec!r}: the value {text!r} of {key!r} does not parse as a number "
            "(or true/false/none)"
        )
    return value


def _arguments(body: str, spec: str) -> dict[str, Any]:
    out = {}
    for item in filter(None, body.split(",")):
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SpecError(f"{spec!r}: {item!r} is not key=value")
        out[key] = _value(key, text.strip(), spec)
    return out


def _contrib_optimizers() -> list[str]:
    """``optax.contrib``'s optimizers by name (its lower-case callables, not ``scale_by_*``)."""
    contrib = importlib.import_module(OPTAX_CONTRIB)
    names = [n for n in dir(contrib) if n.islower() and not n.startswith(("_", "scale_by_"))]
    return sorted(n for n in names if callable(getattr(contrib, n)))


def _user_factory(module: str, name: str, spec: str) -> Callable:
    """``module.name`` imported from the current folder or ``PYTHONPATH``; SpecError if not."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:  # the current folder, as `python -m` would see it, for this import only
        sys.path.insert(0, cwd)
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        raise SpecError(
            f"{spec!r}: {module!r} is not a jaxlearn rule, 'optax', 'optax.contrib', or a module "
            f"importable from {cwd} or PYTHONPATH ({err})"
        ) from None
    finally:
        if added:
            sys.path.remove(cwd)
    factory = getattr(mod, name, None)
    if not callable(factory) or hasattr(factory, "init"):
        raise SpecError(
            f"{spec!r}: {module}.{name} is not an optimizer factory (a function returning an "
            "optax.GradientTransformation)"
        )
    return factory


def user_lr_name(factory: Callable) -> str:
    """The learning-rate argument of a user's factory: ``'lr'`` when its ``search_space``
    attribute names ``lr``, else optax's ``'learning_rate'``."""
    space = getattr(factory, "search_space", None) or {}
    return "lr" if "lr" in space and "learning_rate" not in space else "learning_rate"


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def spec_name(title: str, kwargs: Mapping[str, Any], lr_name: str | None) -> str:
    """The name a spec is shown by: ``title`` and its settings other than the learning rate.

    >>> spec_name('Adam', {'lr': 0.003, 'beta2': 0.99}, 'lr')
    'Adam beta2=0.99'
    """
    settings = [f"{k}={_shown(v)}" for k, v in kwargs.items() if k != lr_name]
    return " ".join([title, *settings])


def _optax_aliases() -> list[str]:
    """optax's optimizer aliases by name (``adam``, ``adamw``, ``lion``, ...)."""
    public = [n for n in dir(optax) if not n.startswith("_") and callable(getattr(optax, n))]
    aliases = [n for n in public if getattr(optax, n).__module__ == OPTAX_ALIAS_MODULE]
    return sorted(aliases or public)


def _allowed(factory: Callable, name: str, kwargs: Mapping[str, Any], spec: str) -> None:
    """SpecError listing the factory's arguments when ``kwargs`` names one it does not take."""
    parameters = inspect.signature(factory).parameters  # for the error message only
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise SpecError(
            f"{spec!r}: {name} has no argument {', '.join(map(repr, unknown))}; its arguments "
            f"are {', '.join(parameters)}"
        )


def parse_spec(spec: str | tuple, label: str | None = None) -> Entry:
    """An :class:`Entry` from ``'NAME'``, ``'NAME:key=value,...'``, ``'optax:NAME:key=value,...'``
    or ``('NAME', {key: value})``; ``label`` defaults to the spec as written, and names the
    entry when given.

    >>> e = parse_spec('adam:lr=0.003')
    >>> e.label, e.name, e.build().hyperparams['lr']
    ('adam:lr=0.003', 'Adam', 0.003)
    >>> e = parse_spec('optax:adamw:learning_rate=0.001,weight_decay=1e-4')
    >>> e.lr_name, e.name
    ('learning_rate', 'optax.adamw weight_decay=0.0001')
    >>> parse_spec('adma')
    Traceback (most recent call last):
    jaxlearn.experiments.specs.SpecError: 'adma': unknown update rule 'adma'; the rules are sgd, ...
    """
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[0], str) or not isinstance(spec[1], Mapping):
            raise SpecError(f"{spec!r}: a tuple spec is (rule name, {{argument: value}})")
        name, kwargs = spec[0], dict(spec[1])
        text = f"{name}:" + ",".join(f"{k}={v}" for k, v in kwargs.items()) if kwargs else name
        return _rule_entry(name, kwargs, label, text)
    if not isinstance(spec, str) or not spec:
        raise SpecError(f"a spec is a non-empty string or a (name, {{...}}) tuple, got {spec!r}")
    head, _, rest = spec.partition(":")
    if head == OPTAX_CONTRIB:
        contrib = importlib.import_module(OPTAX_CONTRIB)
        return _alias_entry(spec, label, contrib, OPTAX_CONTRIB, _contrib_optimizers(), rest)
    if head not in RULES and head != OPTAX and rest and "=" not in rest.partition(":")[0]:
        name, _, body = rest.partition(":")  # MODULE:FACTORY[:key=value,...]
        factory, kwargs = _user_factory(head, name, spec), _arguments(body, spec)
        lr_name = user_lr_name(factory)
        shown = "" if label else spec_name(f"{head}.{name}", kwargs, lr_name)
        return Entry(label or spec, factory, kwargs, lr_name, name=shown)
    if head == OPTAX:
        return _alias_entry(spec, label, optax, OPTAX, _optax_aliases(), rest)
    return _rule_entry(head, _arguments(rest, spec), label, spec)


def _alias_entry(
    spec: str, label: str | None, module: Any, module_name: str, known: Sequence[str], rest: str
) -> Entry:
    """The entry of ``module_name:NAME[:key=value,...]`` (``rest`` is what follows the module's
    name): an optimizer ``module`` exports, with optax's ``learning_rate`` argument."""
    name, _, body = rest.partition(":")
    if name not in known:
        raise SpecError(
            f"{spec!r}: {module_name} has no optimizer {name!r}; its optimizers are "
            f"{', '.join(known)}"
        )
    kwargs = _arguments(body, spec)
    factory = getattr(module, name)
    _allowed(factory, f"{module_name}.{name}", kwargs, spec)
    shown = "" if label else spec_name(f"{module_name}.{name}", kwargs, "learning_rate")
    return Entry(label or spec, factory, kwargs, lr_name="learning_rate", name=shown)


def _rule_entry(name: str, kwargs: dict, label: str | None, spec: str) -> Entry:
    if name not in RULES:
        raise SpecError(
            f"{spec!r}: unknown update rule {name!r}; the rules are {', '.join(RULES)} "
            f"(or {OPTAX}:NAME for an optax optimizer)"
        )
    known = RULES[name]().hyperparams  # the arguments the rule declares
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise SpecError(
            f"{spec!r}: {name} has no argument {', '.join(map(repr, unknown))}; its arguments "
            f"are {', '.join(known)}"
        )
    shown = "" if label else spec_name(display(name), kwargs, "lr")
    return Entry(label or spec, RULES[name], kwargs, lr_name="lr", rule=name, name=shown)


def resolve_entries(rules: Sequence[Any] | Mapping[str, Any]) -> dict[str, Entry]:
    """``{label: Entry}`` from a sequence of specs or a mapping ``{label: spec or optimizer}``.

    Every spec is checked here, so a bad one fails before any training.

    >>> list(resolve_entries(['sgd', ('adam', {'lr': 3e-3})]))
    ['sgd', 'adam:lr=0.003']
    """
    one_tuple = isinstance(rules, tuple) and len(rules) == 2 and isinstance(rules[1], Mapping)
    if isinstance(rules, str) or one_tuple:
        rules = [rules]
    items = list(rules.items()) if isinstance(rules, Mapping) else [(None, r) for r in rules]
    if not items:
        raise SpecError("rules: empty; name at least one optimizer")
    entries: dict[str, Entry] = {}
    for label, value in items:
        if hasattr(value, "init") and hasattr(value, "update"):
            if label is None:
                raise SpecError(
                    "a ready optimizer needs a label: pass a mapping {label: optimizer}"
                )
            entry = Entry(label, transformation=value)
        else:
            entry = parse_spec(value, label)
        if entry.label in entries:
            raise SpecError(f"rules: the label {entry.label!r} is given twice")
        entries[entry.label] = entry
    return entries
