"""Training runs: :func:`train` (one model) and :func:`train_many` (K models in one ``vmap``).

The book's loop draws a mini-batch in NumPy, calls the network and updates, once per Python
iteration. Here the whole run is one compiled program (:mod:`jaxlearn.train.program`): blocks of
updates scanned on device, with evaluation on device, called a few times from Python (to move a
progress bar). Both entry points take the run's settings as :class:`~jaxlearn.train.RunConfig`
fields and build the same program from them; ``train_many`` runs it under ``vmap``. A model
is anything with the three methods of :class:`jaxlearn.train.model.Model`: the book's network
(:class:`jaxlearn.nn.mlp.MLPConfig`), a problem of the benchmark suite, your own.

Per-run hyper-parameters (a learning rate, a weight-decay λ) live in the optimizer state
(:func:`jaxlearn.optim.inject_hyperparams`): ``train_many`` initialises K optimizer states with
K values in one ``vmap`` over ``init``, and the compiled loop never sees them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from jaxlearn._util import is_prng_key
from jaxlearn.optim import RULES
from jaxlearn.optim.hyperparams import inject_hyperparams, stack_hyperparams
from jaxlearn.train import distributed
from jaxlearn.train.config import RunConfig
from jaxlearn.train.distributed import DATA, TRIALS
from jaxlearn.train.model import Model, is_model
from jaxlearn.train.program import Carry, Layout, program
from jaxlearn.train.result import Timing, TrainResult
from jaxlearn.train.splits import device_splits

Array = jax.Array
#: What ``opt`` may be: a ready ``(init, update)`` pair (``jl.adam()``, ``optax.adamw(1e-3)``), a
#: factory (``jl.sgd``, ``optax.adam``, your own function) or a jaxlearn rule name (``'sgd'``).
OptimizerLike = Any


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------


def _optimizer(opt: OptimizerLike, hyperparams: Mapping[str, Any] | None) -> tuple[Any, Callable]:
    """``(what the program updates with, make(**values) -> the pair whose init starts a run)``.

    With ``hyperparams`` the factory's arguments go into the optimizer state
    (:func:`~jaxlearn.optim.inject_hyperparams`); the program's optimizer is the same object for
    every value, so a new value never recompiles.
    """
    if isinstance(opt, str):
        if opt not in RULES:
            raise ValueError(f"opt: unknown update rule {opt!r}; choose from {sorted(RULES)}")
        opt = RULES[opt]
    ready = hasattr(opt, "init") and hasattr(opt, "update")
    if not ready and not callable(opt):
        raise TypeError(
            "opt must be an (init, update) pair, an optimizer factory such as jl.sgd or "
            f"optax.adam, or a rule name, got {type(opt).__name__}"
        )
    if hyperparams:
        if ready:
            raise ValueError(
                "hyperparams= needs opt to be a factory (jl.sgd, optax.adam, 'sgd', your own "
                "function), not a ready (init, update) pair: its arguments are fixed already"
            )
        injected = inject_hyperparams(opt)
        return injected, injected
    if ready:
        return opt, lambda: opt
    try:
        built = opt()
    except TypeError as err:
        raise ValueError(
            f"opt: {getattr(opt, '__name__', opt)}() cannot be built without arguments ({err}); "
            "give them in hyperparams= (e.g. hyperparams={'learning_rate': 1e-3} for optax's "
            "factories) or pass a ready optimizer"
        ) from None
    return built, lambda: built


def _progress_bar(config: RunConfig, total: int):
    if not config.show_progress():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are optional ([experiments] extra)
        return None
    return tqdm(total=total, desc=config.desc, unit="it", leave=False, dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------
# Running the program
# ---------------------------------------------------------------------------------------------


def _fit(
    model: Model, start: tuple, opt: Any, data: Any, key: Array, config: RunConfig, vmapped: bool
) -> TrainResult:
    """Run the program from ``start = (params, state, opt_state)``; ``config.mesh`` is a Mesh."""
    train, evaluated = device_splits(data, model, config.eval_on)
    n = train[0].shape[0]
    plan = config.plan(n)
    mesh = config.mesh
    n_data = distributed.axis_size(mesh, DATA)
    if config.batch_size % n_data:
        raise ValueError(
            f"batch_size ({config.batch_size}) is not divisible by the {n_data} devices of the "
            f"mesh's {DATA!r} axis: each device takes an equal share of the global batch; give "
            f"a batch_size that is a multiple of {n_data}"
        )
    run = program(model, opt, Layout.of(config, plan, vmapped))

    perm = jnp.zeros((n,) if not config.replace else (1,), jnp.int32)
    if vmapped:
        perm = jnp.broadcast_to(perm, (_num_configs(start[0]), *perm.shape))
    # Copies, so donating the carry never invalidates the caller's arrays.
    carry = Carry(*jax.tree.map(jnp.array, (*start, perm)))
    arrays = (train, evaluated)
    if mesh is not None:  # place every input where the shard_map expects it
        spec = P(TRIALS) if vmapped and TRIALS in mesh.axis_names else P()
        specs = distributed.carry_specs(carry, spec, config.shard_opt_state)
        carry = distributed.place(carry, mesh, specs)
        key = distributed.put(key, mesh, spec if vmapped and not config.share_batches else P())
        arrays = distributed.replicate(arrays, mesh)

    bar = _progress_bar(config, plan.iterations)
    losses, metrics = [], []
    calls, per_call = plan.n_blocks // plan.blocks_per_call, plan.blocks_per_call * plan.block_len
    clock = [time.perf_counter()]
    for call in range(calls):
        carry, loss, values = run(carry, key, call * plan.blocks_per_call, arrays)
        losses.append(loss)
        metrics.append(values)
        if call == 0 or call == calls - 1:  # the first call compiles: time it apart
            jax.block_until_ready(loss)
            clock.append(time.perf_counter())
        if bar is not None:
            bar.update(per_call)
    if bar is not None:
        bar.close()
    step_seconds = (clock[-1] - clock[1]) / ((calls - 1) * per_call) if calls > 1 else np.nan
    timing = Timing(clock[1] - clock[0], step_seconds, per_call)
    axis = 1 if vmapped else 0
    loss = np.concatenate([distributed.fetch(v) for v in losses], axis=axis)
    history = jax.tree.map(
        lambda *v: np.concatenate([distributed.fetch(a) for a in v], axis=axis), *metrics
    )
    evals = np.arange(1, plan.n_blocks + 1) * plan.block_len if plan.evaluate else np.zeros(0, int)
    return TrainResult(*carry[:3], loss, history, evals, timing)


def _with_mesh(config: RunConfig, axis: str, wanted: tuple[str, ...], who: str) -> RunConfig:
    mesh = distributed.make_mesh(config.mesh, axis)
    if mesh is not None:
        distributed.require_axes(mesh, wanted, who)
    return dataclasses.replace(config, mesh=mesh)


def _check_model(model: Any) -> None:
    if not is_model(model):
        raise TypeError(
            "model must have loss, metrics and check_data methods and be hashable (the book's "
            "network from mlp.make/mlp.init, a suite Problem, or your own; see "
            f"jaxlearn.train.model), got {type(model).__name__}"
        )


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def train(
    model: Model,
    params: Any,
    state: Any,
    opt: OptimizerLike,
    data: Any,
    *,
    key: Array,
    hyperparams: Mapping[str, Any] | None = None,
    config: RunConfig | None = None,
    **options: Any,
) -> TrainResult:
    """Train one model with mini-batch updates, the whole run one compiled program.

    Args:
      model, params, state: the model and its initial parameters and state: the book's
        network (:func:`jaxlearn.nn.mlp.init`), a problem of :mod:`jaxlearn.suite`
        (``problem.init(key)``), or any :class:`~jaxlearn.train.model.Model`. Not modified.
      opt: a ready optimizer (``jl.adam()``, ``optax.adamw(1e-3)``), a factory (``jl.sgd``,
        ``optax.adam``, your own function; called with ``hyperparams``, or with no arguments)
        or a rule name (``'sgd'``). Compiled programs are cached per ``(model, opt, settings)``:
        reuse one optimizer object, or a factory with ``hyperparams``, to train again without
        recompiling.
      data: ``((x_train, t_train), (x_test, t_test))`` as :func:`jaxlearn.data.load` returns
        (for the book's network: flattened images, int or one-hot labels), ``(x_train,
        t_train)`` (no test set), or named splits ``{'train': (x, t), 'valid': (x, t), ...}``
        (see :mod:`jaxlearn.train.splits`); every split is evaluated (``eval_on=`` chooses).
      key: PRNG key for mini-batches and Dropout masks. Same key, same result.
      hyperparams: the factory's arguments, kept in the optimizer state (e.g. ``{'lr': 0.05}``
        for jaxlearn's rules, ``{'learning_rate': 1e-3}`` for optax's): a new value reuses the
        compiled program.
      config: a :class:`~jaxlearn.train.RunConfig`; ``**options`` are its fields
        (``iterations``/``epochs``, ``batch_size=100``, ``replace=True``, ``eval_every``,
        ``eval_on``, ``eval_batch_size``, ``mesh``, ``progress``, ``desc``), each overriding
        ``config``'s.

    With a ``mesh`` (data-parallel) the global batch of ``batch_size`` (divisible by the
    ``'data'`` axis) is drawn exactly as on one device and split over the axis; gradients, the
    loss and the BatchNorm statistics are averaged across devices, Dropout masks are the global
    batch's; params, optimizer state and the data sets are replicated. The result equals the
    one-device run to float rounding (see :mod:`jaxlearn.train.distributed`).

    Returns:
      :class:`TrainResult`: the final params/state/opt_state and the NumPy history (``loss``
      per iteration, ``metrics`` per split and evaluation, ``eval_iterations``).

    >>> import jax, jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.nn import mlp
    >>> x = jax.random.normal(jax.random.key(1), (64, 8))
    >>> t = (x[:, 0] > 0).astype(jnp.int32)
    >>> net, params, state = mlp.init(jax.random.key(0), 8, [16], 2)
    >>> r = train(net, params, state, jl.sgd(0.1), ((x, t), (x, t)), key=jax.random.key(2),
    ...           epochs=20, batch_size=16)
    >>> r.loss.shape, r.train_acc.shape, bool(r.train_acc[-1] > 0.9), sorted(r.metrics['test'])
    ((80,), (20,), True, ['accuracy', 'cross_entropy'])
    >>> r1 = train(net, params, state, jl.sgd, ((x, t), (x, t)), key=jax.random.key(2),
    ...            hyperparams={'lr': 0.1}, epochs=20, batch_size=16, mesh=1)  # a 1-device mesh
    >>> bool(abs(r1.loss - r.loss).max() < 1e-5)
    True
    """
    config = _with_mesh(RunConfig.of(config, **options), DATA, (DATA,), "train")
    if config.trials_at_once is not None:
        raise ValueError("trials_at_once: train_many takes it; train trains one configuration")
    _check_model(model)
    program_opt, make = _optimizer(opt, hyperparams)
    for name, value in (hyperparams or {}).items():
        if np.ndim(value) != 0:
            raise ValueError(
                f"hyperparams[{name!r}]: train takes one value, got shape {np.shape(value)} "
                "(train_many trains one configuration per value)"
            )
    if config.shard_opt_state:  # ZeRO-1: the same rule, its state split over the data axis
        program_opt, make = distributed.shard_optimizer(program_opt, make, config.mesh)
    opt_state = make(**(hyperparams or {})).init(params)
    return _fit(model, (params, state, opt_state), program_opt, data, key, config, False)


def _num_configs(params: Any) -> int:
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError("params is empty: nothing to train")
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(
            f"params must be stacked along a leading K axis (see mlp.init_many); got leading "
            f"sizes {sorted(s for s in sizes if s is not None)}"
        )
    return sizes.pop()


def _per_config_keys(key: Array, k: int, shared: bool) -> Array:
    key = jnp.asarray(key)
    if shared:
        if is_prng_key(key) and key.shape == ():
            return key
        raise ValueError("key: share_batches=True takes one PRNG key (jax.random.key)")
    if is_prng_key(key):
        if key.ndim == 0:
            return jax.random.split(key, k)
        if key.shape == (k,):
            return key
    raise ValueError(
        f"key: expected one PRNG key (jax.random.key) or a ({k},) array of keys, got "
        f"{key.dtype} of shape {key.shape}"
    )


def train_many(
    model: Model,
    params: Any,
    state: Any,
    opt: OptimizerLike,
    data: Any,
    *,
    key: Array,
    hyperparams: Mapping[str, Any] | None = None,
    config: RunConfig | None = None,
    **options: Any,
) -> TrainResult:
    """Train K copies of ``model`` at once: one ``vmap``-ed compiled program.

    The K configurations may differ in initial weights (stacked ``params``/``state`` with a
    leading K axis: :func:`jaxlearn.nn.mlp.init_many`, or ``jax.vmap(problem.init)(keys)``)
    and in any argument of the optimizer factory (``hyperparams``: ``{name: (K,) values or
    one scalar}``, e.g. ``{'lr': lrs}``, or ``{'lr': lrs, 'weight_decay': lams}`` for a
    factory such as ``lambda lr, weight_decay: optax.chain(jl.add_weight_decay(weight_decay),
    jl.sgd(lr))``): K optimizer states are
    initialised with their own values in one ``vmap`` over ``init``. ``key`` is one key (split
    into K: each configuration draws its own mini-batches) or a (K,) array of keys
    (``share_batches=True``: one key, the same batches for all). The training data is shared.
    Other arguments and the result as :func:`train`, with a leading K axis on everything but
    ``eval_iterations``.

    ``mesh`` splits the configurations over devices: an int N (or a sequence of devices) is
    a one-axis mesh named ``'trials'``, each device training K/N configurations (K is padded
    to a multiple of N with copies of the last configuration, whose results are dropped). A
    ``jax.sharding.Mesh`` may have a ``'trials'`` axis, a ``'data'`` axis (each
    configuration's batch split over it, as :func:`train` does), or both. Each configuration
    gets the result it gets on one device, to float rounding.

    ``trials_at_once=G`` trains the K configurations G at a time (``lax.map`` over groups,
    each group vmapped, still one compiled program): the same values to float rounding, with
    the memory of G runs; on a CPU faster where K copies of the activations leave the cache.

    >>> import jax, jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn.nn import mlp
    >>> x = jax.random.normal(jax.random.key(1), (64, 8))
    >>> t = (x[:, 0] > 0).astype(jnp.int32)
    >>> net = mlp.make(8, [16], 2)
    >>> params, state = mlp.init_many(net, jax.random.key(0), 3)
    >>> r = train_many(net, params, state, jl.sgd, (x, t), key=jax.random.key(2),
    ...                hyperparams={'lr': [0.0, 0.01, 0.3]}, epochs=10, batch_size=16)
    >>> r.loss.shape, r.train_acc.shape, r.opt_state.hyperparams['lr'].tolist()
    ((3, 40), (3, 10), [0.0, 0.01, 0.3])
    >>> bool(r.train_acc[2, -1] > r.train_acc[0, -1])  # lr 0 learns nothing
    True
    """
    config = RunConfig.of(config, **options)
    config = _with_mesh(config, TRIALS, (TRIALS, DATA), "train_many")
    _check_model(model)
    if config.shard_opt_state:
        raise ValueError("shard_opt_state: train takes it, not train_many (whose "
                         "configurations are split over the 'trials' axis already)")
    k = _num_configs(params)
    key = _per_config_keys(key, k, config.share_batches)
    program_opt, make = _optimizer(opt, hyperparams)
    hp = stack_hyperparams(hyperparams or {}, k)
    pad = -k % distributed.axis_size(config.mesh, TRIALS)
    if pad:  # repeat the last configuration; its copies are dropped from the result
        take = jnp.minimum(jnp.arange(k + pad), k - 1)
        params, state, hp = jax.tree.map(lambda a: jnp.asarray(a)[take], (params, state, hp))
        key = key if config.share_batches else key[take]
    opt_state = jax.vmap(lambda h, p: make(**h).init(p))(hp, params)
    r = _fit(model, (params, state, opt_state), program_opt, data, key, config, True)
    if pad:  # every array but eval_iterations has the K axis
        r = TrainResult(*jax.tree.map(lambda a: a[:k], tuple(r[:5])), *r[5:])
    return r
