CELLS = [
    (
        "md",
        r"""
# 10. Is Lion better than Adam? A fair answer

*Deep Learning from Scratch*, §6.1.7: "which update rule should we use? … there is no method
that is superior on all problems." Notebooks 2 and 9 compare rules on one problem. This one asks
the question the way it can be answered and cited: **is optax's Lion better than the book's
Adam?**

A defensible answer needs four things the one-curve comparison lacks (DeepOBS; Schmidt et al.
2021, "Descending through a crowded valley"; MLCommons AlgoPerf; Agarwal et al. 2021,
"Deep RL at the edge of the statistical precipice"):

1. **several problems** — rankings change from problem to problem;
2. **the same tuning budget for everyone**, over *all* hyper-parameters (K quasi-random trials
   on a validation split: Lion's β₁, β₂ and weight decay as well as its learning rate);
3. **fresh, paired evaluation seeds** — the setting that won the tuning is re-run on E seeds it
   has never seen, seed *i* giving both optimizers the same initial weights and data order;
4. **statistics that say whether a difference is real** — paired tests across seeds, Holm's
   correction across problems, and a speed measure (steps to a fixed target).

`jaxlearn.suite` does all four. Adam, SGD, Momentum and AdamW were tuned with the same protocol
when the package was built; their results ship with it, so only Lion trains here.
""",
    ),
    (
        "code",
        r"""
import os

import matplotlib.pyplot as plt
import numpy as np

from jaxlearn.suite import run
from jaxlearn.suite.analysis import analyze
from jaxlearn.suite.report import verdict_table
from jaxlearn.suite.results import table

QUICK = os.environ.get("JAXLEARN_QUICK") == "1"  # the test suite runs every notebook quickly
# Quick: three problems' smoke-test variants, K = 4 trials, E = 2 seeds; full: every problem,
# K = 16, E = 5 (about a quarter of an hour on a 2-core CPU).
PROBLEMS = ["quadratic", "book_function", "mnist_logreg"] if QUICK else None
# The full run keeps each finished (problem, optimizer) cell in OUT: run this cell again after
# an interruption and it resumes where it stopped (the same command line: jaxlearn suite
# --rule optax:lion --out notebooks/out/10_lion).
OUT = None if QUICK else "out/10_lion"

result = run(["optax:lion"], problems=PROBLEMS, quick=QUICK, references="shipped", out=OUT,
             progress=False, log=None)
print(table(result))
""",
    ),
    (
        "md",
        r"""
Each row is one optimizer on one problem: the setting its K trials chose (`!` marks a value at
the edge of its range — the best might lie outside), how many trials diverged, the final
validation and test values over the evaluation seeds, and the steps to the validation target.

## The verdict, problem by problem

Against the baseline (the tuned Adam), per problem: the mean difference of the final **test**
metric (the split tuning never read) with a paired bootstrap interval, the probability that a
Lion run beats an Adam run, and a verdict from the paired t-test, Holm-corrected over the
problems at α = 0.05. Then the same for steps to target.
""",
    ),
    (
        "code",
        r"""
analysis = analyze(result, baseline="adam")
for report in verdict_table(result, analysis):
    print(report, end="\n\n")
""",
    ),
    (
        "code",
        r"""
from jaxlearn.plots.verdicts import plot_verdicts

fig = plot_verdicts(analysis["final"]["optax:lion"], optimizer="Lion", baseline="adam",
                    measure="final test metric")
if not QUICK:
    fig.savefig("figures/10_is_lion_better_than_adam.png", dpi=80, bbox_inches="tight")
plt.show()
fig = plot_verdicts(analysis["steps"]["optax:lion"], optimizer="Lion", baseline="adam",
                    measure="steps to target")
plt.show()
""",
    ),
    (
        "md",
        r"""
## Across problems

One number per optimizer, two ways. The **performance profile** (Dolan & Moré) is the fraction
of problems an optimizer solves within τ times the fastest optimizer's steps to target;
AlgoPerf's score is its area up to τ = 4 (1: fastest everywhere). The **interquartile mean**
of normalised scores (0: the metric at step 0, 1: the target) averages the middle half of all
runs of all problems, with a stratified-bootstrap interval (rliable).
""",
    ),
    (
        "code",
        r"""
from jaxlearn.plots.verdicts import plot_iqm, plot_performance_profile

labels = {spec: info["label"] for spec, info in result["optimizers"].items()}
relabel = lambda d: {labels[k]: v for k, v in d.items()}  # noqa: E731
profile = {**analysis["profile"], "ratio": relabel(analysis["profile"]["ratio"])}
fig = plot_performance_profile(profile, scores=relabel(analysis["score"]))
plt.show()
fig = plot_iqm(relabel(analysis["iqm"]))
plt.show()
""",
    ),
    (
        "md",
        r"""
## How much tuning did it take?

Reporting only the best of K trials hides how hard that best was to find. The tuning curve
is the expected best validation result after k of the K trials (Dodge et al., 2019); the
sensitivity plot shows every trial against its learning rate, diverged trials included.
""",
    ),
    (
        "code",
        r"""
from jaxlearn.plots.verdicts import plot_sensitivity, plot_tuning_curves

problem = "mnist_logreg" if QUICK else "mnist_mlp"
metric = result["problems"][problem]["target"]["metric"]
fig = plot_tuning_curves(relabel(analysis["tuning"][problem]), problem=problem, metric=metric)
plt.show()
fig = plot_sensitivity(relabel(analysis["sensitivity"][problem]), problem=problem,
                       metric=metric, higher_is_better=True)
plt.show()
""",
    ),
    (
        "md",
        r"""
## The answer

Counted over the problems, with the family-wise error held at α:
""",
    ),
    (
        "code",
        r"""
from collections import Counter

for measure, name in (("final", "final test metric"), ("steps", "steps to target")):
    verdicts = analysis[measure]["optax:lion"]
    counts = Counter(v["verdict"] for v in verdicts.values())
    print(f"Lion against Adam, {name}: " + ", ".join(
        f"{counts.get(k, 0)} {k}" for k in ("better", "not distinguishable", "worse"))
        + f" (of {len(verdicts)} problems)")
score, iqm = analysis["score"], analysis["iqm"]
for spec in ("optax:lion", "adam"):
    low, high = iqm[spec]["ci"]
    print(f"{labels[spec]}: profile score {score[spec]:.2f}, "
          f"IQM {iqm[spec]['iqm']:.2f} [{low:.2f}, {high:.2f}]")

# The notebook's outcome, checked: every problem got a verdict on both measures, from the
# shipped references (not re-run), and no optimizer has the best mean final test metric on
# every problem (the book's "no method is superior on all problems"; on the full suite).
assert set(analysis["final"]["optax:lion"]) == set(result["problems"])
assert set(analysis["steps"]["optax:lion"]) == set(result["problems"])
assert result["references"]["source"] == "shipped"
winners = {}
for problem, cells in result["cells"].items():
    higher = result["problems"][problem]["target"]["mode"] == "max"
    means = {spec: np.mean([np.nan if v is None else v for v in c["eval"]["final"]["test"]])
             for spec, c in cells.items() if c.get("eval")}
    winners[problem] = (max if higher else min)(means, key=lambda s: np.nan_to_num(
        means[s], nan=-np.inf if higher else np.inf))
print("best mean final test metric:", {p: labels[s] for p, s in winners.items()})
if not QUICK:
    assert len(set(winners.values())) > 1
""",
    ),
    (
        "md",
        r"""
The book's conclusion holds in this stricter form: no optimizer is best on every problem,
and on several problems the difference between two well-tuned optimizers is smaller than the
seed-to-seed noise of five runs — "not distinguishable" is an answer, not a failure. To ask
the same of your own optimizer:

```bash
jaxlearn suite --rule mymodule:my_optimizer --out out/mine      # a factory with a search_space
```
""",
    ),
]
