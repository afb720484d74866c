"""jaxlearn: Chapter 6 of *Deep Learning from Scratch* ("techniques for learning") in JAX.

The book's update rules, initialisations, Batch Normalization, weight decay and Dropout as pure
functions over pytrees, JIT-compiled and cross-checked against optax and flax.

The top level holds the chapter's API; the rest lives in submodules: :mod:`jaxlearn.nn` (the
layers and the book's network, :mod:`jaxlearn.nn.mlp`), :mod:`jaxlearn.train` (compiled
training runs), :mod:`jaxlearn.experiments` and :mod:`jaxlearn.plots` (the chapter's
experiments and figures), :mod:`jaxlearn.data`, :mod:`jaxlearn.checkpoint`,
:mod:`jaxlearn.optim` (the rules' machinery, ``inject_hyperparams``) and :mod:`jaxlearn.fast`
(the performance entry points).

>>> import jax.numpy as jnp, jaxlearn as jl
>>> opt = jl.momentum()            # the book's defaults: lr=0.01, momentum=0.9
>>> state = opt.init({'w': jnp.zeros(2)})
>>> updates, state = opt.update({'w': jnp.ones(2)}, state)
>>> updates['w']
Array([-0.01, -0.01], dtype=float32)
"""

from jaxlearn import checkpoint, data, fast, initializers, nn, optim
from jaxlearn.nn import add_weight_decay, batch_norm, batchnorm_init, dropout, l2_penalty
from jaxlearn.optim import RULES, adagrad, adam, apply_updates, momentum, nesterov, rmsprop, sgd
from jaxlearn.optim.fused import update_and_apply
from jaxlearn.optim.nonfinite import (
    NonFiniteGradientError,
    SkipNonfiniteState,
    all_finite,
    skip_nonfinite,
)

__version__ = "0.1.0"

__all__ = [
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
    "fast",
    "initializers",
    "l2_penalty",
    "momentum",
    "nesterov",
    "nn",
    "optim",
    "rmsprop",
    "sgd",
    "skip_nonfinite",
    "update_and_apply",
]
