"""jaxlearn.checkpoint: exact round trips, clear mismatches, no garbage, atomic writes, and a
training run stopped and resumed from its checkpoint that ends bit-identical."""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn import checkpoint
from jaxlearn.checkpoint import CheckpointError, CheckpointMismatchError
from jaxlearn.nn import mlp
from jaxlearn.optim.nonfinite import skip_nonfinite


class Pair(NamedTuple):
    a: object
    b: object


def bits(tree):
    return jax.tree.map(
        lambda x: (
            None
            if x is None
            else (
                np.asarray(jax.random.key_data(x) if _is_key(x) else x)
                .reshape(-1)
                .view(np.uint8)
                .tobytes()
            )
        ),
        tree,
        is_leaf=lambda x: x is None,
    )


def _is_key(x):
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _tree():
    return {
        "params": {
            "W": jnp.asarray(np.random.default_rng(0).normal(size=(3, 2)), jnp.float32),
            "bf": jnp.array([1.0, -0.0, 3.5e38, 1e-40], jnp.bfloat16),
            "h": jnp.array([65504.0, -0.0, jnp.inf], jnp.float16),
            "nan": jnp.array(np.frombuffer(np.uint32(0x7FC01234).tobytes(), np.float32)),
        },
        "opt": jl.adam().init({"w": jnp.ones(2)}),
        "list": [jnp.arange(3, dtype=jnp.int8), None, (jnp.zeros((0, 4)), jnp.array(True))],
        "pair": Pair(a=jnp.array(2 + 1j, jnp.complex64), b=jnp.uint8(255)),
        "f64": np.array([np.pi, -0.0]),
        "key": jax.random.key(42),
        "raw_key": jax.random.PRNGKey(3),
        "step": 17,
        "lr": 0.25,
        "int_keys": {7: jnp.float32(1.0), 3: jnp.float32(2.0)},
    }


def test_round_trip_with_like_is_bit_exact_and_keeps_types(tmp_path):
    tree = _tree()
    f = tmp_path / "c.jl"
    checkpoint.save(f, tree)
    got = checkpoint.load(f, like=tree)
    assert jax.tree.structure(got) == jax.tree.structure(tree)
    assert bits(got) == bits(tree)
    assert isinstance(got["opt"], type(tree["opt"])) and isinstance(got["pair"], Pair)
    assert got["params"]["bf"].dtype == jnp.bfloat16 and got["params"]["h"].dtype == jnp.float16
    assert got["f64"].dtype == np.float64  # exact even with x64 off (NumPy array)
    assert _is_key(got["key"])
    assert jax.random.key_impl(got["key"]) == jax.random.key_impl(tree["key"])
    np.testing.assert_array_equal(
        jax.random.normal(got["key"], (3,)), jax.random.normal(tree["key"], (3,))
    )
    assert got["step"] == 17 and isinstance(got["step"], int) and got["lr"] == 0.25


def test_load_without_like_gives_nested_dicts(tmp_path):
    tree = _tree()
    f = tmp_path / "c.jl"
    checkpoint.save(f, tree)
    got = checkpoint.load(f)
    assert set(got) == set(tree)
    assert set(got["opt"]) == {"count", "m", "v"}  # NamedTuple fields by name
    assert got["list"][1] is None and set(got["list"]) == {0, 1, 2}
    assert got["list"][2][0].shape == (0, 4)
    assert bits(got["params"]) == bits(tree["params"])
    assert got["int_keys"][7].dtype == jnp.float32 and set(got["int_keys"]) == {3, 7}
    assert _is_key(got["key"])


def test_bare_array_and_empty_tree(tmp_path):
    checkpoint.save(tmp_path / "a", jnp.arange(4.0))
    np.testing.assert_array_equal(checkpoint.load(tmp_path / "a"), np.arange(4.0))
    checkpoint.save(tmp_path / "e", {})
    assert checkpoint.load(tmp_path / "e") == {}
    assert checkpoint.load(tmp_path / "e", like={}) == {}


def test_weak_types_are_restored(tmp_path):
    tree = {"lr": jnp.asarray(0.5), "strong": jnp.float32(0.5)}
    assert tree["lr"].weak_type
    checkpoint.save(tmp_path / "w", tree)
    got = checkpoint.load(tmp_path / "w", like=tree)
    assert got["lr"].weak_type and not got["strong"].weak_type


def _save_like(tmp_path, tree):
    f = tmp_path / "m.jl"
    checkpoint.save(f, tree)
    return f


MISMATCHES = [
    ("missing key", {"a": jnp.ones(2)}, {"a": jnp.ones(2), "b": jnp.ones(1)}, r"\['b'\]"),
    ("extra key", {"a": jnp.ones(2), "b": jnp.ones(1)}, {"a": jnp.ones(2)}, r"\['b'\]"),
    ("renamed", {"a": jnp.ones(2)}, {"z": jnp.ones(2)}, r"\['a'\] where like has one at \['z'\]"),
    ("shape", {"a": jnp.ones(2)}, {"a": jnp.ones(3)}, r"\['a'\] has shape \(2,\).*\(3,\)"),
    ("dtype", {"a": jnp.ones(2)}, {"a": jnp.ones(2, jnp.bfloat16)}, r"\['a'\].*float32.*bfloat16"),
    ("None vs array", {"a": None}, {"a": jnp.ones(2)}, r"\['a'\] is a none .* array"),
    ("key vs array", {"k": jax.random.key(0)}, {"k": jnp.ones(2, jnp.uint32)}, r"\['k'\]"),
    ("list vs tuple", {"a": [jnp.ones(1)]}, {"a": (jnp.ones(1),)}, "container types"),
    (
        "namedtuple vs dict",
        jl.sgd().init({"w": jnp.ones(1)}),
        {"count": jnp.zeros((), jnp.int32)},
        r"\.count where like has one at \['count'\]",
    ),
    ("scalar vs array", {"s": 3}, {"s": jnp.int32(3)}, r"\['s'\] is a scalar"),
]


@pytest.mark.parametrize(
    "saved, like, pattern", [m[1:] for m in MISMATCHES], ids=[m[0] for m in MISMATCHES]
)
def test_wrong_like_names_the_first_mismatch(tmp_path, saved, like, pattern):
    f = _save_like(tmp_path, saved)
    with pytest.raises(CheckpointMismatchError, match=pattern):
        checkpoint.load(f, like=like)


def test_like_may_be_shape_dtype_structs(tmp_path):
    params = {"w": jnp.ones((2, 3), jnp.bfloat16)}
    state = jl.adam().init(params)
    f = _save_like(tmp_path, (params, state))
    like = jax.eval_shape(lambda: (params, jl.adam().init(params)))
    got = checkpoint.load(f, like=like)
    assert bits(got) == bits((params, state))


def _blob(tmp_path):
    f = tmp_path / "c.jl"
    checkpoint.save(f, {"w": jnp.arange(100.0), "b": jnp.ones(3, jnp.bfloat16)})
    return f, f.read_bytes()


@pytest.mark.parametrize("cut", [0, 5, 8, 16, 60, -33, -1])
def test_truncated_file_raises(tmp_path, cut):
    f, blob = _blob(tmp_path)
    f.write_bytes(blob[:cut])
    with pytest.raises(CheckpointError, match="truncated|corrupt|not a jaxlearn checkpoint"):
        checkpoint.load(f)


@pytest.mark.parametrize("where", [10, 40, 200, -100, -5])
def test_a_flipped_byte_raises(tmp_path, where):
    f, blob = _blob(tmp_path)
    b = bytearray(blob)
    b[where] ^= 0x01
    f.write_bytes(bytes(b))
    with pytest.raises(CheckpointError, match="checksum|corrupt"):
        checkpoint.load(f)


def test_not_a_checkpoint_and_missing_file(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(CheckpointError, match="not a jaxlearn checkpoint"):
        checkpoint.load(tmp_path / "x.npz")
    with pytest.raises(CheckpointError, match="cannot read"):
        checkpoint.load(tmp_path / "nope.jl")
    f, blob = _blob(tmp_path)
    f.write_bytes(blob[:6] + b"\x00\x09" + blob[8:])
    with pytest.raises(CheckpointError, match="unsupported checkpoint version"):
        checkpoint.load(f)


def test_unsavable_leaves_name_their_path(tmp_path):
    with pytest.raises(TypeError, match=r"leaf \['cfg'\]\['name'\] is a str"):
        checkpoint.save(tmp_path / "s", {"cfg": {"name": "adam"}})
    with pytest.raises(TypeError, match=r"\['o'\] has dtype object"):
        checkpoint.save(tmp_path / "s", {"o": np.array([None, 1], dtype=object)})
    assert os.listdir(tmp_path) == []  # nothing written, no temp file left


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    f, blob = _blob(tmp_path)

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(f, {"w": jnp.zeros(5)})
    monkeypatch.undo()
    assert f.read_bytes() == blob  # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["c.jl"]  # and no temp file is left behind


def test_overwrite_replaces(tmp_path):
    f, _ = _blob(tmp_path)
    checkpoint.save(f, {"new": jnp.ones(1)})
    assert set(checkpoint.load(f)) == {"new"}
    assert sorted(os.listdir(tmp_path)) == ["c.jl"]


# --------------------------------------------------------------------------------------------
# Stop at step k, resume from the checkpoint: bit-identical to the uninterrupted run
# --------------------------------------------------------------------------------------------

STEPS, STOP = 6, 3


def _data():
    rng = np.random.default_rng(0)
    return jnp.asarray(rng.normal(size=(64, 20)), jnp.float32), jnp.asarray(
        rng.integers(0, 5, size=64), jnp.int32
    )


def _make(rule):
    net, params, bn_state = mlp.init(
        jax.random.key(0), 20, [16, 16], 5, use_batchnorm=True, use_dropout=True, dropout_ratio=0.2
    )
    opt = skip_nonfinite(rule) if rule is not None else None
    return net, params, bn_state, opt


def _step_fn(net, opt):
    x_all, t_all = _data()

    @jax.jit
    def step(params, opt_state, bn_state, key):
        key, k_batch, k_drop = jax.random.split(key, 3)
        idx = jax.random.randint(k_batch, (16,), 0, x_all.shape[0])  # with replacement, as the book
        grads, bn_state = jax.grad(mlp.loss, argnums=1, has_aux=True)(
            net, params, bn_state, x_all[idx], t_all[idx], train=True, key=k_drop
        )
        updates, opt_state = opt.update(grads, opt_state, params)
        return jl.apply_updates(params, updates), opt_state, bn_state, key

    return step


RESUME_RULES = {
    **{name: rule for name, rule in jl.RULES.items()},
    "inject_hyperparams(adam)": lambda: optax.inject_hyperparams(jl.adam)(lr=1e-3),
}


@pytest.mark.parametrize("name", list(RESUME_RULES))
def test_resume_from_checkpoint_is_bit_identical(tmp_path, name):
    net, params, bn_state, opt = _make(RESUME_RULES[name]())
    step = _step_fn(net, opt)
    start = {"params": params, "opt": opt.init(params), "bn": bn_state, "key": jax.random.key(1)}

    def run(tree, n):
        p, o, b, k = tree["params"], tree["opt"], tree["bn"], tree["key"]
        for _ in range(n):
            p, o, b, k = step(p, o, b, k)
        return {"params": p, "opt": o, "bn": b, "key": k}

    full = run(start, STEPS)
    f = tmp_path / "ckpt.jl"
    checkpoint.save(f, {**run(start, STOP), "step": STOP})
    fresh = _make(RESUME_RULES[name]())
    like = {
        "params": fresh[1],
        "opt": fresh[3].init(fresh[1]),
        "bn": fresh[2],
        "key": jax.random.key(0),
        "step": 0,
    }
    restored = checkpoint.load(f, like=like)
    assert restored["step"] == STOP
    size = step._cache_size()
    resumed = run(restored, STEPS - STOP)
    assert step._cache_size() == size  # the loaded state did not trigger a recompile
    assert bits(resumed) == bits(full)
    assert jax.tree.structure(resumed) == jax.tree.structure(full)
