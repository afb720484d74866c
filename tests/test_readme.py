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


@pytest.mark.skipif(not available("mnist-5k"), reason="the first block uses mnist-5k")
def test_the_first_block_trains_on_the_labels_load_returns(capsys):
    """The opening snippet as written: integer labels from ``jaxlearn.data.load``, a loss that
    is optax's integer-label cross-entropy, and one pass of Adam that lowers it."""
    import jax.numpy as jnp
    import numpy as np
    import optax

    ns: dict = {}
    exec(compile(BLOCKS[0], "README.md python block 1", "exec"), ns)
    x, t, params = ns["x"], ns["t"], ns["params"]
    assert t.dtype == np.int32 and t.shape == (4000,)  # load's default: integer labels
    logits = x @ params["W"] + params["b"]
    want = optax.softmax_cross_entropy_with_integer_labels(logits, t).mean()
    got = ns["loss"](params, x, t)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    zero = {"W": jnp.zeros((784, 10)), "b": jnp.zeros(10)}
    np.testing.assert_allclose(ns["loss"](zero, x, t), np.log(10), rtol=1e-6)
    assert float(got) < 1.8  # it learned (ln 10 = 2.30 before training)
    assert capsys.readouterr().out == f"loss {float(got):.3f} (ln 10 = 2.303 before training)\n"


def test_api_paragraph_matches_all():
    text = README.read_text()
    section = text[text.index("## API at a glance") :]
    section = section[: section.index("\n## ", 3)]
    named = set(re.findall(r"`jl\.(\w+)", section))
    assert named == set(jl.__all__), (
        f"in README, not exported: {sorted(named - set(jl.__all__))}; "
        f"exported, not in README: {sorted(set(jl.__all__) - named)}"
    )
