"""The fast paths: fused update_and_apply and flat (multi-tensor) mode."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn.optim as jo
from jaxlearn.optim import RULES
from jaxlearn.optim.flat import FlatBuffers, flat, ravel
from tests.rule_cases import CASES

NAMES = list(RULES)


def mixed_tree(seed=0):
    """Nested dicts/lists/tuples, a None leaf, a scalar, float32 and bfloat16 leaves."""
    rng = np.random.default_rng(seed)

    def a(shape, dtype=jnp.float32):
        return jnp.asarray(rng.normal(size=shape), dtype)

    return {
        "layer": {"W": a((3, 4)), "b": a(4), "gamma": a(4, jnp.bfloat16)},
        "blocks": [a(2), None, a((5, 1), jnp.bfloat16)],
        "pair": (a((2, 2)), a(())),
    }


def grads_like(tree, seed):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), tree)


def make(name):
    return RULES[name](**CASES[name].custom)


def close(a, b):
    """Equal leaf by leaf to float rounding of each leaf's dtype (None leaves must match)."""
    la, ta = jax.tree.flatten(a, is_leaf=lambda x: x is None)
    lb, tb = jax.tree.flatten(b, is_leaf=lambda x: x is None)
    assert ta == tb
    for x, y in zip(la, lb):
        if x is None:
            assert y is None
            continue
        assert x.dtype == y.dtype and x.shape == y.shape
        tol = 1e-2 if x.dtype == jnp.bfloat16 else 1e-6
        np.testing.assert_allclose(
            np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=tol, atol=tol
        )


def run_tree(opt, params, steps, fused):
    state = opt.init(params)
    for k in range(steps):
        g = grads_like(params, 100 + k)
        if fused:
            params, state = jo.update_and_apply(opt, g, state, params)
        else:
            u, state = opt.update(g, state, params)
            params = optax.apply_updates(params, u)
    return params, state


@pytest.mark.parametrize("name", NAMES)
def test_update_and_apply_equals_update_then_apply(name):
    params = mixed_tree()
    ref, ref_state = run_tree(make(name), params, 3, fused=False)
    got, got_state = jax.jit(lambda p: run_tree(make(name), p, 3, fused=True))(params)
    close(got, ref)
    close(got_state, ref_state)
    assert int(got_state.count) == 3


@pytest.mark.parametrize("name", ["sgd", "momentum"])
def test_fused_addition_is_bitwise_w_plus_update(name):
    """The fused ``W + ΔW`` multiplies ΔW by a 1 hidden from XLA (a speed trick): it must
    stay bit-for-bit ``W + ΔW``, signed zeros, infinities and NaNs included."""
    opt = RULES[name](lr=1.0)
    params = {"w": jnp.array([-0.0, 0.0, -0.0, 1.5, jnp.inf, -jnp.inf, jnp.nan, 3e-39])}
    grads = {"w": jnp.array([0.0, -0.0, -0.0, 1e-8, 1.0, -jnp.inf, 0.0, -1e-45])}
    state = opt.init(params)
    u, _ = opt.update(grads, state, params)
    want = np.asarray(params["w"] + u["w"])
    for fn in (jo.update_and_apply, jax.jit(jo.update_and_apply, static_argnums=0)):
        got = np.asarray(fn(opt, grads, state, params)[0]["w"])
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_update_and_apply_falls_back_for_plain_optax():
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.1))
    params = {"w": jnp.arange(3.0), "b": jnp.ones(2)}
    grads = {"w": jnp.array([3.0, -4.0, 0.0]), "b": jnp.ones(2)}
    state = opt.init(params)
    u, ref_state = opt.update(grads, state, params)
    new, new_state = jo.update_and_apply(opt, grads, state, params)
    close(new, optax.apply_updates(params, u))
    close(new_state, ref_state)
    assert not np.allclose(new["w"], params["w"])


@pytest.mark.parametrize("name", NAMES)
def test_flat_mode_equals_tree_mode(name):
    params = mixed_tree()
    ref, ref_state = run_tree(make(name), params, 3, fused=False)
    fopt = flat(make(name))
    # tree in, tree out
    got, _ = run_tree(fopt, params, 3, fused=False)
    close(got, ref)
    # FlatBuffers in and out, fused, under jit
    fparams, unravel = ravel(params)
    state = fopt.init(fparams)

    @jax.jit
    def step(fp, s, fg):
        return jo.update_and_apply(fopt, fg, s, fp)

    for k in range(3):
        fparams, state = step(fparams, state, ravel(grads_like(params, 100 + k))[0])
    assert isinstance(fparams, FlatBuffers) and set(fparams) == {"bfloat16", "float32"}
    close(unravel(fparams), ref)
    for slot in make(name).rule.slots:
        close(unravel(getattr(state, slot)), getattr(ref_state, slot))


def test_ravel_round_trip_and_grad_wrt_flat_buffer():
    tree = mixed_tree()
    fb, unravel = ravel(tree)
    assert fb["float32"].shape == (12 + 4 + 2 + 4 + 1,)
    assert fb["bfloat16"].dtype == jnp.bfloat16 and fb["bfloat16"].shape == (4 + 5,)
    back = unravel(fb)
    close(back, tree)
    np.testing.assert_array_equal(back["layer"]["W"], tree["layer"]["W"])

    def loss(t):
        return (
            jnp.sum(t["layer"]["W"] ** 2)
            + jnp.sum(jnp.sin(t["blocks"][0]))
            + jnp.sum(t["blocks"][2].astype(jnp.float32) ** 3)
            + t["pair"][1] * jnp.sum(t["layer"]["gamma"].astype(jnp.float32))
        )

    g_flat = jax.grad(lambda f: loss(unravel(f)))(fb)
    g_tree_flat, _ = ravel(jax.grad(loss)(tree))
    assert set(g_flat) == set(g_tree_flat)
    for k in g_flat:
        np.testing.assert_allclose(
            np.asarray(g_flat[k], np.float32), np.asarray(g_tree_flat[k], np.float32), rtol=1e-6
        )
    with pytest.raises(ValueError, match="float32"):
        unravel(FlatBuffers({"float32": jnp.zeros(3), "bfloat16": fb["bfloat16"]}))


def test_flat_rejects_non_rules():
    with pytest.raises(TypeError, match="element-wise rule"):
        flat(optax.adam(1e-3))


def test_donation_deletes_inputs_and_does_not_retrace():
    opt = jo.adam(0.01)
    traces = []

    def loss(p, x):
        traces.append(1)
        return jnp.sum((p["w"] * x - 1.0) ** 2)

    step = jo.make_step(opt, loss)
    params = {"w": jnp.ones(1000)}
    state = opt.init(params)
    old_w, old_m = params["w"], state.m["w"]
    x = jnp.full(1000, 2.0)
    params, state, loss0 = step(params, state, x)
    assert old_w.is_deleted() and old_m.is_deleted()
    assert not x.is_deleted()
    params, state, loss1 = step(params, state, x)
    assert len(traces) == 1  # the second step reuses the compiled function
    assert float(loss1) < float(loss0) == 1000.0

    fstep = jo.fused_step(opt)
    g = {"w": jnp.ones(1000)}
    before = params["w"]
    params, state = fstep(params, state, g)
    params, state = fstep(params, state, g)
    assert before.is_deleted() and not g["w"].is_deleted()
    assert fstep._cache_size() == 1
    assert int(state.count) == 4


def test_flat_fused_step_with_donation():
    opt = flat(jo.momentum(0.1))
    fparams, unravel = ravel({"a": jnp.ones(3), "b": jnp.ones((2, 2))})
    state = opt.init(fparams)
    step = jo.fused_step(opt)
    fgrads = FlatBuffers({"float32": jnp.ones(7)})
    old = fparams["float32"]
    fparams, state = step(fparams, state, fgrads)
    fparams, state = step(fparams, state, fgrads)
    assert old.is_deleted()
    # v1 = -0.1, v2 = -0.19: W = 1 - 0.29
    np.testing.assert_allclose(unravel(fparams)["b"], np.full((2, 2), 0.71), rtol=1e-6)
    assert step._cache_size() == 1
