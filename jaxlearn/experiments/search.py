"""Random hyper-parameter search (the book's ``ch06/hyperparameter_optimization.py``, figure 6-24).

500 training images, 20% of them held out for validation, [100]×6 ReLU network (He), SGD,
batch 100, 50 epochs; 100 trials of lr = 10^U(−6, −2) and weight decay λ = 10^U(−8, −4).
Expected: the best trials have lr about 1e-3…1e-2. All trials train in one ``vmap``-ed
program, with lr and λ traced per trial; with ``devices=N`` the trials are split over N
devices (a ``'trials'`` mesh axis), and the result equals the one-device search.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.experiments.data import get_data
from jaxlearn.experiments.keys import as_key, by_seed
from jaxlearn.experiments.records import TIDY_HEADER, Result, curve_rows
from jaxlearn.experiments.report import Report, pct
from jaxlearn.experiments.settings import Settings
from jaxlearn.nn import mlp
from jaxlearn.nn.regularization import with_weight_decay
from jaxlearn.optim import sgd
from jaxlearn.train import distributed, train_many

#: Trials of the book's search, and of ``quick=True``.
TRIALS, QUICK_TRIALS = 100, 20
#: The book's settings (500 training images, [100]×6 network, batch 100, 50 epochs; no ``lr``:
#: the search draws it); ``quick=True`` keeps them and runs fewer trials.
BOOK = Settings(epochs=50, train_size=500, batch_size=100, hidden=(100,) * 6)
QUICK = Settings()
LR_RANGE, WEIGHT_DECAY_RANGE = (-6.0, -2.0), (-8.0, -4.0)


def hyperparameter_search(
    trials: int | None = None,
    *,
    validation_rate: float = 0.2,
    lr_range: tuple[float, float] = LR_RANGE,
    weight_decay_range: tuple[float, float] = WEIGHT_DECAY_RANGE,
    devices: Any = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> Result:
    """Sample ``trials`` (lr, λ) pairs log-uniformly, train them all at once, rank by validation.

    The first ``train_size`` training images are shuffled (with ``key``) and split into
    validation (``validation_rate``) and training parts, as the book's ``shuffle_dataset``.
    Each trial has its own initial weights and mini-batches. The test set is not used.

    Args:
      trials: number of trials (100, the book's; 20 with ``quick``).
      validation_rate: the share of the ``train_size`` images held out (the book's 0.2).
      lr_range, weight_decay_range: log10 bounds of the uniform draws.
      devices: split the trials over devices: ``None`` (one device), an int N (the first N
        of ``jax.devices()``), or a ``jax.sharding.Mesh`` with a ``'trials'`` and/or a
        ``'data'`` axis (see :func:`jaxlearn.train.train_many`). The trials are the same and
        so are their results, to float rounding.
      settings, overrides: a :class:`~jaxlearn.experiments.settings.Settings` and/or its fields as
        keywords: ``seeds`` (trainings per trial, each its own initial weights and mini-batches; the
        trials' learning rates and λ, and the validation split, are the same for every seed, and
        trials are ranked by their final validation accuracy averaged over seeds), ``key``,
        ``dataset``, ``epochs``, ``train_size``, ``batch_size``, ``hidden``, ``quick``,
        ``progress``. Defaults: :data:`~jaxlearn.experiments.search.BOOK` (50 epochs, 500 images,
        batch 100, [100]×6).

    Returns:
      A :class:`~jaxlearn.experiments.records.Result` ``{'experiment': 'search', 'config':
      {'dataset', 'train_size', 'validation_size', 'trials', 'epochs', 'batch_size', 'hidden',
      'lr_range', 'weight_decay_range', 'devices', 'seeds'}, 'epochs' (E,), 'lr' (T,),
      'weight_decay' (T,), 'val_acc' (T, E), 'train_acc' (T, E), 'final_val_acc' (T,)}``, trials
      sorted by final validation accuracy, best first; with N seeds the accuracies are ``(N, T,
      E)``, ``final_val_acc`` is the mean over seeds and ``final_val_acc_std`` their standard
      deviation.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((50, 784)), rng.integers(0, 10, 50)),
    ...         (rng.random((8, 784)), rng.integers(0, 10, 8)))
    >>> r = hyperparameter_search(4, dataset=data, epochs=2, train_size=50, batch_size=20,
    ...                           hidden=[10], progress=False)
    >>> r['val_acc'].shape, bool(np.all(np.diff(r['final_val_acc']) <= 0))
    ((4, 2), True)
    """
    s = Settings.of(settings, **overrides).fill(BOOK, QUICK, "hyperparameter_search")
    trials = trials or (QUICK_TRIALS if s.quick else TRIALS)
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive int, got {trials!r}")
    if not 0.0 < validation_rate < 1.0:
        raise ValueError(f"validation_rate must be in (0, 1), got {validation_rate}")
    name, ((x, t), _) = get_data(s.dataset)
    seeds, train_size = s.seeds, s.train_size
    if train_size > len(x):
        raise ValueError(f"train_size ({train_size}) exceeds the {len(x)} training images")
    k_shuffle, k_lr, k_wd, k_init, k_train = jax.random.split(as_key(s.key), 5)
    order = np.asarray(jax.random.permutation(k_shuffle, train_size))
    x, t = x[:train_size][order], t[:train_size][order]
    n_val = int(train_size * validation_rate)
    data = ((x[n_val:], t[n_val:]), (x[:n_val], t[:n_val]))

    lr = 10.0 ** jax.random.uniform(k_lr, (trials,), minval=lr_range[0], maxval=lr_range[1])
    wd = 10.0 ** jax.random.uniform(
        k_wd, (trials,), minval=weight_decay_range[0], maxval=weight_decay_range[1]
    )
    net = mlp.make(x.shape[1], list(s.hidden), 10)
    # Seed i re-draws the weights and batches of every trial: i = 0 is the single-seed search.
    k_inits = [k_init] + [jax.random.fold_in(k_init, i) for i in range(1, seeds)]
    k_trains = [k_train] + [jax.random.fold_in(k_train, i) for i in range(1, seeds)]
    inits = [mlp.init_many(net, k, trials) for k in k_inits]
    params, state = jax.tree.map(lambda *a: jnp.concatenate(a), *inits)
    keys = jnp.concatenate([jax.random.split(k, trials) for k in k_trains])
    mesh = distributed.make_mesh(devices, distributed.TRIALS)
    r = train_many(
        net, params, state, with_weight_decay(sgd), data, key=keys,
        hyperparams={"lr": np.tile(lr, seeds), "weight_decay": np.tile(wd, seeds)},
        epochs=s.epochs, batch_size=s.batch_size, progress=s.progress,
        desc=f"{trials} trials" + (f" x {seeds} seeds" if seeds > 1 else ""), mesh=mesh,
    )  # fmt: skip
    val_acc, train_acc = by_seed(r.test_acc, seeds), by_seed(r.train_acc, seeds)
    finals = val_acc[..., -1].reshape(seeds, trials)
    final = finals.mean(axis=0) if seeds > 1 else finals[0]
    # Best first; ties keep the sampling order (stable sort).
    rank = np.argsort(-final, kind="stable")
    config = s.config(
        name, train_size - n_val, validation_size=n_val, trials=trials,
        lr_range=list(lr_range), weight_decay_range=list(weight_decay_range),
        devices=1 if mesh is None else int(mesh.devices.size),
    )  # fmt: skip
    out = Result(
        "search", config, epochs=np.arange(1, s.epochs + 1), lr=np.asarray(lr)[rank],
        weight_decay=np.asarray(wd)[rank], val_acc=val_acc[..., rank, :],
        train_acc=train_acc[..., rank, :], final_val_acc=final[rank],
    )  # fmt: skip
    if seeds > 1:
        out["final_val_acc_std"] = finals.std(axis=0)[rank]
    return out


def report(result: dict) -> Report:
    """The table of :func:`hyperparameter_search`'s result: the ten best trials."""
    r = Result.of(result)
    c, seeds = r.config, r.n_seeds
    top = min(10, len(r["lr"]))
    rows = [
        [f"Best-{i + 1}", pct(r["final_val_acc"][i]),
         pct(np.mean(np.asarray(r["train_acc"])[..., i, -1])), f"{r['lr'][i]:.2e}",
         f"{r['weight_decay'][i]:.2e}"]
        for i in range(top)
    ]  # fmt: skip
    best = np.asarray(r["lr"][: min(5, len(r["lr"]))])
    return Report(
        f"Hyper-parameter search on {c['dataset']}: {c['trials']} trials, {c['epochs']} epochs "
        f"({c['train_size']} train / {c['validation_size']} validation images), top {top}",
        ["rank", "val acc", "train acc", "lr", "weight decay"],
        rows,
        [f"top {len(best)} lr range: {best.min():.1e} .. {best.max():.1e}"]
        + ([f"accuracies: means over {seeds} seeds"] if seeds > 1 else [])
        + ([f"trials split over {c['devices']} devices"] if c["devices"] > 1 else []),
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The result as long-format CSV rows (:data:`~jaxlearn.experiments.records.TIDY_HEADER`):
    validation and train accuracy after every epoch, per trial (label ``'Best-1 lr=… λ=…'``,
    best first) and seed."""
    result = Result.of(result)
    seeds, epochs = result.seeds, result.epoch_ends()
    rows = []
    for i, (lr, wd) in enumerate(zip(result["lr"], result["weight_decay"])):
        label = f"Best-{i + 1} lr={lr:.3g} lambda={wd:.3g}"
        for metric, key in (("val_acc", "val_acc"), ("train_acc", "train_acc")):
            rows += curve_rows(label, seeds, epochs, metric, np.asarray(result[key])[..., i, :])
    return TIDY_HEADER, rows


__all__ = ["BOOK", "QUICK", "QUICK_TRIALS", "TRIALS", "hyperparameter_search", "report", "tidy"]
