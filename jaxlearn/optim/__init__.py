"""The book's six parameter-update rules as optax-compatible ``(init, update)`` pairs."""

from jaxlearn.optim.adagrad import AdaGradState, adagrad
from jaxlearn.optim.adam import AdamState, adam
from jaxlearn.optim.base import (
    ElementwiseRule,
    ScalarOrSchedule,
    Transformation,
    apply_updates,
    elementwise_transformation,
)
from jaxlearn.optim.flat import (
    FlatBuffers,
    FlatTransformation,
    flat,
    ravel,
)
from jaxlearn.optim.fused import fused_step, make_step, update_and_apply
from jaxlearn.optim.hyperparams import HyperparamsState, Injected, inject_hyperparams
from jaxlearn.optim.momentum import MomentumState, momentum
from jaxlearn.optim.native import native_available, native_status
from jaxlearn.optim.nesterov import NesterovState, nesterov
from jaxlearn.optim.rmsprop import RMSpropState, RMSpropVariantState, rmsprop
from jaxlearn.optim.sgd import SGDState, sgd

__all__ = [
    "AdaGradState",
    "AdamState",
    "ElementwiseRule",
    "FlatBuffers",
    "FlatTransformation",
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
    "flat",
    "fused_step",
    "inject_hyperparams",
    "make_step",
    "momentum",
    "native_available",
    "native_status",
    "nesterov",
    "ravel",
    "rmsprop",
    "sgd",
    "update_and_apply",
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
