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
