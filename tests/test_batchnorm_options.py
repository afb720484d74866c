"""batch_norm's flax options (mask, dtype, use_fast_variance, axis_index_groups): flax's
numbers bit for bit, NumPy's statistics, and the closed-form backward against autodiff."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlearn.nn.batchnorm import batch_norm, batchnorm_init


def rand(seed, shape, scale=1.0, shift=0.0):
    return np.random.default_rng(seed).normal(size=shape) * scale + shift


def row_mask(seed, shape, p=0.3):
    """A (N, 1, ..., 1) boolean mask: rows kept with probability 1 − p (at least two)."""
    keep = np.random.default_rng(seed).random(shape[0]) > p
    keep[:2] = True
    return jnp.asarray(keep.reshape((shape[0],) + (1,) * (len(shape) - 1)))


def assert_bits_equal(a, b):
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_array_equal(np.asarray(a, np.float64), np.asarray(b, np.float64))


# --- flax, bit for bit ----------------------------------------------------------------------

FLAX_CASES = [
    # shape, axis, x dtype, dtype, use_fast_variance, mask
    ((16, 6), -1, "float32", None, False, False),  # the book's layer (was 1 ulp off flax)
    ((4, 5, 5, 3), -1, "float32", None, True, False),  # NHWC, one-pass variance
    ((6, 3, 4, 4), 1, "float32", None, False, True),  # NCHW, padded batch
    ((16, 6), -1, "bfloat16", "float32", True, True),  # bf16 in, float32 out (flax's default)
    ((4, 5, 5, 3), -1, "float16", "float16", False, True),
    ((16, 6), -1, "float32", "bfloat16", False, False),  # float32 in, bf16 out
]


@pytest.mark.parametrize("shape, axis, x_dtype, dtype, fast, masked", FLAX_CASES)
def test_matches_flax_bit_for_bit(shape, axis, x_dtype, dtype, fast, masked):
    """Outputs (training and inference), running statistics and the autodiff gradient equal
    flax.linen.BatchNorm's for the same inputs and settings."""
    x = jnp.asarray(rand(1, shape, 2.0, 1.0), x_dtype)
    feat = shape[axis]
    gamma = jnp.asarray(rand(2, (feat,), 0.3, 1.0), jnp.float32)
    beta = jnp.asarray(rand(3, (feat,), 0.3), jnp.float32)
    mask = row_mask(4, shape) if masked else None
    module = nn.BatchNorm(
        axis=axis, momentum=0.9, epsilon=1e-6, dtype=dtype, use_fast_variance=fast
    )
    stats = module.init(jax.random.key(0), x, use_running_average=False)["batch_stats"]
    w = jnp.asarray(rand(5, shape), jnp.float32)

    @jax.jit  # both libraries in one compilation
    def both(x, gamma, beta):
        def flax_loss(x, gamma, beta):
            variables = {"params": {"scale": gamma, "bias": beta}, "batch_stats": stats}
            y, upd = module.apply(
                variables, x, use_running_average=False, mutable=["batch_stats"], mask=mask
            )
            return jnp.sum(y.astype(jnp.float32) * w), (y, upd["batch_stats"])

        def ours_loss(x, gamma, beta):
            params, state = {"gamma": gamma, "beta": beta}, batchnorm_init(feat)[1]
            y, new = batch_norm(
                x, params, state, train=True, axis=axis, backward="autodiff", mask=mask,
                dtype=dtype, use_fast_variance=fast,
            )  # fmt: skip
            return jnp.sum(y.astype(jnp.float32) * w), (y, new)

        grad = jax.grad(flax_loss, argnums=(0, 1, 2), has_aux=True)
        g_flax, (y_flax, new_flax) = grad(x, gamma, beta)
        g_ours, (y_ours, new_ours) = jax.grad(ours_loss, argnums=(0, 1, 2), has_aux=True)(
            x, gamma, beta
        )
        inf_flax = module.apply(
            {"params": {"scale": gamma, "bias": beta}, "batch_stats": new_flax},
            x,
            use_running_average=True,
        )
        inf_ours, _ = batch_norm(
            x, {"gamma": gamma, "beta": beta}, new_ours, train=False, axis=axis, dtype=dtype
        )
        closed, _ = batch_norm(
            x, {"gamma": gamma, "beta": beta}, batchnorm_init(feat)[1], train=True, axis=axis,
            mask=mask, dtype=dtype, use_fast_variance=fast,
        )  # fmt: skip
        return (y_flax, new_flax, inf_flax, g_flax), (y_ours, new_ours, inf_ours, g_ours), closed

    theirs, ours, closed = both(x, gamma, beta)
    assert_bits_equal(ours[0], theirs[0])
    assert_bits_equal(closed, theirs[0])  # the closed-form path's forward is the same
    for k in ("mean", "var"):
        assert_bits_equal(ours[1][k], theirs[1][k])
    assert not np.allclose(ours[1]["var"], 1.0)  # the statistics did move
    assert_bits_equal(ours[2], theirs[2])
    for a, b in zip(ours[3], theirs[3], strict=True):  # autodiff of the same operations
        assert_bits_equal(a, b)


# --- the options' meaning, against NumPy ------------------------------------------------------


def numpy_bn(x, gamma, beta, mask, fast, eps=1e-6):
    """Masked batch norm over axis 0 in float64: the statistics of the kept rows only."""
    keep = np.broadcast_to(mask, x.shape) if mask is not None else np.ones(x.shape, bool)
    mu = np.array([x[keep[:, j], j].mean() for j in range(x.shape[1])])
    if fast:
        var = np.array([(x[keep[:, j], j] ** 2).mean() for j in range(x.shape[1])]) - mu**2
    else:
        var = np.array([((x[keep[:, j], j] - mu[j]) ** 2).mean() for j in range(x.shape[1])])
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, mu, var


@pytest.mark.parametrize("fast", [False, True])
def test_mask_uses_only_the_kept_entries(x64, fast):
    x = rand(0, (10, 4), 2.0, 1.0)
    x[7:] = 1e3  # padding rows: garbage that must not move the statistics
    gamma, beta = rand(1, 4, 0.3, 1.0), rand(2, 4)
    rows = np.arange(10)
    mask = np.stack([rows < 7] * 3 + [rows < 5], axis=1)  # per feature too
    params, state = {"gamma": gamma, "beta": beta}, batchnorm_init(4, jnp.float64)[1]
    y, new = batch_norm(
        jnp.asarray(x), params, state, train=True, mask=jnp.asarray(mask), use_fast_variance=fast
    )
    want, mu, var = numpy_bn(x, gamma, beta, mask, fast)
    np.testing.assert_allclose(y, want, rtol=1e-9, atol=1e-9)  # padding rows normalised too
    np.testing.assert_allclose(new["mean"], 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(new["var"], 0.9 + 0.1 * var, rtol=1e-9)


def test_fast_variance_loses_precision_far_from_zero_and_clamps_at_zero():
    x = jnp.asarray(rand(0, (64, 3), 1.0, 1e4), jnp.float32)  # mean 1e4, variance 1
    x = x.at[:, 2].set(3000.0)  # a constant feature: variance exactly 0
    params, state = batchnorm_init(3)
    want = np.var(np.asarray(x, np.float64), axis=0)
    _, two = batch_norm(x, params, state, train=True, momentum=0.0)
    _, one = batch_norm(x, params, state, train=True, momentum=0.0, use_fast_variance=True)
    np.testing.assert_allclose(two["var"][:2], want[:2], rtol=1e-3)
    assert float(jnp.max(jnp.abs(one["var"][:2] - want[:2]) / want[:2])) > 0.05  # cancellation
    assert float(one["var"][2]) == 0.0 and float(two["var"][2]) == 0.0  # never negative


def test_dtype_is_the_output_dtype_and_the_statistics_minimum(x64):
    x = jnp.asarray(rand(0, (8, 3), 2.0, 1.0), jnp.float32)
    params, state = batchnorm_init(3)
    y16, new16 = batch_norm(x, params, state, train=True, dtype=jnp.bfloat16)
    y32, new32 = batch_norm(x, params, state, train=True)
    assert y16.dtype == jnp.bfloat16 and new16["var"].dtype == jnp.float32
    assert_bits_equal(y16, y32.astype(jnp.bfloat16))  # float32 statistics, rounded output
    assert_bits_equal(new16["var"], new32["var"])
    # dtype=float64: statistics of float32 x in float64 (the state keeps its own float32).
    y64, new64 = batch_norm(x, params, state, train=True, dtype=jnp.float64)
    assert y64.dtype == jnp.float64 and new64["var"].dtype == jnp.float32
    xd = np.asarray(x, np.float64)
    np.testing.assert_allclose(y64, (xd - xd.mean(0)) / np.sqrt(xd.var(0) + 1e-6), rtol=1e-12)
    y_inf, _ = batch_norm(x, params, new64, train=False, dtype=jnp.bfloat16)
    assert y_inf.dtype == jnp.bfloat16


# --- the closed-form backward, against autodiff -----------------------------------------------

GRAD_CASES = {
    "mask": {"mask": "rows"},
    "mask per element": {"mask": "elements"},
    "use_fast_variance": {"use_fast_variance": True},
    "mask + fast": {"mask": "rows", "use_fast_variance": True},
    "dtype float32 of float64 x": {"dtype": jnp.float32},
}


@pytest.mark.parametrize("case", list(GRAD_CASES))
@pytest.mark.parametrize("shape, axis", [((12, 5), -1), ((6, 3, 4, 4), 1)])
def test_closed_form_gradient_equals_autodiff(x64, case, shape, axis):
    kw = dict(GRAD_CASES[case])
    if kw.get("mask") == "rows":
        kw["mask"] = row_mask(8, shape)
    elif kw.get("mask") == "elements":
        kw["mask"] = jnp.asarray(np.random.default_rng(8).random(shape) > 0.3)
    feat = shape[axis]
    x, w = jnp.asarray(rand(0, shape, 2.0, 1.0)), jnp.asarray(rand(1, shape))
    params = {"gamma": jnp.asarray(rand(2, feat, 0.3, 1.0)), "beta": jnp.asarray(rand(3, feat))}
    state = batchnorm_init(feat, jnp.float64)[1]

    def loss(x, p, backward):
        y, _ = batch_norm(x, p, state, train=True, axis=axis, backward=backward, **kw)
        return jnp.sum(jnp.sin(y) * w)

    @jax.jit
    def grads(x, p):
        return [jax.grad(loss, argnums=(0, 1))(x, p, b) for b in ("closed_form", "autodiff")]

    closed, auto = grads(x, params)
    rtol = 1e-6 if "dtype" in kw else 1e-9  # a float32 output: its rounding enters
    for a, b in zip(jax.tree.leaves(closed), jax.tree.leaves(auto), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(jnp.max(jnp.abs(b))))
    assert all(float(jnp.abs(g).max()) > 1e-3 for g in jax.tree.leaves(closed))


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"mask": jnp.ones((4, 1))}, TypeError, "mask must be a boolean array, got dtype float32"),
        ({"mask": jnp.ones((3, 1), bool)}, ValueError, r"mask of shape \(3, 1\) does not"),
        ({"axis_index_groups": [[0, 1]]}, ValueError, "axis_index_groups needs axis_name"),
        (
            {"axis_index_groups": [[0, 1], [2]], "axis_name": "i"},
            ValueError,
            "groups of device indices of equal size",
        ),
        ({"dtype": jnp.int32}, TypeError, "dtype must be None or a floating dtype"),
        ({"use_fast_variance": 1}, TypeError, "use_fast_variance must be a bool, got int"),
    ],
)
def test_bad_options_raise(kw, error, match):
    params, state = batchnorm_init(5)
    with pytest.raises(error, match=match):
        batch_norm(jnp.ones((4, 5)), params, state, train=True, **kw)
