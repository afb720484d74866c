"""skip_nonfinite: a NaN/inf step changes nothing, bit for bit, and is counted."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn.optim.nonfinite import (
    NonFiniteGradientError,
    SkipNonfiniteState,
    all_finite,
    skip_nonfinite,
)

STEPS = 8
BAD = {2: np.nan, 5: np.inf, 6: -np.inf}  # step -> value injected into one gradient element


def _params():
    rng = np.random.default_rng(0)
    return {
        "W": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32).at[0, 0].set(-0.0),
        "b": jnp.zeros(4, jnp.float32).at[1].set(-0.0),
        "h": jnp.asarray(rng.normal(size=(2,)), jnp.bfloat16),
        "none": None,
        "empty": jnp.zeros((0, 3), jnp.float32),
    }


def _grads(params, steps=STEPS, bad=BAD):
    rng = np.random.default_rng(1)
    out = []
    for k in range(steps):
        g = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), params)
        if k in bad:
            g["W"] = g["W"].at[1, 2].set(bad[k])
        out.append(g)
    return out


def bits(tree):
    """Every leaf as raw bytes (None kept): equality of these is bit-identity."""
    return jax.tree.map(
        lambda x: None if x is None else np.asarray(x).reshape(-1).view(np.uint8).tobytes(),
        tree,
        is_leaf=lambda x: x is None,
    )


def _run(opt, params, grads):
    step = jax.jit(opt.update)
    state = opt.init(params)
    for g in grads:
        updates, state = step(g, state, params)
        params = jl.apply_updates(params, updates)
    return params, state


def _inners():
    cases = {name: rule() for name, rule in jl.RULES.items()}
    cases["chain(clip, adam)"] = optax.chain(optax.clip_by_global_norm(1.0), jl.adam(0.01))
    cases["inject_hyperparams(rmsprop)"] = optax.inject_hyperparams(jl.rmsprop)(lr=0.01)
    cases["momentum(schedule)"] = jl.momentum(optax.linear_schedule(0.1, 0.01, 5))
    return cases


@pytest.mark.parametrize("name", list(_inners()))
def test_skipped_steps_leave_params_and_state_bit_identical(name):
    inner = _inners()[name]
    params = _params()
    grads = _grads(params)
    got_params, got_state = _run(skip_nonfinite(inner, max_consecutive=3), params, grads)
    want_params, want_inner = _run(inner, params, [g for k, g in enumerate(grads) if k not in BAD])
    assert bits(got_params) == bits(want_params)
    assert bits(got_state.inner_state) == bits(want_inner)
    assert jax.tree.structure(got_state.inner_state) == jax.tree.structure(want_inner)
    assert (int(got_state.consecutive), int(got_state.skipped), int(got_state.nonfinite)) == (
        0,
        3,
        3,
    )
    for counter in got_state[1:]:
        assert counter.dtype == jnp.int32 and counter.shape == ()


def test_skipped_updates_are_negative_zero_so_params_keep_every_bit():
    params = {"w": jnp.array([-0.0, 0.0, jnp.nan, 1.5, -jnp.inf])}
    opt = skip_nonfinite(jl.sgd(0.1))
    updates, state = opt.update({"w": jnp.full(5, jnp.nan)}, opt.init(params), params)
    assert bits(jl.apply_updates(params, updates)) == bits(params)
    assert bits(optax.apply_updates(params, updates)) == bits(params)
    assert int(state.skipped) == 1


def test_limit_apply_lets_the_step_through_like_optax_apply_if_finite():
    params = {"w": jnp.array([1.0, 2.0])}
    ours = skip_nonfinite(jl.sgd(0.1), max_consecutive=2)
    theirs = optax.apply_if_finite(optax.sgd(0.1), max_consecutive_errors=2)
    s1, s2 = ours.init(params), theirs.init(params)
    p1 = p2 = params
    seq = [1.0, np.nan, np.nan, np.nan, np.nan, 1.0, np.inf, 2.0]
    for k, v in enumerate(seq):
        g = {"w": jnp.array([v, 1.0])}
        u1, s1 = ours.update(g, s1, p1)
        u2, s2 = theirs.update(g, s2, p2)
        p1, p2 = jl.apply_updates(p1, u1), optax.apply_updates(p2, u2)
        np.testing.assert_array_equal(p1["w"], p2["w"], err_msg=f"step {k}")
        assert int(s1.consecutive) == int(s2.notfinite_count)
        assert int(s1.nonfinite) == int(s2.total_notfinite)
    # steps 1, 2 and 6 were skipped; 3 and 4 passed the limit and were applied (NaN params)
    assert int(s1.skipped) == 3 and int(s1.nonfinite) == 5
    assert np.isnan(np.asarray(p1["w"][0]))


def test_max_consecutive_zero_skips_nothing():
    opt = skip_nonfinite(jl.sgd(0.1), max_consecutive=0)
    updates, state = opt.update({"w": jnp.array([jnp.nan])}, opt.init({"w": jnp.zeros(1)}))
    assert np.isnan(np.asarray(updates["w"])).all() and int(state.skipped) == 0


def test_on_limit_raise_eager():
    opt = skip_nonfinite(jl.adam(), max_consecutive=1, on_limit="raise")
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    bad = {"w": jnp.array([jnp.inf, 0.0])}
    _, state = opt.update(bad, state, params)  # the first is skipped
    with pytest.raises(NonFiniteGradientError, match="2 consecutive steps .* max_consecutive=1"):
        opt.update(bad, state, params)


def test_on_limit_raise_under_jit_surfaces_as_runtime_error():
    opt = skip_nonfinite(jl.adam(), max_consecutive=1, on_limit="raise")
    params = {"w": jnp.ones(2)}
    step = jax.jit(opt.update)
    bad, good = {"w": jnp.array([jnp.nan, 0.0])}, {"w": jnp.ones(2)}
    _, state = step(bad, opt.init(params), params)
    _, state = step(good, state, params)  # a finite step resets the run
    _, state = step(bad, state, params)
    assert int(state.consecutive) == 1 and int(state.skipped) == 2
    with pytest.raises(RuntimeError, match="consecutive steps with NaN/inf gradients"):
        jax.block_until_ready(step(bad, state, params))


def test_grads_in_a_scan_and_vmap():
    opt = skip_nonfinite(jl.momentum(0.1), max_consecutive=5)
    params = {"w": jnp.ones(3)}
    gs = jnp.array([[1.0, 1, 1], [jnp.nan, 1, 1], [1, 1, 1]])

    def body(carry, g):
        p, s = carry
        u, s = opt.update({"w": g}, s, p)
        return (jl.apply_updates(p, u), s), None

    (p, s), _ = jax.lax.scan(body, (params, opt.init(params)), gs)
    assert int(s.skipped) == 1 and np.isfinite(np.asarray(p["w"])).all()
    # vmap over a batch of independent runs: the skip decision is per run
    batched = jax.vmap(lambda g: opt.update({"w": g}, opt.init(params), params)[1].skipped)(gs)
    np.testing.assert_array_equal(batched, [0, 1, 0])


def test_all_finite_ignores_none_ints_and_empty():
    assert bool(all_finite({"a": None, "b": jnp.arange(3), "c": jnp.zeros((0,))}))
    assert bool(all_finite([]))
    assert not bool(all_finite([jnp.array([1.0, -jnp.inf], jnp.bfloat16)]))
    assert not bool(all_finite({"z": jnp.array([1 + 0j, complex(np.nan, 0)])}))


def test_state_is_a_namedtuple_and_init_is_pure():
    opt = skip_nonfinite(jl.adagrad())
    s = opt.init({"w": jnp.ones(2)})
    assert isinstance(s, SkipNonfiniteState)
    assert s._fields == ("inner_state", "consecutive", "skipped", "nonfinite")
    assert isinstance(opt, optax.GradientTransformation)


def test_wrong_state_type():
    opt = skip_nonfinite(jl.sgd())
    with pytest.raises(TypeError, match="state must be a SkipNonfiniteState"):
        opt.update({"w": jnp.ones(1)}, jl.sgd().init({"w": jnp.ones(1)}))
