"""The optimizer suite's problems: the time of one trial, and K trials in one vmapped program.

For each built-in problem (its quick variant with ``--quick``): the parameter count, the budget,
the seconds of one trial at that budget (Adam at its default setting, the suite's own training
program with K = 1, compilation apart), the compile time, and the time of K = 16 trials trained
together in one ``vmap``-ed program as a multiple of 16 separate trials (≤ 1: the vmapped
program costs no more).

The ratio compares the best of :data:`ROUNDS` interleaved runs of each (one trial, then K
trials, the order swapped every round), each over the whole budget: on this machine a single
pair of runs moved it by up to 25 % (one trial of ``mnist_autoencoder`` took 0.63 and 0.85 ms
per step in two runs a minute apart).

    .venv/bin/python -m benchmarks.run --only suite
"""

from __future__ import annotations

import math

import jax

from jaxlearn.suite import PROBLEMS, resolve
from jaxlearn.suite.protocol import phase_keys
from jaxlearn.train import train_many

COLUMNS = [
    ("problem", "{}"), ("parameters", "{:,}"), ("steps", "{}"), ("batch", "{}"),
    ("s / trial", "{:.2f}"), ("compile s", "{:.1f}"), ("K", "{}"),
    ("K vmapped / K single", "{:.2f}"),
]  # fmt: skip

#: Adam at the middle of its default space: a typical trial.
SETTING = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}
#: Interleaved (one trial, K trials) pairs behind each ratio.
ROUNDS = 2


def _trials(problem, k: int):
    """The seconds per step and the compile time of ``k`` trials in one program."""
    init_keys, key = phase_keys(problem, "tune", k)
    params, state = jax.vmap(problem.init)(init_keys)
    build = resolve("adam").factory(problem.steps)
    data = {s: problem.data()[s] for s in ("train", "valid")}
    r = train_many(
        problem, params, state, build, data, key=key, share_batches=key.ndim == 0,
        hyperparams={n: [v] * k for n, v in SETTING.items()}, iterations=problem.steps,
        batch_size=problem.batch_size, eval_every=problem.eval_every, eval_on=("valid",),
        eval_batch_size=problem.eval_batch_size, replace=problem.replace, progress=False,
        trials_at_once=problem.trials_at_once,
    )  # fmt: skip
    return r.timing.step, r.timing.compile, params


def vmapped_ratio(problem, k: int, rounds: int = ROUNDS) -> tuple[float, float, float]:
    """``(ratio, one, compile)``: the seconds per step of ``k`` trials in one program over
    ``k`` times one trial's, each the best of ``rounds`` interleaved runs (the order swapped
    every round); one trial's best seconds per step and its compile time."""
    ones, manys, compile_s = [], [], None
    for r in range(rounds):
        for size in (1, k) if r % 2 == 0 else (k, 1):
            step, compiled, _ = _trials(problem, size)
            (ones if size == 1 else manys).append(step)
            if size == 1 and compile_s is None:  # the first run of the program compiles it
                compile_s = compiled
    return min(manys) / (k * min(ones)), min(ones), compile_s


def rows(quick: bool = False) -> list[dict]:
    """One row per problem (quick variants and K = 2 with ``quick``)."""
    k = 2 if quick else 16
    out = []
    for problem in PROBLEMS.values():
        problem = problem.quick() if quick else problem
        problem.data()
        ratio, one, compile_s = vmapped_ratio(problem, k, rounds=1 if quick else ROUNDS)
        shapes = jax.eval_shape(problem.init, jax.random.key(0))[0]
        size = sum(math.prod(a.shape) for a in jax.tree.leaves(shapes))
        out.append({
            "problem": problem.name, "parameters": size, "steps": problem.steps,
            "batch": problem.batch_size, "s / trial": one * problem.steps,
            "compile s": compile_s, "K": k, "K vmapped / K single": ratio,
        })  # fmt: skip
    return out


if __name__ == "__main__":  # pragma: no cover
    from benchmarks.run import main

    main(["--only", "suite"])
