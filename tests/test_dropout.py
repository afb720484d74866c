"""dropout: the book's form and the inverted form; statistics, determinism, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlearn.nn.dropout import dropout

try:
    import book_layers as book
except ImportError:  # tests/ imported as a package
    from tests import book_layers as book

X = jnp.asarray(np.random.default_rng(0).uniform(0.5, 1.5, size=(400, 500)).astype(np.float32))


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("inverted", [False, True])
def test_kept_fraction_and_expectation(rate, inverted):
    y = dropout(jax.random.key(1), X, rate, train=True, inverted=inverted)
    kept = np.asarray(y != 0)
    assert abs(kept.mean() - (1 - rate)) < 0.005  # 200k draws: sd ~0.001
    # Kept units: unchanged (book) or scaled by 1/(1-rate) (inverted); dropped units: 0.
    scale = 1 / (1 - rate) if inverted else 1.0
    np.testing.assert_allclose(np.asarray(y)[kept], np.asarray(X)[kept] * scale, rtol=1e-6)
    # Expectation of training output == inference output, in each form.
    y_inf = dropout(None, X, rate, train=False, inverted=inverted)
    np.testing.assert_allclose(np.asarray(y_inf), np.asarray(X) * (1 if inverted else 1 - rate))
    assert abs(float(y.mean()) / float(y_inf.mean()) - 1) < 0.01


def test_matches_book_layer_on_the_same_draw():
    key, rate = jax.random.key(3), 0.3
    u = np.asarray(jax.random.uniform(key, X.shape, jnp.float32))
    layer = book.Dropout(rate)
    np.testing.assert_array_equal(
        dropout(key, X, rate, train=True), layer.forward(np.asarray(X), True, u)
    )
    np.testing.assert_allclose(
        dropout(None, X, rate, train=False), layer.forward(np.asarray(X), False), rtol=1e-6
    )


def test_deterministic_per_key_and_dtype_kept():
    a = dropout(jax.random.key(5), X, 0.5, train=True)
    b = dropout(jax.random.key(5), X, 0.5, train=True)
    c = dropout(jax.random.key(6), X, 0.5, train=True)
    np.testing.assert_array_equal(a, b)
    assert np.mean(np.asarray(a != 0) != np.asarray(c != 0)) > 0.4
    for dtype in (jnp.bfloat16, jnp.float16):
        for inverted in (False, True):
            for train in (False, True):
                y = dropout(jax.random.key(0), X.astype(dtype), 0.3, train=train, inverted=inverted)
                assert y.dtype == dtype


def test_rate_zero_keeps_everything_and_traced_rate():
    np.testing.assert_array_equal(dropout(jax.random.key(0), X, 0.0, train=True), X)
    f = jax.jit(lambda k, x, r: dropout(k, x, r, train=True))
    np.testing.assert_array_equal(
        f(jax.random.key(2), X, 0.4), dropout(jax.random.key(2), X, 0.4, train=True)
    )
    # vmap over rates: a traced rate is accepted unchecked.
    ys = jax.vmap(lambda r: dropout(jax.random.key(2), X, r, train=True))(jnp.array([0.1, 0.9]))
    kept = np.asarray(ys != 0).mean(axis=(1, 2))
    np.testing.assert_allclose(kept, [0.9, 0.1], atol=0.005)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, jnp.float32(1.0)])
def test_rate_validation(rate):
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        dropout(jax.random.key(0), X, rate, train=True)
    with pytest.raises(ValueError, match="rate must be"):
        dropout(None, X, rate, train=False)


def test_train_needs_key():
    with pytest.raises(ValueError, match="needs a PRNG key"):
        dropout(None, X, 0.5, train=True)
