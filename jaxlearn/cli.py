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
import dataclasses
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from jaxlearn.experiments.report import Report
from jaxlearn.results import save_json


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A subcommand: what it runs, how the result is reported, and its figures.

    ``run(args) -> result`` calls one function of :mod:`jaxlearn.experiments`; the report text
    is that experiment module's ``report(result)``; ``figures(result) -> {stem: Figure}`` comes
    from :mod:`jaxlearn.plots`. Nothing about an experiment's settings is written here.
    """

    help: str
    module: str
    run: Callable[[argparse.Namespace], dict]
    figures: Callable[[dict], dict]
    uses_data: bool = True


def _train_args(args: argparse.Namespace) -> dict:
    return dict(key=args.seed, dataset=args.dataset, quick=args.quick, progress=args.progress)


def _paths(args):
    from jaxlearn.experiments import update_paths

    return update_paths(steps=args.steps)


def _paths_figures(r):
    from jaxlearn.plots import plot_update_paths

    return {"paths": plot_update_paths(r), "paths_overlay": plot_update_paths(r, overlay=True)}


def _optimizers(args):
    from jaxlearn.experiments import compare_optimizers

    return compare_optimizers(**_train_args(args))


def _histograms(args):
    from jaxlearn.experiments import activation_histograms

    return activation_histograms(key=args.seed)


def _init(args):
    from jaxlearn.experiments import compare_initializers

    return compare_initializers(**_train_args(args))


def _batchnorm(args):
    from jaxlearn.experiments import batchnorm_comparison

    return batchnorm_comparison(**_train_args(args))


def _weight_decay(args):
    from jaxlearn.experiments import weight_decay_experiment

    return weight_decay_experiment(**_train_args(args))


def _dropout(args):
    from jaxlearn.experiments import dropout_experiment

    return dropout_experiment(**_train_args(args))


def _search(args):
    from jaxlearn.experiments import hyperparameter_search

    return hyperparameter_search(**_train_args(args), devices=args.devices)


def _figure(name: str, stem: str) -> Callable[[dict], dict]:
    def figures(r: dict) -> dict:
        import jaxlearn.plots

        return {stem: getattr(jaxlearn.plots, name)(r)}

    return figures


def _search_figures(r):
    from jaxlearn.plots import plot_search, plot_search_map

    return {"search": plot_search(r), "search_map": plot_search_map(r)}


_E = "jaxlearn.experiments."
#: Experiments that take ``--devices``.
MULTI_DEVICE = {"search"}

#: Subcommand → its experiment.
EXPERIMENTS: dict[str, Experiment] = {
    "paths": Experiment(
        "update paths on f(x, y) = x²/20 + y² (figure 6-8)", _E + "paths", _paths,
        _paths_figures, uses_data=False,
    ),
    "optimizers": Experiment(
        "SGD, Momentum, AdaGrad, Adam on MNIST (figure 6-9)", _E + "optimizers", _optimizers,
        _figure("plot_optimizer_comparison", "optimizers"),
    ),
    "histograms": Experiment(
        "hidden-layer activation histograms (figures 6-10..14)", _E + "histograms",
        _histograms, _figure("plot_activation_histograms", "histograms"), uses_data=False,
    ),
    "init": Experiment(
        "weight std 0.01 / Xavier / He on MNIST (figure 6-15)", _E + "initializers", _init,
        _figure("plot_initializer_comparison", "init"),
    ),
    "batchnorm": Experiment(
        "Batch Norm at 16 weight scales (figure 6-19)", _E + "batchnorm", _batchnorm,
        _figure("plot_batchnorm_grid", "batchnorm"),
    ),
    "weight-decay": Experiment(
        "overfitting and weight decay (figures 6-20, 6-21)", _E + "overfitting",
        _weight_decay, _figure("plot_overfitting", "weight-decay"),
    ),
    "dropout": Experiment(
        "overfitting and Dropout (figures 6-22, 6-23)", _E + "overfitting", _dropout,
        _figure("plot_overfitting", "dropout"),
    ),
    "search": Experiment(
        "random search of lr and weight decay (figure 6-24)", _E + "search", _search,
        _search_figures,
    ),
}  # fmt: skip


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
    """Run one experiment, print its report, write ``OUT/NAME.png`` (+ extras) and ``NAME.json``."""
    experiment = EXPERIMENTS[name]
    start = time.perf_counter()
    result = experiment.run(args)
    rep = importlib.import_module(experiment.module).report(result)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(rep)
    written = []
    for stem, fig in experiment.figures(result).items():
        fig.savefig(out / f"{stem}.png", dpi=110)
        written.append(out / f"{stem}.png")
    written.append(save_json(out / f"{name}.json", result))
    print(f"wrote {', '.join(str(p) for p in written)}  ({time.perf_counter() - start:.1f} s)")
    return rep


def _main_command(args: argparse.Namespace) -> int:
    names = list(EXPERIMENTS) if args.command == "all" else [args.command]
    if any(EXPERIMENTS[n].uses_data for n in names):
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
        "--no-progress", dest="progress", action="store_false", default=None,
        help="no progress bars (default: shown when stderr is a terminal)",
    )  # fmt: skip
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
    for name, experiment in EXPERIMENTS.items():
        sub.add_parser(name, help=experiment.help, parents=[common])
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
