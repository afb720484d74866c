"""Update paths on f(x, y) = x²/20 + y² (the book's figures 6-3, 6-5, 6-6, 6-8 and 6-9).

The function is 20 times steeper in y than in x, so plain SGD zig-zags across the valley while
creeping along it; Momentum rolls like a ball; AdaGrad damps the y motion quickly; Adam rolls
with less swing.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.experiments.display import display
from jaxlearn.experiments.records import Result
from jaxlearn.experiments.report import Report
from jaxlearn.optim import RULES, apply_updates

#: Learning rates of the book's figure (SGD, Momentum, AdaGrad, Adam), plus Nesterov and
#: RMSprop at rates that show their character on the same plot.
PATH_LEARNING_RATES: dict[str, float] = {
    "sgd": 0.95,
    "momentum": 0.1,
    "nesterov": 0.1,
    "adagrad": 1.5,
    "rmsprop": 0.15,
    "adam": 0.3,
}


def valley(xy: jax.Array) -> jax.Array:
    """The book's test function ``f(x, y) = x²/20 + y²`` (minimum 0 at the origin).

    >>> float(valley(jnp.array([-7.0, 2.0])))
    6.45
    """
    return xy[..., 0] ** 2 / 20.0 + xy[..., 1] ** 2


def update_paths(
    learning_rates: Mapping[str, float] | None = None,
    *,
    steps: int = 30,
    start: tuple[float, float] = (-7.0, 2.0),
) -> Result:
    r"""Run each update rule from ``start`` on ``f(x, y) = x²/20 + y²`` for ``steps`` updates.

    Each path is one compiled ``lax.scan``; the gradient comes from ``jax.grad``
    (``∇f = (x/10, 2y)``).

    Args:
      learning_rates: ``{rule name: η}``; defaults to :data:`PATH_LEARNING_RATES` (the book's
        SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3, plus Nesterov and RMSprop).
      steps: number of updates (book: 30).
      start: the starting point (book: (−7, 2)).

    Returns:
      A :class:`~jaxlearn.experiments.records.Result` ``{'experiment': 'paths', 'config': {'steps',
      'start'}, 'runs': {name: {'lr': η, 'path': (steps + 1, 2) float array, 'loss': (steps + 1,)
      array}}}``, NumPy arrays, the first row being ``start``.

    >>> r = update_paths({'sgd': 0.95}, steps=2)
    >>> r['runs']['sgd']['path'].round(3).tolist()  # y flips sign each step: the zig-zag
    [[-7.0, 2.0], [-6.335, -1.8], [-5.733, 1.62]]
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    rates = dict(PATH_LEARNING_RATES if learning_rates is None else learning_rates)
    unknown = sorted(set(rates) - set(RULES))
    if unknown:
        raise ValueError(f"unknown update rule(s) {unknown}; choose from {sorted(RULES)}")
    x0 = jnp.asarray(start, jnp.float32)
    if x0.shape != (2,):
        raise ValueError(f"start must be a pair (x, y), got shape {x0.shape}")
    grad_f = jax.grad(valley)
    results = {}
    for name, lr in rates.items():
        opt = RULES[name](lr=lr)

        @jax.jit
        def run(x0, opt=opt):
            def step(carry, _):
                x, state = carry
                updates, state = opt.update(grad_f(x), state, x)
                x = apply_updates(x, updates)
                return (x, state), x

            _, xs = jax.lax.scan(step, (x0, opt.init(x0)), None, length=steps)
            return jnp.concatenate([x0[None], xs])

        path = np.asarray(run(x0))
        results[name] = {"lr": float(lr), "path": path, "loss": np.asarray(valley(path))}
    config = {"steps": steps, "start": [float(v) for v in start]}
    return Result("paths", config, runs=results)


def report(result: dict) -> Report:
    """The table of :func:`update_paths`' result: where each rule ends."""
    c = result["config"]
    rows = [
        [display(n), r["lr"], float(r["path"][-1, 0]), float(r["path"][-1, 1]),
         float(r["loss"][-1])]
        for n, r in result["runs"].items()
    ]  # fmt: skip
    x0, y0 = (f"{v:g}" for v in c["start"])
    return Report(
        f"Update paths on f(x, y) = x²/20 + y² from ({x0}, {y0}), {c['steps']} steps",
        ["rule", "lr", "final x", "final y", "final f"],
        rows,
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The paths as long-format CSV rows ``(label, step, x, y, f)``: each rule's position and
    function value after every update (step 0 is the start)."""
    rows = [
        (label, step, float(x), float(y), float(f))
        for label, run in result["runs"].items()
        for step, ((x, y), f) in enumerate(zip(run["path"], run["loss"]))
    ]
    return ("label", "step", "x", "y", "f"), rows


__all__ = ["PATH_LEARNING_RATES", "report", "tidy", "update_paths", "valley"]
