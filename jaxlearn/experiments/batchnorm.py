"""Batch Normalization against the initial weight scale (the book's ``ch06/batch_norm_test.py``,
figure 6-19).

1000 training images, [100]×5 ReLU network, SGD η=0.01, batch 100, 20 epochs, for 16 weight
scales ``logspace(0, −4, 16)``, with and without Batch Norm. Expected: with Batch Norm the
network learns faster and at almost every scale; without it many scales never learn. Each
variant trains its 16 scales in one ``vmap``-ed program.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.experiments.common import DatasetLike, as_key, get_data
from jaxlearn.experiments.report import Report, describe_hidden, pct
from jaxlearn.nn import mlp
from jaxlearn.optim import sgd
from jaxlearn.train import train_many

EPOCHS, QUICK_EPOCHS = 20, 10
TRAIN_SIZE = 1000


def batchnorm_comparison(
    weight_scales: Sequence[float] | None = None,
    *,
    key: jax.Array | int = 0,
    dataset: DatasetLike = "auto",
    epochs: int | None = None,
    train_size: int = TRAIN_SIZE,
    batch_size: int = 100,
    lr: float = 0.01,
    hidden: Sequence[int] = (100,) * 5,
    quick: bool = False,
    progress: bool | None = None,
) -> dict:
    """Train with and without Batch Norm at each initial weight scale; record train accuracy.

    As the book, accuracy is measured on the ``train_size`` training images after every epoch
    (10 iterations). Both variants start from the same N(0, 1) draws times the scale and see
    the same mini-batches.

    Args:
      weight_scales: W std per configuration (default ``np.logspace(0, -4, 16)``).
      key, dataset, progress: as in the other experiments.
      epochs: 20 (the book's), 10 with ``quick``.
      train_size, batch_size, lr, hidden: the book's 1000, 100, 0.01, [100]×5.

    Returns:
      ``{'experiment': 'batchnorm', 'config': {'dataset', 'train_size', 'epochs',
      'batch_size', 'lr', 'hidden'}, 'weight_scales' (S,), 'epochs' (E,) epoch numbers,
      'train_acc_bn' (S, E), 'train_acc_plain' (S, E), 'loss_bn' (S, iterations),
      'loss_plain' (S, iterations), 'bn_wins' (S,) bool: final accuracy with BN higher}``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((40, 784)), rng.integers(0, 10, 40)),
    ...         (rng.random((8, 784)), rng.integers(0, 10, 8)))
    >>> r = batchnorm_comparison([1.0, 0.01], dataset=data, epochs=2, train_size=40,
    ...                          batch_size=20, hidden=[10], progress=False)
    >>> r['train_acc_bn'].shape, r['train_acc_plain'].shape
    ((2, 2), (2, 2))
    """
    scales = np.logspace(0, -4, 16) if weight_scales is None else np.asarray(weight_scales)
    if scales.ndim != 1 or scales.size == 0 or np.any(scales <= 0):
        raise ValueError("weight_scales must be a non-empty 1-D array of positive numbers")
    epochs = epochs or (QUICK_EPOCHS if quick else EPOCHS)
    name, ((x, t), _) = get_data(dataset)
    if train_size > len(x):
        raise ValueError(f"train_size ({train_size}) exceeds the {len(x)} training images")
    data = (x[:train_size], t[:train_size])  # the book evaluates on the training images only
    k_init, k_train = jax.random.split(as_key(key))
    keys = jnp.stack([k_train] * len(scales))
    out = {}
    for tag, use_bn in (("bn", True), ("plain", False)):
        net = mlp.make(x.shape[1], list(hidden), 10, use_batchnorm=use_bn)
        params, state = mlp.init_many(net, k_init, len(scales), weight_scale=scales)
        r = train_many(
            net, params, state, sgd(lr), data, key=keys, epochs=epochs, batch_size=batch_size,
            progress=progress, desc="Batch Norm" if use_bn else "no Batch Norm",
        )  # fmt: skip
        out[f"train_acc_{tag}"] = r.train_acc
        out[f"loss_{tag}"] = r.loss
    config = {
        "dataset": name,
        "train_size": train_size,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "hidden": list(hidden),
    }
    return {
        "experiment": "batchnorm",
        "config": config,
        "weight_scales": scales,
        "epochs": np.arange(1, epochs + 1),
        **out,
        "bn_wins": out["train_acc_bn"][:, -1] > out["train_acc_plain"][:, -1],
    }


def report(result: dict) -> Report:
    """The table of :func:`batchnorm_comparison`' result: final train accuracy per scale."""
    c, r = result["config"], result
    rows = [
        [f"{w:.3g}", pct(r["train_acc_plain"][i, -1]), pct(r["train_acc_bn"][i, -1]),
         "Batch Norm" if r["bn_wins"][i] else "without"]
        for i, w in enumerate(r["weight_scales"])
    ]  # fmt: skip
    return Report(
        f"Batch Normalization on {c['dataset']} ({c['train_size']} training images, "
        f"{describe_hidden(c['hidden'])}, SGD {c['lr']:g}, {c['epochs']} epochs): "
        "final train accuracy",
        ["W scale", "without BN", "with BN", "better"],
        rows,
        [f"Batch Norm is better at {int(np.sum(r['bn_wins']))} of {len(rows)} scales"],
    )


__all__ = ["batchnorm_comparison", "report"]
