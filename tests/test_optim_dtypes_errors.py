"""Dtypes kept (and finite) in low precision; every bad input raises the stated error."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl

RULES = list(jl.RULES)


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_low_precision_training_keeps_dtype_and_stays_finite(name, dtype):
    target = jnp.linspace(-2, 2, 16).astype(dtype)
    params = {"w": jnp.zeros(16, dtype), "b": jnp.ones((2, 3), dtype)}
    opt = jl.RULES[name](lr=0.05)
    loss = lambda p: jnp.sum((p["w"] - target) ** 2) + jnp.sum(p["b"] ** 2)  # noqa: E731

    @jax.jit
    def step(params, state):
        updates, state = opt.update(jax.grad(loss)(params), state, params)
        return jl.apply_updates(params, updates), state, updates

    state = opt.init(params)
    for _ in range(300):
        params, state, updates = step(params, state)
    for tree in (params, updates, {k: v for k, v in state._asdict().items() if k != "count"}):
        for leaf in jax.tree.leaves(tree):
            assert leaf.dtype == dtype
            assert bool(jnp.all(jnp.isfinite(leaf)))
    # It trained: the loss fell well below its start (32 + 6 = 38 for w=0, b=1).
    assert float(loss(jax.tree.map(lambda x: x.astype(jnp.float32), params))) < 5.0


def test_adam_bias_correction_survives_bf16():
    """In bf16 0.999 rounds to 1.0; the powers are computed in float32, so step 1 is ≈ η."""
    u, _ = jl.adam(lr=0.1).update(
        jnp.ones(3, jnp.bfloat16), jl.adam().init(jnp.zeros(3, jnp.bfloat16))
    )
    assert u.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(u, np.float32), -0.1, rtol=1e-2)


def test_float64_under_x64(x64):
    params = jnp.ones(3, jnp.float64)
    u, s = jl.adam().update(jnp.full(3, 0.1), jl.adam().init(params), params)
    assert u.dtype == jnp.float64 and s.m.dtype == jnp.float64
    assert s.count.dtype == jnp.int32


# ---------------------------------------------------------------- hyper-parameters out of range


@pytest.mark.parametrize(
    "factory,kwargs,message",
    [
        (jl.momentum, {"momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
        (jl.momentum, {"momentum": -0.1}, "momentum must be in"),
        (jl.nesterov, {"momentum": 1.5}, "momentum must be in"),
        (jl.rmsprop, {"decay_rate": 1.0}, "decay_rate must be in"),
        (jl.rmsprop, {"decay_rate": -0.5}, "decay_rate must be in"),
        (jl.adam, {"beta1": 1.0}, "beta1 must be in"),
        (jl.adam, {"beta2": 1.2}, "beta2 must be in"),
        (jl.adam, {"beta2": float("nan")}, "beta2 must be in"),
        (jl.adam, {"eps": -1e-8}, "eps must be a finite number >= 0"),
        (jl.adagrad, {"eps": -1.0}, "eps must be"),
        (jl.rmsprop, {"eps": -1.0}, "eps must be"),
        (jl.sgd, {"lr": -0.1}, "lr must be a finite number >= 0"),
        (jl.adam, {"lr": float("inf")}, "lr must be"),
        (jl.adam, {"lr": jnp.asarray(-1.0)}, "lr must be"),
        (jl.sgd, {"lr": jnp.ones(2)}, r"lr must be a scalar, got an array of shape \(2,\)"),
    ],
)
def test_out_of_range_hyperparameters_raise_at_construction(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)


def test_bool_hyperparameter_is_a_type_error():
    with pytest.raises(TypeError, match="momentum must be a number"):
        jl.momentum(momentum=True)


def test_checks_accept_arrays_and_tracers():
    jl.adam(lr=jnp.asarray(0.1), beta1=np.float32(0.5))  # concrete arrays: checked, fine
    # Tracers cannot be range-checked (their value is unknown), so construction succeeds.
    jax.jit(lambda b: jl.adam(beta1=b).init(jnp.zeros(1)).count)(jnp.asarray(2.0))
    # ... and eagerly, inject_hyperparams hands concrete arrays, which are checked.
    with pytest.raises(ValueError, match="beta1 must be in"):
        optax.inject_hyperparams(jl.adam)(beta1=1.5).init(jnp.zeros(1))


def test_schedule_learning_rate_is_accepted():
    jl.adam(lr=optax.cosine_decay_schedule(0.1, 100))
    jl.sgd(lr=lambda step: 0.1 / (1 + step))


# ------------------------------------------------------------------------- grads versus state

PARAMS = {"encoder": {"W": jnp.ones((3, 4)), "b": jnp.ones(4)}, "head": [jnp.ones(2), None]}


@pytest.mark.parametrize("name", RULES)
def test_grads_with_a_missing_key_name_the_path(name):
    opt = jl.RULES[name]()
    bad = {"encoder": {"W": jnp.ones((3, 4))}, "head": [jnp.ones(2), None]}
    with pytest.raises(ValueError, match=r"\['encoder'\]\['b'\]"):
        opt.update(bad, opt.init(PARAMS), PARAMS)


@pytest.mark.parametrize("name", RULES)
def test_grads_with_a_wrong_shape_name_the_leaf(name):
    opt = jl.RULES[name]()
    bad = {"encoder": {"W": jnp.ones((4, 3)), "b": jnp.ones(4)}, "head": [jnp.ones(2), None]}
    with pytest.raises(
        ValueError,
        match=r"grads\['encoder'\]\['W'\] has shape \(4, 3\) but "
        r".* expects \(3, 4\)",
    ):
        opt.update(bad, opt.init(PARAMS), PARAMS)


def test_structure_is_checked_against_the_state_without_params():
    opt = jl.adam()
    bad = {"encoder": {"W": jnp.ones((3, 4)), "b": jnp.ones(5)}, "head": [jnp.ones(2), None]}
    with pytest.raises(
        ValueError,
        match=r"grads\['encoder'\]\['b'\] has shape \(5,\) but the "
        r"adam state expects \(4,\)",
    ):
        opt.update(bad, opt.init(PARAMS))


def test_none_against_an_array_is_named():
    opt = jl.momentum()
    bad = {"encoder": {"W": jnp.ones((3, 4)), "b": jnp.ones(4)}, "head": [None, None]}
    with pytest.raises(ValueError, match=r"\['head'\]\[0\] is None"):
        opt.update(bad, opt.init(PARAMS))


def test_extra_leaf_is_named():
    opt = jl.rmsprop()
    bad = {
        "encoder": {"W": jnp.ones((3, 4)), "b": jnp.ones(4)},
        "head": [jnp.ones(2), None],
        "zz": jnp.ones(1),
    }
    with pytest.raises(ValueError, match=r"\['zz'\]"):
        opt.update(bad, opt.init(PARAMS))


@pytest.mark.parametrize("name", RULES)
def test_integer_leaves_are_a_type_error(name):
    opt = jl.RULES[name]()
    with pytest.raises(TypeError, match=r"params\['n'\] has dtype int32"):
        opt.init({"n": jnp.ones(2, jnp.int32)})
    state = opt.init({"n": jnp.ones(2)})
    with pytest.raises(TypeError, match=r"grads\['n'\] has dtype int32"):
        opt.update({"n": jnp.ones(2, jnp.int32)}, state)


def test_wrong_state_type_is_named():
    with pytest.raises(TypeError, match="state must be a AdamState"):
        jl.adam().update(jnp.ones(1), jl.sgd().init(jnp.ones(1)))


def test_apply_updates_names_the_mismatch():
    with pytest.raises(ValueError, match=r"updates\['b'\] has shape \(3,\)"):
        jl.apply_updates({"b": jnp.ones(2)}, {"b": jnp.ones(3)})
