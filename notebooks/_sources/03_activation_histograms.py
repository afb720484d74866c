CELLS = [
    (
        "md",
        r"""
# 3. Hidden-layer activations and the initial weight scale

*Deep Learning from Scratch*, §6.2.2–6.2.3, figures 6-10 to 6-14.

**The question.** Feed 1,000 random inputs (N(0, 1), 100 features) through five layers of 100
nodes with no bias. How are the activations of each layer distributed, and how does that depend
on the standard deviation of the initial weights?

- sigmoid with std 1, std 0.01 and "Xavier" (std = √(1/n), n = 100 the fan-in);
- tanh with Xavier;
- ReLU with std 0.01, Xavier and "He" (std = √(2/n)).

No training here, only forward passes: the data is synthetic, not MNIST.
""",
    ),
    (
        "code",
        r"""
import os

import numpy as np

from jaxlearn.experiments import HISTOGRAM_CONFIGS, activation_histograms
from jaxlearn.plots import plot_activation_histograms

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # the test suite runs every notebook quickly
for label, (activation, std) in HISTOGRAM_CONFIGS.items():
    print(f"{label:>18}: activation={activation}, weight std={std}")
""",
    ),
    (
        "md",
        r"""
## One network by hand

An initializer from `jaxlearn.initializers` is a factory: `xavier()` returns a function
`(key, shape) -> W`, the signature of `jax.nn.initializers`, so it drops into any model. Here it
draws the five 100 × 100 weight matrices of a sigmoid network, and the activations go through
the layers:
""",
    ),
    (
        "code",
        r"""
import jax

import jaxlearn as jl

key_x, key_w = jax.random.split(jax.random.key(0))
x = jax.random.normal(key_x, (1000, 100))  # 1,000 inputs of 100 features, N(0, 1)
init = jl.initializers.xavier()  # std = √(1/n) = 0.1 for n = 100 inputs
a = x
for layer in range(5):
    W = init(jax.random.fold_in(key_w, layer), (100, 100))
    a = jax.nn.sigmoid(a @ W)  # no bias, as the book's experiment
    print(f"layer {layer + 1}: W std {float(W.std()):.3f}, "
          f"activations mean {float(a.mean()):.3f}, std {float(a.std()):.3f}")
""",
    ),
    (
        "md",
        r"""
The spread of the activations stays well away from 0 in every layer: Xavier's scale keeps the
signal alive. The experiment below does the same for seven (activation, scale) pairs and
histograms every layer.
""",
    ),
    (
        "md",
        r"""
One call runs every configuration. All of them use the same input and the same N(0, 1) weight
draws, scaled by each configuration's std, so the rows differ only by the scale and the
activation. (The experiment is a few milliseconds: quick mode changes nothing.)
""",
    ),
    (
        "code",
        r"""
results = activation_histograms(quick=QUICK)
print("data: synthetic N(0, 1) inputs,", results["config"]["layers"], "layers of",
      results["config"]["nodes"], "nodes, no bias")
""",
    ),
    (
        "md",
        r"""
## Sigmoid and tanh (figures 6-10, 6-11, 6-13)
""",
    ),
    (
        "code",
        r"""
def subset(results, labels):
    return {**results, "configs": {k: results["configs"][k] for k in labels}}

sigmoid_rows = ["sigmoid, std=1", "sigmoid, std=0.01", "sigmoid, Xavier", "tanh, Xavier"]
fig = plot_activation_histograms(subset(results, sigmoid_rows))
if not QUICK:  # the figure shown in notebooks/README.md
    os.makedirs("figures", exist_ok=True)
    fig.savefig("figures/03_activation_histograms.png", dpi=80, bbox_inches="tight")
""",
    ),
    (
        "md",
        r"""
- **std 1**: the activations pile up at 0 and 1. There the sigmoid is flat, its derivative
  close to 0, so the gradients vanish on the way back ("gradient vanishing").
- **std 0.01**: every activation sits near 0.5. The 100 nodes output almost the same value:
  a layer of 100 behaves like one node ("limited expressiveness").
- **Xavier**: the activations spread over (0, 1) in every layer: the weights are large enough
  to differentiate the nodes and small enough to stay off the flat ends. As in the book, the
  upper layers' histograms are ragged: the sigmoid's outputs average 0.5, not 0, so each node's
  input is dominated by 0.5 × (the sum of its weights), a constant per node, and every node
  contributes its own narrow peak.
- **tanh, Xavier**: tanh is centred on 0, which removes that constant: the distributions stay
  smooth bells in every layer, symmetric about 0 — the improvement the book points out.

## ReLU (figure 6-14)

About half of ReLU's outputs are exactly 0; that bin is clipped, as in the book's figure.
""",
    ),
    (
        "code",
        r"""
relu_rows = ["ReLU, std=0.01", "ReLU, Xavier", "ReLU, He"]
fig = plot_activation_histograms(subset(results, relu_rows))
""",
    ),
    (
        "code",
        r"""
print(f"{'configuration':>18}   std of the activations, layer 1 … 5")
for label, c in results["configs"].items():
    print(f"{label:>18}   " + "  ".join(f"{s:6.3f}" for s in c["std_per_layer"]))
""",
    ),
    (
        "md",
        r"""
- **std 0.01**: the activations shrink toward 0 layer by layer; by the third layer they are
  all (numerically) zero, and so would the weight gradients be.
- **Xavier**: the spread halves or so from layer to layer (Xavier's √(1/n) assumes a symmetric
  activation; ReLU zeroes half of its input): deep networks drift toward 0.
- **He**: √(2/n) compensates for that half; the spread stays about the same in every layer.

**What it shows.** The initial weight scale decides whether signals (and gradients) survive a
deep network: Xavier for sigmoid/tanh, He for ReLU. The next cell checks these statements on the
numbers behind the figures.
""",
    ),
    (
        "code",
        r"""
C = results["configs"]

def share_below(label, x):  # share of each layer's activations below x
    c = C[label]
    return c["counts"][:, c["edges"][1:] <= x + 1e-9].sum(1) / c["counts"].sum(1)

def share_above(label, x):
    c = C[label]
    return c["counts"][:, c["edges"][:-1] >= x - 1e-9].sum(1) / c["counts"].sum(1)

# sigmoid, std 1: piled at both ends
assert np.all(share_below("sigmoid, std=1", 0.1) > 0.2), "std=1 should pile at 0"
assert np.all(share_above("sigmoid, std=1", 0.9) > 0.2), "std=1 should pile at 1"
assert np.all(C["sigmoid, std=1"]["frac_saturated"] > 0.6)
# sigmoid, std 0.01: everything at 0.5
assert np.all(C["sigmoid, std=0.01"]["frac_middle"] > 0.99), "std=0.01 should sit at 0.5"
# sigmoid, Xavier: spread, neither saturated nor all at 0.5
xav = C["sigmoid, Xavier"]
assert np.all(xav["frac_saturated"] < 0.1) and np.all(xav["frac_middle"] < 0.9)
assert np.all(xav["std_per_layer"] > 3 * C["sigmoid, std=0.01"]["std_per_layer"])
# ReLU: std 0.01 collapses to 0, Xavier drifts toward 0, He stays even
assert C["ReLU, std=0.01"]["frac_zero"][-1] > 0.99
relu_xavier, relu_he = C["ReLU, Xavier"]["std_per_layer"], C["ReLU, He"]["std_per_layer"]
assert np.all(np.diff(relu_xavier) < 0), "Xavier + ReLU should shrink layer after layer"
assert relu_xavier[-1] < 0.35 * relu_xavier[0]
assert relu_he[-1] > 0.7 * relu_he[0], "He + ReLU should keep the spread"
print("headline outcomes hold")
""",
    ),
]
