CELLS = [
    (
        "md",
        r"""
# 1. Update paths on f(x, y) = x²/20 + y²

*Deep Learning from Scratch*, §6.1, figures 6-3 to 6-8.

**The question.** The function f(x, y) = x²/20 + y² is a long, shallow valley: twenty times
steeper across (y) than along (x). Its gradient mostly points across the valley, not toward the
minimum at the origin. How does each update rule travel from (−7, 2) to the minimum in 30 steps?

The book answers with SGD (η = 0.95), Momentum (η = 0.1), AdaGrad (η = 1.5) and Adam (η = 0.3);
jaxlearn adds Nesterov and RMSprop.
""",
    ),
    (
        "code",
        r"""
import os

import numpy as np

from jaxlearn.experiments import PATH_LEARNING_RATES, update_paths
from jaxlearn.plots import plot_update_paths

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # the test suite runs every notebook quickly
print("learning rates:", PATH_LEARNING_RATES)
""",
    ),
    (
        "md",
        r"""
## One rule, step by step

Every update rule is an `(init, update)` pair that follows optax's protocol: `init` makes its
state from the parameters, `update` turns a gradient into an update, `jl.apply_updates` adds it.
Here are SGD's first three steps from (−7, 2) by hand, the gradient from `jax.grad`:
""",
    ),
    (
        "code",
        r"""
import jax
import jax.numpy as jnp

import jaxlearn as jl
from jaxlearn.experiments import valley  # f(x, y) = x²/20 + y²

opt = jl.sgd(lr=0.95)
xy = jnp.array([-7.0, 2.0])
state = opt.init(xy)
for step in range(3):
    updates, state = opt.update(jax.grad(valley)(xy), state, xy)
    xy = jl.apply_updates(xy, updates)
    print(f"step {step + 1}: x = {float(xy[0]):7.3f}, y = {float(xy[1]):6.3f}, "
          f"f = {float(valley(xy)):.3f}")
by_hand = np.asarray(xy)
""",
    ),
    (
        "md",
        r"""
`update_paths` runs exactly these lines for each rule, 30 steps as one compiled `lax.scan`:
its SGD path passes through the three points above.
""",
    ),
    (
        "code",
        r"""
results = update_paths(steps=30)
np.testing.assert_allclose(results["runs"]["sgd"]["path"][3], by_hand, rtol=1e-6)
fig = plot_update_paths(results)
""",
    ),
    (
        "md",
        r"""
All six on one plot, in the colours every notebook uses for each rule:
""",
    ),
    (
        "code",
        r"""
fig = plot_update_paths(results, overlay=True)
fig.set_size_inches(8, 4.5)
""",
    ),
    (
        "code",
        r"""
print(f"{'rule':>10} {'lr':>5} {'final x':>9} {'final y':>10} {'f':>9}  sign changes of y")
for name, r in results["runs"].items():
    x, y = r["path"][-1]
    flips = int(np.sum(np.diff(np.sign(r["path"][:, 1])) != 0))
    print(f"{name:>10} {r['lr']:5.2f} {x:9.4f} {y:10.2e} {r['loss'][-1]:9.2e}  {flips}")
""",
    ),
    (
        "md",
        r"""
**What it shows.**

- **SGD** zig-zags: y changes sign on every step while x creeps toward 0 — the gradient points
  across the valley.
- **Momentum** rolls like a ball: it overshoots along x and swings back, but y's oscillation is
  damped because opposite pushes cancel in the velocity.
- **AdaGrad** damps the y motion almost at once (large y-gradients shrink y's effective rate),
  then moves steadily along x.
- **Adam** rolls like Momentum but with less swing: its per-coordinate scaling evens out the two
  directions.

The cell below checks these statements on the numbers, so the figure cannot silently go wrong.
""",
    ),
    (
        "code",
        r"""
def flips(name):
    return int(np.sum(np.diff(np.sign(results["runs"][name]["path"][:, 1])) != 0))

assert flips("sgd") >= 25, "SGD should zig-zag across the valley (y flips sign every step)"
assert flips("momentum") < 10 and flips("adam") < 10, "Momentum and Adam roll, they don't zig-zag"
assert abs(results["runs"]["adagrad"]["path"][5, 1]) < 0.05, "AdaGrad damps y within a few steps"
def y_swing(name):
    return np.abs(results["runs"][name]["path"][5:, 1]).max()

assert y_swing("adam") < y_swing("momentum"), "Adam swings less than Momentum"
for name, r in results["runs"].items():
    assert r["loss"][-1] < 0.2 * r["loss"][0], f"{name} should have descended"
print("headline outcomes hold")
""",
    ),
]
