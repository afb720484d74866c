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


def test_there_are_ten_notebooks():
    assert len(NOTEBOOKS) == 10, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_carries_figures(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "not executed top to bottom"
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "no figure in the committed outputs"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


# Each runs in its own Jupyter kernel (3.5 min of the test time on 2 cores): the README's third
# test command runs them with the multi-process tests, so the second stays within 8 minutes.
@pytest.mark.notebooks
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


EXPERIMENT_FUNCTIONS = ("update_paths", "activation_histograms", "compare_initializers",
                        "batchnorm_comparison", "weight_decay_experiment", "dropout_experiment",
                        "hyperparameter_search", "compare_optimizers")  # fmt: skip
#: The notebooks whose experiment rests on library calls a learner should see first.
SHOWS_THE_LIBRARY = {
    "01_update_paths": ("jl.sgd", "opt.update", "jl.apply_updates"),
    "03_activation_histograms": ("jl.initializers.xavier()",),
    "04_init_mnist": ("jl.initializers.he()", "jl.sgd"),
    "05_batchnorm": ("jl.batchnorm_init", "jl.batch_norm"),
    "06_overfitting": ("jl.l2_penalty", "with_weight_decay(jl.sgd)", "jl.dropout"),
    "07_hyperparameter_search": ("train_many", "hyperparams="),
}


@pytest.mark.parametrize("stem", list(SHOWS_THE_LIBRARY))
def test_notebook_runs_the_library_lines_before_the_experiment(stem):
    """The calls an experiment rests on are shown, run (with output), before the experiment."""
    nb = nbformat.read(NOTEBOOKS[0].parent / f"{stem}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    calls = [f"{name}(" for name in EXPERIMENT_FUNCTIONS]
    first = next(i for i, c in enumerate(code) if any(call in c.source for call in calls))
    before = [c for c in code[:first] if any(name in c.source for name in SHOWS_THE_LIBRARY[stem])]
    assert before, f"{stem}: none of {SHOWS_THE_LIBRARY[stem]} runs before the experiment"
    for name in SHOWS_THE_LIBRARY[stem]:
        assert any(name in c.source for c in before), f"{stem}: {name} is not shown first"
    assert all(c.get("outputs") for c in before), f"{stem}: the library cells print nothing"
