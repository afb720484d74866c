"""Learning-rate schedules that know the step budget: part of an optimizer's spec in the suite.

A schedule turns the tuned learning rate η (the peak) into η·s(t) for update t = 0, 1, …, T−1
of a T-step budget:

- ``constant``: s(t) = 1 (the book's rules as the book runs them; the default);
- ``warmup_cosine``: a linear warm-up from 0 over the first ``warmup_fraction``·T updates, then
  a cosine decay to 0 at T (AlgoPerf's baselines, "Descending through a crowded valley");
- ``linear_decay``: s(t) = 1 − t/T.

Every quantity of s may be a traced value, so the schedule's own parameters (the warm-up
fraction) are hyper-parameters like any other: they live in the optimizer state, are drawn by
the search and vmapped over. A schedule's default range for them is :data:`SCHEDULE_SPACES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

Array = jax.Array

__all__ = ["SCHEDULES", "SCHEDULE_SPACES", "multiplier", "with_schedule"]

#: The schedules by name.
SCHEDULES = ("constant", "warmup_cosine", "linear_decay")
#: The hyper-parameters each schedule adds to the optimizer's search space (JSON form).
SCHEDULE_SPACES: dict[str, dict[str, dict]] = {
    "constant": {},
    "warmup_cosine": {"warmup_fraction": {"feasible_points": [0.05]}},
    "linear_decay": {},
}


def multiplier(kind: str, step: Array, total: int, warmup_fraction: Any = 0.0) -> Array:
    r"""s(t) of schedule ``kind`` at update ``step`` of a ``total``-step budget.

    .. math:: s_\mathrm{wc}(t) = \begin{cases} t / w & t < w \\
        \tfrac12\bigl(1 + \cos(\pi\,\tfrac{t - w}{T - w})\bigr) & t \ge w \end{cases},
        \quad w = \mathrm{warmup\_fraction}\cdot T, \qquad s_\mathrm{lin}(t) = 1 - t/T

    with w rounded down to whole steps. optax equivalents:
    ``optax.warmup_cosine_decay_schedule(0, η, w, T)`` (its ``warmup_steps`` must be a Python
    int; here the fraction may be traced) and ``optax.linear_schedule(η, 0, T)``.

    >>> [round(float(multiplier("warmup_cosine", jnp.float32(t), 100, 0.1)), 4)
    ...  for t in (0, 5, 10, 55, 100)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    >>> float(multiplier("linear_decay", jnp.float32(25), 100))
    0.75
    """
    t = jnp.asarray(step, jnp.float32)
    if kind == "constant":
        return jnp.ones((), jnp.float32)
    if kind == "linear_decay":
        return jnp.clip(1.0 - t / total, 0.0, 1.0)
    if kind == "warmup_cosine":
        w = jnp.floor(jnp.asarray(warmup_fraction, jnp.float32) * total)  # whole steps
        warm = t / jnp.maximum(w, 1.0)
        progress = jnp.clip((t - w) / jnp.maximum(total - w, 1.0), 0.0, 1.0)
        return jnp.where(t < w, warm, 0.5 * (1.0 + jnp.cos(jnp.pi * progress)))
    raise ValueError(f"unknown schedule {kind!r}; the schedules are {', '.join(SCHEDULES)}")


def with_schedule(
    factory: Callable[..., optax.GradientTransformation], lr_name: str, kind: str, total: int
) -> Callable[..., optax.GradientTransformation]:
    """``factory`` whose ``lr_name`` argument is the peak η of schedule ``kind`` over ``total``
    updates; the schedule's parameters (``warmup_fraction``) are arguments too. ``constant``
    returns ``factory`` itself.

    >>> import jaxlearn as jl
    >>> opt = with_schedule(jl.sgd, "lr", "linear_decay", 4)(lr=1.0)
    >>> state = opt.init({"w": jnp.zeros(())})
    >>> steps = []
    >>> for _ in range(4):
    ...     u, state = opt.update({"w": jnp.ones(())}, state)
    ...     steps.append(float(u["w"]))
    >>> steps
    [-1.0, -0.75, -0.5, -0.25]
    """
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule {kind!r}; the schedules are {', '.join(SCHEDULES)}")
    if kind == "constant":
        return factory

    def build(**arguments: Any) -> optax.GradientTransformation:
        peak = arguments.pop(lr_name)
        warmup = arguments.pop("warmup_fraction", 0.0)

        def schedule(count: Array) -> Array:
            return peak * multiplier(kind, count, total, warmup)

        return factory(**{lr_name: schedule}, **arguments)

    build.__name__ = f"{getattr(factory, '__name__', 'optimizer')}@{kind}"
    return build
