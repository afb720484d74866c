"""jaxlearn's fused step with the native kernels, against its XLA path, optax and PyTorch.

    .venv/bin/python -m benchmarks.run --only native [--quick]

One optimizer step ``(params, state) -> (params + ΔW, new_state)`` per implementation, on the
issue's three trees: (i) one leaf of 25 M, (ii) the ResNet-50 tree (161 leaves), (iii) 2,000
leaves of 1,000 (where flat mode is the fast path). All rows of a (tree, rule) are timed
interleaved, round by round (median of the timed rounds), with two triads in the same rounds:
jax's ``a * s + b`` (donated) and PyTorch's ``a.add_(b, alpha=s)`` (multi-threaded). The best of
the two is the machine's bandwidth at that size.

* ``jaxlearn``: ``jaxlearn.fast.fused_step(jl.<rule>())``, i.e. ``update_and_apply`` jitted with
  donation; the native kernels when they are built (the default path).
* ``jaxlearn XLA``: the same, traced with ``JAXLEARN_NATIVE=0`` (the pure-XLA path).
* ``jaxlearn flat`` / ``jaxlearn flat XLA``: flat mode (``jl.flat``; tree (iii) only).
* ``optax``: the optax twin, ``update`` + ``apply_updates`` in one donated jit.
* ``torch loop / foreach / fused``: ``torch.optim`` with ``foreach=False`` / ``foreach=True`` /
  ``fused=True`` (see ``torch_optim.py``; rows missing without torch).

The ``target`` column checks the issue's targets on the row they concern. The native results
are checked against the XLA path's on every run (to float rounding).
"""

from __future__ import annotations

import statistics
import time

import jax
import numpy as np

from benchmarks import torch_optim
from benchmarks.bench_optimizers import (
    RULES,
    _make_tree,
    _optax_step,
    _Runner,
    _triad_runner,
    resnet50_shapes,
)
from jaxlearn.fast import flat, fused_step, ravel
from jaxlearn.optim import native

#: Rules PyTorch fuses; the target for the others is bandwidth.
TORCH_FUSED = ("sgd", "momentum", "adagrad", "adam")


def _jax_runner(name, opt, params, grads, on: bool) -> _Runner:
    """A donated jitted step, traced and compiled now with the kernels on or off; its
    ``first_s`` is trace + compile + the first call (as the optimizer section's)."""
    params, state, grads = jax.block_until_ready((params, opt.init(params), grads))
    t0 = time.perf_counter()
    with native.kernels(on):
        compiled = fused_step(opt).lower(params, state, grads).compile()
    compile_s = time.perf_counter() - t0
    runner = _Runner(name, compiled, params, state, grads)
    runner.run(timed=False)
    runner.first_s += compile_s
    return runner


def bench_case(label: str, shapes: list, rule: str, rounds: int, with_flat: bool) -> list[dict]:
    make_jl, make_optax, n_arrays = RULES[rule]
    n = int(sum(np.prod(s, dtype=np.int64) for s in shapes))
    grads = _make_tree(shapes, 1)
    runners = []
    if native.native_available():
        runners.append(_jax_runner("jaxlearn", make_jl(), _make_tree(shapes, 0), grads, True))
    runners.append(_jax_runner("jaxlearn XLA", make_jl(), _make_tree(shapes, 0), grads, False))
    if with_flat:
        fg, _ = ravel(grads)
        for name, on in (("jaxlearn flat", True), ("jaxlearn flat XLA", False)):
            if on and not native.native_available():
                continue
            runners.append(
                _jax_runner(name, flat(make_jl()), ravel(_make_tree(shapes, 0))[0], fg, on)
            )
    twin = make_optax()
    p = _make_tree(shapes, 0)
    optax_runner = _Runner("optax", _optax_step(twin), p, twin.init(p), grads)
    runners.append(optax_runner)
    np_params = [np.asarray(x) for x in _make_tree(shapes, 0)]
    np_grads = [np.asarray(x) for x in grads]
    runners += torch_optim.runners(rule, np_params, np_grads)
    triads = [_triad_runner(n)]
    torch_triad = torch_optim.triad_runner(n)
    if torch_triad is not None:
        triads.append(torch_triad)
    for r in range(rounds + 2):
        for run in runners + triads:
            run.run(timed=r >= 2)

    # The kernels give the XLA path's numbers (same rule, same steps).
    by_name = {run.name: run for run in runners}
    for a, b in (("jaxlearn", "jaxlearn XLA"), ("jaxlearn flat", "jaxlearn flat XLA")):
        if a in by_name:
            for x, y in zip(jax.tree.leaves(by_name[a].params), jax.tree.leaves(by_name[b].params)):
                np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)

    med = {run.name: statistics.median(run.times) for run in runners + triads}
    triad_gbs = {t.name: 3 * 4 * n / med[t.name] / 1e9 for t in triads}
    best_triad = max(triad_gbs.values())
    torch_ref = med.get("torch fused")
    rows = []
    for run in runners:
        t = med[run.name]
        gbs = n_arrays * 4 * n / t / 1e9
        rows.append(
            {
                "tree": label,
                "rule": rule,
                "impl": run.name,
                "ms": 1e3 * t,
                "GB/s": gbs,
                "time/torch fused": None if torch_ref is None else t / torch_ref,
                "time/optax": t / med["optax"],
                "bw/best triad": gbs / best_triad,
                "first_step_s": run.first_s,
                "first/optax": run.first_s / optax_runner.first_s,
                "target": _target(label, rule, run.name, t, torch_ref, gbs / best_triad),
            }
        )
    for t in triads:
        rows.append(
            {
                "tree": label,
                "rule": rule,
                "impl": t.name,
                "ms": 1e3 * med[t.name],
                "GB/s": triad_gbs[t.name],
                "time/torch fused": None,
                "time/optax": None,
                "bw/best triad": triad_gbs[t.name] / best_triad,
                "first_step_s": None,
                "first/optax": None,
                "target": None,
            }
        )
    return rows


def _target(label: str, rule: str, impl: str, t: float, torch_fused, bw: float) -> str | None:
    """The issue's target for this row, and whether this run meets it."""
    many = label.startswith("(iii)")
    if not many and impl == "jaxlearn":
        if rule in TORCH_FUSED and torch_fused is not None:
            ratio = t / torch_fused
            return f"<=0.9x torch fused: {'met' if ratio <= 0.9 else 'missed'}"
        if rule not in TORCH_FUSED:
            return f">=90% best triad: {'met' if bw >= 0.9 else 'missed'}"
    if many and impl == "jaxlearn flat" and rule in TORCH_FUSED and torch_fused is not None:
        return f"<=0.2x torch fused: {'met' if t / torch_fused <= 0.2 else 'missed'}"
    return None


def trees(quick: bool) -> dict[str, list[tuple[int, ...]]]:
    if quick:
        return {
            "(i) 1 leaf x 1M": [(1_000_000,)],
            "(ii) ResNet-50/4 (161 leaves)": resnet50_shapes(4),
            "(iii) 200 x 1000": [(1000,)] * 200,
        }
    return {
        "(i) 1 leaf x 25M": [(25_000_000,)],
        "(ii) ResNet-50 (161 leaves, 25.6M)": resnet50_shapes(),
        "(iii) 2000 x 1000": [(1000,)] * 2000,
    }


def rows(quick: bool = False, rules: list[str] | None = None) -> list[dict]:
    """The section's rows (the protocol ``benchmarks.run`` calls)."""
    print(native.native_status())
    why = torch_optim.unavailable()
    print(f"torch: {why}" if why else f"torch {torch_optim.version()}")
    out = []
    for label, shapes in trees(quick).items():
        for rule in rules or list(RULES):
            out += bench_case(
                label, shapes, rule, rounds=5 if quick else 15, with_flat=len(shapes) >= 200
            )
            jax.clear_caches()
    return out


COLUMNS = [
    ("tree", "{}"),
    ("rule", "{}"),
    ("impl", "{}"),
    ("ms", "{:.3f}"),
    ("GB/s", "{:.1f}"),
    ("time/torch fused", "{:.2f}"),
    ("time/optax", "{:.2f}"),
    ("bw/best triad", "{:.0%}"),
    ("first_step_s", "{:.2f}"),
    ("first/optax", "{:.2f}"),
    ("target", "{}"),
]
