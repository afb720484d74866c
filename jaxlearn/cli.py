"""The ``jaxlearn`` command: run one of the chapter's experiments, print a table, save a figure.

jaxlearn paths --out DIR      update paths on f(x, y) = x²/20 + y²
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

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


def _cmd_paths(args: argparse.Namespace) -> int:
    from jaxlearn.experiments import update_paths
    from jaxlearn.plots import RULE_LABELS, plot_update_paths

    results = update_paths(steps=args.steps)
    rows = [
        [
            RULE_LABELS[n],
            r["lr"],
            float(r["path"][-1, 0]),
            float(r["path"][-1, 1]),
            float(r["loss"][-1]),
        ]
        for n, r in results.items()
    ]
    print(f"Update paths on f(x, y) = x²/20 + y² from (-7, 2), {args.steps} steps")
    print(format_table(["rule", "lr", "final x", "final y", "final f"], rows))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig = plot_update_paths(results)
    fig.savefig(out / "paths.png", dpi=110)
    overlay = plot_update_paths(results, overlay=True)
    overlay.savefig(out / "paths_overlay.png", dpi=110)
    save_json(out / "paths.json", results)
    print(f"wrote {out / 'paths.png'}, {out / 'paths_overlay.png'}, {out / 'paths.json'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxlearn`` command."""
    parser = argparse.ArgumentParser(
        prog="jaxlearn",
        description="Re-run the experiments of chapter 6 of 'Deep Learning from Scratch'.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="EXPERIMENT")
    p = sub.add_parser("paths", help="update paths on f(x, y) = x²/20 + y² (figure 6-8)")
    p.add_argument("--out", default="out", help="folder for the figure and JSON (default: out)")
    p.add_argument("--steps", type=int, default=30, help="number of updates (default: 30)")
    p.set_defaults(func=_cmd_paths)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxlearn`` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
