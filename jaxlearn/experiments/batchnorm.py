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

from jaxlearn.experiments.common import DatasetLike, by_seed, get_data, seed_keys, train_runs
from jaxlearn.experiments.report import (
    TIDY_HEADER,
    Report,
    curve_rows,
    describe_hidden,
    iterations_per_epoch,
    pct,
)
from jaxlearn.nn import mlp
from jaxlearn.optim import sgd

EPOCHS, QUICK_EPOCHS = 20, 10
TRAIN_SIZE = 1000


def batchnorm_comparison(
    weight_scales: Sequence[float] | None = None,
    *,
    seeds: int = 1,
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
      seeds: repeats of the whole comparison, each its own draws and mini-batches (seed ``i``
        of ``key=k`` is the single-seed run ``key=k+i``); all in one program per variant.
      key, dataset, progress: as in the other experiments.
      epochs: 20 (the book's), 10 with ``quick``.
      train_size, batch_size, lr, hidden: the book's 1000, 100, 0.01, [100]×5.

    Returns:
      ``{'experiment': 'batchnorm', 'config': {'dataset', 'train_size', 'epochs',
      'batch_size', 'lr', 'hidden'}, 'weight_scales' (S,), 'epochs' (E,) epoch numbers,
      'train_acc_bn' (S, E), 'train_acc_plain' (S, E), 'loss_bn' (S, iterations),
      'loss_plain' (S, iterations), 'bn_wins' (S,) bool: final accuracy with BN higher}``;
      with N seeds every array but the axes gains a leading seed axis ``(N, …)``, and
      ``config['seeds']`` lists the seeds.

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
    split = [jax.random.split(k) for k in seed_keys(key, seeds)[0]]
    # Seed-major; within a seed every scale sees the same mini-batches, with and without BN.
    keys = jnp.stack([k_train for _, k_train in split for _ in scales])
    out = {}
    for tag, use_bn in (("bn", True), ("plain", False)):
        net = mlp.make(x.shape[1], list(hidden), 10, use_batchnorm=use_bn)
        inits = [mlp.init_many(net, k, len(scales), weight_scale=scales) for k, _ in split]
        params, state = jax.tree.map(lambda *a: jnp.concatenate(a), *inits)
        r = train_runs(
            net, params, state, sgd(lr), data, keys, epochs=epochs, batch_size=batch_size,
            progress=progress, desc="Batch Norm" if use_bn else "no Batch Norm",
        )  # fmt: skip
        out[f"train_acc_{tag}"] = by_seed(r.train_acc, seeds)
        out[f"loss_{tag}"] = by_seed(r.loss, seeds)
    config = {
        "dataset": name,
        "train_size": train_size,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "hidden": list(hidden),
        "seeds": seed_keys(key, seeds)[1],
    }
    return {
        "experiment": "batchnorm",
        "config": config,
        "weight_scales": scales,
        "epochs": np.arange(1, epochs + 1),
        **out,
        "bn_wins": out["train_acc_bn"][..., -1] > out["train_acc_plain"][..., -1],
    }


def report(result: dict) -> Report:
    """The table of :func:`batchnorm_comparison`' result: final train accuracy per scale."""
    c, r = result["config"], result
    seeds = len(c.get("seeds", [0]))
    # Final accuracies (seeds, scales); the comparison is of the means over seeds.
    plain = np.asarray(r["train_acc_plain"])[..., -1].reshape(seeds, -1)
    bn = np.asarray(r["train_acc_bn"])[..., -1].reshape(seeds, -1)

    def acc(a: np.ndarray) -> str:
        return pct(a.mean()) + (f" ± {pct(a.std())}" if seeds > 1 else "")

    wins = bn.mean(axis=0) > plain.mean(axis=0)
    rows = [
        [f"{w:.3g}", acc(plain[:, i]), acc(bn[:, i]), "Batch Norm" if wins[i] else "without"]
        for i, w in enumerate(r["weight_scales"])
    ]
    notes = [f"Batch Norm is better at {int(wins.sum())} of {len(rows)} scales"]
    if seeds > 1:
        notes[0] += f" (means over {seeds} seeds; ± : standard deviation)"
    return Report(
        f"Batch Normalization on {c['dataset']} ({c['train_size']} training images, "
        f"{describe_hidden(c['hidden'])}, SGD {c['lr']:g}, {c['epochs']} epochs"
        + (f", {seeds} seeds" if seeds > 1 else "") + "): final train accuracy",
        ["W scale", "without BN", "with BN", "better"],
        rows,
        notes,
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The result as long-format CSV rows (:data:`~jaxlearn.experiments.report.TIDY_HEADER`):
    per weight scale, with and without Batch Norm (label ``'W=0.1 BN'`` / ``'W=0.1 plain'``),
    the loss per iteration and the train accuracy after every epoch, per seed."""
    c = result["config"]
    seeds, per_epoch = c.get("seeds", [0]), iterations_per_epoch(c)
    epochs = [e * per_epoch for e in np.asarray(result["epochs"])]
    rows = []
    for tag in ("bn", "plain"):
        loss = np.asarray(result[f"loss_{tag}"])
        for i, w in enumerate(result["weight_scales"]):
            label = f"W={w:.3g} {'BN' if tag == 'bn' else 'plain'}"
            steps = range(1, loss.shape[-1] + 1)
            rows += curve_rows(label, seeds, steps, "loss", loss[..., i, :])
            acc = np.asarray(result[f"train_acc_{tag}"])[..., i, :]
            rows += curve_rows(label, seeds, epochs, "train_acc", acc)
    return TIDY_HEADER, rows


__all__ = ["batchnorm_comparison", "report", "tidy"]
