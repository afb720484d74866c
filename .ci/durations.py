"""Print where the test suite's time goes, from pytest's JUnit XML: seconds per test module
(summed over its tests, so with ``-n 2`` the wall time is about half the total) and the
slowest tests.

Usage: ``python .ci/durations.py out/ci/junit.xml [N]`` (N slowest tests, default 15).
``.ci/run`` prints it after the suite, so each CI log keeps the numbers a new test is
weighed against (the README's test command must stay within 8 minutes on 2 cores).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def module_of(case: ET.Element) -> str:
    """``tests/test_x.py`` from a test case's classname (``tests.test_x`` or
    ``tests.test_x.TestClass``); the doctests of ``jaxlearn/`` as one entry."""
    parts = case.get("classname", "").split(".")
    if parts[0] != "tests":
        return "jaxlearn/ doctests"
    return "/".join(parts[:2]) + ".py"


def main(path: str, n: int = 15) -> None:
    cases = list(ET.parse(path).getroot().iter("testcase"))
    per_module: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for case in cases:
        per_module[module_of(case)] += float(case.get("time", 0))
        count[module_of(case)] += 1
    total = sum(per_module.values())
    print(f"test time by module ({len(cases)} tests, {total:.0f} s summed over workers):")
    for module, seconds in sorted(per_module.items(), key=lambda kv: -kv[1]):
        if seconds >= 0.01 * total:
            share = 100 * seconds / total
            print(f"  {seconds:7.1f} s  {share:4.1f} %  {count[module]:4d} tests  {module}")
    print(f"the {n} slowest tests:")
    for case in sorted(cases, key=lambda c: -float(c.get("time", 0)))[:n]:
        print(f"  {float(case.get('time', 0)):7.1f} s  {case.get('classname')}::{case.get('name')}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
