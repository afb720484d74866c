"""jaxlearn: Chapter 6 of *Deep Learning from Scratch* ("techniques for learning") in JAX.

The book's update rules, initialisations, Batch Normalization, weight decay and Dropout as pure
functions over pytrees, JIT-compiled and cross-checked against optax and flax.

>>> import jax.numpy as jnp, jaxlearn as jl
>>> opt = jl.momentum()            # the book's defaults: lr=0.01, momentum=0.9
>>> state = opt.init({'w': jnp.zeros(2)})
>>> updates, state = opt.update({'w': jnp.ones(2)}, state)
>>> updates['w']
Array([-0.01, -0.01], dtype=float32)
"""

from jaxlearn import checkpoint, data, initializers, nn
from jaxlearn.nn import (
    MLPConfig,
    add_weight_decay,
    batch_norm,
    batchnorm_init,
    dropout,
    l2_penalty,
)
from jaxlearn.optim import (
    RULES,
    FlatBuffers,
    adagrad,
    adam,
    apply_updates,
    flat,
    fused_step,
    make_step,
    momentum,
    nesterov,
    ravel,
    rmsprop,
    sgd,
    update_and_apply,
)
from jaxlearn.optim.nonfinite import (
    NonFiniteGradientError,
    SkipNonfiniteState,
    all_finite,
    skip_nonfinite,
)

__version__ = "0.1.0"

__all__ = [
    "FlatBuffers",
    "MLPConfig",
    "NonFiniteGradientError",
    "RULES",
    "SkipNonfiniteState",
    "adagrad",
    "adam",
    "add_weight_decay",
    "all_finite",
    "apply_updates",
    "batch_norm",
    "batchnorm_init",
    "checkpoint",
    "data",
    "dropout",
    "flat",
    "fused_step",
    "initializers",
    "l2_penalty",
    "make_step",
    "momentum",
    "nesterov",
    "nn",
    "ravel",
    "rmsprop",
    "sgd",
    "skip_nonfinite",
    "update_and_apply",
]
