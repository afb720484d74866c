"""The error catalog: every public function, fed a wrong type, rank, shape, dtype or value,
raises the expected exception with a message naming the argument (and, for pytrees, the leaf
path). One row per bad input: ``(id, call, exception, message regex)``.

Every row expects the error jaxlearn raises today. Rows for inputs that once gave a poor error
(a wrong exception class, a message that did not name the argument, or no error at all) sit
with their module's rows, each marked "once a poor error"; none is known today, so there is no
``xfail`` row: a poor error found is fixed in its module and gets its row here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlearn as jl
from jaxlearn import checkpoint, initializers
from jaxlearn.checkpoint import CheckpointError, CheckpointMismatchError
from jaxlearn.data import as_dataset, load
from jaxlearn.nn import add_weight_decay, l2_penalty, mlp
from jaxlearn.nn.batchnorm import batch_norm, batchnorm_init
from jaxlearn.nn.dropout import dropout
from jaxlearn.optim.nonfinite import skip_nonfinite

W = {"layer": {"W": jnp.ones((2, 3)), "b": jnp.ones(3)}}
KEY = jax.random.key(0)
BN_P, BN_S = batchnorm_init(3)


def _update(rule, grads, state=None, params=None):
    opt = jl.RULES[rule]()
    state = opt.init(W) if state is None else state
    return opt.update(grads, state, params)


def _net(**kw):
    return mlp.init(KEY, 4, [3], 2, **kw)


def _ckpt(tmp, tree, name="c.jl"):
    path = tmp / name
    checkpoint.save(path, tree)
    return path


# (id, call(tmp_path), exception, regex)
CATALOG = [
    # --- update rules: construction -------------------------------------------------------
    ("sgd lr<0", lambda _: jl.sgd(lr=-0.1), ValueError, r"lr must be a finite number >= 0"),
    ("sgd lr=nan", lambda _: jl.sgd(lr=float("nan")), ValueError, r"lr must be .* nan"),
    ("sgd lr=inf", lambda _: jl.sgd(lr=float("inf")), ValueError, r"lr must be .* inf"),
    ("sgd lr=bool", lambda _: jl.sgd(lr=True), TypeError, r"lr must be a number, got a bool"),
    ("sgd lr=None", lambda _: jl.sgd(lr=None), TypeError, r"lr must be a number, got NoneType"),
    # once a poor error (accepted here, failing later inside update):
    ("sgd lr str", lambda _: jl.sgd(lr="0.1"), TypeError, r"lr must be a number, got str"),
    ("sgd lr vector", lambda _: jl.sgd(lr=jnp.ones(2)), ValueError, r"lr must be a scalar"),
    (
        "momentum=1",
        lambda _: jl.momentum(momentum=1.0),
        ValueError,
        r"momentum must be in \[0, 1\)",
    ),
    ("momentum<0", lambda _: jl.momentum(momentum=-0.1), ValueError, r"momentum must be in"),
    ("nesterov momentum=2", lambda _: jl.nesterov(momentum=2), ValueError, r"momentum must be in"),
    ("adagrad eps<0", lambda _: jl.adagrad(eps=-1e-7), ValueError, r"eps must be"),
    ("rmsprop decay=1", lambda _: jl.rmsprop(decay_rate=1.0), ValueError, r"decay_rate must be in"),
    ("adam beta1=1", lambda _: jl.adam(beta1=1.0), ValueError, r"beta1 must be in"),
    ("adam beta2=nan", lambda _: jl.adam(beta2=float("nan")), ValueError, r"beta2 must be in"),
    ("adam eps str", lambda _: jl.adam(eps="x"), TypeError, r"eps must be a number, got str"),
    # --- update rules: init / update --------------------------------------------------------
    (
        "init int params",
        lambda _: jl.adam().init({"w": jnp.ones(2, jnp.int32)}),
        TypeError,
        r"params\['w'\] has dtype int32",
    ),
    (
        "update int grads",
        lambda _: _update("sgd", {"layer": {"W": jnp.ones((2, 3)), "b": jnp.ones(3, int)}}),
        TypeError,
        r"grads\['layer'\]\['b'\] has dtype int32",
    ),
    (
        "update missing leaf",
        lambda _: _update("momentum", {"layer": {"W": jnp.ones((2, 3))}}),
        ValueError,
        r"\['layer'\]\['b'\]",
    ),
    (
        "update wrong shape",
        lambda _: _update("adam", {"layer": {"W": jnp.ones((3, 2)), "b": jnp.ones(3)}}),
        ValueError,
        r"grads\['layer'\]\['W'\] has shape \(3, 2\) but the adam state expects \(2, 3\)",
    ),
    (
        "update None vs array",
        lambda _: _update("rmsprop", {"layer": {"W": None, "b": jnp.ones(3)}}),
        ValueError,
        r"grads\['layer'\]\['W'\] is None",
    ),
    (
        "update wrong state",
        lambda _: _update("adam", W, state=jl.sgd().init(W)),
        TypeError,
        r"adam: state must be a AdamState",
    ),
    (
        "update params mismatch",
        lambda _: _update("sgd", W, params={"layer": {"W": jnp.ones((2, 3))}}),
        ValueError,
        r"grads does not match params: .*\['layer'\]\['b'\] that params lacks",
    ),
    (
        "update rank",
        lambda _: _update("adagrad", {"layer": {"W": jnp.ones((6,)), "b": jnp.ones(3)}}),
        ValueError,
        r"grads\['layer'\]\['W'\] has shape \(6,\)",
    ),
    # --- apply_updates ----------------------------------------------------------------------
    (
        "apply_updates shape",
        lambda _: jl.apply_updates(W, {"layer": {"W": jnp.ones((2, 3)), "b": jnp.ones(4)}}),
        ValueError,
        r"updates\['layer'\]\['b'\] has shape \(4,\) but params expects \(3,\)",
    ),
    (
        "apply_updates extra",
        lambda _: jl.apply_updates(W, {**W, "x": jnp.ones(1)}),
        ValueError,
        r"\['x'\]",
    ),
    (  # once a poor error (int params + float updates silently truncated: 1 + 0.5 -> 1)
        "apply_updates int params",
        lambda _: jl.apply_updates({"w": jnp.ones(2, jnp.int32)}, {"w": jnp.full(2, 0.5)}),
        TypeError,
        r"params\['w'\] has dtype int32",
    ),
    # --- skip_nonfinite ---------------------------------------------------------------------
    (
        "skip inner",
        lambda _: skip_nonfinite(object()),
        TypeError,
        r"inner must be an \(init, update\)",
    ),
    (
        "skip max<0",
        lambda _: skip_nonfinite(jl.sgd(), max_consecutive=-1),
        ValueError,
        r"max_consecutive must be in",
    ),
    (
        "skip max float",
        lambda _: skip_nonfinite(jl.sgd(), max_consecutive=2.5),
        TypeError,
        r"max_consecutive must be an int",
    ),
    (
        "skip on_limit",
        lambda _: skip_nonfinite(jl.sgd(), on_limit="warn"),
        ValueError,
        r"on_limit must be 'apply' or 'raise'",
    ),
    (
        "skip state",
        lambda _: skip_nonfinite(jl.sgd()).update(W, jl.sgd().init(W)),
        TypeError,
        r"state must be a SkipNonfiniteState",
    ),
    # --- initializers -----------------------------------------------------------------------
    ("he rank 1", lambda _: initializers.he()(KEY, (5,)), ValueError, r"shape must have rank >= 2"),
    (
        "xavier int dtype",
        lambda _: initializers.xavier()(KEY, (3, 4), jnp.int32),
        TypeError,
        r"dtype must be a floating dtype, got int32",
    ),
    ("normal std<0", lambda _: initializers.normal(-1.0), ValueError, r"std must be"),
    ("normal std=nan", lambda _: initializers.normal(float("nan")), ValueError, r"std must be"),
    (  # once a poor error (accepted)
        "normal std=bool",
        lambda _: initializers.normal(True),
        TypeError,
        r"std must be a number, got a bool",
    ),
    (
        "fan_in axis",
        lambda _: initializers.fan_in((3, 4), in_axis=5),
        ValueError,
        r"in_axis/out_axis 5 is out of range",
    ),
    # --- batchnorm --------------------------------------------------------------------------
    ("bn_init 0", lambda _: batchnorm_init(0), ValueError, r"num_features must be a positive"),
    (
        "bn_init bool",
        lambda _: batchnorm_init(True),
        ValueError,
        r"num_features must be a positive int",
    ),
    ("bn_init int dtype", lambda _: batchnorm_init(3, jnp.int8), TypeError, r"dtype must be"),
    (
        "bn rank 1",
        lambda _: batch_norm(jnp.ones(3), BN_P, BN_S, train=True),
        ValueError,
        r"rank >= 2",
    ),
    (
        "bn features",
        lambda _: batch_norm(jnp.ones((4, 5)), BN_P, BN_S, train=True),
        ValueError,
        r"params\['gamma'\] has shape \(3,\) .* feature-size mismatch",
    ),
    (
        "bn axis range",
        lambda _: batch_norm(jnp.ones((4, 3)), BN_P, BN_S, train=True, axis=2),
        ValueError,
        r"axis 2 is out of range",
    ),
    (
        "bn missing key",
        lambda _: batch_norm(jnp.ones((4, 3)), {"gamma": BN_P["gamma"]}, BN_S, train=True),
        ValueError,
        r"params must have key 'beta'",
    ),
    (
        "bn int x",
        lambda _: batch_norm(jnp.ones((4, 3), jnp.int32), BN_P, BN_S, train=True),
        TypeError,
        r"x must be floating point",
    ),
    (
        "bn batch of one",
        lambda _: batch_norm(jnp.ones((1, 3)), BN_P, BN_S, train=True),
        ValueError,
        r"batch of one",
    ),
    (
        "bn backward",
        lambda _: batch_norm(jnp.ones((2, 3)), BN_P, BN_S, train=True, backward="numeric"),
        ValueError,
        r"backward must be",
    ),
    (  # once a poor error (accepted)
        "bn momentum=2",
        lambda _: batch_norm(jnp.ones((2, 3)), BN_P, BN_S, train=True, momentum=2.0),
        ValueError,
        r"momentum must be in \[0, 1\), got 2.0",
    ),
    # --- dropout ----------------------------------------------------------------------------
    (
        "dropout rate=1",
        lambda _: dropout(KEY, jnp.ones(3), 1.0, train=True),
        ValueError,
        r"rate must be in \[0, 1\), got 1.0",
    ),
    (
        "dropout rate<0",
        lambda _: dropout(KEY, jnp.ones(3), -0.5, train=True),
        ValueError,
        r"rate must be in \[0, 1\), got -0.5",
    ),
    (
        "dropout no key",
        lambda _: dropout(None, jnp.ones(3), 0.5, train=True),
        ValueError,
        r"needs a PRNG key, got key=None",
    ),
    (
        "dropout int key",
        lambda _: dropout(123, jnp.ones(3), 0.5, train=True),
        TypeError,
        r"invalid PRNG key",
    ),
    (  # once a poor error
        "dropout rate str",
        lambda _: dropout(KEY, jnp.ones(3), "a", train=True),
        TypeError,
        r"rate must be a number, got str",
    ),
    # --- weight decay -----------------------------------------------------------------------
    (
        "weight decay no params",
        lambda _: add_weight_decay(0.1).update(W, ()),
        ValueError,
        r"add_weight_decay needs params",
    ),
    (
        "l2 mask structure",
        lambda _: l2_penalty(W, 0.1, mask={"layer": {"W": True}}),
        ValueError,
        r"mask must be a pytree of bools with the structure of params",
    ),
    (  # once a poor error (accepted)
        "l2_penalty lam<0",
        lambda _: l2_penalty(W, -1.0),
        ValueError,
        r"lam must be a finite number >= 0, got -1.0",
    ),
    # --- mlp --------------------------------------------------------------------------------
    ("mlp sizes", lambda _: mlp.make(784, [0], 10), ValueError, r"layer sizes must be positive"),
    (
        "mlp activation",
        lambda _: mlp.make(4, [3], 2, activation="gelu"),
        ValueError,
        r"activation must be one of \['relu', 'sigmoid', 'tanh'\], got 'gelu'",
    ),
    (
        "mlp init std",
        lambda _: mlp.make(4, [3], 2, weight_init_std="lecun"),
        ValueError,
        r"weight_init_std must be a number or one of .*, got 'lecun'",
    ),
    (
        "mlp dropout 1",
        lambda _: mlp.make(4, [3], 2, dropout_ratio=1.0),
        ValueError,
        r"dropout_ratio must be in \[0, 1\), got 1.0",
    ),
    (
        "mlp lambda<0",
        lambda _: mlp.make(4, [3], 2, weight_decay_lambda=-1),
        ValueError,
        r"weight_decay_lambda must be a finite number >= 0, got -1",
    ),
    (
        "mlp int dtype",
        lambda _: mlp.make(4, [3], 2, dtype=jnp.int32),
        TypeError,
        r"dtype must be a floating dtype, got int32",
    ),
    (
        "mlp dropout no key",
        lambda _: mlp.apply(*_net(use_dropout=True), jnp.ones((2, 4)), train=True),
        ValueError,
        r"needs a PRNG key",
    ),
    (  # once a poor error
        "mlp dropout_ratio str",
        lambda _: mlp.make(4, [3], 2, dropout_ratio="x"),
        TypeError,
        r"dropout_ratio must be a number, got str",
    ),
    (  # once a poor error
        "mlp loss x shape",
        lambda _: mlp.loss(*_net(), jnp.ones((2, 5)), jnp.array([0, 1]), train=True),
        ValueError,
        r"x must have shape \(batch, input_size=4\), got \(2, 5\)",
    ),
    (  # once a poor error
        "mlp loss label count",
        lambda _: mlp.loss(*_net(), jnp.ones((2, 4)), jnp.array([0, 1, 1]), train=True),
        ValueError,
        r"t must be 2 int labels.*got shape \(3,\)",
    ),
    # --- data -------------------------------------------------------------------------------
    ("load name", lambda _: load("cifar"), ValueError, r"unknown data set 'cifar'"),
    (
        "as_dataset labels",
        lambda _: as_dataset(np.zeros((4, 4)), [0, 1, 2], np.zeros((2, 4)), [0, 1]),
        ValueError,
        r"t_train: 3 labels for 4 examples",
    ),
    (
        "as_dataset nan",
        lambda _: as_dataset(np.full((2, 4), np.nan), [0, 1], np.zeros((2, 4)), [0, 1]),
        ValueError,
        r"x_train: contains NaN",
    ),
    (
        "as_dataset shape",
        lambda _: as_dataset(np.zeros((2, 4)), [0, 1], np.zeros((2, 5)), [0, 1]),
        ValueError,
        r"x_test: per-example shape",
    ),
    (
        "as_dataset dtype",
        lambda _: as_dataset(np.array([["a"]]), [0], np.zeros((1, 1)), [0]),
        ValueError,
        r"x_train: expected a numeric array",
    ),
    # --- checkpoint -------------------------------------------------------------------------
    (
        "ckpt str leaf",
        lambda t: checkpoint.save(t / "c", {"opt": {"name": "adam"}}),
        TypeError,
        r"leaf \['opt'\]\['name'\] is a str",
    ),
    (
        "ckpt like shape",
        lambda t: checkpoint.load(
            _ckpt(t, W), like={"layer": {"W": jnp.ones((2, 3)), "b": jnp.ones(4)}}
        ),
        CheckpointMismatchError,
        r"leaf \['layer'\]\['b'\] has shape \(3,\) in the checkpoint but \(4,\)",
    ),
    (
        "ckpt like dtype",
        lambda t: checkpoint.load(
            _ckpt(t, {"w": jnp.ones(2)}), like={"w": jnp.ones(2, jnp.float16)}
        ),
        CheckpointMismatchError,
        r"leaf \['w'\] has dtype float32 in the checkpoint but float16",
    ),
    (
        "ckpt like structure",
        lambda t: checkpoint.load(_ckpt(t, W), like={"layer": {"W": jnp.ones((2, 3))}}),
        CheckpointMismatchError,
        r"\['layer'\]\['b'\] that like lacks",
    ),
    (
        "ckpt garbage",
        lambda t: checkpoint.load((t / "g").write_bytes(b"garbage") and t / "g"),
        CheckpointError,
        r"not a jaxlearn checkpoint",
    ),
    ("ckpt missing", lambda t: checkpoint.load(t / "none"), CheckpointError, r"cannot read"),
]


@pytest.mark.parametrize(
    "call, exc, pattern", [row[1:] for row in CATALOG], ids=[row[0] for row in CATALOG]
)
def test_error_catalog(tmp_path, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call(tmp_path)


def test_normal_accepts_numpy_and_jax_scalars():
    for std in (np.float32(0.01), jnp.asarray(0.01), 0.01, 1):
        w = initializers.normal(std)(KEY, (200, 50))
        assert abs(float(jnp.std(w)) - float(std)) < 0.05 * float(std)
