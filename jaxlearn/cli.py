"""The ``jaxlearn`` command: run one of the chapter's experiments, print a table, save a figure.

    jaxlearn EXPERIMENT [--dataset auto|mnist|fashion-mnist|mnist-5k] [--out DIR] [--quick]
                        [--seed N] [--no-progress] [--devices N]

EXPERIMENT: paths, optimizers, histograms, init, batchnorm, weight-decay, dropout, search, or
all (every one in turn). Each prints a summary table and writes ``DIR/NAME.png`` and
``DIR/NAME.json``. ``--dataset auto`` (the default) uses MNIST when its files are present and
the embedded ``mnist-5k`` (4,000 training / 1,000 test digits) otherwise, and says which.
``--devices N`` splits the search's trials over the first N of ``jax.devices()`` (same results
as one device; see ``docs/scaling.md``); the other experiments run on one device and say so.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jaxlearn.results import save_json


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with right-aligned columns.

    >>> print(format_table(['a', 'bb'], [[1, 2.5]]))
    a   bb
    -  ---
    1  2.5
    """
    cells = [[str(h) for h in header]] + [
        [f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Report:
    """What one experiment prints and writes: a title, a table, notes, figures, the results."""

    def __init__(self, title: str, header: Sequence[str], rows: list, results: Any):
        self.title, self.header, self.rows, self.results = title, header, rows, results
        self.notes: list[str] = []
        self.figures: dict[str, Any] = {}


def _pct(x: float) -> str:
    return f"{100 * float(x):.1f}%"


# ---------------------------------------------------------------------------------------------
# One function per experiment: run it, build its Report
# ---------------------------------------------------------------------------------------------


def _paths(args: argparse.Namespace) -> Report:
    from jaxlearn.experiments import update_paths
    from jaxlearn.plots import RULE_LABELS, plot_update_paths

    results = update_paths(steps=args.steps)
    rows = [
        [RULE_LABELS[n], r["lr"], float(r["path"][-1, 0]), float(r["path"][-1, 1]),
         float(r["loss"][-1])]
        for n, r in results.items()
    ]  # fmt: skip
    rep = Report(
        f"Update paths on f(x, y) = x²/20 + y² from (-7, 2), {args.steps} steps",
        ["rule", "lr", "final x", "final y", "final f"], rows, results,
    )  # fmt: skip
    rep.figures["paths"] = plot_update_paths(results)
    rep.figures["paths_overlay"] = plot_update_paths(results, overlay=True)
    return rep


def _optimizers(args: argparse.Namespace) -> Report:
    from jaxlearn.experiments import compare_optimizers
    from jaxlearn.plots import RULE_LABELS, plot_optimizer_comparison

    r = compare_optimizers(
        key=args.seed, dataset=args.dataset, quick=args.quick, progress=args.progress
    )
    rows = [
        [RULE_LABELS[n], run["lr"], float(run["loss"][0]), run["final_loss"],
         _pct(run["train_acc"]), _pct(run["test_acc"])]
        for n, run in r["runs"].items()
    ]  # fmt: skip
    rep = Report(
        f"Update rules on {r['dataset']}: [100]x4 ReLU, He init, batch {r['batch_size']}, "
        f"{r['iterations']} iterations",
        ["rule", "lr", "first loss", "final loss", "train acc", "test acc"], rows, r,
    )  # fmt: skip
    slowest = max(r["runs"], key=lambda n: r["runs"][n]["final_loss"])
    rep.notes.append(
        f"final loss: mean of the last 5% of the smoothed curve; slowest: {RULE_LABELS[slowest]}"
    )
    rep.figures["optimizers"] = plot_optimizer_comparison(r)
    return rep


def _histograms(args: argparse.Namespace) -> Report:
    from jaxlearn.experiments import activation_histograms
    from jaxlearn.plots import plot_activation_histograms

    r = activation_histograms(key=args.seed)
    rows = [
        [label, f"{c['std']:.3g}", float(c["mean"][0]), float(c["std_per_layer"][0]),
         float(c["std_per_layer"][-1]), _pct(c["frac_saturated"][-1]),
         _pct(c["frac_middle"][-1])]
        for label, c in r["configs"].items()
    ]  # fmt: skip
    rep = Report(
        "Activations of 5 hidden layers of 100 nodes (input N(0, 1), 1000 x 100, no bias)",
        ["config", "W std", "mean L1", "spread L1", "spread L5", "near 0|1 L5", "0.4-0.6 L5"],
        rows, r,
    )  # fmt: skip
    rep.notes.append("spread: standard deviation of the activations; L1/L5: layer 1/5")
    rep.figures["histograms"] = plot_activation_histograms(r)
    return rep


def _init(args: argparse.Namespace) -> Report:
    from jaxlearn.experiments import compare_initializers
    from jaxlearn.plots import plot_initializer_comparison

    r = compare_initializers(
        key=args.seed, dataset=args.dataset, quick=args.quick, progress=args.progress
    )
    rows = [
        [label, str(run["std"]), float(run["loss"][0]), run["final_loss"],
         _pct(run["train_acc"]), _pct(run["test_acc"])]
        for label, run in r["runs"].items()
    ]  # fmt: skip
    rep = Report(
        f"Weight initialisation on {r['dataset']}: [100]x4 ReLU, SGD lr={r['lr']:g}, "
        f"batch {r['batch_size']}, {r['iterations']} iterations",
        ["init", "weight_init_std", "first loss", "final loss", "train acc", "test acc"],
        rows, r,
    )  # fmt: skip
    rep.notes.append("ln 10 = 2.3026: the loss of a network that has learned nothing")
    rep.figures["init"] = plot_initializer_comparison(r)
    return rep


def _batchnorm(args: argparse.Namespace) -> Report:
    from jaxlearn.experiments import batchnorm_comparison
    from jaxlearn.plots import plot_batchnorm_grid

    r = batchnorm_comparison(
        key=args.seed, dataset=args.dataset, quick=args.quick, progress=args.progress
    )
    rows = [
        [f"{w:.3g}", _pct(r["train_acc_plain"][i, -1]), _pct(r["train_acc_bn"][i, -1]),
         "Batch Norm" if r["bn_wins"][i] else "without"]
        for i, w in enumerate(r["weight_scales"])
    ]  # fmt: skip
    rep = Report(
        f"Batch Normalization on {r['dataset']} (1000 training images, [100]x5, SGD 0.01, "
        f"{len(r['epochs'])} epochs): final train accuracy",
        ["W scale", "without BN", "with BN", "better"], rows, r,
    )  # fmt: skip
    rep.notes.append(f"Batch Norm is better at {int(r['bn_wins'].sum())} of {len(rows)} scales")
    rep.figures["batchnorm"] = plot_batchnorm_grid(r)
    return rep


def _overfit_rows(r: dict, label: Callable[[dict], str]) -> list:
    return [
        [label(run), _pct(run["final_train_acc"]), _pct(run["final_test_acc"]), _pct(run["gap"])]
        for run in r["runs"]
    ]


def _weight_decay(args: argparse.Namespace) -> Report:
    from jaxlearn.experiments import weight_decay_experiment
    from jaxlearn.plots import plot_overfitting

    r = weight_decay_experiment(
        key=args.seed, dataset=args.dataset, quick=args.quick, progress=args.progress
    )
    rep = Report(
        f"Weight decay on {r['dataset']} (300 training images, [100]x6, SGD 0.01, "
        f"{len(r['epochs'])} epochs)",
        ["lambda", "train acc", "test acc", "gap"],
        _overfit_rows(r, lambda run: f"{run['lambda']:g}"), r,
    )  # fmt: skip
    rep.notes.append("accuracies: means over the last 10% of epochs")
    rep.figures["weight-decay"] = plot_overfitting(r)
    return rep


def _dropout(args: argparse.Namespace) -> Report:
    from jaxlearn.experiments import dropout_experiment
    from jaxlearn.plots import plot_overfitting

    r = dropout_experiment(
        key=args.seed, dataset=args.dataset, quick=args.quick, progress=args.progress
    )
    rep = Report(
        f"Dropout (ratio {r['dropout_ratio']:g}) on {r['dataset']} (300 training images, "
        f"[100]x6, SGD 0.01, {len(r['epochs'])} epochs)",
        ["network", "train acc", "test acc", "gap"],
        _overfit_rows(r, lambda run: "with Dropout" if run["dropout"] else "without"), r,
    )  # fmt: skip
    rep.notes.append("accuracies: means over the last 10% of epochs")
    rep.figures["dropout"] = plot_overfitting(r)
    return rep


def _search(args: argparse.Namespace) -> Report:
    from jaxlearn.experiments import hyperparameter_search
    from jaxlearn.plots import plot_search, plot_search_map

    r = hyperparameter_search(
        key=args.seed, dataset=args.dataset, quick=args.quick, progress=args.progress,
        devices=args.devices,
    )  # fmt: skip
    rows = [
        [f"Best-{i + 1}", _pct(r["final_val_acc"][i]), _pct(r["train_acc"][i, -1]),
         f"{r['lr'][i]:.2e}", f"{r['weight_decay'][i]:.2e}"]
        for i in range(min(10, len(r["lr"])))
    ]  # fmt: skip
    rep = Report(
        f"Hyper-parameter search on {r['dataset']}: {len(r['lr'])} trials, "
        f"{len(r['epochs'])} epochs (400 train / 100 validation images), top 10",
        ["rank", "val acc", "train acc", "lr", "weight decay"], rows, r,
    )  # fmt: skip
    top = r["lr"][: min(5, len(r["lr"]))]
    rep.notes.append(f"top {len(top)} lr range: {top.min():.1e} .. {top.max():.1e}")
    if args.devices is not None:
        rep.notes.append(f"trials split over {args.devices} devices")
    rep.figures["search"] = plot_search(r)
    rep.figures["search_map"] = plot_search_map(r)
    return rep


#: Experiments that take ``--devices``.
MULTI_DEVICE = {"search"}

#: Subcommand → (help, runner, uses a data set).
EXPERIMENTS: dict[str, tuple[str, Callable[[argparse.Namespace], Report], bool]] = {
    "paths": ("update paths on f(x, y) = x²/20 + y² (figure 6-8)", _paths, False),
    "optimizers": ("SGD, Momentum, AdaGrad, Adam on MNIST (figure 6-9)", _optimizers, True),
    "histograms": ("hidden-layer activation histograms (figures 6-10..14)", _histograms, False),
    "init": ("weight std 0.01 / Xavier / He on MNIST (figure 6-15)", _init, True),
    "batchnorm": ("Batch Norm at 16 weight scales (figure 6-19)", _batchnorm, True),
    "weight-decay": ("overfitting and weight decay (figures 6-20, 6-21)", _weight_decay, True),
    "dropout": ("overfitting and Dropout (figures 6-22, 6-23)", _dropout, True),
    "search": ("random search of lr and weight decay (figure 6-24)", _search, True),
}


def _dataset_line(requested: str) -> tuple[str, str]:
    """The data set to use and the line that says which (and why, for 'auto')."""
    from jaxlearn.data import resolve_dataset

    name = resolve_dataset(requested)
    if requested != "auto":
        return name, f"data: {name}"
    if name == "mnist":
        return name, "data: mnist (--dataset auto: the MNIST files were found locally)"
    return name, (
        "data: mnist-5k (--dataset auto: MNIST files not found, using the embedded 4,000 "
        "training / 1,000 test digits; see README 'Data' for full MNIST)"
    )


def run_experiment(name: str, args: argparse.Namespace) -> Report:
    """Run one experiment, print its table, write ``OUT/NAME.png`` (+ extras) and ``NAME.json``."""
    _, runner, uses_data = EXPERIMENTS[name]
    start = time.perf_counter()
    rep = runner(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(rep.title)
    print(format_table(rep.header, rep.rows))
    for note in rep.notes:
        print(note)
    written = []
    for stem, fig in rep.figures.items():
        fig.savefig(out / f"{stem}.png", dpi=110)
        written.append(out / f"{stem}.png")
    written.append(save_json(out / f"{name}.json", rep.results))
    print(f"wrote {', '.join(str(p) for p in written)}  ({time.perf_counter() - start:.1f} s)")
    return rep


def _main_command(args: argparse.Namespace) -> int:
    names = list(EXPERIMENTS) if args.command == "all" else [args.command]
    if any(EXPERIMENTS[n][2] for n in names):
        args.dataset, line = _dataset_line(args.dataset)
        print(line)
    for i, name in enumerate(names):
        if i:
            print()
        if args.devices is not None and name not in MULTI_DEVICE:
            print(f"note: --devices applies to {', '.join(sorted(MULTI_DEVICE))}; {name} runs "
                  "on one device")  # fmt: skip
        run_experiment(name, args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxlearn`` command.

    >>> build_parser().parse_args(['optimizers', '--quick', '--seed', '3']).seed
    3
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", default="out", help="folder for figures and JSON (default: out)")
    common.add_argument(
        "--dataset", default="auto", choices=["auto", "mnist", "fashion-mnist", "mnist-5k"],
        help="auto (default): MNIST when its files are present, else the embedded mnist-5k",
    )  # fmt: skip
    common.add_argument(
        "--quick", action="store_true", help="shorter runs in which the outcome still shows"
    )
    common.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    common.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bars"
    )
    common.add_argument(
        "--steps", type=int, default=30, help="paths: number of updates (default: 30)"
    )
    common.add_argument(
        "--devices", type=int, default=None, metavar="N",
        help="search: split the trials over the first N of jax.devices() (default: one device)",
    )  # fmt: skip
    parser = argparse.ArgumentParser(
        prog="jaxlearn",
        description="Re-run the experiments of chapter 6 of 'Deep Learning from Scratch'.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="EXPERIMENT")
    for name, (help_, _, _) in EXPERIMENTS.items():
        sub.add_parser(name, help=help_, parents=[common])
    sub.add_parser("all", help="every experiment in turn", parents=[common])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxlearn`` command."""
    args = build_parser().parse_args(argv)
    if args.steps < 1:
        print("jaxlearn: error: --steps must be >= 1", file=sys.stderr)
        return 2
    if args.devices is not None:
        import jax

        available = jax.devices()
        if not 1 <= args.devices <= len(available):
            print(
                f"jaxlearn: error: --devices {args.devices}: between 1 and the "
                f"{len(available)} available devices {available} (on CPU, set "
                "XLA_FLAGS=--xla_force_host_platform_device_count=N for N host devices)",
                file=sys.stderr,
            )
            return 2
    return _main_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
