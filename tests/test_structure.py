"""Shape of the code that the training core promises to keep (one training core, one compiled
program): small functions in ``jaxlearn/train``, a short loop module, no signature inspection, and
lower layers never importing higher ones."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "jaxlearn"
#: The public entry points may take the run's options as ``**options``.
ENTRY_POINTS = {"train", "train_many"}
#: Data flows one way: a module of a layer imports only from layers before it.
LAYERS = ["data", "nn", "optim", "train", "experiments", "plots", "suite", "cli"]


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _arity(node: ast.FunctionDef) -> int:
    a = node.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    extra = (a.vararg is not None) + (a.kwarg is not None)
    return len([n for n in names if n not in ("self", "cls")]) + extra


def test_train_functions_take_at_most_eight_parameters():
    wide = [
        f"{path.name}:{node.name} ({_arity(node)})"
        for path in (PACKAGE / "train").glob("*.py")
        for node in _functions(path)
        if _arity(node) > 8 and node.name not in ENTRY_POINTS
    ]
    assert not wide, wide


def test_the_loop_module_stays_short():
    assert len((PACKAGE / "train" / "loop.py").read_text().splitlines()) < 400


#: The one module that may read a signature: to list an optax alias's arguments in the error
#: for a misspelt spec (never to find a learning rate: that name comes from the spec's kind).
SIGNATURE_FOR_ERRORS = {"experiments/specs.py"}


def test_nothing_inspects_signatures_to_find_a_learning_rate():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if ("import inspect" in p.read_text() or "signature(" in p.read_text())
        and str(p.relative_to(PACKAGE)) not in SIGNATURE_FOR_ERRORS
    ]
    assert not offenders, offenders
    specs = (PACKAGE / "experiments" / "specs.py").read_text()
    assert specs.count("signature(") == 1 and "# for the error message only" in specs


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "jaxlearn" or len(parts) < 2:
        return None
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def test_lower_layers_never_import_higher_ones():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        own = _layer(".".join(rel.parts))
        if own is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                other = _layer(name)
                if other is not None and other > own:
                    upward.append(f"{'.'.join(rel.parts)} imports {name}")
    assert not upward, upward


def test_every_data_file_of_the_package_is_installed():
    """A wheel holds a package's non-Python files only when pyproject.toml's package-data names
    them: every such file in jaxlearn/ (the suite's spaces and references, ...) is either named
    there or excluded on purpose (the kernels' C++ sources, compiled instead)."""
    import fnmatch
    import tomllib

    tool = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = {**tool["package-data"], **tool["exclude-package-data"]}
    files = [
        p for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".so", ".pyc") and "__pycache__" not in p.parts
    ]  # fmt: skip
    assert any(p.name == "full.json.gz" for p in files)  # the check sees the data files

    def covered(path: Path) -> bool:
        for package, globs in patterns.items():
            root = PACKAGE.parent / package.replace(".", "/")
            if root in path.parents:
                rel = path.relative_to(root).as_posix()
                if any(fnmatch.fnmatch(rel, g) for g in globs):
                    return True
        return False

    assert not [str(p.relative_to(PACKAGE)) for p in files if not covered(p)]
