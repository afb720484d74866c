"""The update rules on MNIST (the book's ``ch06/optimizer_compare_mnist.py``, figure 6-9), and
any optimizer against them: several seeds and a tuned learning rate per optimizer.

The book: [100]×4 ReLU network, He initialisation, batch 128, 2000 iterations, each rule at its
book defaults. Expected: SGD is the slowest; Momentum, AdaGrad and Adam learn faster and close
together. A careful comparison (Schmidt et al., 2021, "Descending through a crowded valley";
MLCommons AlgoPerf) also repeats each run over seeds and tunes each optimizer's learning rate:
``seeds=`` and ``lrs=`` do both, each optimizer's runs in one ``vmap``-ed program.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.experiments.curves import LOSS_RUN_COLUMNS, loss_run, loss_run_cells, mean_final
from jaxlearn.experiments.data import get_data
from jaxlearn.experiments.display import display, run_name
from jaxlearn.experiments.keys import as_key
from jaxlearn.experiments.records import TIDY_HEADER, Result, curve_rows, loss_run_rows
from jaxlearn.experiments.report import (
    Report,
    describe_hidden,
    seeds_in_title,
    spread_note,
)
from jaxlearn.experiments.settings import Settings
from jaxlearn.experiments.specs import Entry, SpecError, resolve_entries
from jaxlearn.experiments.training import train_runs
from jaxlearn.nn import mlp

#: The book's four rules (all six: ``tuple(jaxlearn.RULES)``).
BOOK_RULES = ("sgd", "momentum", "adagrad", "adam")
#: The book's settings, a [100]×4 network, batch 128 and 2000 iterations (no ``lr``, each
#: optimizer brings its own); and what ``quick=True`` changes, 500 iterations (SGD still trails).
BOOK = Settings(iterations=2000, batch_size=128, hidden=(100,) * 4)
QUICK = Settings(iterations=500)
#: Share of the training images held out to pick each optimizer's learning rate (``lrs=``).
VALIDATION_FRACTION = 0.1


def compare_optimizers(
    rules: Sequence[Any] | Mapping[str, Any] = BOOK_RULES,
    *,
    lrs: Sequence[float] | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> Result:
    """Train the same network with each optimizer and record the per-iteration loss.

    Every optimizer starts from the same initial weights and sees the same mini-batches (per
    seed), so the curves differ only by the optimizer. Train/test accuracy is evaluated once, at
    the end.

    Args:
      rules: the optimizers: rule names (``'adam'``), names with overrides (``('adam', {'lr':
        3e-3})``, ``'adam:lr=0.003'``), optax aliases (``'optax:adamw:learning_rate=1e-3'``), or
        a mapping ``{label: any of those, or any optax.GradientTransformation}``. The labels
        key the results; tables and legends show each entry's name (see
        :mod:`jaxlearn.experiments.specs`).
      lrs: a learning-rate sweep: each optimizer trains at every rate (and every seed) in one
        program, with :data:`VALIDATION_FRACTION` of the training images held out; the rate
        with the lowest final validation loss (mean over seeds) is the tuned one. Every entry
        must then be a factory with a learning rate (a name or a spec, not a ready object).
      settings, overrides: a :class:`~jaxlearn.experiments.settings.Settings` and/or its fields as
        keywords: ``seeds`` (each optimizer's seeds train as one ``vmap``-ed program), ``key``,
        ``dataset``, ``iterations``, ``batch_size``, ``hidden``, ``quick``, ``progress``. Defaults:
        :data:`~jaxlearn.experiments.optimizers.BOOK` (2000 iterations, batch 128, [100]×4) and
        :data:`~jaxlearn.experiments.optimizers.QUICK` (500 iterations).

    Returns:
      A :class:`~jaxlearn.experiments.records.Result` ``{'experiment': 'optimizers', 'config':
      {'dataset', 'train_size', 'iterations', 'batch_size', 'hidden', 'activation',
      'weight_init_std', 'lrs', 'validation_size', 'seeds' (the seed ids)}, 'runs': {label:
      run}}``. A run holds ``'name'`` (what tables and legends show), ``'rule'`` (the jaxlearn
      rule, or None), ``'lr'`` (None when unknown), ``'loss'`` and ``'smoothed_loss'`` per
      iteration, ``'final_loss'`` (mean of the last 5% of the smoothed curve), ``'train_acc'``
      and ``'test_acc'``. With one seed these have the shapes ``(iterations,)`` and scalars;
      with N seeds ``(N, iterations)`` and length-N lists, plus ``'summary'``: ``{quantity:
      {'mean', 'std', 'min', 'max'}}``. With ``lrs`` the run is the tuned one and also holds
      ``'sweep'``: ``{'lr' (L,), 'val_loss' (L, N), 'val_loss_mean' (L,)}``.

    >>> import numpy as np, optax
    >>> rng = np.random.default_rng(0)
    >>> data = ((rng.random((64, 784)), rng.integers(0, 10, 64)),
    ...         (rng.random((16, 784)), rng.integers(0, 10, 16)))
    >>> r = compare_optimizers(['sgd'], dataset=data, iterations=20, batch_size=8,
    ...                        hidden=[10], progress=False)
    >>> r['runs']['sgd']['loss'].shape, r['runs']['sgd']['name'], r['config']['dataset']
    ((20,), 'SGD', 'your data')
    >>> r = compare_optimizers({'SGD': 'sgd', 'AdamW': optax.adamw(1e-3)}, seeds=3,
    ...                        dataset=data, iterations=20, batch_size=8, hidden=[10])
    >>> r['runs']['AdamW']['loss'].shape, len(r['runs']['SGD']['test_acc'])
    ((3, 20), 3)
    """
    s = Settings.of(settings, **overrides).fill(BOOK, QUICK, "compare_optimizers")
    entries = resolve_entries(rules)
    sweep = _check_lrs(lrs, entries)
    for entry in entries.values():
        entry.check(None if sweep is None else float(sweep[0]))
    name, data = get_data(s.dataset)
    keys, _ = s.seed_keys()
    data, validation = (data, None) if sweep is None else _hold_out(data, as_key(s.key))
    net = mlp.make(data[0][0].shape[1], list(s.hidden), 10)
    k_init, k_train = (jnp.stack(k) for k in zip(*(jax.random.split(k) for k in keys)))
    params, state = jax.vmap(functools.partial(mlp.init_params, net))(k_init)
    options = dict(iterations=s.iterations, batch_size=s.batch_size, eval_every=s.iterations,
                   progress=s.progress)  # fmt: skip
    runs = {}
    for label, entry in entries.items():
        shown = {"name": entry.name, "rule": entry.rule}
        if sweep is None:
            r = train_runs(
                net, params, state, entry.build(), data, k_train, desc=entry.name, **options
            )
            runs[label] = loss_run(r.loss, r.train_acc[:, -1], r.test_acc[:, -1], lr=entry.lr,
                                   **shown)  # fmt: skip
        else:
            runs[label] = _tuned(net, (params, state), entry, data, validation, k_train, sweep,
                                 dict(options, desc=entry.name)) | shown  # fmt: skip
    config = s.config(
        name, len(data[0][0]), activation=net.activation, weight_init_std=net.weight_init_std,
        lrs=None if sweep is None else sweep.tolist(),
        validation_size=0 if validation is None else len(validation[0]),
    )  # fmt: skip
    return Result("optimizers", config, runs=runs)


def _check_lrs(lrs: Sequence[float] | None, entries: Mapping[str, Entry]) -> np.ndarray | None:
    if lrs is None:
        return None
    sweep = np.asarray(lrs, np.float64)
    if sweep.ndim != 1 or sweep.size == 0 or not np.all(np.isfinite(sweep) & (sweep > 0)):
        raise ValueError(f"lrs must be a non-empty list of positive learning rates, got {lrs!r}")
    fixed = [label for label, e in entries.items() if e.lr_name is None]
    if fixed:
        raise SpecError(
            f"lrs: {', '.join(fixed)} cannot be swept: a learning-rate sweep needs a factory "
            "with an lr / learning_rate argument (a rule name, a spec or 'optax:NAME'), not a "
            "ready optimizer"
        )
    return sweep


def _hold_out(data: tuple, key: jax.Array) -> tuple[tuple, tuple]:
    """(training data without the validation images, the validation images), a keyed split."""
    (x, t), test = data
    n_val = max(1, int(round(len(x) * VALIDATION_FRACTION)))
    order = np.asarray(jax.random.permutation(jax.random.fold_in(key, 0x5EED), len(x)))
    val, rest = order[:n_val], order[n_val:]
    return ((x[rest], t[rest]), test), (x[val], t[val])


def _tuned(
    net: mlp.MLPConfig, init: tuple, entry: Entry, data: tuple, validation: tuple, keys,
    sweep: np.ndarray, options: dict,
) -> dict:  # fmt: skip
    """Train ``entry`` at every rate of ``sweep`` (and every seed) in one program; keep the
    rate with the lowest mean final validation loss."""
    n, k = keys.shape[0], len(sweep)
    tile = functools.partial(jax.tree.map, lambda a: jnp.concatenate([a] * k))
    params, state = tile(init)
    fixed = {n_: v for n_, v in entry.kwargs.items() if n_ != entry.lr_name}
    factory = functools.partial(entry.factory, **fixed)
    r = train_runs(
        net, params, state, factory, data, tile(keys),
        hyperparams={entry.lr_name: np.repeat(sweep, n)}, **options,
    )  # fmt: skip
    xv, tv = (jnp.asarray(a) for a in validation)
    val_loss = jax.vmap(lambda p, s: mlp.loss(net, p, s, xv, tv, train=False)[0])(
        r.params, r.state
    )
    val_loss = np.asarray(val_loss, np.float64).reshape(k, n)
    mean = val_loss.mean(axis=1)
    best = int(np.argmin(np.where(np.isfinite(mean), mean, np.inf)))
    rows = slice(best * n, (best + 1) * n)
    run = loss_run(
        r.loss[rows], r.train_acc[rows, -1], r.test_acc[rows, -1], lr=float(sweep[best])
    )
    run["sweep"] = {"lr": sweep.tolist(), "val_loss": val_loss.tolist(), "val_loss_mean": mean}
    return run


def report(result: dict) -> Report:
    """The table of :func:`compare_optimizers`' result: one row per optimizer (mean ± std over
    seeds when there are several), and the learning-rate sweep when there is one.

    >>> r = {'config': {'dataset': 'x', 'hidden': [10], 'activation': 'relu',
    ...                 'weight_init_std': 'he', 'batch_size': 8, 'iterations': 20},
    ...      'runs': {'sgd': {'lr': 0.01, 'loss': [2.3], 'final_loss': 1.5, 'train_acc': 0.5,
    ...                       'test_acc': 0.4}}}
    >>> print(report(r).title)
    Update rules on x: [10]x1 ReLU, He init, batch 8, 20 iterations
    """
    result = Result.of(result)
    c, runs, seeds = result.config, result["runs"], result.n_seeds
    rows = [
        [run_name(label, run), "-" if run["lr"] is None else f"{run['lr']:.4g}",
         *loss_run_cells(run)]
        for label, run in runs.items()
    ]  # fmt: skip

    slowest = max(runs, key=lambda label: mean_final(runs[label]))
    notes = [
        "final loss: mean of the last 5% of the smoothed curve; slowest: "
        + run_name(slowest, runs[slowest]), *spread_note(seeds),
    ]  # fmt: skip
    title = (
        f"Update rules on {c['dataset']}: {describe_hidden(c['hidden'])} "
        f"{display(c['activation'])}, {display(c['weight_init_std'])} init, "
        f"batch {c['batch_size']}, {c['iterations']} iterations{seeds_in_title(seeds)}"
    )
    more = []
    if c.get("lrs"):
        notes.append(
            f"lr: tuned over {len(c['lrs'])} rates, lowest final validation loss (mean over "
            f"seeds) on {c['validation_size']} held-out training images"
        )
        more.append(_sweep_report(result))
    return Report(title, ["rule", "lr", *LOSS_RUN_COLUMNS], rows, notes, more)


def _sweep_report(result: dict) -> Report:
    lrs = result["config"]["lrs"]
    rows = []
    for label, run in result["runs"].items():
        losses = np.asarray(run["sweep"]["val_loss"], np.float64)
        cells = [
            f"{m:.4g}{'*' if lr == run['lr'] else ''}" if np.isfinite(m) else "diverged"
            for lr, m in zip(lrs, losses.mean(axis=1))
        ]
        rows.append([run_name(label, run), *cells])
    return Report(
        "Learning-rate sweep: final validation loss (mean over seeds; * tuned)",
        ["rule", *(f"lr={lr:g}" for lr in lrs)],
        rows,
    )


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The result as long-format CSV rows (:data:`~jaxlearn.experiments.records.TIDY_HEADER`):
    every run's loss per iteration and its final train/test accuracy, per seed; with a sweep,
    also each rate's final validation loss (label ``'LABEL lr=RATE'``)."""
    result = Result.of(result)
    rows = loss_run_rows(result)
    seeds, last = result.seeds, result.config["iterations"]
    for label, run in result["runs"].items():
        sweep = run.get("sweep", {"lr": [], "val_loss": []})
        for lr, losses in zip(sweep["lr"], sweep["val_loss"]):
            rows += curve_rows(f"{label} lr={lr:g}", seeds, [last], "val_loss", losses)
    return TIDY_HEADER, rows


__all__ = ["BOOK", "BOOK_RULES", "QUICK", "VALIDATION_FRACTION", "compare_optimizers", "report",
           "tidy"]  # fmt: skip
