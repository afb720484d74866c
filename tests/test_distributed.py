"""Data-parallel training: 8 host devices (a subprocess) against 1 device, checkpoints across
device counts, and the argument errors that need no second device."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _multiprocess import once, one_process_run

import jaxlearn as jl
from jaxlearn import checkpoint
from jaxlearn.nn import mlp
from jaxlearn.optim.flat import flat
from jaxlearn.train import distributed, make_train_step, train, train_many


def _network():
    return mlp.init(
        jax.random.key(0), 20, [50, 50], 5, use_batchnorm=True, use_dropout=True,
        dropout_ratio=0.2, weight_decay_lambda=0.01,
    )  # fmt: skip


@pytest.fixture(scope="session")
def eight_devices(shared_tmp):
    """The 1-process, 8-device worker's JSON results and the folder it wrote into, run once
    per session (tests/test_multiprocess.py compares against its references too)."""
    return once(shared_tmp, "1x8", one_process_run)


# The three tests of the 8-device subprocess share its run with tests/test_multiprocess.py's
# reference (the same 1 x 8 run, once per session), so they run beside those: the README's
# third test command (-m multiprocess), not the second.
EIGHT_DEVICES = pytest.mark.multiprocess


@EIGHT_DEVICES
def test_every_rule_on_8_devices_equals_1_device(eight_devices):
    results, _ = eight_devices
    assert sorted(results["rules"]) == sorted(jl.optim.RULES)
    for name, r in results["rules"].items():
        assert r["params"] < 1e-4 and r["state"] < 1e-4 and r["loss"] < 1e-4, (name, r)
        assert r["last_loss"] < r["first_loss"], (name, r)


@EIGHT_DEVICES
def test_dropout_step_pmap_trials_flat_search_on_8_devices(eight_devices):
    results, _ = eight_devices
    assert results["dropout_forward"] < 1e-5
    assert results["make_train_step"] < 1e-5 and results["pmap_step"] < 1e-5
    assert results["trials_x_data"] < 1e-4 and results["flat"] < 1e-4
    assert results["search"]["trials"] == 10
    assert results["errors"] == "ok" and results["checkpoints"] == "ok"


@EIGHT_DEVICES
def test_checkpoints_written_on_8_devices_load_on_1(eight_devices):
    _, out = eight_devices
    expected = np.load(out / "expected.npz")
    net, params, state = _network()
    fopt = flat(jl.adam(0.01, eps=1e-4))
    like = (params, state, fopt.init(params))
    p, s, o = checkpoint.load(out / "replicated.jl", like=like)
    assert type(o.m).__name__ == "FlatBuffers" and len(p["W1"].devices()) == 1
    np.testing.assert_array_equal(np.asarray(p["W1"]), expected["W1_replicated"])
    np.testing.assert_array_equal(np.asarray(o.m["float32"]), expected["m_replicated"])
    sharded = checkpoint.load(out / "sharded.jl")
    np.testing.assert_array_equal(np.asarray(sharded["stacked"]["W1"]), expected["W1_stacked"])
    np.testing.assert_array_equal(np.asarray(sharded["batch"]), np.arange(64.0).reshape(16, 4))


# --- one device: arguments and errors ---------------------------------------------------------


def test_too_many_devices_lists_the_available_ones():
    net, params, state = _network()
    n = len(jax.devices()) + 1
    with pytest.raises(ValueError, match=rf"devices: {n} requested but only .* available: \["):
        train(net, params, state, "sgd", (np.ones((8, 20)), np.zeros(8)), key=jax.random.key(0),
              iterations=1, batch_size=4, mesh=n, progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="positive number of devices"):
        distributed.make_mesh(0)
    with pytest.raises(TypeError, match="devices/mesh must be"):
        distributed.make_mesh("gpu")


def test_mesh_axes_are_checked():
    net, params, state = _network()
    mesh = distributed.make_mesh(1, "model")
    with pytest.raises(ValueError, match="'data' axis"):
        train(net, params, state, "sgd", (np.ones((8, 20)), np.zeros(8)), key=jax.random.key(0),
              iterations=1, batch_size=4, mesh=mesh, progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="'trials' and/or a 'data' axis"):
        train_many(net, jax.tree.map(lambda a: a[None], params),
                   jax.tree.map(lambda a: a[None], state), "sgd",
                   (np.ones((8, 20)), np.zeros(8)), key=jax.random.key(0), iterations=1,
                   batch_size=4, mesh=mesh, progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="not divisible by the 1 devices"):
        distributed.shard_batch({"x": jnp.ones(())}, distributed.make_mesh(1))


def test_shard_opt_state_needs_a_data_axis_and_train():
    net, params, state = _network()
    data = (np.ones((8, 20), np.float32), np.zeros(8, np.int32))
    kw = dict(key=jax.random.key(0), iterations=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match=r"shard_opt_state=True splits the optimizer state .* "
                       r"give mesh= with 2 or more devices \(got no mesh\)"):
        train(net, params, state, "sgd", data, shard_opt_state=True, **kw)  # fmt: skip
    with pytest.raises(ValueError, match="a 'data' axis of 1 device"):
        train(net, params, state, "sgd", data, shard_opt_state=True, mesh=1, **kw)
    stacked = jax.tree.map(lambda a: a[None], (params, state))
    with pytest.raises(ValueError, match="shard_opt_state: train takes it, not train_many"):
        train_many(net, *stacked, "sgd", data, shard_opt_state=True, **kw)


def test_one_device_mesh_matches_no_mesh():
    """mesh=1 runs the shard_map program; it must equal the plain program."""
    net, params, state = _network()
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(64, 20)).astype(np.float32), rng.integers(0, 5, 64))
    kw = dict(key=jax.random.key(1), iterations=10, batch_size=16, progress=False)
    a = train(net, params, state, jl.adam(0.01), data, **kw)
    b = train(net, params, state, jl.adam(0.01), data, mesh=1, **kw)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)
    step = make_train_step(net, jl.sgd(0.1), mesh=1, donate=False)
    out = step(params, state, jl.sgd(0.1).init(params), data[0][:16], data[1][:16],
               jax.random.key(2))  # fmt: skip
    assert out[3].shape == ()


def test_cli_devices_option(capsys):
    from jaxlearn import cli

    args = cli.build_parser().parse_args(["search", "--devices", "1", "--quick"])
    assert args.devices == 1
    n = len(jax.devices()) + 1
    assert cli.main(["search", "--devices", str(n)]) == 2
    err = capsys.readouterr().err
    assert f"--devices {n}" in err and "available devices [" in err
