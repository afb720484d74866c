"""Pure-function layers of the book's chapter 6: Batch Normalization, Dropout, weight decay and
the book's ``MultiLayerNetExtend`` network (``jaxlearn.nn.mlp``)."""

from jaxlearn.nn import mlp
from jaxlearn.nn.batchnorm import batch_norm, batchnorm_init
from jaxlearn.nn.dropout import dropout
from jaxlearn.nn.mlp import MLPConfig
from jaxlearn.nn.regularization import add_weight_decay, l2_penalty, with_weight_decay

__all__ = [
    "MLPConfig",
    "add_weight_decay",
    "batch_norm",
    "batchnorm_init",
    "dropout",
    "l2_penalty",
    "mlp",
    "with_weight_decay",
]
