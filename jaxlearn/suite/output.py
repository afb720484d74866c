"""A suite result's files: ``suite.json``, the tidy ``suite.csv`` and a figure per problem."""

from __future__ import annotations

import csv
from pathlib import Path

from jaxlearn._files import atomic_path
from jaxlearn.results import save_json
from jaxlearn.suite.results import tidy

__all__ = ["write_outputs"]


def write_outputs(result: dict, out: str | Path, *, figures: bool = True) -> list[Path]:
    """Write ``OUT/suite.json``, ``OUT/suite.csv`` and ``OUT/figures/PROBLEM.png`` (each file
    whole or not at all); the paths written."""
    out = Path(out)
    written = [save_json(out / "suite.json", result)]
    header, rows = tidy(result)
    path = out / "suite.csv"
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    written.append(path)
    if figures:
        from jaxlearn.plots.style import pyplot
        from jaxlearn.plots.suite import plot_suite_curves

        plt = pyplot()
        for problem in result["cells"]:
            fig = plot_suite_curves(result, problem)
            path = out / "figures" / f"{problem}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=110, format="png")
            plt.close(fig)
            written.append(path)
    return written
