"""jaxlearn's fused step with the native kernels, against its XLA path, optax and PyTorch.

    .venv/bin/python -m benchmarks.run --only native [--quick]

One optimizer step ``(params, state) -> (params + ΔW, new_state)`` per implementation, for the
six rules on three trees: (i) one leaf of 25 M, (ii) the ResNet-50 tree (161 leaves), (iii)
2,000 leaves of 1,000. All rows of a (tree, rule) are timed in the same rounds
(``protocol.py``: the jax rows, then the PyTorch rows, each group rotated round by round; the
median of the timed rounds), with the in-place axpy ``y <- y + s x`` over the same number of
elements as the reference: jax's (``y`` donated) and PyTorch's ``y.add_(x, alpha=s)``, the
faster of the two being the machine's rate for 3 arrays.

* ``jaxlearn``: ``jaxlearn.optim.fused_step(jl.<rule>())``, i.e. ``update_and_apply`` jitted
  with donation: the default path, through the native kernels when they are built;
* ``jaxlearn XLA``: the same, traced with the kernels off (``native.use_kernels(False)``);
* ``jaxlearn flat`` / ``jaxlearn flat XLA``: flat mode (``jl.optim.flat``), tree (iii);
* ``optax``: the optax twin, ``update`` + ``apply_updates`` in one donated jit;
* ``jit identity`` (tree (iii)): a donated jitted function that returns the params unchanged,
  with the gradients passed in: what passing this tree through any jitted step costs, before
  any arithmetic (the floor of every per-leaf jax row on that tree);
* ``torch loop / foreach / fused``: ``torch.optim`` with ``foreach=False`` / ``foreach=True`` /
  ``fused=True`` (Nesterov: ``SGD(nesterov=True, fused=True)``; RMSprop has no fused form).

``axpy share`` is a row's bandwidth (the arrays its rule must move: SGD 3, Adam 7, the others 5)
over the axpy's. ``target`` checks the targets on the rows they concern. The native results are
checked against the XLA path's on every run. :func:`loop_rows` times tree (iii) inside a
compiled ``fori_loop`` (no per-step dispatch), as ``train()`` runs a step.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import protocol, torch_optim
from benchmarks.bench_optimizers import RULES, _make_tree, _optax_step, _Runner, resnet50_shapes
from jaxlearn.optim import flat, fused_step, native, ravel

#: Rules with a PyTorch fused form; RMSprop's target is the axpy's rate instead.
TORCH_FUSED = ("sgd", "momentum", "nesterov", "adagrad", "adam")


def _jax_runner(name, opt, params, grads, on: bool) -> _Runner:
    """A donated jitted step, traced and compiled now with the kernels on or off; its
    ``first_s`` is trace + compile + the first call (inputs ready beforehand)."""
    params, state, grads = jax.block_until_ready((params, opt.init(params), grads))
    t0 = time.perf_counter()
    with native.use_kernels(on):
        compiled = fused_step(opt).lower(params, state, grads).compile()
    compile_s = time.perf_counter() - t0
    runner = _Runner(name, compiled, params, state, grads)
    runner.run(timed=False)
    runner.first_s += compile_s
    return runner


def _identity_runner(shapes) -> _Runner:
    """The params through a donated jit unchanged, the gradients passed in too."""
    step = jax.jit(lambda params, state, grads: (params, state), donate_argnums=(0,))
    return _Runner("jit identity", step, _make_tree(shapes, 0), (), _make_tree(shapes, 1))


def _axpy_runner(n: int) -> _Runner:
    """jax's in-place axpy ``y <- y + s x`` over ``n`` float32, ``y`` donated."""
    step = jax.jit(lambda y, x, s: y + s * x, donate_argnums=(0,))
    x = jnp.full((n,), 1e-3, jnp.float32)
    return _Runner("jax axpy", lambda y, xx, s: (step(y, xx, s), xx), jnp.ones(n), x, 0.999)


def bench_case(label: str, shapes: list, rule: str, rounds: int, many: bool) -> list[dict]:
    make_jl, make_optax, n_arrays = RULES[rule]
    n = int(sum(np.prod(s, dtype=np.int64) for s in shapes))
    grads = _make_tree(shapes, 1)
    jax_runners = []
    if native.native_available():
        jax_runners.append(_jax_runner("jaxlearn", make_jl(), _make_tree(shapes, 0), grads, True))
    jax_runners.append(_jax_runner("jaxlearn XLA", make_jl(), _make_tree(shapes, 0), grads, False))
    if many:
        fg, _ = ravel(grads)
        for name, on in (("jaxlearn flat", True), ("jaxlearn flat XLA", False)):
            if on and not native.native_available():
                continue
            fp = ravel(_make_tree(shapes, 0))[0]
            jax_runners.append(_jax_runner(name, flat(make_jl()), fp, fg, on))
        jax_runners.append(_identity_runner(shapes))
    twin = make_optax()
    p = _make_tree(shapes, 0)
    optax_runner = _Runner("optax", _optax_step(twin), p, twin.init(p), grads)
    jax_runners.append(optax_runner)
    jax_axpy = _axpy_runner(n)
    jax_runners.append(jax_axpy)
    np_params = [np.asarray(x) for x in _make_tree(shapes, 0)]
    torch_runners = torch_optim.runners(rule, np_params, [np.asarray(g) for g in grads])
    torch_axpy = torch_optim.axpy_runner(n)
    if torch_axpy is not None:
        torch_runners.append(torch_axpy)
    wake_torch = torch_optim.axpy_runner(min(n, 1 << 20))
    protocol.interleave(
        [
            (jax_runners, lambda: jax_axpy.run(timed=False)),
            (torch_runners, None if wake_torch is None else lambda: wake_torch.run(False)),
        ],
        rounds,
    )

    # The kernels give the XLA path's numbers (same rule, same steps).
    by_name = {run.name: run for run in jax_runners}
    for a, b in (("jaxlearn", "jaxlearn XLA"), ("jaxlearn flat", "jaxlearn flat XLA")):
        if a in by_name:
            for x, y in zip(jax.tree.leaves(by_name[a].params), jax.tree.leaves(by_name[b].params)):
                np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)

    runners = jax_runners + torch_runners
    med = protocol.medians(runners)
    axpys = [r.name for r in (jax_axpy, torch_axpy) if r is not None]
    axpy_gbs = max(3 * 4 * n / med[a] / 1e9 for a in axpys)
    torch_ref = med.get("torch fused")
    rows = []
    for run in runners:
        t = med[run.name]
        arrays = 3 if run.name in axpys else n_arrays
        gbs = arrays * 4 * n / t / 1e9
        rows.append(
            {
                "tree": label,
                "rule": rule,
                "impl": run.name,
                "ms": 1e3 * t,
                "GB/s": gbs,
                "axpy share": gbs / axpy_gbs,
                "time/torch fused": None if torch_ref is None else t / torch_ref,
                "time/optax": t / med["optax"],
                "first_step_s": getattr(run, "first_s", None),
                "first/optax": (run.first_s / optax_runner.first_s)
                if run.name.startswith(("jaxlearn", "optax"))
                else None,
                "target": _target(many, rule, run.name, t, torch_ref, gbs / axpy_gbs),
            }
        )
    return rows


def _target(many: bool, rule: str, impl: str, t: float, torch_fused, share: float) -> str | None:
    """The target for this row, and whether this run meets it: on the default path
    (``jaxlearn``), at most 0.5x PyTorch fused's time on tree (iii) and 1.0x on (i) and (ii);
    RMSprop (no PyTorch fused) at least 40 % of the axpy's rate on (iii) and 90 % on (i), (ii).
    """
    if impl != "jaxlearn":
        return None
    if rule in TORCH_FUSED and torch_fused is not None:
        limit = 0.5 if many else 1.0
        return f"<={limit}x torch fused: {'met' if t / torch_fused <= limit else 'missed'}"
    if rule not in TORCH_FUSED:
        need = 0.4 if many else 0.9
        return f">={need:.0%} axpy: {'met' if share >= need else 'missed'}"
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


def loop_rows(quick: bool = False, rules: tuple[str, ...] = ("sgd", "adam")) -> list[dict]:
    """Tree (iii) inside a compiled loop: ``lax.fori_loop`` over ``update_and_apply`` (default
    path, native) against the same loop in flat mode, per step, compile time apart (no
    per-step dispatch: how ``train()`` runs a step)."""
    shapes = [(1000,)] * (200 if quick else 2000)
    steps = 10
    out = []
    for rule in rules:
        make_jl = RULES[rule][0]
        g = _make_tree(shapes, 1)
        runners = []
        for name, opt, params, grads in (
            ("jaxlearn, in a loop", make_jl(), _make_tree(shapes, 0), g),
            ("jaxlearn flat, in a loop", flat(make_jl()), ravel(_make_tree(shapes, 0))[0],
             ravel(g)[0]),
        ):  # fmt: skip

            def run(params, state, grads, opt=opt):
                def body(_, carry):
                    return opt.update_and_apply(grads, carry[1], carry[0])

                return jax.lax.fori_loop(0, steps, body, (params, state))

            state = opt.init(params)
            t0 = time.perf_counter()
            compiled = jax.jit(run, donate_argnums=(0, 1)).lower(params, state, grads).compile()
            runner = _Runner(name, compiled, params, state, grads)
            runner.compile_s = time.perf_counter() - t0
            runners.append(runner)
        protocol.interleave([(runners, None)], rounds=3 if quick else 9, warmup=1)
        med = protocol.medians(runners)
        for run in runners:
            out.append(
                {
                    "tree": f"(iii) {len(shapes)} x 1000",
                    "rule": rule,
                    "impl": run.name,
                    "ms per step": 1e3 * med[run.name] / steps,
                    "time/flat": med[run.name] / med["jaxlearn flat, in a loop"],
                    "compile_s": run.compile_s,
                }
            )
        jax.clear_caches()
    return out


def rows(quick: bool = False, rules: list[str] | None = None) -> list[dict]:
    """The section's rows (the protocol ``benchmarks.run`` calls), then :func:`loop_rows`
    printed as their own table."""
    print(native.native_status())
    why = torch_optim.unavailable()
    print(f"torch: {why}" if why else f"torch {torch_optim.version()}")
    out = []
    for label, shapes in trees(quick).items():
        for rule in rules or list(RULES):
            out += bench_case(
                label, shapes, rule, rounds=5 if quick else 15, many=len(shapes) >= 200
            )
            jax.clear_caches()
    from benchmarks.run import print_table

    print("\nTree (iii) in a compiled loop (per step):\n")
    print_table(loop_rows(quick), LOOP_COLUMNS)
    return out


COLUMNS = [
    ("tree", "{}"),
    ("rule", "{}"),
    ("impl", "{}"),
    ("ms", "{:.3f}"),
    ("GB/s", "{:.1f}"),
    ("axpy share", "{:.0%}"),
    ("time/torch fused", "{:.2f}"),
    ("time/optax", "{:.2f}"),
    ("first_step_s", "{:.2f}"),
    ("first/optax", "{:.2f}"),
    ("target", "{}"),
]
LOOP_COLUMNS = [
    ("tree", "{}"),
    ("rule", "{}"),
    ("impl", "{}"),
    ("ms per step", "{:.3f}"),
    ("time/flat", "{:.2f}"),
    ("compile_s", "{:.1f}"),
]
