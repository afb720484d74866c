CELLS = [
    (
        "md",
        r"""
# 7. Random hyper-parameter search

*Deep Learning from Scratch*, §6.5, figure 6-24 (`ch06/hyperparameter_optimization.py`).

**The question.** Which learning rate and weight-decay strength should the network use? The book
searches at random, on a log scale: 100 trials of lr = 10^U(−6, −2) and λ = 10^U(−8, −4), each a
7-layer network (784 → 100 × 6 → 10, ReLU, He) trained with SGD for 50 epochs on 400 images and
judged on 100 held-out *validation* images (the test set stays untouched). Where are the good
trials?

The book trains the trials one after another. Here the learning rate and λ are ordinary traced
arguments of one compiled training program, so all trials train **at once**, under `vmap`.
""",
    ),
    (
        "code",
        r"""
import os
import time

import numpy as np

from jaxlearn.experiments import hyperparameter_search
from jaxlearn.plots import plot_search, plot_search_map

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # the test suite runs every notebook quickly
""",
    ),
    (
        "md",
        r"""
## Trials as one program, by hand

The learning rate and λ are the optimizer factory's arguments. `train_many` holds them in each
run's optimizer state, so K trials with K different (lr, λ) pairs are one `vmap`-ed program.
Four trials on the offline `mnist-5k` digits, 20 epochs, at learning rates a decade apart (the
search draws them at random) and λ drawn as the search draws it:
""",
    ),
    (
        "code",
        r"""
import jax

import jaxlearn as jl
from jaxlearn.nn import mlp, with_weight_decay
from jaxlearn.train import train_many

key = jax.random.key(0)
lr = np.array([1e-5, 1e-4, 1e-3, 1e-2])
wd = 10.0 ** jax.random.uniform(jax.random.fold_in(key, 2), (4,), minval=-8, maxval=-4)
(x, t), _ = jl.data.load("mnist-5k")
data = ((x[100:500], t[100:500]), (x[:100], t[:100]))  # 400 to train on, 100 to validate
net = mlp.make(784, [100] * 6, 10)
params, state = mlp.init_many(net, key, 4)  # four networks, each its own draw
r = train_many(net, params, state, with_weight_decay(jl.sgd), data,
               key=jax.random.split(key, 4), hyperparams={"lr": lr, "weight_decay": wd},
               epochs=20, batch_size=100)
for i in range(4):
    print(f"trial {i + 1}: lr {float(lr[i]):.1e}, λ {float(wd[i]):.1e} -> "
          f"validation accuracy {float(r.test_acc[i, -1]):.2f}")
""",
    ),
    (
        "md",
        r"""
`hyperparameter_search` does this for the book's 100 trials (and shuffles the 500 images into
its split first).
""",
    ),
    (
        "md",
        r"""
Full mode: the book's 100 trials; quick mode: 20 (both with the book's 50 epochs).
""",
    ),
    (
        "code",
        r"""
start = time.perf_counter()
results = hyperparameter_search(quick=QUICK, progress=False)
elapsed = time.perf_counter() - start
trials = len(results["lr"])
print("data:", results["config"]["dataset"], f"(500 training images: 400 train / 100 validation; "
      f"{len(results['epochs'])} epochs)")
print(f"{trials} trials trained in one vmap-ed program in {elapsed:.0f} s (compilation included)")
""",
    ),
    (
        "md",
        r"""
## The best 20 trials (figure 6-24)

Validation accuracy solid, training accuracy dashed, best first, as the book's figure.
""",
    ),
    (
        "code",
        r"""
fig = plot_search(results, top=20)
if not QUICK:  # the figure shown in notebooks/README.md
    os.makedirs("figures", exist_ok=True)
    fig.savefig("figures/07_hyperparameter_search.png", dpi=80, bbox_inches="tight")
""",
    ),
    (
        "md",
        r"""
## Every trial on the (lr, λ) plane
""",
    ),
    (
        "code",
        r"""
fig = plot_search_map(results)
ax = fig.axes[0]
ax.axvspan(1e-3, 1e-2, color="tab:green", alpha=0.08, zorder=0)
ax.text(3e-3, ax.get_ylim()[1] * 0.5, "lr 1e-3…1e-2", ha="center", fontsize=8, color="tab:green")
""",
    ),
    (
        "code",
        r"""
print(f"{'rank':>4} {'lr':>9} {'λ':>9} {'val acc':>8}")
for i in range(min(10, trials)):
    print(f"{i + 1:4d} {results['lr'][i]:9.2e} {results['weight_decay'][i]:9.2e} "
          f"{results['final_val_acc'][i]:8.2f}")
""",
    ),
    (
        "md",
        r"""
**What it shows.** The good trials are the ones with a learning rate between about 10⁻³ and
10⁻²; below 10⁻⁴ SGD barely moves in 50 epochs and the validation accuracy stays near chance.
The weight decay matters far less: the best trials are spread over the whole λ range, as the
scatter shows. The book narrows its next search to lr 10⁻³…10⁻² and λ 10⁻⁸…10⁻⁶; on this data and
seed λ makes no visible difference anywhere in 10⁻⁸…10⁻⁴ (its pull, ≤ 10⁻⁴·W, is tiny next to
the loss gradient in 50 epochs).

The next cell checks the learning-rate finding.
""",
    ),
    (
        "code",
        r"""
lr, acc = results["lr"], results["final_val_acc"]
in_range = (lr >= 1e-3) & (lr <= 1e-2)
assert in_range[0], f"the best trial should have lr in 1e-3…1e-2, got {lr[0]:.1e}"
top = max(2, trials // 10)
assert in_range[:top].all(), f"the top {top} trials should all have lr in 1e-3…1e-2"
assert np.all(in_range[acc >= 0.3]), "every trial that learned (val acc ≥ 0.3) has lr in 1e-3…1e-2"
assert np.all(acc[lr < 1e-4] < 0.3), "lr < 1e-4 should not learn in 50 epochs"
assert acc[0] > 0.6
print("headline outcomes hold")
""",
    ),
]
