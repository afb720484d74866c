"""Training the book's network: one compiled program per run, ``vmap`` over configurations,
data-parallel over devices.

- :func:`train` / :func:`train_many` run whole trainings (one network / K networks in one
  ``vmap``), their settings a :class:`RunConfig`; per-run hyper-parameters live in the
  optimizer state (:func:`jaxlearn.optim.inject_hyperparams`).
- :func:`train_step` / :func:`make_train_step`: one update, for your own loop.
- :mod:`jaxlearn.train.distributed`: meshes, ``mesh=`` and ``docs/scaling.md``.
"""

from jaxlearn.train import distributed
from jaxlearn.train.config import RunConfig
from jaxlearn.train.distributed import make_mesh
from jaxlearn.train.loop import train, train_many
from jaxlearn.train.result import Timing, TrainResult
from jaxlearn.train.step import make_train_step, train_step

__all__ = [
    "RunConfig",
    "Timing",
    "TrainResult",
    "distributed",
    "make_mesh",
    "make_train_step",
    "train",
    "train_many",
    "train_step",
]
