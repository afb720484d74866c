"""batch_norm: the book's layer (NumPy port), flax.linen.BatchNorm, autodiff, transformations,
devices, precision, errors."""

import functools
import os
import subprocess
import sys
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlearn.nn.batchnorm import batch_norm, batchnorm_init

try:
    import book_layers as book
except ImportError:  # tests/ imported as a package
    from tests import book_layers as book

BACKWARDS = ["closed_form", "autodiff"]


def rand(seed, shape, scale=1.0, shift=0.0, dtype=np.float64):
    return (np.random.default_rng(seed).normal(size=shape) * scale + shift).astype(dtype)


def bn_inputs(shape, feature_shape, seed=0):
    x = rand(seed, shape, 3.0, 2.0)
    gamma = rand(seed + 1, feature_shape, 0.5, 1.0)
    beta = rand(seed + 2, feature_shape, 0.5)
    mean0 = rand(seed + 3, feature_shape, 0.1)
    var0 = np.abs(rand(seed + 4, feature_shape)) + 0.5
    return x, gamma, beta, mean0, var0


def ours(x, gamma, beta, mean0, var0, *, train, backward="closed_form", **kw):
    params = {"gamma": jnp.asarray(gamma), "beta": jnp.asarray(beta)}
    state = {"mean": jnp.asarray(mean0), "var": jnp.asarray(var0)}
    return batch_norm(jnp.asarray(x), params, state, train=train, backward=backward, **kw)


# --- the book's layer --------------------------------------------------------------------


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize(
    "shape, axis, feature_shape",
    [((8, 5), -1, (5,)), ((6, 2, 3, 3), (1, 2, 3), (18,))],  # 2-D; NCHW per activation
)
def test_matches_book_layer(x64, backward, shape, axis, feature_shape):
    x, gamma, beta, mean0, var0 = bn_inputs(shape, feature_shape)
    layer = book.BatchNormalization(gamma, beta, 0.9, mean0.copy(), var0.copy())
    y_book = layer.forward(x, train_flg=True)
    dout = rand(9, shape)
    dx_book = layer.backward(dout)

    @jax.jit  # one compilation for the whole check
    def run(x, gamma, beta, dout):
        def f(x, g, b):
            return ours(x, g, b, mean0, var0, train=True, axis=axis, backward=backward)

        (y, state), vjp = jax.vjp(f, x, gamma, beta)
        grads = vjp((dout, jax.tree.map(jnp.zeros_like, state)))
        y_inf, same = ours(x, gamma, beta, state["mean"], state["var"], train=False, axis=axis)
        return y, state, grads, y_inf, same

    y, state, (dx, dgamma, dbeta), y_inf, same = run(x, gamma, beta, dout)
    np.testing.assert_allclose(y, y_book, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(state["mean"], layer.running_mean, rtol=1e-12)
    np.testing.assert_allclose(state["var"], layer.running_var, rtol=1e-12)
    np.testing.assert_allclose(dx, dx_book, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, layer.dgamma, rtol=1e-10)
    np.testing.assert_allclose(dbeta, layer.dbeta, rtol=1e-12)
    # Inference with the updated running statistics; the state comes back unchanged.
    np.testing.assert_allclose(y_inf, layer.forward(x, train_flg=False), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(same["mean"], state["mean"])


def test_init_values_and_book_zero_variance_difference():
    params, state = batchnorm_init((2, 3, 3))
    assert params["gamma"].shape == (2, 3, 3) and params["gamma"].dtype == jnp.float32
    np.testing.assert_array_equal(params["gamma"], 1)
    np.testing.assert_array_equal(params["beta"], 0)
    np.testing.assert_array_equal(state["mean"], 0)
    np.testing.assert_array_equal(state["var"], 1)  # the book: 0
    x = jnp.full((2, 4), 0.5)
    params, state = batchnorm_init(4)
    y, _ = batch_norm(x, params, state, train=False)
    np.testing.assert_allclose(y, 0.5, rtol=1e-5)  # var=1: untrained inference ~ identity
    y, _ = batch_norm(x, params, {**state, "var": state["var"] * 0}, train=False)
    np.testing.assert_allclose(y, 500.0, rtol=1e-4)  # the book's var=0: x / sqrt(1e-6)


def test_per_activation_params_as_tuple_equal_flat():
    # The book's per-activation mode: gamma of shape (C, H, W) or (C*H*W,) give the same.
    x = jnp.asarray(rand(4, (4, 2, 3, 3), 2.0, 1.0, np.float32))
    g = jnp.asarray(rand(5, (2, 3, 3), 0.3, 1.0, np.float32))
    params, state = batchnorm_init((2, 3, 3))
    params = {**params, "gamma": g}
    flat = jax.tree.map(jnp.ravel, (params, state))

    @jax.jit
    def run(x):
        y, new = batch_norm(x, params, state, train=True, axis=(1, 2, 3))
        y_flat, new_flat = batch_norm(x.reshape(4, -1), *flat, train=True)
        return y, new, y_flat, new_flat

    y, new, y_flat, new_flat = run(x)
    assert new["var"].shape == (2, 3, 3)
    np.testing.assert_allclose(y.reshape(4, -1), y_flat, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(new["var"].ravel(), new_flat["var"], rtol=1e-6)


# --- autodiff ----------------------------------------------------------------------------


def plain_forward(x, gamma, beta, axis, eps=1e-6):
    """The textbook forward in plain jnp, for jax.grad."""
    red = tuple(a for a in range(x.ndim) if a not in axis)
    mu = x.mean(red, keepdims=True)
    var = ((x - mu) ** 2).mean(red, keepdims=True)
    shape = [x.shape[a] if a in axis else 1 for a in range(x.ndim)]
    return gamma.reshape(shape) * (x - mu) / jnp.sqrt(var + eps) + beta.reshape(shape)


@pytest.mark.parametrize(
    "shape, axis", [((7, 6), (1,)), ((4, 3, 3, 5), (3,)), ((4, 5, 3, 3), (1,))]
)
def test_custom_vjp_equals_grad_of_plain_forward(x64, shape, axis):
    feat = tuple(shape[a] for a in axis)
    x, gamma, beta, mean0, var0 = bn_inputs(shape, feat, seed=3)
    w = jnp.asarray(rand(7, shape))

    def loss_ours(x, g, b):
        y, _ = ours(x, g, b, mean0, var0, train=True, axis=axis)
        return jnp.sum(jnp.tanh(y) * w)

    def loss_plain(x, g, b):
        return jnp.sum(jnp.tanh(plain_forward(x, g, b, axis)) * w)

    args = (jnp.asarray(x), jnp.asarray(gamma), jnp.asarray(beta))
    g_ours = jax.jit(jax.grad(loss_ours, argnums=(0, 1, 2)))(*args)
    g_plain = jax.jit(jax.grad(loss_plain, argnums=(0, 1, 2)))(*args)
    assert g_ours[0].dtype == jnp.float64
    for a, b in zip(g_ours, g_plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    assert all(float(jnp.abs(g).max()) > 1e-3 for g in g_ours)  # all flow


def test_running_stats_get_no_gradient():
    params, state = batchnorm_init(3)
    x = jnp.asarray(rand(0, (4, 3), dtype=np.float32))

    def stats(x, params):  # the running statistics carry no gradient back to x or params
        _, new = batch_norm(x, params, state, train=True)
        return jnp.sum(new["mean"]) + jnp.sum(new["var"])

    gx, gp = jax.grad(stats, argnums=(0, 1))(x, params)
    np.testing.assert_array_equal(gx, 0)
    np.testing.assert_array_equal(gp["gamma"], 0)

    for train in (True, False):  # nor does the output to the state (stop_gradient)
        g = jax.grad(lambda s, train=train: jnp.sum(batch_norm(x, params, s, train=train)[0]))(
            state
        )
        np.testing.assert_array_equal(g["mean"], 0)
        np.testing.assert_array_equal(g["var"], 0)


def test_traced_eps_uses_autodiff_and_matches():
    x = jnp.asarray(rand(0, (6, 3), dtype=np.float32))
    params, state = batchnorm_init(3)

    def f(x, eps):
        return jnp.sum(jnp.sin(batch_norm(x, params, state, train=True, eps=eps)[0]))

    g_traced = jax.jit(jax.grad(f))(x, 1e-6)
    g_static = jax.grad(lambda x: f(x, 1e-6))(x)
    np.testing.assert_allclose(g_traced, g_static, rtol=1e-4, atol=1e-6)


# --- flax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, axis",
    [((16, 6), -1), ((4, 5, 5, 3), -1), ((4, 3, 5, 5), 1)],  # 2-D, NHWC, NCHW
)
def test_matches_flax_batchnorm(shape, axis):
    x = jnp.asarray(rand(1, shape, 2.0, 1.0, np.float32))
    feat = shape[axis]
    module = nn.BatchNorm(axis=axis, momentum=0.9, epsilon=1e-6, use_fast_variance=False)
    variables = module.init(jax.random.key(0), x, use_running_average=False)
    gamma = jnp.asarray(rand(2, (feat,), 0.3, 1.0, np.float32))
    beta = jnp.asarray(rand(3, (feat,), 0.3, 0.0, np.float32))
    flax_vars = {"params": {"scale": gamma, "bias": beta}, "batch_stats": variables["batch_stats"]}
    params, state = {"gamma": gamma, "beta": beta}, batchnorm_init(feat)[1]

    @jax.jit  # both modes of both libraries in one compilation
    def both(x, flax_vars, params, state):
        y_flax, upd = module.apply(flax_vars, x, use_running_average=False, mutable=["batch_stats"])
        y_flax_inf = module.apply({**flax_vars, **upd}, x, use_running_average=True)
        y, new = batch_norm(x, params, state, train=True, axis=axis)
        y_inf, _ = batch_norm(x, params, new, train=False, axis=axis)
        return y_flax, upd["batch_stats"], y_flax_inf, y, new, y_inf

    y_flax, stats, y_flax_inf, y, new, y_inf = both(x, flax_vars, params, state)
    np.testing.assert_allclose(y, y_flax, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new["mean"], stats["mean"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(new["var"], stats["var"], rtol=1e-6)
    assert not np.allclose(new["var"], 1.0)  # the statistics did move
    np.testing.assert_allclose(y_inf, y_flax_inf, rtol=1e-5, atol=1e-5)


# --- transformations ---------------------------------------------------------------------


@pytest.mark.parametrize("train", [True, False])
def test_jit_equals_eager(train):
    x, gamma, beta, mean0, var0 = bn_inputs((8, 4, 4, 3), (3,), seed=5)
    x, gamma, beta, mean0, var0 = (a.astype(np.float32) for a in (x, gamma, beta, mean0, var0))
    eager = ours(x, gamma, beta, mean0, var0, train=train)
    jitted = jax.jit(lambda *a: ours(*a, train=train))(x, gamma, beta, mean0, var0)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), eager, jitted)


def test_vmap_equals_loop():
    K = 3
    xs = jnp.asarray(rand(0, (K, 10, 4), 2.0, 1.0, np.float32))
    gammas = jnp.asarray(rand(1, (K, 4), 0.3, 1.0, np.float32))
    params = {"gamma": gammas, "beta": jnp.zeros((K, 4))}
    state = {"mean": jnp.zeros((K, 4)), "var": jnp.ones((K, 4))}

    def f(x, p, s):
        y, new = batch_norm(x, p, s, train=True)
        g = jax.grad(lambda x: jnp.sum(batch_norm(x, p, s, train=True)[0] ** 3))(x)
        return y, new, g

    batched = jax.vmap(f)(xs, params, state)
    for k in range(K):
        pick = functools.partial(jax.tree.map, lambda a, k=k: a[k])
        one = f(xs[k], pick(params), pick(state))
        jax.tree.map(
            lambda a, b, k=k: np.testing.assert_allclose(a[k], b, rtol=1e-5, atol=1e-5),
            batched,
            one,
        )


def test_multi_device_sync_matches_one_device():
    """pmap and shard_map on 4 host devices == one device on the concatenated batch; then
    axis_index_groups and a mask across devices (the script's docstring says how)."""
    script = Path(__file__).with_name("_multidevice_bn.py")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # {pmap, shard_map} x {closed_form, autodiff}; groups x {closed_form, autodiff}; mask
    assert out.stdout.count("OK") == 7, out.stdout


# --- precision ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("backward", BACKWARDS)
def test_low_precision_large_inputs(dtype, backward):
    x = jnp.asarray(rand(0, (32, 8), 1000.0, 0.0, np.float32)).astype(dtype)
    x = x.at[0].set(1000.0).at[1].set(-1000.0)
    params, state = batchnorm_init(8)
    w = jnp.asarray(rand(1, (32, 8), dtype=np.float32))

    @jax.jit
    def run(x):
        y, new = batch_norm(x, params, state, train=True, backward=backward)
        y32, _ = batch_norm(x.astype(jnp.float32), params, state, train=True)

        def f(x):
            y = batch_norm(x, params, state, train=True, backward=backward)[0]
            return jnp.sum(y.astype(jnp.float32) * w)

        y_inf, _ = batch_norm(x, params, new, train=False)
        return y, new, y32, jax.grad(f)(x), y_inf

    y, new, y32, g, y_inf = run(x)
    assert y.dtype == dtype and new["var"].dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(y))) and bool(jnp.all(jnp.isfinite(new["var"])))
    np.testing.assert_allclose(new["var"], 0.1 * np.var(np.asarray(x, np.float64), 0) + 0.9, 1e-5)
    # Statistics in float32: y is the float32 result rounded to the low-precision dtype.
    np.testing.assert_allclose(y.astype(jnp.float32), y32, rtol=1e-2, atol=1e-2)
    assert g.dtype == dtype and bool(jnp.all(jnp.isfinite(g)))
    assert float(jnp.abs(g.astype(jnp.float32)).max()) > 0
    assert y_inf.dtype == dtype and bool(jnp.all(jnp.isfinite(y_inf)))


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x_shape, pshape, kw, match",
    [
        ((4, 5), 3, {}, r"params\['gamma'\] has shape \(3,\) but x of shape \(4, 5\)"),
        ((4, 2, 3, 3), 2, {"axis": (1, 2, 3)}, r"feature-size mismatch"),
        (
            (4, 5, 5, 3),
            3,
            {"axis": 1},
            r"has shape \(3,\) but x of shape \(4, 5, 5, 3\) with axis=1",
        ),
        ((5,), 5, {}, r"rank >= 2"),
        ((4, 5), 5, {"axis": 2}, r"axis 2 is out of range for input of rank 2"),
        ((4, 3), 3, {"axis": (1, 2, 3)}, r"out of range .*wrong layout"),
        ((4, 5), 5, {"axis": (1, -1)}, r"same axis twice"),
        ((4, 5), 5, {"axis": (0, 1)}, r"nothing to reduce"),
        ((4, 5), 5, {"axis": 1.5}, r"axis must be an int"),
        ((1, 5), 5, {}, r"batch of one"),
        ((4, 5), 5, {"backward": "numeric"}, r"backward must be"),
    ],
)
def test_bad_input_raises(x_shape, pshape, kw, match):
    params, state = batchnorm_init(pshape)
    with pytest.raises(ValueError, match=match):
        batch_norm(jnp.ones(x_shape), params, state, train=True, **kw)


def test_batch_of_one_allowed_in_inference_and_state_mismatch():
    params, state = batchnorm_init(5)
    y, _ = batch_norm(jnp.ones((1, 5)), params, state, train=False)
    assert y.shape == (1, 5)
    with pytest.raises(ValueError, match=r"state\['var'\] has shape \(4,\)"):
        batch_norm(jnp.ones((3, 5)), params, {**state, "var": jnp.ones(4)}, train=True)
    with pytest.raises(ValueError, match=r"must have key 'mean'"):
        batch_norm(jnp.ones((3, 5)), params, {"var": jnp.ones(5)}, train=True)
    with pytest.raises(ValueError, match="num_features"):
        batchnorm_init(0)


def test_errors_raised_on_static_shapes_under_jit():
    params, state = batchnorm_init(3)
    with pytest.raises(ValueError, match="mismatch"):
        jax.jit(lambda x: batch_norm(x, params, state, train=True))(jnp.ones((4, 5)))
