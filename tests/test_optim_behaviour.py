"""jit/vmap/grad behaviour, convergence, optax interop and pytree shapes of the update rules."""

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from tests.optim_trees import grad_stream, nested_params
from tests.rule_cases import CASES, NAMES

RULES = NAMES


def f32(tree):
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


@pytest.mark.parametrize("name", RULES)
def test_jit_equals_eager(name):
    params = f32(nested_params())
    grads = grad_stream(params, 6)
    opt = jl.RULES[name](lr=0.05)

    eager_state, jit_state = opt.init(params), opt.init(params)
    jitted = jax.jit(opt.update)
    for g in grads:
        ue, eager_state = opt.update(g, eager_state, params)
        uj, jit_state = jitted(g, jit_state, params)
        chex.assert_trees_all_close(ue, uj, rtol=1e-6, atol=1e-7)
    chex.assert_trees_all_close(eager_state, jit_state, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", RULES)
def test_vmap_over_a_stack_of_models_equals_a_loop(name):
    k = 4
    models = [f32(nested_params(seed=s)) for s in range(k)]
    grads = [grad_stream(m, 5, seed=10 + s) for s, m in enumerate(models)]
    opt = jl.RULES[name](lr=0.05)

    def train(params, gs):
        state = opt.init(params)
        for g in gs:
            u, state = opt.update(g, state, params)
            params = jl.apply_updates(params, u)
        return params

    loop = [jax.jit(train)(m, g) for m, g in zip(models, grads)]
    stack = lambda trees: jax.tree.map(lambda *x: jnp.stack(x), *trees)  # noqa: E731
    stacked_grads = [stack([grads[s][i] for s in range(k)]) for i in range(5)]
    batched = jax.jit(jax.vmap(train))(stack(models), stacked_grads)
    chex.assert_trees_all_close(batched, stack(loop), rtol=1e-6, atol=1e-7)


def test_vmap_over_learning_rates():
    """A stack of configurations: one model, K learning rates, one compiled program."""
    lrs = jnp.array([0.0, 0.1, 0.2])

    def one(lr):
        opt = jl.sgd(lr=lr)
        u, _ = opt.update(jnp.ones(2), opt.init(jnp.zeros(2)))
        return u

    np.testing.assert_allclose(jax.vmap(one)(lrs), -lrs[:, None] * np.ones((3, 2)))


@pytest.mark.parametrize("name", RULES)
def test_no_recompilation_on_the_second_step(name):
    opt = jl.RULES[name]()
    params = f32(nested_params())
    traces = []

    @jax.jit
    def step(params, state, g):
        traces.append(1)  # runs only while tracing
        u, state = opt.update(g, state, params)
        return jl.apply_updates(params, u), state

    state = opt.init(params)
    for g in grad_stream(params, 3):
        params, state = step(params, state, g)
    assert len(traces) == 1
    assert step._cache_size() == 1


@pytest.mark.parametrize("name", RULES)
def test_converges_on_a_parabola(name):
    loss = lambda w: jnp.sum((w - jnp.array([3.0, -1.0])) ** 2)  # noqa: E731
    opt = jl.RULES[name](lr=CASES[name].converge_lr)
    w = jnp.zeros(2)

    @jax.jit
    def run(w):
        def body(carry, _):
            w, s = carry
            u, s = opt.update(jax.grad(loss)(w), s, w)
            return (jl.apply_updates(w, u), s), None

        return jax.lax.scan(body, (w, opt.init(w)), None, length=2000)[0][0]

    np.testing.assert_allclose(run(w), [3.0, -1.0], atol=2e-2)


@pytest.mark.parametrize(
    "name,lr,steps",
    [
        ("momentum", 1e-3, 5000),
        ("nesterov", 1e-3, 5000),
        ("adam", 2e-2, 5000),
        ("rmsprop", 1e-3, 20000),
        ("adagrad", 0.3, 20000),
    ],
)
def test_converges_on_rosenbrock(name, lr, steps):
    rosen = lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2  # noqa: E731
    opt = jl.RULES[name](lr=lr)

    @jax.jit
    def run(p):
        def body(carry, _):
            p, s = carry
            u, s = opt.update(jax.grad(rosen)(p), s, p)
            return (jl.apply_updates(p, u), s), None

        return jax.lax.scan(body, (p, opt.init(p)), None, length=steps)[0][0]

    p = run(jnp.array([-1.5, 2.0]))
    assert float(rosen(p)) < 1e-2, (name, p)
    np.testing.assert_allclose(p, [1.0, 1.0], atol=0.1)


def test_inside_optax_chain_with_optax_apply_updates():
    params = {"w": jnp.array([3.0, -4.0])}
    grads = {"w": jnp.array([30.0, -40.0])}  # norm 50
    chain = optax.chain(optax.clip_by_global_norm(5.0), jl.sgd(lr=0.1))
    updates, _ = chain.update(grads, chain.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.3, 0.4], rtol=1e-6)  # clipped to norm 5
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new["w"], [2.7, -3.6], rtol=1e-6)


def test_inject_hyperparams_adam():
    params = {"w": jnp.array([1.0, -2.0]), "b": jnp.zeros(3)}
    grads = grad_stream(f32(params), 5)
    injected = optax.inject_hyperparams(jl.adam)(lr=0.01)
    plain = jl.adam(lr=0.01)
    s_inj, s_plain = injected.init(params), plain.init(params)
    step_inj = jax.jit(injected.update)
    for g in grads:
        u_inj, s_inj = step_inj(g, s_inj, params)
        u_plain, s_plain = plain.update(g, s_plain, params)
        chex.assert_trees_all_close(u_inj, u_plain, rtol=1e-6)
    # Changing the injected learning rate takes effect without recompiling.
    s_inj.hyperparams["lr"] = jnp.asarray(0.02, jnp.float32)  # same dtype: no retrace
    u_double, _ = step_inj(grads[0], s_inj, params)
    u_ref, _ = plain.update(grads[0], s_plain, params)
    chex.assert_trees_all_close(u_double, jax.tree.map(lambda u: 2 * u, u_ref), rtol=1e-6)
    assert step_inj._cache_size() == 1


def test_inject_hyperparams_with_a_schedule():
    injected = optax.inject_hyperparams(jl.momentum)(lr=optax.linear_schedule(0.1, 0.0, 10))
    state = injected.init(jnp.zeros(1))
    u, state = injected.update(jnp.ones(1), state, jnp.zeros(1))
    np.testing.assert_allclose(u, [-0.1], rtol=1e-6)
    u, state = injected.update(jnp.ones(1), state, jnp.zeros(1))
    np.testing.assert_allclose(u, [0.9 * -0.1 - 0.09], rtol=1e-6)


class Layer(NamedTuple):
    w: object
    b: object


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize(
    "tree",
    [
        {},
        [],
        (),
        {"a": None},
        [jnp.ones(2), None],
        Layer(w=jnp.ones((2, 2)), b=None),
        {"x": {"y": [jnp.ones(3), (jnp.ones(()), None)]}},
        jnp.ones(4),
    ],
    ids=["dict0", "list0", "tuple0", "only-none", "list-none", "namedtuple", "nested", "bare"],
)
def test_any_pytree(name, tree):
    opt = jl.RULES[name]()
    state = opt.init(tree)
    grads = jax.tree.map(lambda x: jnp.full_like(x, 0.5), tree)
    updates, new_state = jax.jit(opt.update)(grads, state, tree)
    chex.assert_trees_all_equal_structs(updates, tree)
    new = jl.apply_updates(tree, updates)
    chex.assert_trees_all_equal_shapes_and_dtypes(new, tree)
    for leaf in jax.tree.leaves(updates):
        assert np.all(np.asarray(leaf) < 0)  # a positive gradient moves every leaf down
    assert int(new_state.count) == 1


@pytest.mark.parametrize("name", RULES)
def test_state_is_a_small_namedtuple_per_rule(name):
    state = jl.RULES[name]().init({"w": jnp.ones(2)})
    assert isinstance(state, tuple) and type(state)._fields == CASES[name].state_fields


def test_grad_through_an_update():
    """The update is differentiable (meta-learning a learning rate)."""

    def after_one_step(lr):
        opt = jl.sgd(lr=lr)
        w = jnp.array([2.0])
        u, _ = opt.update(2 * w, opt.init(w), w)
        return jnp.sum(jl.apply_updates(w, u) ** 2)  # (2 - 4 lr)^2

    np.testing.assert_allclose(jax.grad(after_one_step)(0.1), 2 * (2 - 0.4) * -4, rtol=1e-6)
