"""Complex parameters: the relations tests/test_optim_optax.py proves for real trees, on
complex ones (optax's semantics: first moments complex, second moments from g·conj(g), real)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn.optim import flat
from jaxlearn.optim.fused import update_and_apply
from tests.optim_trees import grad_stream, nested_params
from tests.rule_cases import CASES, NAMES

STEPS = 10


def complex_tree(dtype=np.complex128, seed=0):
    """nested_params with complex leaves, except one real leaf (a mixed tree)."""
    re, im = nested_params(seed=seed), nested_params(seed=seed + 7)
    tree = jax.tree.map(lambda a, b: np.asarray(a + 1j * b, dtype), re, im)
    tree["real"] = np.linspace(-1, 1, 3).astype(np.finfo(dtype).dtype)
    return tree


def complex_stream(params, steps):
    re, im = grad_stream(params, steps, seed=1), grad_stream(params, steps, seed=2)
    return [
        jax.tree.map(lambda a, b, p: np.asarray(a + 1j * b, p.dtype) if np.iscomplexobj(p) else a,
                     r, i, params)
        for r, i in zip(re, im)
    ]  # fmt: skip


def run(opt, params, grads):
    state, update = opt.init(params), jax.jit(opt.update)
    out = []
    for g in grads:
        u, state = update(g, state, params)
        out.append(u)
    return out, state


def assert_close(a, b, rtol=1e-9, atol=1e-13):
    for ua, ub in zip(a, b, strict=True):
        for la, lb in zip(jax.tree.leaves(ua), jax.tree.leaves(ub), strict=True):
            assert la.dtype == lb.dtype
            np.testing.assert_allclose(la, lb, rtol=rtol, atol=atol)


@pytest.fixture
def stream(x64):
    params = complex_tree()
    return params, complex_stream(params, STEPS)


# Each rule's optax twin (tests/rule_cases.py), and RMSprop's options: equal to rounding. optax
# computes 1/√h in complex arithmetic (its h is complex with a zero imaginary part), jaxlearn in
# real.
TWINS = {name: CASES[name].optax_twin for name in NAMES}
TWINS["rmsprop(momentum, centered)"] = (
    lambda: jl.rmsprop(0.02, 0.95, 1e-4, momentum=0.9, centered=True),
    lambda: optax.rmsprop(
        0.02, decay=0.95, eps=1e-4, eps_in_sqrt=False, momentum=0.9, centered=True
    ),
)
#: jaxlearn's second-moment field -> where optax keeps it (complex, imaginary part 0)
SECOND_MOMENTS = {name: CASES[name].second_moment for name in NAMES if CASES[name].second_moment}
SECOND_MOMENTS["rmsprop(momentum, centered)"] = SECOND_MOMENTS["rmsprop"]


@pytest.mark.parametrize("name", list(TWINS))
def test_complex_rules_are_their_optax_twins(stream, name):
    params, grads = stream
    ours, theirs = (make() for make in TWINS[name])
    u_ours, s_ours = run(ours, params, grads)
    u_theirs, s_theirs = run(theirs, params, grads)
    assert_close(u_ours, u_theirs)
    assert u_ours[0]["layer"]["W"].dtype == jnp.complex128
    assert float(jnp.max(jnp.abs(u_ours[-1]["layer"]["W"].imag))) > 1e-3  # not just real parts
    if name in SECOND_MOMENTS:
        field, of_optax = SECOND_MOMENTS[name]
        got, want = getattr(s_ours, field), of_optax(s_theirs)
        assert got["layer"]["W"].dtype == jnp.float64  # stored real: half of optax's memory
        assert got["real"].dtype == jnp.float64
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(np.imag(w), 0)
            np.testing.assert_allclose(g, np.real(w), rtol=1e-12)


def test_complex_adam_is_optax_adam_with_a_step_dependent_eps(stream):
    """Book Adam(ε) = optax Adam(ε_t), ε_t = ε / √(1 − β2^t), on complex trees as on real."""
    params, grads = stream
    eps, b1, b2 = 1e-3, 0.9, 0.999
    ours, _ = run(jl.adam(lr=0.01, eps=eps), params, grads[:4])
    state = optax.adam(0.01).init(params)
    for t, (g, u) in enumerate(zip(grads[:4], ours), start=1):
        eps_t = eps / np.sqrt(1 - b2**t)
        theirs, state = optax.adam(0.01, b1=b1, b2=b2, eps=eps_t).update(g, state, params)
        assert_close([u], [theirs])


def test_complex_momentum_states_are_complex_and_equal_to_optax_trace(stream):
    params, grads = stream
    _, s_ours = run(jl.momentum(0.03, 0.85), params, grads)
    _, s_theirs = run(optax.sgd(0.03, momentum=0.85), params, grads)
    for v, t in zip(jax.tree.leaves(s_ours.velocity), jax.tree.leaves(s_theirs[0].trace)):
        assert v.dtype == t.dtype
        np.testing.assert_allclose(v, -0.03 * t, rtol=1e-9, atol=1e-13)  # v = −η t


@pytest.mark.parametrize("name", ["nesterov", "adagrad", "adam"])  # complex, real, both slots
def test_complex64_update_and_apply_and_flat_equal_update(name):
    """complex64 (float32 arithmetic): the fused and the flat paths give the tree path's
    numbers (to float32 rounding: XLA fuses W + ΔW differently) and keep every dtype."""
    params = jax.tree.map(jnp.asarray, complex_tree(np.complex64))
    grads = complex_stream(params, 3)
    opt = jl.RULES[name](lr=0.05)
    state, fstate = opt.init(params), flat(opt).init(params)
    step = jax.jit(lambda g, s, p: update_and_apply(opt, g, s, p))
    fstep = jax.jit(lambda g, s, p: flat(opt).update_and_apply(g, s, p))
    ustep = jax.jit(opt.update)
    p_fused = p_flat = p_tree = params
    for g in grads:
        p_fused, state_fused = step(g, state, p_fused)
        p_flat, fstate = fstep(g, fstate, p_flat)
        u, state = ustep(g, state, p_tree)
        p_tree = jl.apply_updates(p_tree, u)
        del state_fused
    for a, b, c in zip(*(jax.tree.leaves(t) for t in (p_fused, p_flat, p_tree)), strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(b, c, rtol=1e-6, atol=1e-7)
        assert a.dtype == b.dtype == c.dtype
    assert p_tree["layer"]["W"].dtype == jnp.complex64
    assert p_tree["real"].dtype == jnp.float32


def test_complex64_matches_optax_closely():
    params = jax.tree.map(jnp.asarray, complex_tree(np.complex64))
    grads = complex_stream(params, 10)
    for name in ("adam",):
        ours, theirs = (make() for make in TWINS[name])
        assert_close(run(ours, params, grads)[0], run(theirs, params, grads)[0], 2e-5, 1e-6)


def test_complex_params_under_inject_hyperparams():
    """inject_hyperparams casts hyper-parameters to the params' (complex) dtype: accepted."""
    params = {"z": jnp.array([1 + 2j, -0.5j], jnp.complex64)}
    grads = complex_stream(params, 3)
    injected, _ = run(optax.inject_hyperparams(jl.adam)(lr=0.01), params, grads)
    plain, _ = run(jl.adam(lr=0.01), params, grads)
    assert_close(injected, plain, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match=r"lr must be real, got \(0\.0099.*\+1j\)"):
        jl.sgd(lr=jnp.asarray(0.01 + 1j))
