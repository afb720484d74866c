CELLS = [
    (
        "md",
        r"""
# 6. Overfitting, weight decay and Dropout

*Deep Learning from Scratch*, §6.4, figures 6-20 to 6-23 (`ch06/overfit_weight_decay.py`,
`ch06/overfit_dropout.py`).

**The question.** A large network trained on very little data fits its training images and
fails on new ones. The book provokes this on purpose — a 7-layer network (784 → 100 × 6 → 10,
ReLU) trained on only 300 images with SGD (η = 0.01, batch 100) — and tries two remedies:

- **weight decay**: add ½λΣ‖W‖² to the loss (λ = 0.1, 201 epochs);
- **Dropout**: in training, drop each hidden unit with probability 0.2 (301 epochs).

Do they narrow the gap between training and test accuracy?
""",
    ),
    (
        "code",
        r"""
import os

from jaxlearn.experiments import dropout_experiment, weight_decay_experiment
from jaxlearn.plots import plot_overfitting

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # the test suite runs every notebook quickly
""",
    ),
    (
        "md",
        r"""
## The two remedies by hand

Weight decay adds ½λΣ‖W‖² to the loss (`jl.l2_penalty`; the biases are not decayed), so its
gradient adds λW to each weight's gradient: `with_weight_decay(jl.sgd)` is SGD on that
gradient. Dropout (`jl.dropout`) zeroes each unit with probability `rate` in training and, in
the book's form, scales every unit by 1 − rate at inference:
""",
    ),
    (
        "code",
        r"""
import jax
import jax.numpy as jnp

import jaxlearn as jl
from jaxlearn.nn import with_weight_decay

params = {"W": jnp.full((3, 2), 2.0), "b": jnp.ones(2)}
print(f"½λΣ‖W‖² with λ = 0.1: {float(jl.l2_penalty(params, 0.1)):.3f}")  # 0.5 · 0.1 · 6 · 2²
opt = with_weight_decay(jl.sgd)(lr=0.1, weight_decay=0.1)
zero = jax.tree.map(jnp.zeros_like, params)  # no loss gradient: only the decay acts
updates, _ = opt.update(zero, opt.init(params), params)
print("update of W:", updates["W"][0], " of b:", updates["b"])  # -lr · λ · W, and 0

h = jnp.ones((2, 10))
print("training: ", jl.dropout(jax.random.key(0), h, 0.2, train=True)[0])
print("inference:", jl.dropout(None, h, 0.2, train=False)[0])
""",
    ),
    (
        "md",
        r"""
## Weight decay (figures 6-20, 6-21)

λ = 0 and λ = 0.1 train together in one `vmap`-ed program, from the same weights and with the
same mini-batches; accuracy on the 300 training images and on the whole test set is measured
after each epoch. Full mode: the book's 201 epochs; quick mode: 101.
""",
    ),
    (
        "code",
        r"""
wd = weight_decay_experiment(lambdas=(0.0, 0.1), quick=QUICK, progress=False)
print("data:", wd["config"]["dataset"], f"(300 training images, {len(wd['epochs'])} epochs)")
fig = plot_overfitting(wd)
if not QUICK:  # the figure shown in notebooks/README.md
    os.makedirs("figures", exist_ok=True)
    fig.savefig("figures/06_overfitting.png", dpi=80, bbox_inches="tight")
""",
    ),
    (
        "md",
        r"""
## Dropout (figures 6-22, 6-23)

The book's Dropout: in training a unit is kept where U(0, 1) > 0.2 (no rescaling); at test time
every output is multiplied by 0.8. Full mode: the book's 301 epochs; quick mode: 151.
""",
    ),
    (
        "code",
        r"""
do = dropout_experiment(dropout_ratio=0.2, quick=QUICK, progress=False)
print("data:", do["config"]["dataset"], f"(300 training images, {len(do['epochs'])} epochs)")
fig = plot_overfitting(do)
""",
    ),
    (
        "code",
        r"""
print("means over the last 10% of epochs")
print(f"{'run':>22} {'train acc':>10} {'test acc':>9} {'gap':>6}")
rows = [("no regularisation", wd["runs"][0]), ("weight decay λ=0.1", wd["runs"][1]),
        ("no Dropout", do["runs"][0]), ("Dropout 0.2", do["runs"][1])]
for name, run in rows:
    train, test = run["final_train_acc"], run["final_test_acc"]
    print(f"{name:>22} {train:10.3f} {test:9.3f} {run['gap']:6.3f}")
""",
    ),
    (
        "md",
        r"""
**What it shows.**

- **No regularisation**: training accuracy reaches 100% within about 100 epochs while test
  accuracy stalls far below: the network has memorised its 300 images.
- **Weight decay λ = 0.1**: training accuracy stays below 100% and the gap between the curves
  narrows. Test accuracy does not rise much: with 300 images there is only so much to learn.
- **Dropout 0.2**: training accuracy stays well below 100% and the gap narrows the most; here
  both curves are still climbing at the end — Dropout slows learning down, and on this data and
  seed it is slower than in the book's figure.

The next cell checks these statements.
""",
    ),
    (
        "code",
        r"""
plain, decayed = wd["runs"]
no_drop, drop = do["runs"]
assert plain["final_train_acc"] > 0.98, "without regularisation the 300 images are memorised"
assert plain["gap"] > 0.1, "... and test accuracy stays far below"
assert decayed["gap"] < plain["gap"] - 0.02, "weight decay should narrow the train-test gap"
assert decayed["final_train_acc"] < plain["final_train_acc"]
assert no_drop["final_train_acc"] > 0.98 and no_drop["gap"] > 0.1
assert drop["gap"] < no_drop["gap"] - 0.05, "Dropout should narrow the train-test gap"
assert drop["final_train_acc"] < 0.98, "with Dropout training accuracy stays below 100%"
print("headline outcomes hold")
""",
    ),
]
