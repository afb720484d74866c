"""The protocol: one (problem, optimizer) *cell*, tuned fairly and evaluated on fresh seeds.

1. **Tune.** K trials drawn quasi-randomly from the optimizer's search space
   (``SearchSpace.sample``) train at once in one ``vmap``-ed
   program (:func:`jaxlearn.train.train_many`, the hyper-parameters in the optimizer state).
   Every trial starts from the same weights and sees the same mini-batches, the same for every
   optimizer (*common random numbers*: the K settings differ in their hyper-parameters only,
   so the tuning compares them as paired runs; and the batch is gathered once for all K).
   Only the training and validation splits are given to the program: the test split is never
   read while tuning.
2. **Choose** the trial that reached the validation target in the fewest steps (AlgoPerf's
   criterion), the best final validation value among equally fast ones or when none did.
   Diverged trials (a non-finite final value) are kept and counted, never chosen; a chosen
   value in the outer tenth of its range is flagged (the best may lie outside it).
3. **Evaluate.** The chosen setting trains again on E fresh evaluation seeds, *paired*: seed
   ``i`` gives every optimizer the same initial weights and the same data order, and no
   evaluation seed is a tuning seed. These runs record validation and test metrics at every
   evaluation step, steps to target, time per step (compilation apart) and the optimizer
   state's size.

:func:`run_cell` does all three and returns the cell's JSON-ready record (its layout:
``docs/suite.md``).
"""

from __future__ import annotations

import functools
import math
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.suite.optimizers import SuiteOptimizer
from jaxlearn.suite.problem import Problem
from jaxlearn.train import train_many
from jaxlearn.train.model import evaluate

__all__ = [
    "PROTOCOL_VERSION", "SEED", "choose", "phase_keys", "run_cell", "run_keys", "steps_to_target",
]  # fmt: skip

#: Bumped whenever the protocol changes what a cell records or how (stored results of another
#: version are never compared with new ones). 2: the tuning trials share one seed.
PROTOCOL_VERSION = 2
#: The root of every key of the suite (with the problem's name and the phase).
SEED = 0
_PHASES = {"tune": 0, "eval": 1}


def run_keys(problem: Problem, phase: str, n: int) -> tuple[jax.Array, jax.Array]:
    """``(init_keys, train_keys)``, ``n`` of each: run ``i`` of ``phase`` (``'tune'`` or
    ``'eval'``) on ``problem``, the same for every optimizer.

    >>> from jaxlearn.suite.problems import get
    >>> a, _ = run_keys(get("quadratic"), "eval", 3)
    >>> b, _ = run_keys(get("quadratic"), "tune", 3)
    >>> a.shape, bool((jax.random.key_data(a) != jax.random.key_data(b)).any())
    ((3,), True)
    """
    base = jax.random.fold_in(jax.random.key(SEED), zlib.crc32(problem.name.encode()))
    phase_key = jax.random.fold_in(base, _PHASES[phase])
    keys = jax.vmap(lambda i: jax.random.split(jax.random.fold_in(phase_key, i)))(jnp.arange(n))
    return keys[:, 0], keys[:, 1]


def phase_keys(problem: Problem, phase: str, k: int) -> tuple[jax.Array, jax.Array]:
    """``(init_keys, key)`` for ``k`` runs of ``phase`` trained in one program: for ``'tune'``
    all ``k`` runs share run 0's initial weights and one data key (``key`` is one key, for
    ``train_many(..., share_batches=True)``); for ``'eval'`` run ``i`` has seed ``i``'s keys
    (``key`` holds ``k`` keys).

    >>> from jaxlearn.suite.problems import get
    >>> init, key = phase_keys(get("quadratic"), "tune", 3)
    >>> same = jax.random.key_data(init) == jax.random.key_data(init[0])
    >>> init.shape, key.shape, bool(same.all())
    ((3,), (), True)
    >>> phase_keys(get("quadratic"), "eval", 3)[1].shape
    (3,)
    """
    if phase != "tune":
        return run_keys(problem, phase, k)
    init_keys, train_keys = run_keys(problem, phase, 1)
    return jnp.repeat(init_keys, k), train_keys[0]


def steps_to_target(curve: Any, eval_steps: Any, problem: Problem) -> int | None:
    """The first evaluation step at which ``curve`` (the validation target metric) reaches the
    problem's target; None when it never does (reported as ∞).

    >>> from jaxlearn.suite.problem import Target
    >>> p = Problem(target=Target("loss", "min", 1.0))
    >>> steps_to_target([3.0, 0.9, 1.2], [10, 20, 30], p), steps_to_target([3.0], [10], p)
    (20, None)
    """
    hit = np.flatnonzero(problem.target.reached(curve))
    return int(np.asarray(eval_steps)[hit[0]]) if hit.size else None


def choose(finals: Any, steps: Any, problem: Problem) -> int | None:
    """The chosen trial: the one that reached the validation target in the fewest steps
    (AlgoPerf's criterion: the suite's measure is time to target); among equally fast ones,
    or when none reached it, the best final value. None when every trial diverged.

    >>> from jaxlearn.suite.problem import Target
    >>> p = Problem(target=Target("acc", "max", 0.6))
    >>> choose([0.5, float("nan"), 0.7, 0.8], [None, None, 300, 300], p)  # equally fast: 0.8
    3
    >>> choose([0.5, 0.55], [None, None], p)  # none reached the target: the best final value
    1
    """
    finals = np.asarray(finals, np.float64)
    ok = np.isfinite(finals)
    if not ok.any():
        return None
    sign = -1.0 if problem.target.mode == "max" else 1.0  # smaller key is better
    keys = [(np.inf if s is None else s, sign * f, j)
            for j, (f, s) in enumerate(zip(finals, steps)) if ok[j]]  # fmt: skip
    return min(keys)[2]


def _json(x: Any) -> Any:
    """NumPy to JSON-ready lists, with None for NaN and ±inf."""
    if isinstance(x, dict):
        return {k: _json(v) for k, v in x.items()}
    a = np.asarray(x, np.float64)
    if a.ndim == 0:
        return float(a) if math.isfinite(a) else None
    return [_json(v) for v in a]


@functools.lru_cache(maxsize=32)
def _start_metrics(problem: Problem, split: str):
    data = problem.data()[split]

    @jax.jit
    def start(params, state):
        return jax.vmap(lambda p, s: evaluate(problem, p, s, *data, chunk=problem.eval_batch_size))(
            params, state
        )

    return start


def _state_bytes(build, hyperparams: dict, params: Any) -> int:
    """Bytes of one run's optimizer state (without the injected hyper-parameters)."""
    one = jax.tree.map(lambda a: a[0], params)
    shapes = jax.eval_shape(lambda p: build(**hyperparams).init(p), one)
    return int(sum(math.prod(s.shape) * s.dtype.itemsize for s in jax.tree.leaves(shapes)))


def _train(problem, optimizer, values, phase, splits, progress, desc):
    """K runs (one per setting in ``values``) with :func:`phase_keys`'s keys, in one program."""
    init_keys, key = phase_keys(problem, phase, len(values))
    params, state = jax.vmap(problem.init)(init_keys)
    hyperparams = {name: [v[name] for v in values] for name in optimizer.space.names}
    build = optimizer.factory(problem.steps)
    data = {s: problem.data()[s] for s in ("train", *splits)}
    result = train_many(
        problem, params, state, build, data, key=key, share_batches=key.ndim == 0,
        hyperparams=hyperparams,
        iterations=problem.steps, batch_size=problem.batch_size, eval_every=problem.eval_every,
        eval_on=splits, eval_batch_size=problem.eval_batch_size, replace=problem.replace,
        progress=progress, desc=desc, trials_at_once=problem.trials_at_once,
    )  # fmt: skip
    # the metrics at step 0, on the splits this phase may read
    start = {split: _start_metrics(problem, split)(params, state) for split in splits}
    state_bytes = _state_bytes(build, values[0], params)
    return result, start, state_bytes


def run_cell(
    problem: Problem, optimizer: SuiteOptimizer, budget: int, seeds: int,
    progress: bool | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Tune ``optimizer`` on ``problem`` with ``budget`` trials, evaluate the chosen setting
    on ``seeds`` paired seeds; the cell's JSON-ready record (see the module docstring)."""
    metric = problem.target.metric
    trials = optimizer.space.sample(budget)
    tuned, _, _ = _train(problem, optimizer, trials, "tune", ("valid",), progress,
                         f"{problem.name} · {optimizer.label} · tune {budget}")  # fmt: skip
    steps = tuned.eval_iterations
    curves = tuned.metrics["valid"][metric]
    finals = curves[:, -1]
    reached = [steps_to_target(c, steps, problem) for c in curves]
    best = choose(finals, reached, problem)
    tune = {
        "hyperparams": trials,
        "final": _json(finals),
        "diverged": int((~np.isfinite(finals)).sum()),
        "steps_to_target": reached,
        "curves": _json(curves),
        "compile_seconds": _json(tuned.timing.compile),
        "seconds_per_step": _json(tuned.timing.step),
    }
    cell = {"problem": problem.name, "optimizer": optimizer.spec, "label": optimizer.label,
            "eval_steps": steps.tolist(), "tune": tune, "chosen": None, "eval": None}  # fmt: skip
    if best is None:
        return cell
    chosen = trials[best]
    cell["chosen"] = {"trial": best, "hyperparams": chosen,
                      "boundary": optimizer.space.near_boundary(chosen)}  # fmt: skip
    result, start, state_bytes = _train(
        problem, optimizer, [chosen] * seeds, "eval", ("valid", "test"), progress,
        f"{problem.name} · {optimizer.label} · {seeds} seeds",
    )  # fmt: skip
    valid = result.metrics["valid"]
    cell["eval"] = {
        "seeds": list(range(seeds)),
        "start": {split: _json(values) for split, values in start.items()},
        "valid": _json(valid),
        "test": _json(result.metrics["test"]),
        "final": {
            split: _json(result.metrics[split][metric][:, -1]) for split in ("valid", "test")
        },
        "steps_to_target": [steps_to_target(c, steps, problem) for c in valid[metric]],
        "train_loss": _json(result.loss[:, :: max(len(result.loss[0]) // 200, 1)]),
        "compile_seconds": _json(result.timing.compile),
        "seconds_per_step": _json(result.timing.step),
        "state_bytes": state_bytes,
    }
    return cell
