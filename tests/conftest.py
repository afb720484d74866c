"""Shared fixtures: x64 switched on for one test and restored afterwards."""

import jax
import pytest


@pytest.fixture
def x64():
    """Run the test with float64 enabled, restoring the previous setting afterwards."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def exact_matmuls():
    """Full float32 matmuls for the test: on GPUs jax defaults to TF32, under which a vmapped
    (batched) product and K separate ones round differently (seen: 2% on an H100)."""
    with jax.default_matmul_precision("highest"):
        yield


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory):
    """A folder that every pytest-xdist worker of this session shares (this session's own
    without xdist): tests/_multiprocess.py's ``once`` keeps its runs there."""
    import os

    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
