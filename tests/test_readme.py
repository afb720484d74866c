"""The README as a user reads it: every Python block runs as written, and its API paragraph
names exactly what ``jaxlearn.__all__`` exports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import jaxlearn as jl
from jaxlearn.data import available

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.skipif(not available("mnist-5k"), reason="the Training block uses mnist-5k")
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_block_runs_as_written(index, capsys):
    """Each block on its own, imports included, in a fresh namespace."""
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {})
    capsys.readouterr()


def test_api_paragraph_matches_all():
    text = README.read_text()
    section = text[text.index("## API at a glance") :]
    section = section[: section.index("\n## ", 3)]
    named = set(re.findall(r"`jl\.(\w+)", section))
    assert named == set(jl.__all__), (
        f"in README, not exported: {sorted(named - set(jl.__all__))}; "
        f"exported, not in README: {sorted(set(jl.__all__) - named)}"
    )
