"""Weight decay: l2_penalty and add_weight_decay (optax transformation)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlearn.nn.regularization import add_weight_decay, l2_penalty


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32),
        "b1": jnp.asarray(rng.normal(size=3), jnp.float32),
        "gamma1": jnp.asarray(rng.normal(size=3), jnp.float32),
        "beta1": jnp.asarray(rng.normal(size=3), jnp.float32),
        "layers": [{"W": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32), "b": jnp.zeros(2)}],
        "none": None,
    }


def loss_fn(params, x):
    h = jnp.tanh(x @ params["W1"] + params["b1"]) * params["gamma1"] + params["beta1"]
    return jnp.sum((h @ params["layers"][0]["W"] + params["layers"][0]["b"]) ** 2)


def test_penalty_value_matches_numpy():
    p = make_params()
    expected = 0.5 * 0.3 * (np.sum(np.asarray(p["W1"]) ** 2) + np.sum(p["layers"][0]["W"] ** 2))
    np.testing.assert_allclose(l2_penalty(p, 0.3), expected, rtol=1e-6)
    assert float(l2_penalty(p, 0.0)) == 0.0


def test_mask_pytree_and_callable():
    p = make_params()
    mask = jax.tree.map(lambda _: False, p)
    mask["b1"] = True
    np.testing.assert_allclose(l2_penalty(p, 2.0, mask), np.sum(np.asarray(p["b1"]) ** 2), 1e-6)
    only_w1 = lambda params: jax.tree.map(lambda _: False, params) | {"W1": True}  # noqa: E731
    np.testing.assert_allclose(
        l2_penalty(p, 1.0, only_w1), 0.5 * np.sum(np.asarray(p["W1"]) ** 2), rtol=1e-6
    )
    with pytest.raises(ValueError, match="structure of params"):
        l2_penalty(p, 1.0, {"W1": True})


@pytest.mark.parametrize("mask", [None, "callable"])
def test_gradient_equivalence(mask):
    p = make_params(1)
    m = None if mask is None else (lambda q: jax.tree.map(lambda a: a.shape == (4, 3), q))
    x = jnp.asarray(np.random.default_rng(2).normal(size=(5, 4)), jnp.float32)
    lam = 0.05
    g_pen = jax.grad(lambda q: loss_fn(q, x) + l2_penalty(q, lam, m))(p)
    tx = add_weight_decay(lam, m)
    g_tx, _ = tx.update(jax.grad(loss_fn)(p, x), tx.init(p), p)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), g_pen, g_tx)
    # Biases, gamma, beta are untouched by the default mask.
    g = jax.grad(loss_fn)(p, x)
    np.testing.assert_array_equal(g_tx["b1"], g["b1"])
    np.testing.assert_array_equal(g_tx["gamma1"], g["gamma1"])
    assert not np.allclose(g_tx["W1"], g["W1"])


def test_inside_optax_chain_and_jit():
    p = make_params(3)
    x = jnp.ones((2, 4))
    lam, lr = 0.1, 0.01
    tx = optax.chain(add_weight_decay(lam), optax.sgd(lr))

    @jax.jit
    def step(p, s):
        u, s = tx.update(jax.grad(loss_fn)(p, x), s, p)
        return optax.apply_updates(p, u), s

    new, _ = step(p, tx.init(p))
    g = jax.grad(loss_fn)(p, x)
    np.testing.assert_allclose(new["W1"], p["W1"] - lr * (g["W1"] + lam * p["W1"]), rtol=1e-6)
    np.testing.assert_allclose(new["b1"], p["b1"] - lr * g["b1"], rtol=1e-6)


def test_equals_optax_add_decayed_weights_with_same_mask():
    p = make_params(4)
    g = jax.tree.map(jnp.ones_like, p)
    mask = jax.tree.map(lambda a: a.ndim >= 2, p)
    ours_tx, ref_tx = add_weight_decay(0.2), optax.add_decayed_weights(0.2, mask)
    ours, _ = ours_tx.update(g, ours_tx.init(p), p)
    ref, _ = ref_tx.update(g, ref_tx.init(p), p)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-7), ours, ref)


def test_params_required_and_dtype_kept():
    p = {"W": jnp.ones((2, 2), jnp.bfloat16)}
    tx = add_weight_decay(0.1)
    with pytest.raises(ValueError, match="add_weight_decay needs params"):
        tx.update(p, tx.init(p))
    u, _ = tx.update(p, tx.init(p), p)
    assert u["W"].dtype == jnp.bfloat16
    np.testing.assert_allclose(u["W"].astype(jnp.float32), 1.1, rtol=1e-2)
