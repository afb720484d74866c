"""The dependency floors in pyproject.toml are the ones `.ci/run` proves: `.ci/floors.py` pins
every requirement (run, build and the test extra's) to its declared minimum, and `.ci/run`
installs exactly those pins on the floor Python and runs there the tests that exercise each
pinned distribution (`.ci/floors.py`'s TESTS); every other test module is named, with why, in
its NOT_ON_FLOORS."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CI_RUN = (ROOT / ".ci" / "run").read_text()


def floors(*args: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "floors.py"), *args],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def name_of(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower()


def test_every_requirement_is_pinned_to_its_declared_floor():
    pins = dict(line.split("==") for line in floors("test").splitlines() if "==" in line)
    project = PYPROJECT["project"]
    test_extra = [r for r in project["optional-dependencies"]["test"] if "jaxlearn" not in r]
    notebooks = project["optional-dependencies"]["notebooks"][1:]  # after jaxlearn[experiments]
    wanted = (project["dependencies"] + test_extra + notebooks
              + project["optional-dependencies"]["experiments"])  # fmt: skip
    for requirement in wanted:
        floor = re.search(r">=\s*([\w.]+)", requirement).group(1)
        assert pins[name_of(requirement)] == floor, requirement
    # Build requirements too, the higher floor winning where a package is both (jaxlib).
    for requirement in PYPROJECT["build-system"]["requires"]:
        assert name_of(requirement) in pins, requirement
    assert pins["jaxlib"] == pins["jax"]


def test_floors_python_is_requires_python_and_ruffs_target():
    python = floors("--python").strip()
    assert PYPROJECT["project"]["requires-python"] == f">={python}"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + python.replace(".", "")


def floors_module():
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import floors as module
    finally:
        sys.path.pop(0)
    return module


def test_a_requirement_without_a_floor_is_refused(tmp_path):
    module = floors_module()
    with pytest.raises(SystemExit, match="declares no minimum"):
        module.constraints(["somepackage"])
    assert module.constraints(["a>=1.2", "A>=1.10", "b==2.0"]) == {"a": "1.10", "b": "2.0"}


def test_every_pinned_distribution_names_the_tests_that_prove_its_floor():
    module = floors_module()
    pinned = {line.split("==")[0] for line in floors("test").splitlines() if "==" in line}
    missing = sorted(pinned - set(module.TESTS))
    assert not missing, f"pinned in .ci/floors.py but no tests named in its TESTS: {missing}"
    assert not sorted(set(module.TESTS) - pinned), "TESTS names a distribution that is not pinned"
    for tests in (t for _, t in module.TESTS.values()):
        for test in tests:
            assert (ROOT / test.split("::")[0]).exists(), test


def test_every_test_module_runs_on_the_floors_or_says_why_not():
    module = floors_module()
    on_floors = {t.split("::")[0] for _, tests in module.TESTS.values() for t in tests}
    assert not on_floors & set(module.NOT_ON_FLOORS)
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").glob("test_*.py")}
    unclassified = sorted(modules - on_floors - set(module.NOT_ON_FLOORS))
    assert not unclassified, (
        f"test modules neither in .ci/floors.py's TESTS nor in its NOT_ON_FLOORS: {unclassified}"
    )
    assert not set(module.NOT_ON_FLOORS) - modules, "NOT_ON_FLOORS names a missing module"


def test_every_named_floors_test_exists():
    """A test of .ci/floors.py's TESTS named by ``module::function`` is defined in that module
    (a renamed test would otherwise make the floors step fail with 'not found')."""
    import ast

    module = floors_module()
    missing = []
    for _, tests in module.TESTS.values():
        for test in tests:
            path, _, name = test.partition("::")
            if not name:
                assert (ROOT / path).exists(), path
                continue
            tree = ast.parse((ROOT / path).read_text())
            defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            if name.split("[")[0] not in defined:
                missing.append(test)
    assert not missing, missing


def test_ci_installs_the_floors_and_runs_their_tests_there():
    """The floors environment in .ci/run: the floor Python, the pins, no build isolation (the
    kernels compile against the floor jaxlib), and the tests .ci/floors.py names."""
    block = CI_RUN[CI_RUN.index("declared floors") :]
    assert 'floor_python="python$(.venv/bin/python .ci/floors.py --python)"' in block
    assert ".ci/floors.py test > .venv-floors/floors.txt" in block
    assert "-c .venv-floors/floors.txt" in block and "--no-build-isolation -e '.[test]'" in block
    assert "mapfile -t floors_tests < <(.venv/bin/python .ci/floors.py --tests)" in block
    assert re.search(r'^\.venv-floors/bin/python -m pytest -n 2 .*"\$\{floors_tests\[@\]\}"',
                     block, re.M)  # fmt: skip
    assert "assert jo.native_available()" in block


def test_ci_runs_the_readmes_three_commands():
    """CI runs the README's quick start as written (its test commands with extra reporting):
    the install and main job, the test suite without the multi-process tests, and those."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("## Quick start") :]
    block = block[block.index("```bash\n") + 8 :]
    install, test, multiprocess = block[: block.index("```")].strip().splitlines()
    assert "python3.11 -m venv .venv" in CI_RUN
    assert install.split("&& ", 2)[2].strip() + " --no-progress" in CI_RUN  # jaxlearn optimizers
    assert re.search("^" + re.escape(test) + r" --durations=\d+ --junitxml=", CI_RUN, re.M)
    assert re.search("^" + re.escape(multiprocess) + r" --durations=\d+$", CI_RUN, re.M)
