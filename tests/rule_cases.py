"""The per-rule test facts: one row per update rule in ``jaxlearn.RULES``, read by every test
that runs each rule (the book port ``tests/book_optimizers.py`` is the other per-rule index).

A rule added to ``jaxlearn.RULES`` without a row here fails ``tests/test_rule_cases.py`` (which
names it) and every per-rule test that looks it up (``CASES[name]`` says which row is missing);
no test skips it silently. Each field is required, so a new row states every fact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import optax

import jaxlearn as jl


@dataclasses.dataclass(frozen=True)
class RuleCase:
    """What the tests need to know about one rule.

    Attributes:
      defaults: the book's hyper-parameters and defaults (the positional-or-keyword
        arguments, in order); docs/book.md has the table they come from.
      options: the keyword-only options beyond the book, each with its default (off).
      custom: non-default hyper-parameters with no special value (no lr = 1, no α = 0), to
        catch a rule that ignores an argument.
      converge_lr: a learning rate with which the rule reaches the minimum of a 2-D parabola
        within 2e-2 in 2,000 steps (``tests/test_optim_behaviour.py``).
      state_fields: the fields of the state ``init`` returns with the options off.
      state_dtype: ``(option, accumulators)``: the state-dtype option and the accumulators it
        sets, or None for a rule without state.
      second_moment: ``(field, of_optax)``: the accumulator of ``|g|²`` sums (stored real for
        complex parameters) and where ``optax_twin``'s state keeps it; None if there is none.
      optax_twin: ``(ours, theirs)`` factories of the rule and the optax call it equals to
        float rounding, on real and complex parameters (``tests/test_optim_complex.py``).
      optax_state_dtype_twin: ``dtype -> (ours, theirs)`` with the state-dtype option set on
        both sides, where optax has that option; None where it has none.
      huge_gradient: what g = 1e30 does in float32/bfloat16 (``tests/test_extremes.py``):
        ``"steps"`` (a −η·g-sized step), ``"freezes"`` (g² = inf in the accumulator: the
        update is −0 from then on) or ``"finite"`` (Adam: v = inf, a −0 step, no NaN).
    """

    defaults: dict[str, Any]
    options: dict[str, Any]
    custom: dict[str, Any]
    converge_lr: float
    state_fields: tuple[str, ...]
    state_dtype: tuple[str, tuple[str, ...]] | None
    second_moment: tuple[str, Callable[[Any], Any]] | None
    optax_twin: tuple[Callable[[], Any], Callable[[], Any]]
    optax_state_dtype_twin: Callable[[Any], tuple[Any, Any]] | None
    huge_gradient: str

    @property
    def has_eps(self) -> bool:
        """The adaptive rules: an ε in the denominator (0/0 = NaN when ε = 0 and g = 0)."""
        return "eps" in self.defaults


class _Cases(dict):
    def __missing__(self, name: str) -> RuleCase:
        raise KeyError(f"rule {name!r} has no row in tests/rule_cases.py: add one")


CASES: dict[str, RuleCase] = _Cases(
    sgd=RuleCase(
        defaults={"lr": 0.01},
        options={},
        custom={"lr": 0.03},
        converge_lr=0.1,
        state_fields=("count",),
        state_dtype=None,
        second_moment=None,
        optax_twin=(lambda: jl.sgd(0.05), lambda: optax.sgd(0.05)),
        optax_state_dtype_twin=None,
        huge_gradient="steps",
    ),
    momentum=RuleCase(
        defaults={"lr": 0.01, "momentum": 0.9},
        options={"accumulator_dtype": None},
        custom={"lr": 0.02, "momentum": 0.8},
        converge_lr=0.05,
        state_fields=("count", "velocity"),
        state_dtype=("accumulator_dtype", ("velocity",)),
        second_moment=None,
        optax_twin=(lambda: jl.momentum(0.03, 0.85), lambda: optax.sgd(0.03, momentum=0.85)),
        optax_state_dtype_twin=lambda dtype: (
            jl.momentum(0.05, 0.9, accumulator_dtype=dtype),
            optax.sgd(0.05, 0.9, accumulator_dtype=dtype),
        ),
        huge_gradient="steps",
    ),
    nesterov=RuleCase(
        defaults={"lr": 0.01, "momentum": 0.9},
        options={"accumulator_dtype": None},
        custom={"lr": 0.02, "momentum": 0.7},
        converge_lr=0.05,
        state_fields=("count", "velocity"),
        state_dtype=("accumulator_dtype", ("velocity",)),
        second_moment=None,
        optax_twin=(
            lambda: jl.nesterov(0.03, 0.85),
            lambda: optax.sgd(0.03, momentum=0.85, nesterov=True),
        ),
        optax_state_dtype_twin=lambda dtype: (
            jl.nesterov(0.05, 0.9, accumulator_dtype=dtype),
            optax.sgd(0.05, 0.9, nesterov=True, accumulator_dtype=dtype),
        ),
        huge_gradient="steps",
    ),
    adagrad=RuleCase(
        defaults={"lr": 0.01, "eps": 1e-7},
        options={"accumulator_dtype": None},
        custom={"lr": 0.05, "eps": 1e-6},
        converge_lr=0.5,
        state_fields=("count", "sum_of_squares"),
        state_dtype=("accumulator_dtype", ("sum_of_squares",)),
        second_moment=("sum_of_squares", lambda s: s[0].sum_of_squares),
        optax_twin=(
            lambda: jl.adagrad(0.05, eps=0.0),
            lambda: optax.adagrad(0.05, initial_accumulator_value=0.0, eps=0.0),
        ),
        optax_state_dtype_twin=None,  # optax.adagrad has no state-dtype option
        huge_gradient="freezes",
    ),
    rmsprop=RuleCase(
        defaults={"lr": 0.01, "decay_rate": 0.99, "eps": 1e-7},
        options={"momentum": 0.0, "centered": False, "accumulator_dtype": None},
        custom={"lr": 0.02, "decay_rate": 0.9, "eps": 1e-5},
        converge_lr=0.02,
        state_fields=("count", "mean_square"),
        state_dtype=("accumulator_dtype", ("mean_square",)),
        second_moment=("mean_square", lambda s: s[0].nu),
        optax_twin=(
            lambda: jl.rmsprop(0.02, 0.95, 1e-4),
            lambda: optax.rmsprop(0.02, decay=0.95, eps=1e-4, eps_in_sqrt=False),
        ),
        optax_state_dtype_twin=None,  # optax.rmsprop has no state-dtype option
        huge_gradient="freezes",
    ),
    adam=RuleCase(
        defaults={"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
        options={"mu_dtype": None},
        custom={"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
        converge_lr=0.05,
        state_fields=("count", "m", "v"),
        state_dtype=("mu_dtype", ("m",)),
        second_moment=("v", lambda s: s[0].nu),
        optax_twin=(
            lambda: jl.adam(0.01, 0.8, 0.99, eps=0.0),
            lambda: optax.adam(0.01, b1=0.8, b2=0.99, eps=0.0),
        ),
        optax_state_dtype_twin=lambda dtype: (
            jl.adam(0.05, eps=0.0, mu_dtype=dtype),
            optax.adam(0.05, eps=0.0, mu_dtype=dtype),
        ),
        huge_gradient="finite",
    ),
)

#: The rules' names in ``jaxlearn.RULES``'s order: what per-rule tests parametrize over.
NAMES = list(jl.RULES)


def names_where(predicate: Callable[[RuleCase], Any]) -> list[str]:
    """The rules whose row satisfies ``predicate``, in ``jaxlearn.RULES``'s order (a rule with
    no row raises here, at collection, naming it)."""
    return [name for name in NAMES if predicate(CASES[name])]

