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
