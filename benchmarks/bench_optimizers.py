"""Time one optimizer step: jaxlearn's rules beside their optax twins and the book's NumPy form.

    .venv/bin/python -m benchmarks.run [--quick]            # every section, one command
    .venv/bin/python -m benchmarks.bench_optimizers [--quick]  # this section alone

Each step is ``(params, state) -> (params + update, new_state)`` in one ``jax.jit`` with params
and state donated (``donate_argnums=(0, 1)``), for jaxlearn (``jaxlearn.optim.fused_step``: the
default tree path, one fused loop per leaf), jaxlearn's flat mode (params, grads and state as
one buffer per dtype, ``jaxlearn.optim.flat``) and optax (``opt.update`` then
``optax.apply_updates``, the same donation). The NumPy row is the book's in-place update
(``tests/book_optimizers.py``) on float32 arrays. Implementations are interleaved round by
round (``protocol.py``: the jax rows, then the PyTorch rows, each group in an order rotated
round by round) and the median of the timed rounds is reported (the machine is shared: medians,
not means). With PyTorch installed (``pip install -e '.[bench]'``) its ``torch.optim`` loop,
foreach and fused forms join the same rounds (``torch_optim.py``), with ``time/torch fused``
the ratio to the fused form where PyTorch has one. GB/s counts the arrays a step must touch:
SGD reads W, g and writes W (3); Momentum, Nesterov, AdaGrad and RMSprop also read and write
one accumulator (5); Adam two (7); 4 bytes each per float32 parameter. The triad ``a * s + b``
(3 arrays) with ``a`` donated, on one buffer of the same total size, is the machine's reachable
bandwidth in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxlearn.optim as jo
from benchmarks import protocol, torch_optim

#: rule name -> (jaxlearn factory, optax twin, arrays touched per parameter)
RULES: dict[str, tuple[Callable[[], Any], Callable[[], Any], int]] = {
    "sgd": (lambda: jo.sgd(0.01), lambda: optax.sgd(0.01), 3),
    "momentum": (lambda: jo.momentum(0.01, 0.9), lambda: optax.sgd(0.01, momentum=0.9), 5),
    "nesterov": (
        lambda: jo.nesterov(0.01, 0.9),
        lambda: optax.sgd(0.01, momentum=0.9, nesterov=True),
        5,
    ),
    "adagrad": (lambda: jo.adagrad(0.01), lambda: optax.adagrad(0.01), 5),
    "rmsprop": (
        lambda: jo.rmsprop(0.01, 0.99, 1e-7),
        lambda: optax.rmsprop(0.01, decay=0.99, eps=1e-7, eps_in_sqrt=False),
        5,
    ),
    "adam": (lambda: jo.adam(0.001), lambda: optax.adam(0.001), 7),
}


def resnet50_shapes(width_div: int = 1) -> list[tuple[int, ...]]:
    """The 161 parameter shapes of torchvision's ResNet-50 (25,557,032 parameters), HWIO.

    conv1 7×7 + BN; four stages of [3, 4, 6, 3] bottlenecks (1×1, 3×3, 1×1 convs, each with a
    BN's γ and β; the first block of a stage adds a 1×1 projection + BN); fc 2048×1000 + bias.
    ``width_div`` divides every channel count (for ``--quick``).
    """
    c = lambda n: max(1, n // width_div)  # noqa: E731
    shapes: list[tuple[int, ...]] = [(7, 7, 3, c(64)), (c(64),), (c(64),)]
    cin = c(64)
    for width, blocks in [(64, 3), (128, 4), (256, 6), (512, 3)]:
        w, out = c(width), c(width * 4)
        for b in range(blocks):
            shapes += [(1, 1, cin, w), (w,), (w,), (3, 3, w, w), (w,), (w,)]
            shapes += [(1, 1, w, out), (out,), (out,)]
            if b == 0:
                shapes += [(1, 1, cin, out), (out,), (out,)]
            cin = out
    shapes += [(cin, c(1000)), (c(1000),)]
    return shapes


def trees(quick: bool) -> dict[str, list[tuple[int, ...]]]:
    """The four benchmark trees as lists of leaf shapes (a list pytree of float32 leaves)."""
    if quick:
        return {
            "(i) 1 leaf x 1M": [(1_000_000,)],
            "(ii) ResNet-50/4 (161 leaves)": resnet50_shapes(4),
            "(iii) 200 x 1000": [(1000,)] * 200,
            "(iv) 200 scalars": [()] * 200,
        }
    return {
        "(i) 1 leaf x 25M": [(25_000_000,)],
        "(ii) ResNet-50 (161 leaves, 25.6M)": resnet50_shapes(),
        "(iii) 2000 x 1000": [(1000,)] * 2000,
        "(iv) 2000 scalars": [()] * 2000,
    }


def _make_tree(shapes, seed):
    keys = jax.random.split(jax.random.key(seed), len(shapes))
    return [jax.random.normal(k, s, jnp.float32) * 0.1 for k, s in zip(keys, shapes)]


class _Runner:
    """One implementation of a step with its own (donated) params and state. Each ``run``
    dispatches ``per_call`` steps back to back, waits once, and records the time per step."""

    def __init__(self, name, step, params, state, grads, per_call: int = 1):
        self.name, self.step, self.per_call = name, step, per_call
        # Inputs are made asynchronously (jax.random): wait for them here, or the first step's
        # time (first_step_s) would include generating them (seconds for 25 M normals).
        self.params, self.state, self.grads = jax.block_until_ready((params, state, grads))
        self.first_s = None
        self.times: list[float] = []

    def run(self, timed: bool) -> None:
        t0 = time.perf_counter()
        for _ in range(self.per_call):
            self.params, self.state = self.step(self.params, self.state, self.grads)
        jax.block_until_ready((self.params, self.state))
        dt = (time.perf_counter() - t0) / self.per_call
        if self.first_s is None:
            self.first_s = dt
        elif timed:
            self.times.append(dt)


class _NumpyRunner(_Runner):
    def __init__(self, book_cls, shapes, seed):
        params = {str(i): np.array(x) for i, x in enumerate(_make_tree(shapes, seed))}
        grads = {str(i): np.array(x) for i, x in enumerate(_make_tree(shapes, seed + 1))}
        super().__init__("numpy (book)", None, params, book_cls(), grads)

    def run(self, timed: bool) -> None:
        t0 = time.perf_counter()
        self.state.update(self.params, self.grads)
        dt = time.perf_counter() - t0
        if self.first_s is None:
            self.first_s = dt
        elif timed:
            self.times.append(dt)


def _optax_step(opt):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def _triad_runner(n: int) -> _Runner:
    """``a <- a * s + b`` with ``a`` donated (b is not returned: a returned, undonated input
    would cost XLA a copy)."""
    step = jax.jit(lambda a, b, s: a * s + b, donate_argnums=(0,))
    b = jnp.full((n,), 1e-3, jnp.float32)
    return _Runner("triad a*s+b", lambda a, bb, s: (step(a, bb, s), bb), jnp.ones(n), b, 0.999)


def bench_case(label, shapes, rule, rounds, numpy_rounds, with_flat, with_numpy, book=None):
    """Rows for one (tree, rule): jaxlearn, [flat], optax, [numpy], timed interleaved."""
    make_jl, make_optax, n_arrays = RULES[rule]
    n = int(sum(np.prod(s, dtype=np.int64) for s in shapes))
    grads = _make_tree(shapes, 1)
    runners = []
    opt = make_jl()
    p = _make_tree(shapes, 0)
    runners.append(_Runner("jaxlearn", jo.fused_step(opt), p, opt.init(p), grads))
    if with_flat:
        fopt = jo.flat(make_jl())
        fp, _ = jo.ravel(_make_tree(shapes, 0))
        fg, _ = jo.ravel(grads)
        runners.append(_Runner("jaxlearn flat", jo.fused_step(fopt), fp, fopt.init(fp), fg))
    oopt = make_optax()
    p = _make_tree(shapes, 0)
    runners.append(_Runner("optax", _optax_step(oopt), p, oopt.init(p), grads))
    triad = _triad_runner(n)
    runners.append(triad)
    np_params = [np.asarray(x) for x in _make_tree(shapes, 0)]
    torch_runners = torch_optim.runners(rule, np_params, [np.asarray(g) for g in grads])
    # jax rows, then PyTorch rows, each group rotated round by round (protocol.py says why).
    protocol.interleave([(runners, lambda: triad.run(timed=False)), (torch_runners, None)], rounds)
    runners += torch_runners
    if with_numpy:
        nr = _NumpyRunner(book[rule], shapes, 0)
        for r in range(numpy_rounds + 1):
            nr.run(timed=r >= 1)
        runners.append(nr)

    med = {run.name: statistics.median(run.times) for run in runners}
    triad_gbs = 3 * 4 * n / med["triad a*s+b"] / 1e9
    rows = []
    for run in runners:
        if run is triad:
            continue
        t = med[run.name]
        gbs = n_arrays * 4 * n / t / 1e9
        rows.append(
            {
                "tree": label,
                "rule": rule,
                "impl": run.name,
                "ms": 1e3 * t,
                "GB/s": gbs,
                "time/optax": t / med["optax"],
                "time/torch fused": t / med["torch fused"] if "torch fused" in med else None,
                "bw/triad": gbs / triad_gbs,
                "numpy/time": (med["numpy (book)"] / t) if "numpy (book)" in med else None,
                "first_step_s": run.first_s,
                "params": n,
                "leaves": len(shapes),
            }
        )
    rows.append(
        {
            "tree": label,
            "rule": rule,
            "impl": "triad a*s+b",
            "ms": 1e3 * med["triad a*s+b"],
            "GB/s": triad_gbs,
            "time/optax": None,
            "time/torch fused": None,
            "bw/triad": 1.0,
            "numpy/time": None,
            "first_step_s": None,
            "params": n,
            "leaves": 1,
        }
    )
    return rows


def rows(quick: bool = False, rules: list[str] | None = None) -> list[dict]:
    """The optimizer section's rows (the protocol ``benchmarks.run`` calls)."""
    try:
        from tests.book_optimizers import BOOK
    except ImportError:  # run from outside the repository root
        BOOK = None
    out = []
    for label, shapes in trees(quick).items():
        many = len(shapes) >= 200
        big = sum(np.prod(s) for s in shapes) >= 1_000_000
        rounds = 5 if quick else 15
        for rule in rules or list(RULES):
            out += bench_case(
                label,
                shapes,
                rule,
                rounds=rounds,
                numpy_rounds=3 if (quick or big) else 10,
                with_flat=many,
                with_numpy=BOOK is not None,
                book=BOOK,
            )
            jax.clear_caches()
    return out


COLUMNS = [
    ("tree", "{}"),
    ("rule", "{}"),
    ("impl", "{}"),
    ("ms", "{:.3f}"),
    ("GB/s", "{:.1f}"),
    ("time/optax", "{:.2f}"),
    ("time/torch fused", "{:.2f}"),
    ("bw/triad", "{:.0%}"),
    ("numpy/time", "{:.1f}x"),
    ("first_step_s", "{:.2f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small trees, few repeats")
    parser.add_argument("--rules", nargs="*", default=None, help="subset of rules")
    args = parser.parse_args()
    from benchmarks.run import print_table

    print_table(rows(args.quick, args.rules), COLUMNS)


if __name__ == "__main__":
    main()
