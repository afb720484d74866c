CELLS = [
    (
        "md",
        r"""
# 5. Batch Normalization

*Deep Learning from Scratch*, §6.3, figures 6-18 and 6-19 (`ch06/batch_norm_test.py`).

**The question.** Batch Normalization normalises each layer's input over the mini-batch
(x̂ = (x − μ)/√(σ² + ε), then y = γx̂ + β). Does it make learning faster, and does it free the
network from the careful choice of the initial weight scale that notebooks 3 and 4 needed?

The book trains a 6-layer network (784 → 100 × 5 → 10, ReLU) on 1,000 training images with SGD
(η = 0.01, batch 100) for 20 epochs, with and without Batch Norm, at 16 initial weight scales
from 1 down to 10⁻⁴ (`logspace(0, −4, 16)`), and plots the accuracy on the training images.
""",
    ),
    (
        "code",
        r"""
import os

import matplotlib.pyplot as plt
import numpy as np

from jaxlearn.experiments import batchnorm_comparison
from jaxlearn.plots import plot_batchnorm_grid
from jaxlearn.plots.batchnorm import BN_COLOR, PLAIN_COLOR

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # the test suite runs every notebook quickly
""",
    ),
    (
        "md",
        r"""
## Batch Norm by hand

`jl.batch_norm` is a pure function: parameters (γ, β) and running statistics (mean, var) go in,
the normalised batch and the updated statistics come out. In training it uses the batch's own
statistics; at inference the running ones:
""",
    ),
    (
        "code",
        r"""
import jax

import jaxlearn as jl

x = 5.0 + 3.0 * jax.random.normal(jax.random.key(0), (100, 4))  # a batch: mean ≈ 5, std ≈ 3
params, state = jl.batchnorm_init(4)  # γ = 1, β = 0; running mean 0, running var 1
y, state = jl.batch_norm(x, params, state, train=True)
def show(a):
    return "[" + " ".join(f"{float(v):6.3f}" for v in a) + "]"


print("training:  mean", show(y.mean(axis=0)), " std", show(y.std(axis=0)))
print("running mean after one batch (momentum 0.9):", show(state["mean"]))
y_test, _ = jl.batch_norm(x, params, state, train=False)
print("inference: mean", show(y_test.mean(axis=0)),
      "(the running statistics are not yet the batch's)")
""",
    ),
    (
        "md",
        r"""
In the book's network every hidden layer is Affine → Batch Norm → ReLU;
`jaxlearn.nn.mlp.make(..., use_batchnorm=True)` builds it, and the experiment below trains it
against the same network without Batch Norm.
""",
    ),
    (
        "md",
        r"""
Each variant trains its 16 weight scales at once, in one `vmap`-ed program; both variants start
from the same N(0, 1) draws times the scale and see the same mini-batches. Full mode: the book's
20 epochs; quick mode: 10.
""",
    ),
    (
        "code",
        r"""
results = batchnorm_comparison(quick=QUICK, progress=False)
scales = results["weight_scales"]
config = results["config"]
print("data:", config["dataset"], f"(first {config['train_size']:,} training images, "
      f"{config['epochs']} epochs, {len(scales)} weight scales from {scales[0]:g} to "
      f"{scales[-1]:g})")
""",
    ),
    (
        "md",
        r"""
## One pair of training curves (figure 6-18)

The scale closest to 0.01 (the std the earlier notebooks started from):
""",
    ),
    (
        "code",
        r"""
i = int(np.argmin(np.abs(np.log10(scales) + 2)))
epochs = results["epochs"]
fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.plot(epochs, results["train_acc_bn"][i], "o-", ms=3, color=BN_COLOR, label="Batch Normalization")
ax.plot(epochs, results["train_acc_plain"][i], "s--", ms=3, color=PLAIN_COLOR,
        label="Normal (without BatchNorm)")
ax.set_xlabel("epochs")
ax.set_ylabel("accuracy (training images)")
ax.set_ylim(0, 1)
ax.grid(alpha=0.3)
ax.legend(loc="lower right")
ax.set_title(f"Batch Norm speeds up learning (initial weight std {scales[i]:.3g}, "
             f"{results['config']['dataset']})", fontsize=10)
fig.tight_layout()
""",
    ),
    (
        "md",
        r"""
With Batch Norm the network learns within the first epochs; without it, the small weights give
vanishing signals and the accuracy stays at chance.

## The whole grid (figure 6-19)
""",
    ),
    (
        "code",
        r"""
fig = plot_batchnorm_grid(results)
if not QUICK:  # the figure shown in notebooks/README.md
    os.makedirs("figures", exist_ok=True)
    fig.savefig("figures/05_batchnorm.png", dpi=80, bbox_inches="tight")
""",
    ),
    (
        "code",
        r"""
print(f"{'W std':>9} {'with BN':>8} {'without':>8}")
for w, bn, plain in zip(scales, results["train_acc_bn"][:, -1], results["train_acc_plain"][:, -1]):
    print(f"{w:9.3g} {bn:8.3f} {plain:8.3f}")
print(f"Batch Norm ends higher at {results['bn_wins'].sum()} of {len(scales)} scales")
""",
    ),
    (
        "md",
        r"""
**What it shows.** With Batch Norm (solid) the network learns at almost every scale, and learns
faster; without it (dashed) it learns only in a narrow band of scales (around 0.1 here) and most
scales never leave chance accuracy (≈ 0.1): too large a scale saturates the signals, too small a
scale lets them vanish. Batch Norm re-scales every layer's input, so the initial scale hardly
matters. At the largest scales (W ≈ 1) learning with Batch Norm is slower: the initial weights
are large and the first layers' outputs huge; Batch Norm still learns there, only slower.

The next cell checks these statements.
""",
    ),
    (
        "code",
        r"""
bn_final, plain_final = results["train_acc_bn"][:, -1], results["train_acc_plain"][:, -1]
n = len(scales)
assert results["bn_wins"].sum() >= 0.75 * n, "Batch Norm should win at most scales"
assert np.sum(plain_final < 0.2) >= n // 2, "without Batch Norm many scales never learn"
assert np.sum(bn_final > 0.5) >= 0.75 * n, "with Batch Norm nearly every scale learns"
assert results["train_acc_bn"][i, -1] > results["train_acc_plain"][i, -1] + 0.3
print("headline outcomes hold")
""",
    ),
]
