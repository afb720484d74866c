CELLS = [
    (
        "md",
        r"""
# 4. Weight initialisation on MNIST

*Deep Learning from Scratch*, §6.2.4, figure 6-15 (`ch06/weight_init_compare.py`).

**The question.** Notebook 3 showed how the initial weight scale shapes the activations of an
untrained network. Does that decide whether a network *learns*? The book trains the same 5-layer
ReLU network (784 → 100 × 4 → 10) with SGD (η = 0.01, batch 128, 2,000 iterations) from three
initial scales: std 0.01, Xavier (√(1/n)) and He (√(2/n)), n the fan-in of each layer.
""",
    ),
    (
        "code",
        r"""
import os

import numpy as np

from jaxlearn.experiments import INIT_STDS, compare_initializers
from jaxlearn.plots import plot_initializer_comparison

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # the test suite runs every notebook quickly
print("initial weight std per configuration:", INIT_STDS)
""",
    ),
    (
        "md",
        r"""
The three networks train together in one `vmap`-ed program: the same N(0, 1) draws scaled by
each configuration's std, the same mini-batches. Full mode runs the book's 2,000 iterations,
quick mode 500.
""",
    ),
    (
        "code",
        r"""
results = compare_initializers(quick=QUICK, progress=False)
config = results["config"]
print("data:", config["dataset"], f"({config['iterations']} iterations, batch "
      f"{config['batch_size']}, SGD lr={config['lr']}, hidden {config['hidden']})")
fig = plot_initializer_comparison(results)
if not QUICK:  # the figure shown in notebooks/README.md
    os.makedirs("figures", exist_ok=True)
    fig.savefig("figures/04_init_mnist.png", dpi=80, bbox_inches="tight")
""",
    ),
    (
        "code",
        r"""
print(f"{'init':>9} {'final smoothed loss':>20} {'train acc':>10} {'test acc':>9}")
for label, run in results["runs"].items():
    print(f"{label:>9} {run['final_loss']:20.4f} {run['train_acc']:10.3f} {run['test_acc']:9.3f}")
""",
    ),
    (
        "md",
        r"""
**What it shows.**

- **std 0.01** does not learn at all: the loss stays at ln 10 ≈ 2.30, the loss of a network that
  gives every digit probability 1/10. As notebook 3 showed, the activations (and with them the
  gradients) shrink toward 0 layer by layer; SGD's updates are too small to move anything.
- **Xavier** learns, but slower: with ReLU its signals shrink from layer to layer.
- **He** learns fastest: it keeps the signal's spread through the ReLU layers.

The book's figure looks the same: the flat std 0.01 line, He below Xavier throughout.
The next cell checks these statements.
""",
    ),
    (
        "code",
        r"""
runs = results["runs"]
LN10 = np.log(10.0)
std001 = runs["std=0.01"]["smoothed_loss"]
assert np.all(np.abs(std001 - LN10) < 0.1), "std=0.01 should stay within 0.1 of ln 10"
assert runs["std=0.01"]["test_acc"] < 0.2, "std=0.01 should be no better than chance"
assert runs["He"]["final_loss"] < runs["Xavier"]["final_loss"] < LN10 - 1.0, \
    "He should end lowest, Xavier learn too"
he, xavier = runs["He"]["smoothed_loss"], runs["Xavier"]["smoothed_loss"]
n = len(he)
assert np.mean(he[n // 10:] < xavier[n // 10:]) > 0.95, "He ahead of Xavier nearly all the way"
print("headline outcomes hold")
""",
    ),
]
