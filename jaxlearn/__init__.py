"""jaxlearn: Chapter 6 of *Deep Learning from Scratch* ("techniques for learning") in JAX.

The book's update rules, initialisations, Batch Normalization, weight decay and Dropout as pure
functions over pytrees, JIT-compiled and cross-checked against optax and flax.
"""

from jaxlearn.optim import (
    RULES,
    adagrad,
    adam,
    apply_updates,
    momentum,
    nesterov,
    rmsprop,
    sgd,
)

__version__ = "0.1.0"

__all__ = [
    "RULES",
    "adagrad",
    "adam",
    "apply_updates",
    "momentum",
    "nesterov",
    "rmsprop",
    "sgd",
]
