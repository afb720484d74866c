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
compiled ``fori_loop`` (no per-step dispatch), as ``train()`` runs a step; :func:`sync_rows`
times one leaf blocked after every step and dispatched a few steps at a time; and
:func:`dispatch_rows` the jit identity by tree size (what passing a tree costs per leaf).
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import protocol, torch_optim
from benchmarks.bench_optimizers import RULES, _make_tree, _optax_step, _Runner, resnet50_shapes
from jaxlearn.optim import flat, fused_step, native, ravel

#: Rules with a PyTorch fused form; RMSprop's target is the axpy's rate instead.
TORCH_FUSED = ("sgd", "momentum", "nesterov", "adagrad", "adam")


def _jax_runner(name, opt, params, grads, on: bool, per_call: int = 1) -> _Runner:
    """A donated jitted step, traced and compiled now with the kernels on or off; its
    ``first_s`` is trace + compile + the first call (inputs ready beforehand)."""
    params, state, grads = jax.block_until_ready((params, opt.init(params), grads))
    t0 = time.perf_counter()
    with native.use_kernels(on):
        compiled = fused_step(opt).lower(params, state, grads).compile()
    compile_s = time.perf_counter() - t0
    runner = _Runner(name, compiled, params, state, grads, per_call)
    runner.run(timed=False)
    runner.first_s += compile_s
    return runner


def _identity_runner(shapes) -> _Runner:
    """The params through a donated jit unchanged, the gradients passed in too."""
    step = jax.jit(lambda params, state, grads: (params, state), donate_argnums=(0,))
    return _Runner("jit identity", step, _make_tree(shapes, 0), (), _make_tree(shapes, 1))


def _axpy_runner(n: int, name: str = "jax axpy", per_call: int = 1) -> _Runner:
    """jax's in-place axpy ``y <- y + s x`` over ``n`` float32, ``y`` donated."""
    step = jax.jit(lambda y, x, s: y + s * x, donate_argnums=(0,))
    x = jnp.full((n,), 1e-3, jnp.float32)

    def axpy(y, xx, s):
        return step(y, xx, s), xx

    return _Runner(name, axpy, jnp.ones(n), x, 0.999, per_call)


def _elements(shapes: list) -> int:
    """The number of elements of a tree of these shapes."""
    return int(sum(np.prod(s, dtype=np.int64) for s in shapes))


def _torch_fused(rule: str, shapes: list, grads: list) -> list:
    """PyTorch's fused runner for ``rule`` on a fresh copy of the params, or [] (no torch, or
    no fused form)."""
    params = [np.asarray(x) for x in _make_tree(shapes, 0)]
    found = torch_optim.runners(rule, params, [np.asarray(g) for g in grads])
    return [r for r in found if r.name == "torch fused"]


def bench_case(label: str, shapes: list, rule: str, rounds: int, many: bool) -> list[dict]:
    make_jl, make_optax, n_arrays = RULES[rule]
    n = _elements(shapes)
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


#: The two loop lengths behind a step's cost in a compiled loop: (T(110) - T(10)) / 100. One
#: call of a loop also passes the tree's arrays in and out (on tree (iii) about as long as a
#: dispatched step), and a single loop length would spread that over its steps (over 10 steps
#: it was most of the "per step" time).
LOOP_LENGTHS = (10, 110)


def _loop_runners(name: str, step, params, state, grads) -> list[_Runner]:
    """Two runners of one compiled ``lax.fori_loop`` of ``step(params, state, grads) -> (params,
    state)`` (the step count a traced argument), at each of :data:`LOOP_LENGTHS`, each on its
    own copy of ``params`` and ``state``."""

    def run(params, state, grads, steps):
        return jax.lax.fori_loop(0, steps, lambda _, c: step(c[0], c[1], grads), (params, state))

    t0 = time.perf_counter()
    compiled = jax.jit(run, donate_argnums=(0, 1)).lower(params, state, grads, 0).compile()
    compile_s = time.perf_counter() - t0
    out = []
    for steps in LOOP_LENGTHS:
        copy = jax.tree.map(jnp.copy, (params, state))
        n = jnp.int32(steps)
        runner = _Runner(
            f"{name} x{steps}", lambda p, s, g, n=n: compiled(p, s, g, n), *copy, grads
        )
        runner.compile_s, runner.steps = compile_s, steps
        out.append(runner)
    return out


def _opt_loop_runners(name: str, opt, params, grads) -> list[_Runner]:
    """:func:`_loop_runners` of ``opt.update_and_apply``."""

    def step(params, state, grads):
        return opt.update_and_apply(grads, state, params)

    return _loop_runners(name, step, params, opt.init(params), grads)


def loop_rows(quick: bool = False, rules: tuple[str, ...] | None = None) -> list[dict]:
    """Tree (iii) inside a compiled ``lax.fori_loop`` (how ``train()`` runs a step, with nothing
    dispatched per step): ``update_and_apply`` on the default path (native) and in flat mode,
    per step, from two loop lengths (:data:`LOOP_LENGTHS`); ``call ms`` is what one call costs
    around its loop. PyTorch's fused step (dispatched per step, as PyTorch runs it) is timed in
    the same rounds for ``time/torch fused``."""
    shapes = [(1000,)] * (200 if quick else 2000)
    n = 1000 * len(shapes)
    rules = rules or (("sgd", "adam") if quick else tuple(RULES))
    out = []
    for rule in rules:
        make_jl, _, n_arrays = RULES[rule]
        g = _make_tree(shapes, 1)
        fg = ravel(g)[0]
        impls = {
            "jaxlearn, in a loop": _opt_loop_runners(
                "jaxlearn", make_jl(), _make_tree(shapes, 0), g
            ),
            "jaxlearn flat, in a loop": _opt_loop_runners(
                "flat", flat(make_jl()), ravel(_make_tree(shapes, 0))[0], fg
            ),
            # In-place axpys y <- y + s x over the same elements in one buffer, the reference
            # rate for 3 arrays in a loop (the faster of the two): XLA's, and the native SGD
            # kernel's (flat SGD, W <- W - lr g), which runs at about three times XLA's here.
            "jax axpy, in a loop": _loop_runners(
                "axpy", lambda y, s, x: (y + 0.999 * x, s), jnp.ones(n), (), jnp.full(n, 1e-3)
            ),
            "native axpy (flat SGD), in a loop": _opt_loop_runners(
                "native axpy", flat(RULES["sgd"][0]()), ravel(_make_tree(shapes, 0))[0], fg
            ),
        }
        torch_runners = _torch_fused(rule, shapes, g)
        protocol.interleave(
            [([r for rs in impls.values() for r in rs], None), (torch_runners, None)],
            rounds=3 if quick else 9,
            warmup=1,
        )
        per_step, call = {}, {}
        for impl, (short, long) in impls.items():
            t_short, t_long = (statistics.median(r.times) for r in (short, long))
            per_step[impl] = (t_long - t_short) / (long.steps - short.steps)
            call[impl] = t_short - short.steps * per_step[impl]
        torch_ref = statistics.median(torch_runners[0].times) if torch_runners else None
        axpys = ("jax axpy, in a loop", "native axpy (flat SGD), in a loop")
        axpy_gbs = 3 * 4 * n / min(per_step[a] for a in axpys) / 1e9
        for impl, (short, _) in impls.items():
            gbs = (3 if "axpy" in impl else n_arrays) * 4 * n / per_step[impl] / 1e9
            out.append(
                {
                    "tree": f"(iii) {len(shapes)} x 1000",
                    "rule": rule,
                    "impl": impl,
                    "ms per step": 1e3 * per_step[impl],
                    "GB/s": gbs,
                    "axpy share": gbs / axpy_gbs,
                    "time/flat": per_step[impl] / per_step["jaxlearn flat, in a loop"],
                    "time/torch fused": None if torch_ref is None else per_step[impl] / torch_ref,
                    "call ms": 1e3 * call[impl],
                    "compile_s": short.compile_s,
                }
            )
        if torch_ref is not None:
            out.append(
                {
                    "tree": f"(iii) {len(shapes)} x 1000",
                    "rule": rule,
                    "impl": "torch fused",
                    "ms per step": 1e3 * torch_ref,
                    "GB/s": n_arrays * 4 * n / torch_ref / 1e9,
                    "time/torch fused": 1.0,
                }
            )
        jax.clear_caches()
    return out


#: Steps dispatched back to back before one wait, in :func:`sync_rows`.
BACK_TO_BACK = 5


def sync_rows(quick: bool = False) -> list[dict]:
    """Trees (i) and (ii): each step timed blocked (a wait after every call, as the main table
    times it) and :data:`BACK_TO_BACK` at a time (one wait), for jaxlearn's fused step and jax's
    axpy over the same elements, beside PyTorch's fused step and ``add_`` (synchronous either
    way), in the same rounds: what the wait after each call costs a jax step."""
    out = []
    for label, shapes in list(trees(quick).items())[:2]:
        n = _elements(shapes)
        for rule in TORCH_FUSED:
            make_jl = RULES[rule][0]
            grads = _make_tree(shapes, 1)
            on = native.native_available()
            k = f"x{BACK_TO_BACK}"
            # Each runner steps its own params (the jax ones are donated).
            ax_each = _axpy_runner(n)
            jax_runners = [
                _jax_runner("jaxlearn", make_jl(), _make_tree(shapes, 0), grads, on),
                _jax_runner(f"jaxlearn {k}", make_jl(), _make_tree(shapes, 0), grads, on,
                            BACK_TO_BACK),
                ax_each,
                _axpy_runner(n, f"jax axpy {k}", BACK_TO_BACK),
            ]  # fmt: skip
            torch_runners = _torch_fused(rule, shapes, grads)
            torch_axpy = torch_optim.axpy_runner(n)
            if torch_axpy is not None:
                torch_runners.append(torch_axpy)
            protocol.interleave(
                [(jax_runners, lambda ax=ax_each: ax.run(timed=False)), (torch_runners, None)],
                rounds=3 if quick else 12,
            )
            med = protocol.medians(jax_runners + torch_runners)
            for jax_name, torch_name in (("jaxlearn", "torch fused"), ("jax axpy", "torch axpy")):
                ref = med.get(torch_name)
                k_time = med[f"{jax_name} {k}"]
                out.append(
                    {
                        "tree": label,
                        "rule": rule if jax_name == "jaxlearn" else "axpy",
                        "jax blocked ms": 1e3 * med[jax_name],
                        f"jax {BACK_TO_BACK} at a time ms": 1e3 * k_time,
                        "torch ms": None if ref is None else 1e3 * ref,
                        "blocked/torch": None if ref is None else med[jax_name] / ref,
                        f"{BACK_TO_BACK} at a time/torch": None if ref is None else k_time / ref,
                    }
                )
            jax.clear_caches()
    return out


def dispatch_rows(quick: bool = False) -> list[dict]:
    """What a donated jit that returns its params unchanged (a gradient passed in with each
    leaf) costs per leaf as the tree grows: the floor of any dispatched per-leaf step."""
    out = []
    for count in (250, 500) if quick else (1000, 2000, 4000, 8000):
        runner = _identity_runner([(1000,)] * count)
        protocol.interleave([([runner], None)], rounds=3 if quick else 10)
        t = statistics.median(runner.times)
        out.append({"leaves": count, "ms": 1e3 * t, "us per leaf": 1e6 * t / count})
    return out


def rows(quick: bool = False, rules: list[str] | None = None) -> list[dict]:
    """The section's rows (the protocol ``benchmarks.run`` calls), then :func:`loop_rows`,
    :func:`sync_rows` and :func:`dispatch_rows`, each printed as its own table."""
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
    print("\nTree (i), each step waited for, or dispatched back to back:\n")
    print_table(sync_rows(quick), SYNC_COLUMNS)
    print("\nA donated jit identity (params and gradients in, params out) by tree size:\n")
    print_table(dispatch_rows(quick), DISPATCH_COLUMNS)
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
    ("GB/s", "{:.1f}"),
    ("axpy share", "{:.0%}"),
    ("time/flat", "{:.2f}"),
    ("time/torch fused", "{:.2f}"),
    ("call ms", "{:.1f}"),
    ("compile_s", "{:.1f}"),
]
SYNC_COLUMNS = [
    ("tree", "{}"),
    ("rule", "{}"),
    ("jax blocked ms", "{:.3f}"),
    (f"jax {BACK_TO_BACK} at a time ms", "{:.3f}"),
    ("torch ms", "{:.3f}"),
    ("blocked/torch", "{:.3f}"),
    (f"{BACK_TO_BACK} at a time/torch", "{:.3f}"),
]
DISPATCH_COLUMNS = [("leaves", "{}"), ("ms", "{:.2f}"), ("us per leaf", "{:.2f}")]
