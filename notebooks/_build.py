"""Write the comparison notebooks from their cell lists and execute them in place.

Each notebook's cells live in ``notebooks/_sources/NN_name.py`` as a list ``CELLS`` of
``("md", text)`` / ``("code", source)`` pairs, so a change is a reviewable Python diff; this
script turns them into ``notebooks/NN_name.ipynb`` and runs them top to bottom (full mode, or
quick mode with ``--quick``) so the committed notebooks carry their figures.

    python notebooks/_build.py            # all notebooks, full runs
    python notebooks/_build.py 01 08      # only those whose names start with 01 or 08
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "_sources"


def load_cells(path: Path) -> list[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CELLS


def build(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for kind, text in load_cells(path):
        text = text.strip("\n")
        cell = (
            nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        )
        nb.cells.append(cell)
    return nb


def execute(nb: nbformat.NotebookNode, *, quick: bool, timeout: int = 1800) -> None:
    env_quick = os.environ.get("JAXLEARN_QUICK")
    os.environ["JAXLEARN_QUICK"] = "1" if quick else "0"
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
        ).execute()
    finally:
        if env_quick is None:
            os.environ.pop("JAXLEARN_QUICK", None)
        else:
            os.environ["JAXLEARN_QUICK"] = env_quick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", help="only notebooks starting with these")
    parser.add_argument("--quick", action="store_true", help="run in quick mode")
    parser.add_argument("--no-execute", action="store_true", help="write without running")
    args = parser.parse_args(argv)
    for src in sorted(SOURCES.glob("[0-9]*.py")):
        if args.prefixes and not any(src.stem.startswith(p) for p in args.prefixes):
            continue
        nb = build(src)
        start = time.perf_counter()
        if not args.no_execute:
            execute(nb, quick=args.quick)
        out = HERE / f"{src.stem}.ipynb"
        nbformat.write(nb, out)
        print(f"{out.name}: {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
