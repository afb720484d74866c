"""Run in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=8 (see
tests/test_distributed.py): data-parallel training on 8 host devices against one device.

    python tests/_distributed_worker.py OUT_DIR CKPT_FROM_ONE_DEVICE

Checks (each one raises on failure; the measured differences are printed as one JSON line):

- every update rule: 50 steps of a [50, 50] network with BatchNorm, Dropout and weight decay,
  global batch 32, on 8 devices (``train(mesh=8)``) equal 1 device (params, state, losses,
  accuracies) to float rounding;
- Dropout: the masks of the 8-device forward are the global batch's masks;
- ``make_train_step(mesh=8)``, ``train_step`` under ``pmap``, a 2-D (trials × data) mesh and
  the flat (multi-tensor) optimizer mode equal their one-device runs;
- the hyper-parameter search with ``devices=8`` equals the one-device search;
- checkpoints: a file written on 1 device (by the parent process) loads onto an 8-device
  sharding via ``like=``; replicated and sharded 8-device trees are saved for the parent
  (1 device) to load and compare;
- errors: a batch not divisible by the devices, more devices than exist.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from _multiprocess import run_record, zero_record  # tests/ is this script's folder
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxlearn as jl
from jaxlearn import checkpoint
from jaxlearn.experiments import hyperparameter_search
from jaxlearn.nn import mlp
from jaxlearn.nn.mlp import init_many
from jaxlearn.optim import RULES
from jaxlearn.optim.flat import flat
from jaxlearn.train import make_train_step, train, train_many, train_step

D = 8
STEPS, BATCH = 50, 32
RTOL, ATOL = 2e-5, 1e-5  # params are O(0.1); pre-BN biases carry 1e-6 noise


def problem(seed: int = 0):
    """A learnable 5-class problem: 256 training and 37 test rows of 20 features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(293, 20)).astype(np.float32)
    t = (x @ rng.normal(size=(20, 5))).argmax(axis=1).astype(np.int32)
    return (x[:256], t[:256]), (x[256:], t[256:])


def network():
    return mlp.init(
        jax.random.key(0), 20, [50, 50], 5, use_batchnorm=True, use_dropout=True,
        dropout_ratio=0.2, weight_decay_lambda=0.01,
    )  # fmt: skip


def max_diff(a, b) -> float:
    return max(
        float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def close(a, b, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    for (path, x), y in zip(
        jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True
    ):
        np.testing.assert_allclose(
            np.asarray(x), np.asarray(y), rtol=rtol, atol=atol,
            err_msg=f"{what}{jax.tree_util.keystr(path)}",
        )  # fmt: skip


#: A bias just before BatchNorm has a true gradient of exactly 0 (the layer subtracts the batch
#: mean); what autodiff returns is rounding noise of order 1e-9. SGD and Momentum move it by
#: lr·noise, but AdaGrad, RMSprop and Adam divide by √(accumulated noise²) + eps: with the
#: book's eps = 1e-7 each step moves it by up to ±lr whatever the noise is, so its value (and
#: the BatchNorm running mean, which includes it) is amplified rounding noise, different for
#: any change of summation order (8 devices, or 1 device with another batch blocking), while
#: the network's outputs and losses are unaffected. eps = 1e-4 keeps the noise at noise size,
#: so the comparison below can be tight for every parameter and statistic.
ADAPTIVE_EPS = 1e-4


def rule(name: str, lr: float):
    """The update rule ``name`` at ``lr`` (eps = ADAPTIVE_EPS for the adaptive ones)."""
    if name in ("adagrad", "rmsprop", "adam"):
        return RULES[name](lr=lr, eps=ADAPTIVE_EPS)
    return RULES[name](lr=lr)


def split_noise(params: dict, net) -> tuple[dict, dict]:
    """(hidden biases that feed BatchNorm, everything else): see ADAPTIVE_EPS."""
    noise = {f"b{i}" for i in range(1, net.num_layers)} if net.use_batchnorm else set()
    return (
        {k: v for k, v in params.items() if k in noise},
        {k: v for k, v in params.items() if k not in noise},
    )


def rule_runs():
    """``(name, optimizer, train keyword arguments)`` of each compared run: every rule (the
    adaptive ones at eps = ADAPTIVE_EPS), then Adam at the book's eps = 1e-7 (``adam_book``),
    whose amplified rounding (see ADAPTIVE_EPS) tests/test_multiprocess.py bounds. The same
    runs are the references of the multi-process tests."""
    for name in [*RULES, "adam_book"]:
        lr = 0.1 if name in ("sgd", "momentum", "nesterov") else 0.01
        opt = RULES["adam"](lr=lr) if name == "adam_book" else rule(name, lr)
        # Evaluation (sharded over the devices) in the first rule only: it costs compile time.
        kw = dict(key=jax.random.key(1), iterations=STEPS, batch_size=BATCH, progress=False,
                  eval_every=STEPS if name == "sgd" else 0)  # fmt: skip
        yield name, opt, kw


def check_rules(results: dict, out: Path) -> None:
    data = problem()
    net, params, state = network()
    records = {}
    for name, opt, kw in rule_runs():  # one opt object: both runs share the program's key
        one = train(net, params, state, opt, data, **kw)
        many = train(net, params, state, opt, data, mesh=D, **kw)
        records.update(run_record(f"{name}/one", one) | run_record(f"{name}/many", many))
        if name == "adam":  # ZeRO-1: the same run with the state split over the 8 devices
            zero = train(net, params, state, opt, data, mesh=D, shard_opt_state=True, **kw)
            results["zero"] = {"adam": zero_record(many, zero)}
        if name == "adam_book":
            continue  # compared in tests/test_multiprocess.py, with its own bound
        assert many.params["W1"].sharding.is_fully_replicated
        assert len(many.params["W1"].sharding.device_set) == D
        close(many.params, one.params, f"{name} params")
        noise1, rest1 = split_noise(one.params, net)
        noise8, rest8 = split_noise(many.params, net)
        close(many.state, one.state, f"{name} BatchNorm state")
        close(many.opt_state, one.opt_state, f"{name} opt_state", rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(many.loss, one.loss, rtol=RTOL, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(many.train_acc, one.train_acc, atol=1.5 / 256)
        np.testing.assert_allclose(many.test_acc, one.test_acc, atol=1.5 / 37)
        assert one.loss[-1] < one.loss[0], f"{name} did not learn"
        results["rules"][name] = {
            "params": max_diff(rest8, rest1),
            "bias_before_bn": max_diff(noise8, noise1),
            "state": max_diff(many.state, one.state),
            "loss": float(np.max(np.abs(many.loss - one.loss))),
            "first_loss": float(one.loss[0]),
            "last_loss": float(one.loss[-1]),
        }
    np.savez(out / "reference.npz", **records)


def many_configs(net):
    """``train_many``'s 10 configurations (own weights, batches and learning rate each) and
    its keyword arguments: the reference of the multi-process test whose trials are split
    over the processes (10 on 8 devices: padded to 16)."""
    stacked, bn = init_many(net, jax.random.key(4), 10)
    kw = dict(key=jax.random.key(5), hyperparams={"lr": jnp.geomspace(0.01, 0.3, 10)},
              iterations=20, batch_size=BATCH, progress=False)  # fmt: skip
    return stacked, bn, kw


def check_train_many(out: Path) -> None:
    net, _, _ = network()
    stacked, bn, kw = many_configs(net)
    one = train_many(net, stacked, bn, "sgd", problem(), **kw)
    np.savez(out / "reference_train_many.npz", **run_record("train_many/one", one))


def check_dropout_masks(results: dict) -> None:
    """The 8-device forward uses the global batch's masks (no BatchNorm: only Dropout)."""
    net, params, state = mlp.init(jax.random.key(0), 20, [50, 50], 5, use_dropout=True,
                                  dropout_ratio=0.5)  # fmt: skip
    x = jnp.asarray(problem()[0][0][:BATCH])
    key = jax.random.key(7)
    ref, _ = mlp.apply(net, params, state, x, train=True, key=key)
    mesh = jax.make_mesh((D,), ("data",), axis_types=(jax.sharding.AxisType.Explicit,))

    def local(x):
        return mlp.apply(net, params, state, x, train=True, key=key, axis_name="data")[0]

    f = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=P("data"), out_specs=P("data")))
    got = f(jax.device_put(x, NamedSharding(mesh, P("data"))))
    close(got, ref, "dropout forward", rtol=1e-6, atol=1e-6)
    # Per-device masks drawn from the same key for the local shape would differ:
    per_device = jnp.concatenate([
        mlp.apply(net, params, state, x[i * 4 : i * 4 + 4], train=True, key=key)[0]
        for i in range(D)
    ])  # fmt: skip
    assert float(jnp.abs(per_device - ref).max()) > 1e-2, "test has no power"
    results["dropout_forward"] = max_diff(got, ref)


def check_step_pmap_2d_flat(results: dict) -> None:
    (x, t), _ = data = problem()
    net, params, state = network()
    opt = jl.momentum(0.1)
    key = jax.random.key(3)
    # make_train_step(mesh=8): the same update as one device on the global batch.
    ref = make_train_step(net, opt, donate=False)(
        params, state, opt.init(params), x[:BATCH], t[:BATCH], key
    )
    got = make_train_step(net, opt, mesh=D, donate=False)(
        params, state, opt.init(params), x[:BATCH], t[:BATCH], key
    )
    close(got[0], ref[0], "make_train_step params")
    close(got[1:], ref[1:], "make_train_step state/opt_state/loss", atol=1e-5)
    results["make_train_step"] = max_diff(got[0], ref[0])

    # train_step under pmap (each device its 4 rows).
    def dev(xs, ts):
        return train_step(net, opt, params, state, opt.init(params), (xs, ts), key, "i")

    pm = jax.pmap(dev, axis_name="i")(x[:BATCH].reshape(D, 4, 20), t[:BATCH].reshape(D, 4))
    pm0 = jax.tree.map(lambda a: a[0], pm)
    close(pm0[0], ref[0], "pmap params")
    close(pm0[1:], ref[1:], "pmap state/opt_state/loss", atol=1e-5)
    results["pmap_step"] = max_diff(pm0[0], ref[0])

    # A 2-D mesh: 2 trials axis x 4 data axis, 4 configurations.
    mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ("trials", "data"))
    stacked, bn = init_many(net, jax.random.key(4), 4)
    kw = dict(key=jax.random.key(5), hyperparams={"lr": jnp.array([0.01, 0.03, 0.1, 0.3])},
              iterations=20, batch_size=BATCH, progress=False)  # fmt: skip
    one = train_many(net, stacked, bn, "sgd", data, **kw)
    two_d = train_many(net, stacked, bn, "sgd", data, mesh=mesh, **kw)
    close(two_d.params, one.params, "2-D mesh params")
    np.testing.assert_allclose(two_d.loss, one.loss, rtol=RTOL, atol=ATOL)
    results["trials_x_data"] = max_diff(two_d.params, one.params)

    # The flat (multi-tensor) mode: the optimizer state is FlatBuffers, replicated.
    fopt = flat(jl.adam(0.01, eps=ADAPTIVE_EPS))
    kw = dict(key=jax.random.key(1), iterations=20, batch_size=BATCH, progress=False)
    one = train(net, params, state, fopt, data, **kw)
    many = train(net, params, state, fopt, data, mesh=D, **kw)
    close(many.params, one.params, "flat params")
    np.testing.assert_allclose(many.loss, one.loss, rtol=RTOL, atol=ATOL)
    zero = train(net, params, state, fopt, data, mesh=D, shard_opt_state=True, **kw)
    results["zero"]["flat adam"] = zero_record(many, zero)
    assert type(many.opt_state.m).__name__ == "FlatBuffers"
    results["flat"] = max_diff(many.params, one.params)
    return many


def check_search(results: dict) -> None:
    rng = np.random.default_rng(1)
    data = ((rng.random((120, 784), np.float32), rng.integers(0, 10, 120)),
            (rng.random((8, 784), np.float32), rng.integers(0, 10, 8)))  # fmt: skip
    kw = dict(key=3, dataset=data, epochs=2, train_size=120, batch_size=24, hidden=[16],
              progress=False)  # fmt: skip
    one = hyperparameter_search(10, **kw)  # 10 trials: padded to 16 on 8 devices
    many = hyperparameter_search(10, devices=D, **kw)
    np.testing.assert_array_equal(many["lr"], one["lr"])  # same trials, same ranking
    np.testing.assert_array_equal(many["weight_decay"], one["weight_decay"])
    np.testing.assert_allclose(many["val_acc"], one["val_acc"], atol=1.5 / 24)
    np.testing.assert_allclose(many["train_acc"], one["train_acc"], atol=1.5 / 96)
    results["search"] = {
        "trials": len(one["lr"]),
        "val_acc": float(np.max(np.abs(many["val_acc"] - one["val_acc"]))),
    }


def check_checkpoints(results: dict, out: Path, from_one: Path, flat_run) -> None:
    net, params, state = network()
    opt = jl.adam()
    mesh = jax.make_mesh((D,), ("data",))
    like = (params, state, opt.init(params))
    # 1 device -> 8 devices: replicated, and a leaf sharded over the data axis.
    replicated = jax.device_put(like, NamedSharding(mesh, P()))
    loaded = checkpoint.load(from_one, like=replicated)
    for leaf in jax.tree.leaves(loaded):
        assert leaf.sharding == NamedSharding(mesh, P()), leaf.sharding
    pair = jax.make_mesh((2,), ("data",), devices=jax.devices()[:2])  # W1's 20 rows over 2
    sharded_like = {**params, "W1": jax.device_put(params["W1"], NamedSharding(pair, P("data")))}
    W1 = checkpoint.load(from_one, like=(sharded_like, state, opt.init(params)))[0]["W1"]
    assert W1.sharding.spec == P("data") and len(W1.addressable_shards) == 2
    ref = checkpoint.load(from_one)  # plain, on the default device
    np.testing.assert_array_equal(np.asarray(W1), np.asarray(ref[0]["W1"]))
    close(loaded, jax.tree.leaves(ref), "1 -> 8 devices", rtol=0, atol=0)

    # 8 devices -> file: a replicated training result (flat-mode state included), and a tree
    # sharded over devices (trial-sharded train_many params and a batch-sharded array).
    checkpoint.save(out / "replicated.jl", (flat_run.params, flat_run.state, flat_run.opt_state))
    stacked, _ = init_many(net, jax.random.key(9), 8)
    sharded = {
        "stacked": jax.device_put(stacked, NamedSharding(mesh, P("data"))),
        "batch": jax.device_put(jnp.arange(64.0).reshape(16, 4), NamedSharding(mesh, P("data"))),
    }
    checkpoint.save(out / "sharded.jl", sharded)
    np.savez(
        out / "expected.npz",
        W1_replicated=np.asarray(flat_run.params["W1"]),
        m_replicated=np.asarray(flat_run.opt_state.m["float32"]),
        W1_stacked=np.asarray(stacked["W1"]),
    )
    results["checkpoints"] = "ok"


def check_errors(results: dict) -> None:
    net, params, state = network()
    try:
        train(net, params, state, "sgd", problem(), key=jax.random.key(0), iterations=2,
              batch_size=30, progress=False, mesh=D)  # fmt: skip
    except ValueError as e:
        assert "batch_size (30) is not divisible by the 8 devices" in str(e), e
    else:
        raise AssertionError("batch 30 on 8 devices did not raise")
    try:
        train(net, params, state, "sgd", problem(), key=jax.random.key(0), iterations=2,
              batch_size=32, progress=False, mesh=9)  # fmt: skip
    except ValueError as e:
        assert "9 requested but only 8 available" in str(e) and "CpuDevice(id=7)" in str(e), e
    else:
        raise AssertionError("9 devices did not raise")
    results["errors"] = "ok"


def main() -> None:
    out, from_one = Path(sys.argv[1]), Path(sys.argv[2])
    assert jax.device_count() == D, jax.devices()
    results: dict = {"rules": {}, "seconds": {}}
    check_errors(results)
    for name, fn in (
        ("rules", lambda: check_rules(results, out)),
        ("dropout", lambda: check_dropout_masks(results)),
        ("step_pmap_2d_flat", lambda: check_step_pmap_2d_flat(results)),
        ("search", lambda: check_search(results)),
        ("train_many_reference", lambda: check_train_many(out)),
    ):
        start = time.perf_counter()
        got = fn()
        if name == "step_pmap_2d_flat":
            flat_run = got
        results["seconds"][name] = round(time.perf_counter() - start, 1)
    check_checkpoints(results, out, from_one, flat_run)
    print(json.dumps(results))


if __name__ == "__main__":  # imported by pytest --doctest-modules: do nothing then
    main()
