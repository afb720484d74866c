"""The book's six parameter-update rules as optax-compatible ``(init, update)`` pairs, and the
machinery that lifts a rule to pytrees (``elementwise_transformation``, ``inject_hyperparams``).

The performance entry points built on them (the fused step, flat mode, the native kernels'
status) have their one public home in :mod:`jaxlearn.fast`; ``update_and_apply`` is at the top
level, beside ``apply_updates``.
"""

from jaxlearn.optim.adagrad import AdaGradState, adagrad
from jaxlearn.optim.adam import AdamState, adam
from jaxlearn.optim.base import (
    ElementwiseRule,
    ScalarOrSchedule,
    Transformation,
    apply_updates,
    elementwise_transformation,
)
from jaxlearn.optim.hyperparams import HyperparamsState, Injected, inject_hyperparams
from jaxlearn.optim.momentum import MomentumState, momentum
from jaxlearn.optim.nesterov import NesterovState, nesterov
from jaxlearn.optim.rmsprop import RMSpropState, RMSpropVariantState, rmsprop
from jaxlearn.optim.sgd import SGDState, sgd

__all__ = [
    "AdaGradState",
    "AdamState",
    "ElementwiseRule",
    "HyperparamsState",
    "Injected",
    "MomentumState",
    "NesterovState",
    "RMSpropState",
    "RMSpropVariantState",
    "SGDState",
    "ScalarOrSchedule",
    "Transformation",
    "adagrad",
    "adam",
    "apply_updates",
    "elementwise_transformation",
    "inject_hyperparams",
    "momentum",
    "nesterov",
    "rmsprop",
    "sgd",
]

#: The update rules by name, in the book's order.
RULES = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
}
