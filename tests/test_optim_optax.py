"""The relations between the book's rules and optax (docs/book.md, "Relations to optax"), each
proven."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from tests.optim_trees import grad_stream, nested_params

STEPS = 50


def updates_of(opt, params, grads):
    """The list of update trees ``opt`` produces for a gradient stream (params fixed)."""
    state = opt.init(params)
    update = jax.jit(opt.update)
    out = []
    for g in grads:
        u, state = update(g, state, params)
        out.append(u)
    return out


def assert_same_updates(a, b, rtol=1e-9, atol=1e-13):
    for ua, ub in zip(a, b, strict=True):
        chex_leaves = zip(jax.tree.leaves(ua), jax.tree.leaves(ub), strict=True)
        for la, lb in chex_leaves:
            np.testing.assert_allclose(la, lb, rtol=rtol, atol=atol)


def max_rel_diff(a, b):
    return max(
        float(np.max(np.abs(la - lb) / (np.abs(lb) + 1e-30)))
        for ua, ub in zip(a, b)
        for la, lb in zip(jax.tree.leaves(ua), jax.tree.leaves(ub))
    )


@pytest.fixture
def stream(x64):
    params = nested_params()
    return params, grad_stream(params, STEPS)


def test_sgd_is_optax_sgd(stream):
    params, grads = stream
    assert_same_updates(
        updates_of(jl.sgd(0.05), params, grads), updates_of(optax.sgd(0.05), params, grads)
    )


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_and_nesterov_are_optax_sgd_with_momentum(stream, nesterov):
    params, grads = stream
    ours = (jl.nesterov if nesterov else jl.momentum)(lr=0.03, momentum=0.85)
    theirs = optax.sgd(0.03, momentum=0.85, nesterov=nesterov)
    assert_same_updates(updates_of(ours, params, grads), updates_of(theirs, params, grads))


def test_momentum_with_a_schedule_follows_the_book_not_optax(stream):
    """With a schedule, the book scales only the newest gradient by η_t; optax the whole trace."""
    params, grads = stream
    schedule = optax.piecewise_constant_schedule(0.1, {10: 0.25})
    ours = updates_of(jl.momentum(lr=schedule), params, grads)
    theirs = updates_of(optax.sgd(schedule, momentum=0.9), params, grads)
    assert_same_updates(ours[:10], theirs[:10])  # constant η so far: equal
    assert max_rel_diff(ours[10:], theirs[10:]) > 0.1  # after the drop they part ways
    # ... and ours is the book's formula, written out: v_{t} = α v_{t-1} − η_t g_t.
    v = jax.tree.map(np.zeros_like, params)
    for t, (g, u) in enumerate(zip(grads, ours)):
        eta = float(schedule(t))
        v = jax.tree.map(lambda v, g, eta=eta: 0.9 * v - eta * g, v, g)
        for lu, lv in zip(jax.tree.leaves(u), jax.tree.leaves(v)):
            np.testing.assert_allclose(lu, lv, rtol=1e-9, atol=1e-13)


def test_rmsprop_is_optax_rmsprop_with_eps_outside_the_root(stream):
    params, grads = stream
    ours = updates_of(jl.rmsprop(lr=0.02, decay_rate=0.95, eps=1e-4), params, grads)
    theirs = updates_of(optax.rmsprop(0.02, decay=0.95, eps=1e-4, eps_in_sqrt=False), params, grads)
    assert_same_updates(ours, theirs)
    # optax's default puts eps inside the root: a visible difference with this eps.
    default = updates_of(optax.rmsprop(0.02, decay=0.95, eps=1e-4), params, grads)
    assert max_rel_diff(ours, default) > 1e-3


def test_adam_without_eps_is_optax_adam(stream):
    params, grads = stream
    ours = updates_of(jl.adam(lr=0.01, beta1=0.8, beta2=0.99, eps=0.0), params, grads)
    theirs = updates_of(optax.adam(0.01, b1=0.8, b2=0.99, eps=0.0), params, grads)
    assert_same_updates(ours, theirs, rtol=1e-9)


def test_adam_is_optax_adam_with_a_step_dependent_eps(stream):
    """Book Adam(ε) = optax Adam(ε_t) with ε_t = ε / √(1 − β2^t), step by step."""
    params, grads = stream
    eps, b1, b2 = 1e-3, 0.9, 0.999  # a large ε so the difference is far above rounding
    ours = updates_of(jl.adam(lr=0.01, eps=eps), params, grads)
    state = optax.adam(0.01).init(params)  # optax's moments do not depend on ε
    for t, (g, u) in enumerate(zip(grads, ours), start=1):
        eps_t = eps / np.sqrt(1 - b2**t)
        theirs, state = optax.adam(0.01, b1=b1, b2=b2, eps=eps_t).update(g, state, params)
        assert_same_updates([u], [theirs], rtol=1e-9)
    # A constant ε would not do: the plain optax.adam(eps) differs.
    assert max_rel_diff(ours, updates_of(optax.adam(0.01, eps=eps), params, grads)) > 1e-3


def test_adagrad_without_eps_is_optax_adagrad_from_zero(stream):
    params, grads = stream
    ours = updates_of(jl.adagrad(lr=0.05, eps=0.0), params, grads)
    theirs = updates_of(optax.adagrad(0.05, initial_accumulator_value=0.0, eps=0.0), params, grads)
    assert_same_updates(ours, theirs)
    # optax's defaults (h starts at 0.1, eps inside the root) differ from the book.
    default = updates_of(optax.adagrad(0.05), params, grads)
    assert max_rel_diff(updates_of(jl.adagrad(lr=0.05), params, grads), default) > 1e-3


def test_float32_matches_optax_closely():
    """Without x64 the same relations hold to float32 rounding."""
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), nested_params())
    grads = grad_stream(params, 20)
    ours = updates_of(jl.adam(lr=0.01, eps=0.0), params, grads)
    theirs = updates_of(optax.adam(0.01, eps=0.0), params, grads)
    assert_same_updates(ours, theirs, rtol=2e-5, atol=1e-7)
