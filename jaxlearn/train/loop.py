"""Compiled training loops: whole epochs in one ``lax.scan``, data and evaluation on device.

The book's loop draws a mini-batch in NumPy, calls the network, and updates, once per Python
iteration. Here one compiled program runs a *block* of iterations (a ``lax.scan`` over
mini-batches drawn on device), then evaluates train/test accuracy on device, and scans over
blocks. Python only calls that program a few times (to move a progress bar): per-step dispatch
is what made a jitted step barely faster than NumPy.

:func:`train` trains one network; :func:`train_many` trains K networks that differ in seed,
initial weights, learning rate or weight decay in one ``vmap``-ed program.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from jaxlearn._compat import shard_map
from jaxlearn._util import is_prng_key
from jaxlearn.nn import mlp
from jaxlearn.nn.mlp import MLPConfig
from jaxlearn.train import distributed
from jaxlearn.train.batches import (
    batch_with_replacement,
    batch_without_replacement,
    epoch_permutation,
)
from jaxlearn.train.distributed import DATA, TRIALS, MeshLike
from jaxlearn.train.step import OptimizerLike, is_transformation, resolve_optimizer, train_step

Array = jax.Array
_TARGET_CALLS = 20  # compiled calls per run when a progress bar is shown: ~5% steps


class TrainResult(NamedTuple):
    """What a training run returns.

    ``params``, ``state``, ``opt_state`` are the final pytrees (JAX arrays; stacked with a
    leading K axis from :func:`train_many`). The history is NumPy: ``loss`` per iteration
    ``(iterations,)``, ``train_acc``/``test_acc`` per evaluation ``(evals,)`` (``(K, …)`` from
    :func:`train_many`; empty when not evaluated), ``eval_iterations`` the number of updates
    done at each evaluation. :meth:`history` gives the NumPy part as a JSON-ready dict.
    """

    params: Any
    state: Any
    opt_state: Any
    loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    eval_iterations: np.ndarray

    def history(self) -> dict[str, np.ndarray]:
        """``{'loss', 'train_acc', 'test_acc', 'eval_iterations'}`` as NumPy arrays."""
        return {
            "loss": self.loss,
            "train_acc": self.train_acc,
            "test_acc": self.test_acc,
            "eval_iterations": self.eval_iterations,
        }


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------


def _device_data(data: Any, dtype: str) -> tuple[Array, Array, Array | None, Array | None]:
    """``((x_train, t_train), (x_test, t_test))`` or ``(x_train, t_train)`` as device arrays."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            "data must be ((x_train, t_train), (x_test, t_test)) as jaxlearn.data.load returns, "
            "or (x_train, t_train)"
        )
    if isinstance(data[0], (tuple, list)):
        (x, t), test = data
    else:
        (x, t), test = data, None
    xt, tt = (None, None) if test is None else test

    def labels(t, name):
        t = np.asarray(t)
        if t.ndim == 2:  # one-hot rows
            t = t.argmax(axis=1)
        if t.ndim != 1:
            raise ValueError(f"{name}: expected labels (N,) or one-hot (N, classes), got {t.shape}")
        return jnp.asarray(t, jnp.int32)

    def images(x, t, name):
        x = jnp.asarray(x, dtype)
        if x.ndim != 2:
            raise ValueError(f"{name}: expected flattened images (N, features), got {x.shape}")
        if x.shape[0] != t.shape[0]:
            raise ValueError(f"{name}: {x.shape[0]} examples but {t.shape[0]} labels")
        return x

    t = labels(t, "t_train")
    x = images(x, t, "x_train")
    if xt is not None:
        tt = labels(tt, "t_test")
        xt = images(xt, tt, "x_test")
    return x, t, xt, tt


def _schedule(
    n_train: int,
    batch_size: int,
    iterations: int | None,
    epochs: int | None,
    eval_every: int | None,
    replace: bool,
) -> tuple[int, int, bool]:
    """``(block_len, n_blocks, evaluate)``: the run as n_blocks blocks of block_len updates."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not replace and batch_size > n_train:
        raise ValueError(
            f"batch_size ({batch_size}) exceeds the {n_train} training examples: an epoch "
            "without replacement needs batch_size <= len(x_train)"
        )
    # The book: iter_per_epoch = max(train_size / batch_size, 1).
    per_epoch = max(n_train // batch_size, 1)
    if (iterations is None) == (epochs is None):
        raise ValueError("give exactly one of iterations= and epochs=")
    if epochs is not None:
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        iterations = epochs * per_epoch
        if eval_every is None:
            eval_every = per_epoch
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive int, got {iterations!r}")
    eval_every = eval_every or 0
    if eval_every < 0 or (eval_every and iterations % eval_every):
        raise ValueError(
            f"eval_every ({eval_every}) must divide iterations ({iterations}); 0 turns "
            "evaluation off"
        )
    if eval_every:
        return eval_every, iterations // eval_every, True
    # No evaluation: blocks only set how often the progress bar moves.
    calls = max(d for d in range(1, _TARGET_CALLS + 1) if iterations % d == 0)
    return iterations // calls, calls, False


def _calls(n_blocks: int) -> int:
    """Blocks per compiled call: the largest divisor of n_blocks giving >= ~20 calls."""
    want = max(1, n_blocks // _TARGET_CALLS)
    return max(d for d in range(1, want + 1) if n_blocks % d == 0)


# ---------------------------------------------------------------------------------------------
# The compiled program
# ---------------------------------------------------------------------------------------------


def _step_fn(net, opt, key, x, t, batch_size, replace, weight_decay, axis_name=None) -> Callable:
    """The ``lax.scan`` body: draw iteration i's batch from ``key``, update once.

    Carry: ``(params, state, opt_state, perm)`` (``perm``: the epoch's permutation when
    drawing without replacement, an unused 1-element array otherwise). Output: the batch loss.
    With ``axis_name`` (inside ``shard_map``) every device draws the same global batch from
    the replicated key and keeps its equal share of the indices, in axis order.
    """
    n = x.shape[0]
    # Separate streams for batches and Dropout masks, each folded with the iteration number.
    k_data, k_drop = jax.random.split(key)

    def step(carry, i):
        params, state, opt_state, perm = carry
        if replace:
            idx = batch_with_replacement(k_data, i, n, batch_size)
        else:
            idx, perm = batch_without_replacement(k_data, i, perm, n, batch_size)
        if axis_name is not None:
            idx = distributed.local_rows(idx, axis_name)
        drop_key = jax.random.fold_in(k_drop, i) if net.use_dropout else None
        params, state, opt_state, value = train_step(
            net, opt, params, state, opt_state, x[idx], t[idx], drop_key, weight_decay, axis_name
        )
        return (params, state, opt_state, perm), value

    return step


@functools.lru_cache(maxsize=32)
def _program(
    net: MLPConfig,
    opt: Any,
    batch_size: int,
    block_len: int,
    blocks_per_call: int,
    replace: bool,
    evaluate: bool,
    vmapped: bool,
    shared_key: bool = False,
    mesh: Mesh | None = None,
) -> Callable:
    """The jitted ``run(carry, hp, key, first_block, data) -> (carry, losses, accs)``.

    Cached on its static configuration, so repeated runs (a sequential search, a benchmark)
    compile once. ``hp``: ``{'lr': ..., 'weight_decay': ...}`` (entries optional, traced).
    With a ``mesh`` the program is a ``shard_map`` over it: the batch (and the evaluation's
    rows) split over its ``'data'`` axis, the configurations (vmapped) over ``'trials'``.
    """
    make_opt = resolve_optimizer(opt)
    data_axis = DATA if distributed.axis_size(mesh, DATA) > 1 else None
    trial_axis = TRIALS if vmapped and mesh is not None and TRIALS in mesh.axis_names else None

    def accuracy(params, state, x, t):
        if data_axis is None:
            return mlp.accuracy(net, params, state, x, t)

        def counts(xs, ts):
            logits, _ = mlp.apply(net, params, state, xs, train=False)
            valid = ts >= 0
            return jnp.sum((jnp.argmax(logits, -1) == ts) & valid), jnp.sum(valid)

        return distributed.sharded_accuracy(counts, x, t, data_axis)

    def run_one(carry, hp, key, first_block, data):
        x, t, xt, tt = data
        step = _step_fn(
            net, make_opt(hp.get("lr")), key, x, t, batch_size, replace, hp.get("weight_decay"),
            data_axis,
        )  # fmt: skip

        def block(carry, b):
            carry, losses = jax.lax.scan(step, carry, b * block_len + jnp.arange(block_len))
            accs = jnp.zeros((2,), jnp.float32)
            if evaluate:
                params, state = carry[0], carry[1]
                acc_train = accuracy(params, state, x, t)
                acc_test = jnp.nan if xt is None else accuracy(params, state, xt, tt)
                accs = jnp.stack([acc_train, jnp.asarray(acc_test, acc_train.dtype)])
            return carry, (losses, accs)

        blocks = first_block + jnp.arange(blocks_per_call)
        carry, (losses, accs) = jax.lax.scan(block, carry, blocks)
        return carry, losses.reshape(-1), accs

    key_axis = None if shared_key else 0
    fn = jax.vmap(run_one, in_axes=(0, 0, key_axis, None, None)) if vmapped else run_one
    if mesh is not None:
        spec = P(trial_axis) if trial_axis else P()
        key_spec = spec if vmapped and not shared_key else P()
        fn = shard_map(
            fn, mesh=mesh, in_specs=(spec, spec, key_spec, P(), P()), out_specs=(spec, spec, spec)
        )
    # The carry (params, state, optimizer state, permutation) is donated: updated in place.
    return jax.jit(fn, donate_argnums=(0,))


def _fit(
    net, params, state, opt, data, *, key, lr, weight_decay, iterations, epochs, batch_size,
    replace, eval_every, progress, desc, vmapped, shared_key=False, mesh=None,
) -> TrainResult:  # fmt: skip
    if not isinstance(net, MLPConfig):
        raise TypeError(f"net must be an MLPConfig (from mlp.make/mlp.init), got {type(net)}")
    x, t, xt, tt = _device_data(data, net.dtype)
    if x.shape[1] != net.input_size:
        raise ValueError(f"x_train: {x.shape[1]} features, but net.input_size={net.input_size}")
    n = x.shape[0]
    block_len, n_blocks, evaluate = _schedule(
        n, batch_size, iterations, epochs, eval_every, replace
    )
    n_data = distributed.axis_size(mesh, DATA)
    if batch_size % n_data:
        raise ValueError(
            f"batch_size ({batch_size}) is not divisible by the {n_data} devices of the mesh's "
            f"{DATA!r} axis: each device takes an equal share of the global batch"
        )
    per_call = _calls(n_blocks)
    program = _program(
        net, opt, batch_size, block_len, per_call, replace, evaluate, vmapped, shared_key, mesh
    )

    make_opt = resolve_optimizer(opt)
    hp = {}
    if lr is not None:
        if is_transformation(opt):
            raise ValueError(
                "lr= needs opt to be a rule (jl.sgd or 'sgd'), not a ready (init, update) pair"
            )
        hp["lr"] = lr
    if weight_decay is not None:
        hp["weight_decay"] = weight_decay
    hp = jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), hp)

    def init_opt(p, h):
        return make_opt(h.get("lr")).init(p)

    if vmapped:
        opt_state = jax.vmap(init_opt)(params, hp)
    else:
        opt_state = init_opt(params, hp)
    # With replacement the permutation is unused: a 1-element placeholder, not an empty array
    # (jax 0.11.2's XLA CPU compiler crashes on a 0-element scan carry inside shard_map).
    perm0 = jnp.zeros((n,) if not replace else (1,), jnp.int32)
    if vmapped:
        perm0 = jnp.broadcast_to(perm0, (_num_configs(params), *perm0.shape))
    # Copies, so donating the carry never invalidates the caller's arrays.
    carry = jax.tree.map(jnp.array, (params, state, opt_state, perm0))
    data_arrays = (x, t, xt, tt)
    if mesh is not None:  # place every input where the shard_map expects it
        spec = P(TRIALS) if vmapped and TRIALS in mesh.axis_names else P()
        carry, hp = (jax.tree.map(lambda a: distributed.put(a, mesh, spec), v) for v in (carry, hp))
        key = distributed.put(key, mesh, spec if vmapped and not shared_key else P())
        data_arrays = distributed.replicate(data_arrays, mesh)

    bar = _progress_bar(progress, n_blocks * block_len, desc)
    losses, accs = [], []
    for call in range(n_blocks // per_call):
        carry, loss, acc = program(carry, hp, key, call * per_call, data_arrays)
        losses.append(loss)
        accs.append(acc)
        if bar is not None:
            bar.update(per_call * block_len)
    if bar is not None:
        bar.close()
    axis = 1 if vmapped else 0
    loss = np.concatenate([distributed.fetch(v) for v in losses], axis=axis)
    acc = np.concatenate([distributed.fetch(v) for v in accs], axis=axis)
    if not evaluate:
        acc = acc[..., :0, :]
    evals = np.arange(1, acc.shape[axis] + 1) * block_len
    params, state, opt_state, _ = carry
    return TrainResult(params, state, opt_state, loss, acc[..., 0], acc[..., 1], evals)


def _progress_bar(progress: bool, total: int, desc: str | None):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are optional ([experiments] extra)
        return None
    return tqdm(total=total, desc=desc, unit="it", leave=False, dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def train(
    net: MLPConfig,
    params: dict,
    state: dict,
    opt: OptimizerLike,
    data: Any,
    *,
    key: Array,
    iterations: int | None = None,
    epochs: int | None = None,
    batch_size: int = 100,
    replace: bool = True,
    eval_every: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    progress: bool = True,
    desc: str | None = None,
    mesh: MeshLike = None,
) -> TrainResult:
    """Train one network with mini-batch updates, compiled as ``lax.scan`` over mini-batches.

    Args:
      net, params, state: the network (:func:`jaxlearn.nn.mlp.init`). Not modified.
      opt: a ready optimizer (``jl.adam()``), or a rule (``jl.sgd`` / ``'sgd'``) built with
        ``lr`` (a traced argument, so a new lr does not recompile). Compiled programs are
        cached per ``(net, opt, …)``: reuse one optimizer object, or pass a rule and ``lr``,
        to train again without recompiling.
      data: ``((x_train, t_train), (x_test, t_test))`` as :func:`jaxlearn.data.load` returns
        (flattened images; int or one-hot labels), or ``(x_train, t_train)`` (no test set).
      key: PRNG key for mini-batches and Dropout masks. Same key, same result.
      iterations / epochs: the length of the run (exactly one). An epoch is
        ``max(len(x_train) // batch_size, 1)`` iterations, as the book's ``iter_per_epoch``.
      batch_size: examples per update (book: 100; 128 for the optimizer comparison).
      replace: draw each batch with replacement, as the book's
        ``np.random.choice(train_size, batch_size)``; ``False`` walks a fresh permutation of
        the training set each epoch.
      eval_every: evaluate train/test accuracy every this many iterations, on device
        (default: each epoch with ``epochs=``, never with ``iterations=``; 0 turns it off).
      lr: learning rate for a rule ``opt`` (``None``: the rule's default).
      weight_decay: λ of an extra ``½λΣ‖W‖²`` term (added to ``net.weight_decay_lambda``).
      progress: show a tqdm progress bar (the run is then split into ~20 compiled calls;
        results are identical with or without it).
      desc: the progress bar's label.
      mesh: data-parallel training (``None``: one device). An int N (the first N of
        ``jax.devices()``), a sequence of devices, or a ``jax.sharding.Mesh`` with a
        ``'data'`` axis. The global batch of ``batch_size`` (divisible by the axis size) is
        drawn exactly as on one device and split over the axis; gradients, the loss and the
        BatchNorm statistics are averaged across devices, Dropout masks are the global
        batch's; params and optimizer state are replicated. The result equals the one-device
        run to float rounding (see :mod:`jaxlearn.train.distributed`). The training and test
        sets are replicated on every device; evaluation splits their rows over the axis.

    Returns:
      :class:`TrainResult`: the final params/state/opt_state and the NumPy history (``loss``
      per iteration, ``train_acc``/``test_acc`` per evaluation, ``eval_iterations``).
      With a mesh, the arrays are replicated over it.

    >>> import jaxlearn as jl
    >>> from jaxlearn.nn import mlp
    >>> x = jax.random.normal(jax.random.key(1), (64, 8))
    >>> t = (x[:, 0] > 0).astype(jnp.int32)
    >>> net, params, state = mlp.init(jax.random.key(0), 8, [16], 2)
    >>> r = train(net, params, state, jl.sgd(0.1), ((x, t), (x, t)), key=jax.random.key(2),
    ...           epochs=20, batch_size=16, progress=False)
    >>> r.loss.shape, r.train_acc.shape, bool(r.train_acc[-1] > 0.9)
    ((80,), (20,), True)
    >>> r1 = train(net, params, state, jl.sgd(0.1), ((x, t), (x, t)), key=jax.random.key(2),
    ...            epochs=20, batch_size=16, progress=False, mesh=1)  # a 1-device mesh
    >>> bool(abs(r1.loss - r.loss).max() < 1e-5)
    True
    """
    mesh = distributed.make_mesh(mesh, DATA)
    if mesh is not None and DATA not in mesh.axis_names:
        raise ValueError(
            f"mesh: train needs a mesh with a {DATA!r} axis to split the batch over, got axes "
            f"{mesh.axis_names}"
        )
    return _fit(
        net, params, state, opt, data, key=key, lr=lr, weight_decay=weight_decay,
        iterations=iterations, epochs=epochs, batch_size=batch_size, replace=replace,
        eval_every=eval_every, progress=progress, desc=desc, vmapped=False, mesh=mesh,
    )  # fmt: skip


def _num_configs(params: Any) -> int:
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError("params is empty: nothing to train")
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(
            f"params must be stacked along a leading K axis (see init_many); got leading "
            f"sizes {sorted(s for s in sizes if s is not None)}"
        )
    return sizes.pop()


def _per_config(name: str, value: Any, k: int) -> Array | None:
    if value is None:
        return None
    v = jnp.asarray(value, jnp.float32)
    if v.ndim == 0:
        return jnp.broadcast_to(v, (k,))
    if v.shape != (k,):
        raise ValueError(
            f"{name}: expected a scalar or shape ({k},) for {k} configs, got {v.shape}"
        )
    return v


def _per_config_keys(key: Array, k: int) -> Array:
    key = jnp.asarray(key)
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
    net: MLPConfig,
    params: dict,
    state: dict,
    opt: OptimizerLike,
    data: Any,
    *,
    key: Array,
    lr: Any = None,
    weight_decay: Any = None,
    iterations: int | None = None,
    epochs: int | None = None,
    batch_size: int = 100,
    replace: bool = True,
    eval_every: int | None = None,
    share_batches: bool = False,
    progress: bool = True,
    desc: str | None = None,
    mesh: MeshLike = None,
) -> TrainResult:
    """Train K copies of ``net`` at once: one ``vmap``-ed compiled program.

    The K configurations may differ in initial weights (stacked ``params``/``state`` with a
    leading K axis: :func:`init_many`), learning rate (``lr``: a (K,) array; ``opt`` must then
    be a rule such as ``jl.sgd``, built inside the vmapped program with a traced lr) and weight
    decay (``weight_decay``: a (K,) array of λ). ``key`` is one key (split into K: each
    configuration draws its own mini-batches) or a (K,) array of keys. The training data is
    shared, unbatched. ``share_batches=True`` gives every configuration the same mini-batches
    (and Dropout masks) from the one ``key``: common random numbers, a fairer comparison, and
    cheaper, since the first layer of all K networks is then one large matrix product. Other
    arguments and the result as :func:`train`, with a leading K axis on everything but
    ``eval_iterations``.

    ``mesh`` splits the configurations over devices: an int N (or a sequence of devices) is
    a one-axis mesh named ``'trials'``, each device training K/N configurations (K is padded
    to a multiple of N with copies of the last configuration, whose results are dropped). A
    ``jax.sharding.Mesh`` may have a ``'trials'`` axis, a ``'data'`` axis (each
    configuration's batch split over it, as :func:`train` does), or both. Each configuration
    gets the result it gets on one device, to float rounding.

    >>> import jaxlearn as jl
    >>> from jaxlearn.nn import mlp
    >>> x = jax.random.normal(jax.random.key(1), (64, 8))
    >>> t = (x[:, 0] > 0).astype(jnp.int32)
    >>> net = mlp.make(8, [16], 2)
    >>> params, state = init_many(net, jax.random.key(0), 3)
    >>> r = train_many(net, params, state, jl.sgd, (x, t), key=jax.random.key(2),
    ...                lr=jnp.array([0.0, 0.01, 0.3]), epochs=10, batch_size=16, progress=False)
    >>> r.loss.shape, r.train_acc.shape
    ((3, 40), (3, 10))
    >>> bool(r.train_acc[2, -1] > r.train_acc[0, -1])  # lr 0 learns nothing
    True
    """
    k = _num_configs(params)
    if share_batches:
        key = jnp.asarray(key)
        if not is_prng_key(key) or key.shape != ():
            raise ValueError("key: share_batches=True takes one PRNG key (jax.random.key)")
    else:
        key = _per_config_keys(key, k)
    mesh = distributed.make_mesh(mesh, TRIALS)
    if mesh is not None and not {TRIALS, DATA} & set(mesh.axis_names):
        raise ValueError(
            f"mesh: train_many needs a mesh with a {TRIALS!r} and/or a {DATA!r} axis, got "
            f"axes {mesh.axis_names}"
        )
    lr, weight_decay = _per_config("lr", lr, k), _per_config("weight_decay", weight_decay, k)
    pad = -k % distributed.axis_size(mesh, TRIALS)
    if pad:  # repeat the last configuration; its copies are dropped from the result
        take = jnp.minimum(jnp.arange(k + pad), k - 1)
        params, state, lr, weight_decay = jax.tree.map(
            lambda a: jnp.asarray(a)[take], (params, state, lr, weight_decay)
        )
        if not share_batches:
            key = key[take]
    r = _fit(
        net, params, state, opt, data, key=key, lr=lr, weight_decay=weight_decay,
        iterations=iterations, epochs=epochs, batch_size=batch_size, replace=replace,
        eval_every=eval_every, progress=progress, desc=desc, vmapped=True,
        shared_key=share_batches, mesh=mesh,
    )  # fmt: skip
    if pad:
        first = functools.partial(jax.tree.map, lambda a: a[:k])
        r = r._replace(
            params=first(r.params), state=first(r.state), opt_state=first(r.opt_state),
            loss=r.loss[:k], train_acc=r.train_acc[:k], test_acc=r.test_acc[:k],
        )  # fmt: skip
    return r


def init_many(
    net: MLPConfig,
    key: Array,
    num: int,
    *,
    weight_scale: Any = None,
) -> tuple[dict, dict]:
    """K stacked ``(params, state)`` for :func:`train_many`, each from its own key.

    ``weight_scale``: a (K,) array (or a scalar) of weight standard deviations overriding
    ``net.weight_init_std``: ``W = scale_k · N(0, 1)`` in every layer (the Batch Norm
    experiment's scales); configuration k's draw does not depend on its scale.

    >>> import jax.numpy as jnp
    >>> from jaxlearn.nn import mlp
    >>> net = mlp.make(4, [3], 2)
    >>> params, state = init_many(net, jax.random.key(0), 2, weight_scale=jnp.array([1.0, 0.01]))
    >>> unit, _ = init_many(net, jax.random.key(0), 2, weight_scale=1.0)
    >>> params['W1'].shape, bool(jnp.allclose(params['W1'][1], 0.01 * unit['W1'][1]))
    ((2, 4, 3), True)
    """
    if not isinstance(num, int) or num < 1:
        raise ValueError(f"num must be a positive int, got {num!r}")
    keys = jax.random.split(key, num)
    if weight_scale is None:
        return jax.vmap(functools.partial(mlp.init_params, net))(keys)
    scale = _per_config("weight_scale", weight_scale, num)
    unit = dataclasses.replace(net, weight_init_std=1.0)
    params, state = jax.vmap(functools.partial(mlp.init_params, unit))(keys)
    params = {
        name: (p * scale.reshape(-1, 1, 1).astype(p.dtype)) if name.startswith("W") else p
        for name, p in params.items()
    }
    return params, state


def make_epoch(
    net: MLPConfig,
    opt: OptimizerLike,
    *,
    batch_size: int,
    iterations: int,
    replace: bool = True,
    weight_decay: float | None = None,
) -> Callable[..., tuple[dict, dict, Any, Array]]:
    """A jitted ``epoch(params, state, opt_state, x, t, key, first_iteration=0, lr=None)``.

    Runs ``iterations`` updates as one ``lax.scan`` over mini-batches drawn on device from
    ``(x, t)``; returns ``(params, state, opt_state, losses)``. The params/state/opt_state
    passed in are donated. Batch ``i`` is drawn from ``fold_in(key, first_iteration + i)``
    (with replacement, or from that epoch's permutation).

    >>> import jaxlearn as jl
    >>> from jaxlearn.nn import mlp
    >>> net, params, state = mlp.init(jax.random.key(0), 4, [3], 2)
    >>> epoch = make_epoch(net, jl.sgd(0.1), batch_size=2, iterations=5)
    >>> x, t = jnp.ones((10, 4)), jnp.zeros(10, jnp.int32)
    >>> params, state, opt_state, losses = epoch(
    ...     params, state, jl.sgd(0.1).init(params), x, t, jax.random.key(1))
    >>> losses.shape
    (5,)
    """
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive int, got {iterations!r}")
    make_opt = resolve_optimizer(opt)

    def epoch(params, state, opt_state, x, t, key, first_iteration=0, lr=None):
        n = x.shape[0]
        if not replace and batch_size > n:
            raise ValueError(f"batch_size ({batch_size}) exceeds the {n} training examples")
        step = _step_fn(net, make_opt(lr), key, x, t, batch_size, replace, weight_decay)
        perm = jnp.zeros((0 if replace else n,), jnp.int32)
        if not replace:  # start mid-epoch correctly: draw this epoch's permutation now
            k_data = jax.random.split(key)[0]  # as in _step_fn
            perm = epoch_permutation(k_data, first_iteration // (n // batch_size), n)
            perm = perm.astype(jnp.int32)
        its = first_iteration + jnp.arange(iterations)
        (params, state, opt_state, _), losses = jax.lax.scan(
            step, (params, state, opt_state, perm), its
        )
        return params, state, opt_state, losses

    return jax.jit(epoch, donate_argnums=(0, 1, 2))
