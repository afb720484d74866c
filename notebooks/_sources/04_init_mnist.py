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
## An initializer inside a model

`jl.initializers.he()` returns a `(key, shape) -> W` function: the model calls it for each
weight matrix. A two-layer ReLU network on the offline `mnist-5k` digits, trained by hand with
`jl.sgd` for 100 steps, once from He's scale and once from std 0.01:
""",
    ),
    (
        "code",
        r"""
import jax
import jax.numpy as jnp

import jaxlearn as jl

(x, t), _ = jl.data.load("mnist-5k")  # images (4000, 784) in [0, 1], integer labels


def init_net(init, key, sizes=(784, 100, 100, 10)):
    keys = jax.random.split(key, len(sizes) - 1)
    return [{"W": init(k, (n_in, n_out)), "b": jnp.zeros(n_out)}
            for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])]


def loss(params, x, t):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["W"] + layer["b"])
    log_p = jax.nn.log_softmax(x @ params[-1]["W"] + params[-1]["b"])
    return -jnp.mean(jnp.take_along_axis(log_p, t[:, None], axis=1))


opt = jl.sgd(lr=0.01)


@jax.jit
def step(params, state, x, t):
    updates, state = opt.update(jax.grad(loss)(params, x, t), state, params)
    return jl.apply_updates(params, updates), state


hand = {}
for name, init in (("std=0.01", jl.initializers.normal(0.01)), ("He", jl.initializers.he())):
    params = init_net(init, jax.random.key(0))
    state = opt.init(params)
    for i in range(100):
        batch = slice(128 * i % 3968, 128 * i % 3968 + 128)
        params, state = step(params, state, x[batch], t[batch])
    hand[name] = float(loss(params, x, t))
    print(f"{name:>8}: loss after 100 steps {hand[name]:.3f} (ln 10 = {np.log(10):.3f})")
""",
    ),
    (
        "md",
        r"""
Even in 100 steps, He's network is learning while std 0.01 has not left ln 10. The experiment
below trains the book's deeper network (four hidden layers) from three scales, for longer.
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
assert hand["He"] < LN10 - 0.3 and abs(hand["std=0.01"] - LN10) < 0.01, "the hand-made model too"
print("headline outcomes hold")
""",
    ),
]
