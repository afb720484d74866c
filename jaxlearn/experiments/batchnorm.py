"""Batch Normalization against the initial weight scale (the book's ``ch06/batch_norm_test.py``,
figure 6-19).

1000 training images, [100]×5 ReLU network, SGD η=0.01, batch 100, 20 epochs, for 16 weight
scales ``logspace(0, −4, 16)``, with and without Batch Norm. Expected: with Batch Norm the
network learns faster and at almost every scale; without it many scales never learn. Each
variant trains its 16 scales in one ``vmap``-ed program.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.experiments.data import get_data
from jaxlearn.experiments.keys import by_seed
from jaxlearn.experiments.records import TIDY_HEADER, Result, curve_rows
from jaxlearn.experiments.report import Report, describe_hidden, pct, seeds_in_title
from jaxlearn.experiments.settings import Settings
from jaxlearn.experiments.training import train_runs
from jaxlearn.nn import mlp
from jaxlearn.optim import sgd

#: The book's settings (1000 training images, [100]×5 network, SGD η=0.01, batch 100, 20
#: epochs) and what ``quick=True`` changes (10 epochs).
BOOK = Settings(epochs=20, train_size=1000, batch_size=100, lr=0.01, hidden=(100,) * 5)
QUICK = Settings(epochs=10)


def batchnorm_comparison(
    weight_scales: Sequence[float] | None = None,
    *,
    settings: Settings | None = None,
    **overrides: Any,
) -> Result:
    """Train with and without Batch Norm at each initial weight scale; record train accuracy.

    As the book, accuracy is measured on the ``train_size`` training images after every epoch
    (10 iterations). Both variants start from the same N(0, 1) draws times the scale and see
    the same mini-batches.

    Args:
      weight_scales: W std per configuration (default ``np.logspace(0, -4, 16)``).
      settings, overrides: a :class:`~jaxlearn.experiments.settings.Settings` and/or its fields as
        keywords: ``seeds`` (repeats of the whole comparison, all in one program per variant),
        ``key``, ``dataset``, ``epochs``, ``train_size``, ``batch_size``, ``lr``, ``hidden``,
        ``quick``, ``progress``. Defaults: :data:`~jaxlearn.experiments.batchnorm.BOOK` (20 epochs,
        1000 images, batch 100, SGD 0.01, [100]×5) and :data:`~jaxlearn.experiments.batchnorm.QUICK`
        (10 epochs).

    Returns:
      A :class:`~jaxlearn.experiments.records.Result` ``{'experiment': 'batchnorm', 'config':
      {'dataset', 'train_size', 'epochs', 'batch_size', 'lr', 'hidden', 'seeds'},
      'weight_scales' (S,), 'epochs' (E,) epoch numbers, 'train_acc_bn' (S, E),
      'train_acc_plain' (S, E), 'loss_bn' (S, iterations), 'loss_plain' (S, iterations),
      'bn_wins' (S,) bool: final accuracy with BN higher}``; with N seeds every array but the
      axes gains a leading seed axis ``(N, …)``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((40, 784)), rng.integers(0, 10, 40)),
    ...         (rng.random((8, 784)), rng.integers(0, 10, 8)))
    >>> r = batchnorm_comparison([1.0, 0.01], dataset=data, epochs=2, train_size=40,
    ...                          batch_size=20, hidden=[10], progress=False)
    >>> r['train_acc_bn'].shape, r['train_acc_plain'].shape
    ((2, 2), (2, 2))
    """
    s = Settings.of(settings, **overrides).fill(BOOK, QUICK, "batchnorm_comparison")
    scales = np.logspace(0, -4, 16) if weight_scales is None else np.asarray(weight_scales)
    if scales.ndim != 1 or scales.size == 0 or np.any(scales <= 0):
        raise ValueError("weight_scales must be a non-empty 1-D array of positive numbers")
    name, ((x, t), _) = get_data(s.dataset)
    if s.train_size > len(x):
        raise ValueError(f"train_size ({s.train_size}) exceeds the {len(x)} training images")
    data = (x[: s.train_size], t[: s.train_size])  # the book evaluates on the training images
    split = [jax.random.split(k) for k in s.seed_keys()[0]]
    # Seed-major; within a seed every scale sees the same mini-batches, with and without BN.
    keys = jnp.stack([k_train for _, k_train in split for _ in scales])
    out = {}
    for tag, use_bn in (("bn", True), ("plain", False)):
        net = mlp.make(x.shape[1], list(s.hidden), 10, use_batchnorm=use_bn)
        inits = [mlp.init_many(net, k, len(scales), weight_scale=scales) for k, _ in split]
        params, state = jax.tree.map(lambda *a: jnp.concatenate(a), *inits)
        r = train_runs(
            net, params, state, sgd(s.lr), data, keys, epochs=s.epochs, batch_size=s.batch_size,
            progress=s.progress, desc="Batch Norm" if use_bn else "no Batch Norm",
        )  # fmt: skip
        out[f"train_acc_{tag}"] = by_seed(r.train_acc, s.seeds)
        out[f"loss_{tag}"] = by_seed(r.loss, s.seeds)
    return Result(
        "batchnorm", s.config(name, s.train_size), weight_scales=scales,
        epochs=np.arange(1, s.epochs + 1), **out,
        bn_wins=out["train_acc_bn"][..., -1] > out["train_acc_plain"][..., -1],
    )  # fmt: skip


def report(result: dict) -> Report:
    """The table of :func:`batchnorm_comparison`' result: final train accuracy per scale."""
    r = Result.of(result)
    c, seeds = r.config, r.n_seeds
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
        f"{seeds_in_title(seeds)}): final train accuracy",
        ["W scale", "without BN", "with BN", "better"],
        rows,
        notes,
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The result as long-format CSV rows (:data:`~jaxlearn.experiments.records.TIDY_HEADER`):
    per weight scale, with and without Batch Norm (label ``'W=0.1 BN'`` / ``'W=0.1 plain'``),
    the loss per iteration and the train accuracy after every epoch, per seed."""
    result = Result.of(result)
    seeds, epochs = result.seeds, result.epoch_ends()
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


__all__ = ["BOOK", "QUICK", "batchnorm_comparison", "report", "tidy"]
