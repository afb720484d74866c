"""The book's MultiLayerNetExtend as pure functions: shapes, init std, the NumPy port, gradient
check, jit/vmap."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxlearn.nn import mlp

try:
    import book_layers as book
except ImportError:  # tests/ imported as a package
    from tests import book_layers as book


def data(n=6, d=5, classes=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(dtype), rng.integers(0, classes, n)


def test_params_and_state_shapes():
    net, params, state = mlp.init(jax.random.key(0), 5, [6, 4], 3, use_batchnorm=True)
    assert isinstance(net, mlp.MLPConfig)
    assert hash(net) == hash(mlp.make(5, [6, 4], 3, use_batchnorm=True))  # static under jit
    expected = {
        "W1": (5, 6), "b1": (6,), "gamma1": (6,), "beta1": (6,),
        "W2": (6, 4), "b2": (4,), "gamma2": (4,), "beta2": (4,),
        "W3": (4, 3), "b3": (3,),
    }  # fmt: skip
    assert {k: v.shape for k, v in params.items()} == expected
    assert {k: v.shape for k, v in state.items()} == {
        "mean1": (6,), "var1": (6,), "mean2": (4,), "var2": (4,)
    }  # fmt: skip
    assert all(v.dtype == jnp.float32 for v in params.values())
    np.testing.assert_array_equal(params["b1"], 0)
    np.testing.assert_array_equal(params["beta1"], 0)
    np.testing.assert_array_equal(params["gamma2"], 1)
    np.testing.assert_array_equal(state["mean2"], 0)
    np.testing.assert_array_equal(state["var2"], 1)
    net, params, state = mlp.init(jax.random.key(0), 5, [6, 4], 3)
    assert state == {} and set(params) == {"W1", "b1", "W2", "b2", "W3", "b3"}


@pytest.mark.parametrize(
    "option, gain",
    [("he", 2.0), ("relu", 2.0), ("xavier", 1.0), ("sigmoid", 1.0), (0.01, None)],
)
def test_weight_std_per_option(option, gain):
    _, params, _ = mlp.init(jax.random.key(1), 2000, [500], 400, weight_init_std=option)
    assert params["W1"].shape == (2000, 500)
    for name, n_in in (("W1", 2000), ("W2", 500)):
        std = 0.01 if gain is None else math.sqrt(gain / n_in)
        w = np.asarray(params[name], np.float64)
        assert abs(w.std() / std - 1) < 0.02, (name, w.std(), std)
        # Untruncated: ~4.55% beyond 2 sigma.
        assert abs(np.mean(np.abs(w) > 2 * std) - 0.0455) < 0.005


CONFIGS = {
    "plain relu": dict(),
    "sigmoid bn wd": dict(activation="sigmoid", use_batchnorm=True, weight_decay_lambda=0.1),
    "tanh bn dropout wd": dict(
        activation="tanh",
        use_batchnorm=True,
        use_dropout=True,
        dropout_ratio=0.3,
        weight_decay_lambda=0.05,
    ),
}


def book_net(net, params, state, **kw):
    running = {i: (np.asarray(state[f"mean{i}"]), np.asarray(state[f"var{i}"]))
               for i in range(1, len(net.hidden_sizes) + 1)} if state else None  # fmt: skip
    return book.MultiLayerNetExtend(
        {k: np.asarray(v) for k, v in params.items()},
        list(net.hidden_sizes),
        activation=net.activation,
        use_batchnorm=net.use_batchnorm,
        use_dropout=net.use_dropout,
        dropout_ration=net.dropout_ratio,
        weight_decay_lambda=net.weight_decay_lambda,
        running=running,
    )


def dropout_draws(net, key, n):
    """The uniform draws jaxlearn's apply uses: one fold_in(key, i) per hidden layer i."""
    return {
        i: np.asarray(jax.random.uniform(jax.random.fold_in(key, i), (n, h), jnp.float32))
        for i, h in enumerate(net.hidden_sizes, start=1)
    }


@pytest.mark.parametrize("name", CONFIGS)
def test_matches_book_network(x64, name):
    net, params, state = mlp.init(
        jax.random.key(2), 5, [6, 4], 3, dtype=jnp.float64, **CONFIGS[name]
    )
    x, t = data()
    key = jax.random.key(7)
    ref = book_net(net, params, state)
    u = dropout_draws(net, key, len(x))

    @functools.partial(jax.jit, static_argnums=0)
    def forward(train, key):  # apply and loss in one compilation per mode
        logits, new_state = mlp.apply(net, params, state, x, train=train, key=key)
        value, _ = mlp.loss(net, params, state, x, t, train=train, key=key)
        return logits, new_state, value

    for train in (False, True):
        ref = book_net(net, params, state)
        logits, new_state, value = forward(train, key)
        np.testing.assert_allclose(logits, ref.predict(x, train, u), rtol=1e-10, atol=1e-12)
        for i in range(1, 3) if net.use_batchnorm else ():  # running statistics, one forward
            for ours, theirs in ((f"mean{i}", "running_mean"), (f"var{i}", "running_var")):
                np.testing.assert_allclose(
                    new_state[ours], getattr(ref.bn[i], theirs), rtol=1e-10, atol=1e-12
                )
        np.testing.assert_allclose(value, ref.loss(x, t, train, u), rtol=1e-10)
    if name != "plain relu":
        return
    one_hot = np.eye(3)[t]  # targets as the book also accepts them
    for labels in (t, one_hot):
        acc = mlp.accuracy(net, params, state, x, labels)
        assert float(acc) == pytest.approx(ref.accuracy(x, labels), abs=1e-6)
    v_int, _ = mlp.loss(net, params, state, x, t, train=False)
    v_hot, _ = mlp.loss(net, params, state, x, one_hot, train=False)
    np.testing.assert_allclose(v_int, v_hot, rtol=1e-12)


@pytest.mark.parametrize("name", ["plain relu", "tanh bn dropout wd"])  # without / with all
def test_gradient_check_central_differences(x64, name):
    """The book's gradient check: jax.grad vs numerical gradient, every parameter."""
    net, params, state = mlp.init(
        jax.random.key(3), 5, [6, 4], 3, dtype=jnp.float64, weight_init_std=0.5, **CONFIGS[name]
    )
    params = {k: v + 0.1 if k.startswith(("b", "gamma", "beta")) else v for k, v in params.items()}
    x, t = data()
    key = jax.random.key(11)  # fixed dropout mask

    def f(p):
        return mlp.loss(net, p, state, x, t, train=True, key=key)[0]

    flat, unravel = ravel_pytree(params)
    h = 1e-5
    eye = jnp.eye(flat.size) * h
    f_flat = jax.jit(jax.vmap(lambda v: f(unravel(v))))
    numeric = (f_flat(flat + eye) - f_flat(flat - eye)) / (2 * h)
    analytic = ravel_pytree(jax.jit(jax.grad(f))(params))[0]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    assert float(jnp.abs(analytic).max()) > 1e-2


def test_jit_and_vmap_over_stacked_params(exact_matmuls):
    net = mlp.make(5, [6, 4], 3, use_batchnorm=True, use_dropout=True, weight_decay_lambda=0.01)
    K = 3
    copies = [mlp.init_params(net, k) for k in jax.random.split(jax.random.key(0), K)]
    params, state = jax.tree.map(lambda *a: jnp.stack(a), *copies)
    assert params["W1"].shape == (K, 5, 6) and state["mean1"].shape == (K, 6)
    x, t = data(dtype=np.float32)
    grad = jax.grad(mlp.loss, argnums=1, has_aux=True)

    @jax.jit
    def step(p, s, key):
        return grad(net, p, s, x, t, train=True, key=key)

    keys = jax.random.split(jax.random.key(1), K)

    @jax.jit
    def batched(params, state, keys):
        g, s = jax.vmap(step)(params, state, keys)
        acc = jax.vmap(lambda p, s: mlp.accuracy(net, p, s, x, t))(params, state)
        return g, s, acc

    g, s, acc = batched(params, state, keys)
    assert acc.shape == (K,)
    for k in range(K):
        pk = jax.tree.map(lambda a, k=k: a[k], params)
        sk = jax.tree.map(lambda a, k=k: a[k], state)
        g1, s1 = step(pk, sk, keys[k])
        for name in g1:
            np.testing.assert_allclose(g[name][k], g1[name], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(s["var2"][k], s1["var2"], rtol=1e-5)
        assert float(acc[k]) == float(mlp.accuracy(net, pk, sk, x, t))


def test_errors():
    net, params, state = mlp.init(jax.random.key(0), 4, [3], 2, use_dropout=True)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        mlp.apply(net, params, state, jnp.ones((2, 4)), train=True)
    mlp.apply(net, params, state, jnp.ones((2, 4)), train=False)  # no key needed
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp.make(4, [3], 2, activation="softplus")
    with pytest.raises(ValueError, match="weight_init_std must be"):
        mlp.make(4, [3], 2, weight_init_std="glorot")
    with pytest.raises(ValueError, match="dropout_ratio"):
        mlp.make(4, [3], 2, dropout_ratio=1.0)
    with pytest.raises(ValueError, match="layer sizes"):
        mlp.make(4, [0], 2)
