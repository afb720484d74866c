CELLS = [
    (
        "md",
        r"""
# 2. The update rules on MNIST

*Deep Learning from Scratch*, §6.1.8, figure 6-9 (`ch06/optimizer_compare_mnist.py`).

**The question.** The update paths (notebook 1) are a toy function of two variables. Does the
ranking hold when the rules train a real network? The book trains a 5-layer network
(784 → 100 × 4 → 10, ReLU, He initialisation) on MNIST with mini-batches of 128 for 2,000
iterations, once per rule at its default hyper-parameters, and plots the smoothed training loss.

The second half puts optax's optimizers beside jaxlearn's on exactly the same run: where do
they coincide, and where — and why — do they differ?
""",
    ),
    (
        "code",
        r"""
import os

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

from jaxlearn.experiments import BOOK_RULES, as_key, compare_optimizers, get_data, smooth_curve
from jaxlearn.nn import mlp
from jaxlearn.plots import RULE_COLORS, RULE_LABELS, plot_optimizer_comparison
from jaxlearn.train import train

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # the test suite runs every notebook quickly
# Full mode: the book's 2,000 iterations. Quick mode: 300, enough for SGD to trail clearly.
ITERATIONS = 300 if QUICK else 2000
KEY = 0
""",
    ),
    (
        "md",
        r"""
## The book's figure

`compare_optimizers` builds the network once and trains a copy with each rule. Every rule starts
from the same weights and sees the same mini-batches (drawn with replacement, as the book does),
so the curves differ only by the update rule. Each run is one compiled `lax.scan`.
""",
    ),
    (
        "code",
        r"""
results = compare_optimizers(BOOK_RULES, key=KEY, iterations=ITERATIONS, progress=False)
config = results["config"]
print("data:", config["dataset"], f"({config['iterations']} iterations, batch "
      f"{config['batch_size']}, hidden {config['hidden']})")
fig = plot_optimizer_comparison(results)
if not QUICK:  # the figure shown in notebooks/README.md
    os.makedirs("figures", exist_ok=True)
    fig.savefig("figures/02_optimizers_mnist.png", dpi=80, bbox_inches="tight")
""",
    ),
    (
        "code",
        r"""
print(f"{'rule':>9} {'lr':>6} {'final smoothed loss':>20} {'train acc':>10} {'test acc':>9}")
for rule, run in results["runs"].items():
    print(f"{RULE_LABELS[rule]:>9} {run['lr']:6g} {run['final_loss']:20.4f} "
          f"{run['train_acc']:10.3f} {run['test_acc']:9.3f}")
""",
    ),
    (
        "md",
        r"""
**What it shows.** SGD is clearly the slowest: its loss is still well above the others when they
have nearly reached zero (the y-axis is logarithmic: the final losses span three decades, which
a linear axis would flatten onto its floor). Momentum, AdaGrad and Adam learn much faster and
end close together.
(The book sees AdaGrad slightly ahead; here, on the 4,000-image `mnist-5k` set and this seed,
Adam ends lowest — the three are close and their order changes with the seed. On a small training
set the three also drive the training loss almost to zero: they fit the 4,000 images.)

## optax's optimizers on the same run

jaxlearn's rules and optax's transformations follow the same `(init, update)` protocol, so
`jaxlearn.train.train` takes a ready optax optimizer as it takes a jaxlearn one (and an optax
factory such as `optax.adam` with `hyperparams={"learning_rate": ...}`, kept in the optimizer
state). The twins are built here, each at optax's defaults with the book's learning rate, which
optax requires.

The same network and the same key as `compare_optimizers(key=KEY)` above, so each twin starts
from the same weights and sees the same mini-batches.
""",
    ),
    (
        "code",
        r"""
OPTAX_TWINS = {
    "sgd": ("optax.sgd(0.01)", optax.sgd(0.01)),
    "momentum": ("optax.sgd(0.01, momentum=0.9)", optax.sgd(0.01, momentum=0.9)),
    "adagrad": ("optax.adagrad(0.01)", optax.adagrad(0.01)),
    "adam": ("optax.adam(0.001)", optax.adam(0.001)),
}

name, data = get_data(config["dataset"])
k_init, k_train = jax.random.split(as_key(KEY))  # as compare_optimizers splits its key
net, params, state = mlp.init(k_init, data[0][0].shape[1], config["hidden"], 10)
twins = {}
for rule, (call, opt) in OPTAX_TWINS.items():
    r = train(net, params, state, opt, data, key=k_train, iterations=config["iterations"],
              batch_size=config["batch_size"], eval_every=config["iterations"], progress=False)
    twins[rule] = {"call": call, "loss": r.loss, "smoothed_loss": smooth_curve(r.loss),
                   "test_acc": float(r.test_acc[-1])}
print("data:", name)
""",
    ),
    (
        "code",
        r"""
fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), sharex=True, sharey=True)
for ax, rule in zip(axes.flat, OPTAX_TWINS):
    ours, theirs = results["runs"][rule], twins[rule]
    it = np.arange(1, len(ours["loss"]) + 1)
    color = RULE_COLORS[rule]
    ax.plot(it, ours["smoothed_loss"], color=color, lw=2.2, label=f"jaxlearn {RULE_LABELS[rule]}")
    ax.plot(it, theirs["smoothed_loss"], "--", color="k", lw=1.2, label=theirs["call"])
    diff = np.abs(ours["loss"] - theirs["loss"]).max()
    ax.set_title(f"{RULE_LABELS[rule]}: max |Δ loss| = {diff:.2g}", fontsize=10)
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower left")
for ax in axes[1]:
    ax.set_xlabel("iterations")
for ax in axes[:, 0]:
    ax.set_ylabel("loss (smoothed, log scale)")
fig.suptitle(f"jaxlearn (solid) vs optax at its defaults (dashed), {config['dataset']}")
fig.tight_layout()
""",
    ),
    (
        "code",
        r"""
print(f"{'rule':>9}  {'optax twin':<31} {'max |Δ loss|':>12}  {'final loss jl / optax':>22}"
      f"  {'test acc jl / optax':>19}")
for rule, t in twins.items():
    ours = results["runs"][rule]
    d = np.abs(ours["loss"] - t["loss"]).max()
    f_ours, f_theirs = ours["final_loss"], float(t["smoothed_loss"][-len(t["loss"]) // 20:].mean())
    print(f"{RULE_LABELS[rule]:>9}  {t['call']:<31} {d:12.2g}  {f_ours:10.4f} / {f_theirs:<9.4f}"
          f"  {ours['test_acc']:8.3f} / {t['test_acc']:.3f}")
""",
    ),
    (
        "md",
        r"""
**Where they coincide.**

- **SGD** is `optax.sgd`: the same arithmetic, the same losses bit for bit.
- **Momentum** is `optax.sgd(momentum=0.9)`: the book writes v ← αv − ηg, W ← W + v; optax
  keeps the trace m ← g + αm and steps −ηm = v. For a constant η the two are the same
  sequence; the losses agree to float32 rounding over the whole run.
- **Adam**: the book's Adam is optax's with a step-dependent ε_t = ε/√(1−β2^t), and exactly
  optax's when ε = 0. With the defaults (the book's ε = 1e-7, optax's 1e-8) ε is tiny next to
  √v, so the curves lie on top of each other; the losses differ by a few hundredths at most as
  the two runs drift apart (notebook 8 shows the step-by-step relation).

**Where they differ: AdaGrad.** optax's `adagrad` starts the accumulator at
`initial_accumulator_value=0.1` and puts ε inside the root, W ← W − η g/√(h + ε); the book starts
h at 0 with ε outside. On the first step the book's rule moves every weight by η·sign(g) (h = g²),
while optax's moves it by η g/√(0.1 + g²), a far smaller step wherever |g| ≪ √0.1 ≈ 0.3. So the
book's AdaGrad falls at once and optax's starts slowly (and, with its larger accumulator, stays a
little behind). `optax.adagrad(lr, initial_accumulator_value=0, eps=0)` is the book's rule with
ε = 0 (notebook 8).

The cell below checks these statements, so a silently wrong figure fails the notebook.
""",
    ),
    (
        "code",
        r"""
runs = results["runs"]
final = {rule: run["final_loss"] for rule, run in runs.items()}
# The book's figure: SGD slowest; Momentum, AdaGrad and Adam far ahead of it.
assert max(final, key=final.get) == "sgd", f"SGD should end highest: {final}"
for rule in ("momentum", "adagrad", "adam"):
    assert final[rule] < 0.5 * final["sgd"], f"{rule} should be well ahead of SGD: {final}"

def max_diff(rule):
    return float(np.abs(runs[rule]["loss"] - twins[rule]["loss"]).max())

assert max_diff("sgd") < 1e-5, "jaxlearn SGD = optax.sgd (and the twins share weights/batches)"
assert max_diff("momentum") < 1e-4, "Momentum = optax.sgd(momentum=0.9)"
assert max_diff("adam") < 0.1, "the book's Adam ~ optax.adam (they differ only in eps)"
# AdaGrad: optax's initial accumulator 0.1 makes its first steps much smaller.
early = slice(0, 50)
assert (runs["adagrad"]["smoothed_loss"][early].mean()
        < twins["adagrad"]["smoothed_loss"][early].mean() - 0.3), "optax AdaGrad starts slower"
print("headline outcomes hold")
""",
    ),
]
