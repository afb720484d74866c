"""Training the book's network: a jitted step, whole epochs in one ``lax.scan``, and ``vmap``
over configurations (seeds, weight scales, learning rates, weight decay); data-parallel over
devices with ``mesh=`` (see :mod:`jaxlearn.train.distributed` and ``docs/scaling.md``)."""

from jaxlearn.train import distributed
from jaxlearn.train.distributed import make_mesh
from jaxlearn.train.loop import TrainResult, init_many, make_epoch, train, train_many
from jaxlearn.train.step import loss_fn, make_train_step, resolve_optimizer, train_step

__all__ = [
    "TrainResult",
    "distributed",
    "init_many",
    "loss_fn",
    "make_epoch",
    "make_mesh",
    "make_train_step",
    "resolve_optimizer",
    "train",
    "train_many",
    "train_step",
]
