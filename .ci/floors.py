"""Print pip constraints pinning every floor declared in pyproject.toml: `name>=X` -> `name==X`.

``.ci/run`` installs jaxlearn against these constraints in a second environment (on the floor
Python) and runs the suite there, so each minimum in pyproject.toml is a version that was seen
to work, not a guess. The floors are read from pyproject.toml only: that file is their one home.

Usage: ``python .ci/floors.py EXTRA... > floors.txt`` (the extras whose dependencies to pin,
besides the base ones; nested ``jaxlearn[...]`` extras are followed); ``python .ci/floors.py
--python`` prints the floor Python's version.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


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
    print(f"# floors from pyproject.toml (Python {python}), extras: {', '.join(extras) or 'none'}")
    # The build requirements too: the floors environment builds jaxlearn without isolation, so
    # the native kernels compile against the floor jaxlib's headers.
    wanted = pyproject["build-system"]["requires"] + requirements(project, extras)
    for name, version in sorted(constraints(wanted).items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main(sys.argv[1:])
