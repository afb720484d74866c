"""Every committed notebook runs top to bottom in quick mode, and its outcome cell passes.

Quick mode (``JAXLEARN_QUICK=1``) shrinks iterations and trials; each notebook still asserts its
headline outcome in a cell, so a notebook whose figure silently went wrong fails here too. The
test also checks that the committed copy carries executed outputs with figures.
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.ipynb"))


def test_there_are_nine_notebooks():
    assert len(NOTEBOOKS) == 9, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_carries_figures(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "not executed top to bottom"
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "no figure in the committed outputs"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, monkeypatch):
    monkeypatch.setenv("JAXLEARN_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"^assert ", code, re.M), "no cell asserts an outcome"
    assert re.search(r"^QUICK = ", code, re.M), "no QUICK switch"
    # A last cell reports what the kernel ran with: the quick mode must reach the kernel's
    # process and the notebook's QUICK switch (else the test would run the full experiments),
    # and the kernel must be this interpreter (the environment under test).
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(QUICK, sys.executable)"))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    report = "".join(o.get("text", "") for o in nb.cells[-1].outputs).split()
    assert report == ["True", sys.executable], report
