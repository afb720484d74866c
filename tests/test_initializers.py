"""jaxlearn.initializers: std, untruncated tails, determinism, dtypes, fan-in, flax use."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlearn import initializers as init

KEY = jax.random.key(0)
SHAPE = (2000, 500)  # fan_in = 2000


@pytest.mark.parametrize(
    "make, std",
    [
        (lambda: init.normal(0.01), 0.01),
        (lambda: init.normal(), 0.01),  # the book's default
        (init.xavier, math.sqrt(1 / 2000)),
        (init.he, math.sqrt(2 / 2000)),
    ],
)
def test_std_and_untruncated_tails(make, std):
    w = np.asarray(make()(KEY, SHAPE), np.float64)
    assert w.shape == SHAPE and w.dtype == np.float64
    assert abs(w.std() / std - 1) < 0.02
    assert abs(w.mean()) < 0.01 * std
    # P(|z| > 2) = 4.55% for a Gaussian; a truncated normal (jax's he_normal) gives 0.
    beyond = np.mean(np.abs(w) > 2 * std)
    assert abs(beyond - 0.0455) < 0.002


def test_matches_jax_variance_scaling_normal():
    # The same draw as jax's untruncated fan-in variance scaling with the same key (up to the
    # rounding of the std multiplication).
    for ours, scale in ((init.he(), 2.0), (init.xavier(), 1.0)):
        ref = jax.nn.initializers.variance_scaling(scale, "fan_in", "normal")
        np.testing.assert_allclose(ours(KEY, SHAPE), ref(KEY, SHAPE), rtol=1e-6)


@pytest.mark.parametrize("make", [init.normal, init.xavier, init.he])
def test_deterministic_per_key(make):
    a = make()(jax.random.key(1), SHAPE)
    b = make()(jax.random.key(1), SHAPE)
    c = make()(jax.random.key(2), SHAPE)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_dtype_kept(dtype):
    w = init.he()(KEY, SHAPE, dtype)
    assert w.dtype == dtype
    w32 = init.he()(KEY, SHAPE)
    # Low precision is the float32 draw, rounded.
    np.testing.assert_array_equal(w, w32.astype(dtype))
    assert abs(np.asarray(w, np.float64).std() / math.sqrt(2 / 2000) - 1) < 0.02


def test_conv_fan_in_hwio():
    shape = (3, 3, 64, 128)  # HWIO: fan_in = 3*3*64 = 576
    assert init.fan_in(shape) == 576
    w = np.asarray(init.he()(KEY, shape))
    assert abs(w.std() / math.sqrt(2 / 576) - 1) < 0.02
    w = np.asarray(init.xavier(in_axis=-2, out_axis=-1)(KEY, shape))
    assert abs(w.std() / math.sqrt(1 / 576) - 1) < 0.02
    # OIHW: output channels first, input channels second.
    assert init.fan_in((128, 64, 3, 3), in_axis=1, out_axis=0) == 576


def test_flax_dense_kernel_init():
    layer = nn.Dense(500, kernel_init=init.he())
    variables = layer.init(KEY, jnp.ones((1, 2000)))
    kernel = np.asarray(variables["params"]["kernel"])
    assert kernel.shape == (2000, 500)
    assert abs(kernel.std() / math.sqrt(2 / 2000) - 1) < 0.02
    conv = nn.Conv(128, (3, 3), kernel_init=init.xavier())
    k = np.asarray(conv.init(KEY, jnp.ones((1, 8, 8, 64)))["params"]["kernel"])
    assert abs(k.std() / math.sqrt(1 / 576) - 1) < 0.03


def test_works_under_jit():
    f = jax.jit(init.he(), static_argnums=1)
    np.testing.assert_allclose(f(KEY, SHAPE), init.he()(KEY, SHAPE), rtol=1e-6)


@pytest.mark.parametrize("make", [init.normal, init.xavier, init.he])
def test_bad_shape_and_dtype(make):
    with pytest.raises(ValueError, match=r"shape must have rank >= 2.*\(100,\)"):
        make()(KEY, (100,))
    with pytest.raises(ValueError, match="rank >= 2"):
        make()(KEY, ())
    with pytest.raises(TypeError, match="dtype must be a floating dtype, got int32"):
        make()(KEY, (3, 4), jnp.int32)


def test_bad_arguments():
    with pytest.raises(ValueError, match="std must be"):
        init.normal(-1.0)
    with pytest.raises(ValueError, match="out of range"):
        init.fan_in((3, 4), out_axis=5)


@pytest.mark.parametrize("factory", ["he", "xavier", "normal"])
@pytest.mark.parametrize("key", [jax.random.key(0), jax.random.PRNGKey(0)], ids=["key", "raw"])
def test_handing_the_key_to_the_factory_fails_there_with_the_right_call(factory, key):
    make = getattr(init, factory)
    args = (key, (784, 100)) if factory != "normal" else (key,)
    with pytest.raises(TypeError) as info:
        make(*args)  # the mistake: the factory is not the initializer
    message = str(info.value)
    assert message.startswith(f"{factory}() makes an initializer and takes no key (got one")
    assert f"jl.initializers.{factory}()(key, (784, 100))" in message
    # The call the message gives works.
    assert getattr(init, factory)()(key, (784, 100)).shape == (784, 100)


def test_axes_are_checked_when_the_factory_is_called():
    with pytest.raises(TypeError, match=r"he\(\): in_axis must be an int or a sequence of ints"):
        init.he(in_axis="0")
    with pytest.raises(TypeError, match=r"xavier\(\): out_axis must be an int or a sequence"):
        init.xavier(out_axis=1.5)
    with pytest.raises(TypeError, match=r"he\(\): in_axis must be an int or a sequence of ints"):
        init.he(jnp.zeros(3))  # an array that is no key: the axes' own message
    assert init.he(in_axis=np.int64(-2), out_axis=(-1,))(KEY, (4, 3)).shape == (4, 3)
    assert init.normal(jnp.asarray(0.01))(KEY, (4, 3)).shape == (4, 3)  # a scalar std is fine
