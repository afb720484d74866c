CELLS = [
    (
        "md",
        r"""
# 8. jaxlearn vs optax: the same algorithms, and how fast

jaxlearn's rules are the book's formulas (`common/optimizer.py`); optax has the same algorithms
with other conventions. This notebook shows, **computed live**, which jaxlearn rule equals which
optax call, which defaults differ and by how much; then the speed of one optimizer step in
jaxlearn, optax and the book's NumPy code, from the benchmark results in
`benchmarks/results.json`.

Each relation: both optimizers take the same stream of 50 random gradients on the same random
pytree (nested dicts, lists and tuples of arrays of several shapes and scales); the table gives the
largest difference between their updates over the 50 steps, relative to the update's size
(‖u_jaxlearn − u_optax‖∞ / ‖u_optax‖∞, the maximum over steps and leaves), in float64 and float32.
No data set is used: the gradients are random.
""",
    ),
    (
        "code",
        r"""
import json
import os
import platform
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from jaxlearn.optim import adagrad, adam, momentum, nesterov, rmsprop, sgd
from jaxlearn.plots import RULE_COLORS, RULE_LABELS

jax.config.update("jax_enable_x64", True)  # float64 shows exact equality; float32 is also run

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # fast either way: no training here
STEPS = 50
""",
    ),
    (
        "code",
        r"""
SHAPES = {"dense": [(784, 100), (100,)], "conv": ((3, 3, 8, 16), (16,)),
          "head": {"W": (100, 10), "b": (10,), "scale": ()}}

def is_shape(s):
    return isinstance(s, tuple) and all(isinstance(d, int) for d in s)

def random_tree(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: jnp.asarray(rng.standard_normal(s), dtype), SHAPES,
                        is_leaf=is_shape)

def gradient_stream(seed, params, steps=STEPS):
    # Each leaf gets its own gradient scale, 1e-3 … 10, and an offset so no entry is ~0.
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree.flatten(params)
    stacked = [(rng.standard_normal((steps, *p.shape)) + 0.5) * 10.0 ** rng.uniform(-3, 1)
               for p in leaves]
    return [jax.tree.unflatten(treedef, [jnp.asarray(s[t], p.dtype)
                                         for s, p in zip(stacked, leaves)])
            for t in range(steps)]

def updates(opt, params, grads):
    state, update, out = opt.init(params), jax.jit(opt.update), []
    for g in grads:
        u, state = update(g, state, params)
        out.append(u)
    return out

def max_rel_diff(a, b):
    return max(float(jnp.max(jnp.abs(la - lb)) / jnp.max(jnp.abs(lb)))
               for ua, ub in zip(a, b) for la, lb in zip(jax.tree.leaves(ua), jax.tree.leaves(ub)))

def adam_with_eps_t(lr, eps, b1=0.9, b2=0.999):
    # optax.adam whose eps changes every step: eps_t = eps / sqrt(1 - b2^t)  (t = 1, 2, ...)
    def update(g, state, params=None):
        t = state[0].count + 1  # optax's ScaleByAdamState counts from 0
        eps_t = eps / jnp.sqrt(1 - b2 ** t.astype(jnp.float64))
        eps_t = eps_t.astype(jax.tree.leaves(g)[0].dtype)
        return optax.adam(lr, b1=b1, b2=b2, eps=eps_t).update(g, state, params)
    return optax.GradientTransformation(optax.adam(lr, b1=b1, b2=b2, eps=eps).init, update)

schedule = optax.piecewise_constant_schedule(0.1, {25: 0.25})  # η drops at step 25
print("random tree:", jax.tree.map(jnp.shape, random_tree(0)))
""",
    ),
    (
        "md",
        r"""
The relations (`docs/book.md`, "Relations to optax"; each also proven by
`tests/test_optim_optax.py`). The book's defaults are jaxlearn's defaults; optax needs a learning
rate, so the book's is given.
""",
    ),
    (
        "code",
        r"""
RELATIONS = [  # (rule, jaxlearn call, optax call, jaxlearn optimizer, optax optimizer, expected)
    ("sgd", "sgd(0.05)", "optax.sgd(0.05)", sgd(0.05), optax.sgd(0.05), "equal"),
    ("momentum", "momentum(0.03, momentum=0.85)", "optax.sgd(0.03, momentum=0.85)",
     momentum(0.03, momentum=0.85), optax.sgd(0.03, momentum=0.85), "equal"),
    ("nesterov", "nesterov(0.03, momentum=0.85)", "optax.sgd(0.03, momentum=0.85, nesterov=True)",
     nesterov(0.03, momentum=0.85), optax.sgd(0.03, momentum=0.85, nesterov=True), "equal"),
    ("rmsprop", "rmsprop(0.02, decay_rate=0.95, eps=1e-4)",
     "optax.rmsprop(0.02, decay=0.95, eps=1e-4, eps_in_sqrt=False)",
     rmsprop(0.02, decay_rate=0.95, eps=1e-4),
     optax.rmsprop(0.02, decay=0.95, eps=1e-4, eps_in_sqrt=False), "equal"),
    ("adam", "adam(0.01, eps=0)", "optax.adam(0.01, eps=0)", adam(0.01, eps=0.0),
     optax.adam(0.01, eps=0.0), "equal"),
    ("adam", "adam(0.01, eps=1e-3)", "optax.adam(0.01) with eps_t = 1e-3/√(1−β2^t)",
     adam(0.01, eps=1e-3), adam_with_eps_t(0.01, 1e-3), "equal"),
    ("adagrad", "adagrad(0.05, eps=0)", "optax.adagrad(0.05, initial_accumulator_value=0, eps=0)",
     adagrad(0.05, eps=0.0), optax.adagrad(0.05, initial_accumulator_value=0.0, eps=0.0), "equal"),
    # The defaults that differ.
    ("adagrad", "adagrad()", "optax.adagrad(0.01)  [h₀=0.1, ε=1e-7 inside √]",
     adagrad(), optax.adagrad(0.01), "differs"),
    ("rmsprop", "rmsprop()", "optax.rmsprop(0.01)  [ρ=0.9, ε=1e-8 inside √]",
     rmsprop(), optax.rmsprop(0.01), "differs"),
    ("adam", "adam()", "optax.adam(0.001)  [ε=1e-8, constant]", adam(), optax.adam(0.001),
     "differs"),
    ("adam", "adam(0.01, eps=1e-3)", "optax.adam(0.01, eps=1e-3)  [ε constant]",
     adam(0.01, eps=1e-3), optax.adam(0.01, eps=1e-3), "differs"),
    ("momentum", "momentum(schedule)", "optax.sgd(schedule, momentum=0.9)  [η drops at step 25]",
     momentum(schedule), optax.sgd(schedule, momentum=0.9), "differs"),
]

table = []
for dtype in (np.float64, np.float32):
    params = random_tree(1, dtype)
    grads = gradient_stream(2, params)
    for i, (rule, ours, theirs, a, b, expected) in enumerate(RELATIONS):
        d = max_rel_diff(updates(a, params, grads), updates(b, params, grads))
        if dtype == np.float64:
            table.append([rule, ours, theirs, expected, d, None])
        else:
            table[i][5] = d

print(f"{'jaxlearn':<42} {'optax':<62} {'float64':>9} {'float32':>9}  verdict")
first_differs = next(i for i, row in enumerate(table) if row[3] == "differs")
for i, (_rule, ours, theirs, _expected, d64, d32) in enumerate(table):
    if i == first_differs:
        print("-- defaults and conventions that differ " + "-" * 90)
    verdict = "equal to rounding" if d64 < 1e-12 else "differs"
    print(f"{ours:<42} {theirs:<62} {d64:9.1e} {d32:9.1e}  {verdict}")
""",
    ),
    (
        "md",
        r"""
**Reading the table.**

- **Equal to rounding** (≲1e-12 in float64, ≲1e-5 in float32): SGD; Momentum and Nesterov
  (optax's trace form m ← g + αm, step −ηm, is the book's v = −ηm for a constant η; Nesterov's
  book form W ← W + α²v − (1+α)ηg is optax's `nesterov=True`); RMSprop once ε is moved outside
  the root (`eps_in_sqrt=False`); Adam without ε; Adam with ε, when optax's ε grows each step as
  ε/√(1−β2^t) (the book folds the bias correction into η_t, so its ε is not corrected);
  AdaGrad without ε and from a zero accumulator.
- **Different defaults**: optax's AdaGrad starts its accumulator at 0.1 and puts ε inside the
  root; its RMSprop decays with ρ = 0.9 (the book 0.99) and puts ε = 1e-8 inside the root; its
  Adam uses ε = 1e-8 as a constant. The Adam differences are small (ε is tiny next to √v) except
  with a large ε; AdaGrad's and RMSprop's change the updates substantially.
- **Schedules**: with a learning-rate schedule, the book's Momentum scales only the newest
  gradient by η_t (v ← αv − η_t g), optax the whole trace; the two agree until η changes.
""",
    ),
    (
        "code",
        r"""
for _rule, ours, theirs, expected, d64, d32 in table:
    if expected == "equal":
        assert d64 < 1e-12 and d32 < 1e-4, f"{ours} should equal {theirs}: {d64:.1e}, {d32:.1e}"
    else:
        assert d64 > 1e-3, f"{ours} should differ from {theirs}: {d64:.1e}"
print("every relation holds")
""",
    ),
    (
        "md",
        r"""
## Speed: one optimizer step

`benchmarks/run.py` times one jitted step `(params, state) → (params + ΔW, new state)` with the
buffers donated, for each rule, in four pytrees: (i) one leaf of 25 M parameters, (ii) ResNet-50's
161 parameter shapes (25.6 M), (iii) 2,000 leaves of 1,000, (iv) 2,000 scalar leaves.
`jaxlearn` is the default per-leaf path (on CPU, jaxlearn's single-pass native kernels where
they are built: `docs/native.md`), `jaxlearn flat` the same rule on one
contiguous buffer (`jaxlearn.optim.flat`), `optax` its twin, `numpy (book)` the book's in-place
NumPy update.
The numbers are read from the committed JSON (this notebook does not re-run the benchmark):
""",
    ),
    (
        "code",
        r"""
bench = json.loads(Path("../benchmarks/results.json").read_text())
meta = bench["meta"]
print(f"benchmarks/results.json: run started {meta['started']} on backend={meta['backend']} "
      f"({meta['cpu_count']} CPU cores), jax {meta['jax']}, optax {meta['optax']}, "
      f"Python {meta['python']}, quick={meta['quick']}")
print(f"this notebook was executed on {platform.machine()} with {os.cpu_count()} CPU cores, "
      f"jax {jax.__version__}, optax {optax.__version__}")
rows = bench["sections"]["optimizers"]["rows"]
trees = list(dict.fromkeys(r["tree"] for r in rows))
rules = list(dict.fromkeys(r["rule"] for r in rows))
ms = {(r["tree"], r["rule"], r["impl"]): r["ms"] for r in rows}
""",
    ),
    (
        "code",
        r"""
IMPLS = {"jaxlearn": "#D55E00", "jaxlearn flat": "#F0A070", "optax": "#0072B2",
         "numpy (book)": "#999999"}
fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
for ax, tree in zip(axes.flat, trees):
    impls = [i for i in IMPLS if any((tree, r, i) in ms for r in rules)]
    width = 0.8 / len(impls)
    x = np.arange(len(rules))
    for j, impl in enumerate(impls):
        y = [ms.get((tree, r, impl), np.nan) for r in rules]
        ax.bar(x + (j - (len(impls) - 1) / 2) * width, y, width, color=IMPLS[impl], label=impl)
    ax.set_xticks(x, [RULE_LABELS[r] for r in rules], rotation=15)
    for tick, r in zip(ax.get_xticklabels(), rules):
        tick.set_color(RULE_COLORS[r])
        tick.set_fontweight("bold")
    ax.set_yscale("log")
    ax.set_ylabel("ms per step (log)")
    ax.set_title(tree, fontsize=10)
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=len(impls), loc="upper left")
    ax.set_ylim(top=ax.get_ylim()[1] * 3)  # room for the legend
fig.suptitle(f"One optimizer step (median of 15), CPU, {meta['cpu_count']} cores, "
             f"{meta['started'][:10]}: lower is faster")
fig.tight_layout()
if not QUICK:  # the figure shown in notebooks/README.md
    os.makedirs("figures", exist_ok=True)
    fig.savefig("figures/08_jaxlearn_vs_optax.png", dpi=80, bbox_inches="tight")
""",
    ),
    (
        "code",
        r"""
print("jaxlearn's time / optax's time per step (below 1: jaxlearn faster)")
print(f"{'tree':<36}" + "".join(f"{RULE_LABELS[r]:>10}" for r in rules))
for tree in trees:
    print(f"{tree:<36}" + "".join(
        f"{ms[(tree, r, 'jaxlearn')] / ms[(tree, r, 'optax')]:10.2f}" for r in rules))
print("\njaxlearn flat's time / optax's")
for tree in trees:
    if (tree, rules[0], "jaxlearn flat") in ms:
        print(f"{tree:<36}" + "".join(
            f"{ms[(tree, r, 'jaxlearn flat')] / ms[(tree, r, 'optax')]:10.2f}" for r in rules))
""",
    ),
    (
        "md",
        r"""
**What to look for.** On the large trees (i, ii) one step is memory-bound: a good implementation
is limited by how fast it can stream the parameters, gradients and state through memory once.
On the trees of many small leaves (iii, iv) the cost per leaf dominates: that is what
`jaxlearn flat` (one contiguous buffer for the whole tree) removes. The book's NumPy update
creates a temporary array for every intermediate. The cell below summarises the JSON — the
summary is computed, so it follows the file when the benchmark is re-run:
""",
    ),
    (
        "code",
        r"""
ratio = {(t, r): ms[(t, r, "jaxlearn")] / ms[(t, r, "optax")] for t in trees for r in rules}
numpy_x = {(t, r): ms[(t, r, "numpy (book)")] / ms[(t, r, "jaxlearn")]
           for t in trees for r in rules}
big, small = trees[:2], trees[2:]

def span(values):
    return f"{min(values):.2f}–{max(values):.2f}"

print("large trees (i, ii):")
faster = [r for r in rules if all(ratio[(t, r)] < 0.95 for t in big)]
slower = [r for r in rules if any(ratio[(t, r)] > 1.15 for t in big)]
level = [r for r in rules if r not in faster and r not in slower]
for label, group in (("faster than optax", faster), ("about optax's speed", level),
                     ("slower than optax", slower)):
    if group:
        print(f"  {label}: {', '.join(RULE_LABELS[r] for r in group)} "
              f"(jaxlearn / optax time {span([ratio[(t, r)] for t in big for r in group])})")
print(f"  the book's NumPy takes {span([numpy_x[(t, r)] for t in big for r in rules])}× "
      "jaxlearn's time")
print("many small leaves (iii, iv):")
print(f"  jaxlearn / optax time: {span([ratio[(t, r)] for t in small for r in rules])}")
print(f"  the book's NumPy takes {span([numpy_x[(t, r)] for t in small for r in rules])}× "
      "jaxlearn's time (below 1: NumPy faster)")
flat_x = [ms[(t, r, "optax")] / ms[(t, r, "jaxlearn flat")] for t in small for r in rules]
print(f"  jaxlearn flat is {span(flat_x)}× faster than optax")

# What the text above relies on.
assert len(slower) <= 1 and max(ratio.values()) < 1.5, "jaxlearn should keep up with optax"
assert min(flat_x) > 2, "the flat buffer should beat optax on many small leaves"
""",
    ),
]
