"""Extreme values: what each rule and layer does, pinned case by case.

Every case here has a row in docs/reliability.md. "Finite" is asserted where it holds; where
a result is finite but useless (a frozen parameter) or not finite, the test pins what happens
and docs/reliability.md says why and what to do. Every case passes: none is a known defect
(a defect found here is fixed, not marked as expected to fail). Which rules behave which way at
the extremes is each rule's row in tests/rule_cases.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn.nn import mlp
from jaxlearn.nn.batchnorm import batch_norm, batchnorm_init
from jaxlearn.nn.dropout import dropout
from jaxlearn.optim.nonfinite import skip_nonfinite
from tests.rule_cases import CASES, NAMES, names_where

RULES = NAMES
ADAPTIVE = names_where(lambda c: c.has_eps)


def _updates(rule, g, dtype=jnp.float32, steps=3, **hyper):
    opt = jl.RULES[rule](**hyper)
    params = jnp.ones(2, dtype)
    state = opt.init(params)
    out = []
    for _ in range(steps):
        u, state = opt.update(jnp.full(2, g, dtype), state, params)
        out.append(np.asarray(u, np.float64))
    return np.stack(out), state


def _finite(x):
    return bool(np.isfinite(np.asarray(x, np.float64)).all())


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("rule", RULES)
def test_tiny_gradients_1e_30(rule, dtype):
    """g = 1e-30: g² underflows to 0 in float32, so AdaGrad/RMSprop step by η·g/ε (tiny, right
    sign), Adam by η_t·m/ε; all finite, all pointing downhill."""
    u, state = _updates(rule, 1e-30, dtype)
    assert _finite(u) and _finite(jax.tree.leaves(state)[1:] or [0.0])
    assert (u < 0).all()


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("rule", names_where(lambda c: c.huge_gradient == "steps"))
def test_huge_gradients_1e30_plain_rules(rule, dtype):
    """g = 1e30: the plain rules give −η·g-sized steps, finite."""
    u, _ = _updates(rule, 1e30, dtype)
    assert _finite(u) and (u < 0).all()


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("rule", names_where(lambda c: c.huge_gradient == "freezes"))
def test_huge_gradients_1e30_freeze_adagrad_and_rmsprop(rule, dtype):
    """g = 1e30: g² overflows float32 to inf, h = inf, the update is g/inf = −0 and stays −0
    for good (h never comes back). Finite, but the parameter is frozen: pinned here, documented
    in docs/reliability.md (the remedy is gradient clipping before the rule)."""
    u, state = _updates(rule, 1e30, dtype)
    assert _finite(u) and (u == 0).all()
    assert np.isinf(np.asarray(jax.tree.leaves(state)[1], np.float64)).all()


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("rule", names_where(lambda c: c.huge_gradient == "finite"))
def test_huge_gradients_1e30_adam_stays_finite(rule, dtype):
    """v is accumulated as β2·v + (1 − β2)·g², so g² = inf gives v = inf and a −0 step, not
    the NaN of the book's v + (1 − β2)(g² − v) = inf − inf."""
    u, state = _updates(rule, 1e30, dtype)
    assert _finite(u) and (u == 0).all()
    assert np.isinf(np.asarray(getattr(state, CASES[rule].second_moment[0]), np.float64)).all()


@pytest.mark.parametrize("g", [1e15, 1e19, 1e30])
@pytest.mark.parametrize("rule", RULES)
def test_huge_gradients_and_clipping(rule, g):
    """The remedy, and its limit: ``optax.clip_by_global_norm`` before the rule gives finite,
    non-zero steps up to |g| ≈ 1e19; at 1e30 the global norm itself overflows float32 to inf,
    the clipped gradient is g·(1/inf) = 0 and the step is a no-op (finite, state stays
    finite). Pinned."""
    opt = optax.chain(optax.clip_by_global_norm(1.0), jl.RULES[rule]())
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    for _ in range(3):
        u, state = opt.update({"w": jnp.full(2, g)}, state, params)
    assert _finite(u["w"]) and all(_finite(x) for x in jax.tree.leaves(state))
    if g < 1e20:
        assert (np.asarray(u["w"]) < 0).all()
    else:
        assert (np.asarray(u["w"]) == 0).all()


@pytest.mark.parametrize("rule", RULES)
def test_zero_gradients_at_step_one_give_zero_updates(rule):
    """g = 0 at step 1 (h = v = 0): with the default ε the update is 0/(0 + ε) = 0, no NaN."""
    u, state = _updates(rule, 0.0)
    assert _finite(u) and (u == 0).all()
    assert all(_finite(x) for x in jax.tree.leaves(state))


@pytest.mark.parametrize("rule", ADAPTIVE)
def test_zero_gradients_with_eps_zero_are_nan(rule):
    """ε = 0 (allowed: it is how the optax equivalences are stated) and g = 0: 0/0 = NaN,
    as in optax (``optax.adagrad(eps=0)`` gives 0·rsqrt(0) = NaN too). Pinned, documented."""
    u, _ = _updates(rule, 0.0, steps=1, eps=0.0)
    assert np.isnan(u).all()


@pytest.mark.parametrize("rule", RULES)
def test_bf16_parameters_near_1e4_lose_small_updates(rule):
    """bf16 at 1e4 has a spacing of 64: an update below 32 rounds away and the parameter does
    not move. Finite, silent; documented (keep float32 master weights)."""
    opt = jl.RULES[rule]()
    p = jnp.full(2, 1e4, jnp.bfloat16)
    u, _ = opt.update(jnp.ones(2, jnp.bfloat16), opt.init(p), p)
    assert _finite(u) and (np.asarray(u, np.float32) < 0).all()
    assert np.array_equal(np.asarray(jl.apply_updates(p, u)), np.asarray(p))


def test_batch_norm_constant_feature():
    """Variance 0: x̂ = 0/√ε = 0 so y = β, finite; the input gradient is γ/√ε·(dy − mean dy),
    finite but amplified 1000× (√1e-6 = 1e-3), by both backward passes alike."""
    params, state = batchnorm_init(2)
    x = jnp.full((4, 2), 3.0)
    y, new_state = batch_norm(x, params, state, train=True)
    assert (np.asarray(y) == 0).all() and _finite(new_state["var"])
    dy = jnp.arange(8.0).reshape(4, 2)
    for backward in ("closed_form", "autodiff"):
        g = jax.grad(
            lambda x, b=backward: jnp.sum(
                batch_norm(x, params, state, train=True, backward=b)[0] * dy
            )
        )(x)
        np.testing.assert_allclose(g[:, 0], [-3000.0, -1000.0, 1000.0, 3000.0], rtol=1e-3)


def test_batch_norm_book_zero_running_var_in_inference():
    """The book's running var of 0: inference divides by √ε, so y = 1000·x; finite."""
    params, state = batchnorm_init(3)
    y, _ = batch_norm(jnp.ones((2, 3)), params, {**state, "var": state["var"] * 0}, train=False)
    np.testing.assert_allclose(y, 1000.0, rtol=1e-3)


@pytest.mark.parametrize("constant", [False, True])
def test_batch_norm_bf16_inputs_around_1e4(constant):
    """bf16 inputs near ±1e4: statistics in float32, output bf16, finite; standardised when
    the batch varies, β when it does not."""
    rng = np.random.default_rng(0)
    x = 1e4 * rng.choice([-1.0, 1.0], size=(1, 3)) + (0 if constant else 100) * rng.normal(
        size=(8, 3)
    )
    x = jnp.asarray(x, jnp.bfloat16)
    params, state = batchnorm_init(3)
    y, new_state = batch_norm(x, params, state, train=True)
    assert y.dtype == jnp.bfloat16 and _finite(y) and all(_finite(v) for v in new_state.values())
    yf = np.asarray(y, np.float32)
    if constant:
        assert (yf == 0).all()
    else:
        np.testing.assert_allclose(yf.mean(0), 0, atol=2e-2)
        np.testing.assert_allclose(yf.var(0), 1, atol=3e-2)
    y_inf, _ = batch_norm(x, params, new_state, train=False)
    assert _finite(y_inf)


@pytest.mark.parametrize("use_batchnorm", [False, True])
def test_mlp_loss_and_grads_bf16_inputs_around_1e4(use_batchnorm):
    """A bf16 network fed ±1e4: logits in the thousands, but the book's max-subtracted softmax
    and the +1e-7 in the log keep loss and gradients finite."""
    net, params, state = mlp.init(
        jax.random.key(0), 6, [5], 3, dtype=jnp.bfloat16, use_batchnorm=use_batchnorm
    )
    x = jnp.asarray(np.random.default_rng(0).choice([-1e4, 1e4], size=(4, 6)), jnp.bfloat16)
    t = jnp.array([0, 1, 2, 0])
    (value, _), grads = jax.value_and_grad(
        lambda p: mlp.loss(net, p, state, x, t, train=True), has_aux=True
    )(params)
    assert _finite(value) and all(_finite(g) for g in jax.tree.leaves(grads))


def test_dropout_extremes():
    """Rates next to 1 and bf16 values near 1e4: finite; inverted scaling by 1/(1 − rate)."""
    key = jax.random.key(0)
    x = jnp.full((64,), 1e4, jnp.bfloat16)
    for rate in (0.0, 0.5, 0.999):
        for inverted in (False, True):
            y = dropout(key, x, rate, train=True, inverted=inverted)
            assert y.dtype == jnp.bfloat16 and _finite(y)
    assert (np.asarray(dropout(key, x, 0.0, train=True)) == np.asarray(x)).all()


def test_skip_nonfinite_catches_inf_and_nan_gradients_from_overflow():
    """f16 gradients of 1e30 are inf on arrival: skip_nonfinite skips the step. (It checks the
    gradients, not the updates: ε = 0 with g = 0 above is NaN from finite input and is not
    caught — documented.)"""
    opt = skip_nonfinite(jl.adam())
    p = jnp.ones(2, jnp.float16)
    with np.errstate(over="ignore"):
        g = jnp.asarray(np.full(2, 1e30), jnp.float16)
    u, s = opt.update(g, opt.init(p), p)
    assert int(s.skipped) == 1 and np.array_equal(np.asarray(jl.apply_updates(p, u)), np.ones(2))
