"""jaxlearn.optim.inject_hyperparams: hyper-parameters in the optimizer state, step for step
equal to the rule built with them, vmap-able over init, and keeping the fused step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn.nn.regularization import with_weight_decay
from jaxlearn.optim import RULES, HyperparamsState, inject_hyperparams

PARAMS = {"W": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.array([0.5, -0.25, 2.0])}


def grads(k):
    return jax.tree.map(lambda p: jnp.cos(p * (k + 1)) + 0.1 * k, PARAMS)


def run(opt, steps=4, fused=False):
    params, state = PARAMS, opt.init(PARAMS)
    for k in range(steps):
        if fused:
            params, state = opt.update_and_apply(grads(k), state, params)
        else:
            updates, state = opt.update(grads(k), state, params)
            params = jl.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize("name", list(RULES))
def test_injected_rule_equals_the_rule_built_with_its_arguments(name):
    ref, _ = run(RULES[name](lr=0.05))
    for fused in (False, True):
        got, state = run(inject_hyperparams(RULES[name])(lr=0.05), fused=fused)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref), strict=True):
            np.testing.assert_array_equal(a, b)
        assert isinstance(state, HyperparamsState)
        assert state.hyperparams["lr"].dtype == jnp.float32


def test_vmap_over_init_gives_each_configuration_its_own_value():
    lrs = jnp.array([0.0, 0.1, 0.3])
    injected = inject_hyperparams(jl.momentum)
    states = jax.vmap(lambda lr: injected(lr=lr, momentum=0.5).init(PARAMS))(lrs)
    np.testing.assert_array_equal(states.hyperparams["lr"], lrs)
    stacked = jax.tree.map(lambda p: jnp.stack([p] * 3), PARAMS)
    g = jax.tree.map(lambda p: jnp.stack([p] * 3), grads(0))
    # The update needs no values: it reads them from each configuration's state.
    new, _ = jax.vmap(injected.update_and_apply)(g, states, stacked)
    for i, lr in enumerate(lrs.tolist()):
        ref, _ = run(jl.momentum(lr=lr, momentum=0.5), steps=1)
        for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(ref), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-6)


def test_a_new_value_in_the_state_is_used_without_retracing():
    injected = inject_hyperparams(jl.sgd)
    traces = []

    @jax.jit
    def step(params, state):
        traces.append(1)
        return injected.update_and_apply(grads(0), state, params)

    state = injected(lr=0.1).init(PARAMS)
    a, state = step(PARAMS, state)
    state = state._replace(hyperparams={"lr": jnp.asarray(0.0, jnp.float32)})
    b, _ = step(a, state)
    assert len(traces) == 1
    jax.tree.map(np.testing.assert_array_equal, a, b)  # lr 0: nothing moves


def test_any_factory_and_optax_inject_hyperparams():
    ours, state = run(inject_hyperparams(optax.adam)(learning_rate=0.01))
    plain, _ = run(optax.adam(learning_rate=0.01))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(plain), strict=True):
        np.testing.assert_array_equal(a, b)  # only the given argument moved into the state
    assert list(state.hyperparams) == ["learning_rate"]
    # optax's twin also moves the defaults (b1, b2, eps) into float32 state, so 1 - b1 is
    # rounded in float32 instead of float64 first: equal to float rounding only.
    theirs, _ = run(optax.inject_hyperparams(optax.adam)(learning_rate=0.01))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    # A schedule is passed through to the factory (jaxlearn's rules evaluate it themselves).
    schedule = optax.linear_schedule(0.1, 0.0, 4)
    got, state = run(inject_hyperparams(jl.sgd)(lr=schedule))
    ref, _ = run(jl.sgd(lr=schedule))
    jax.tree.map(np.testing.assert_array_equal, got, ref)
    assert state.hyperparams == {}


def test_with_weight_decay_is_the_books_coupled_decay_before_the_rule():
    lam = 0.1
    ours = inject_hyperparams(with_weight_decay(jl.sgd))(lr=0.5, weight_decay=lam)
    params, state = run(ours, steps=1)
    g = grads(0)
    expected = {
        "W": PARAMS["W"] - 0.5 * (g["W"] + lam * PARAMS["W"]),  # weights decay
        "b": PARAMS["b"] - 0.5 * g["b"],  # biases do not
    }
    for k in expected:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-6)
    assert with_weight_decay(jl.sgd) is with_weight_decay(jl.sgd)  # one wrapper per factory
    assert float(state.hyperparams["weight_decay"]) == pytest.approx(lam)


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="needs a factory"):
        inject_hyperparams(jl.sgd(0.1))
    with pytest.raises(TypeError, match="state must be a HyperparamsState"):
        inject_hyperparams(jl.sgd).update(grads(0), jl.sgd().init(PARAMS))
    with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
        inject_hyperparams(jl.sgd)(lr=-1.0).init(PARAMS)
