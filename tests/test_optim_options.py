"""optax's contract beyond the book: extra update arguments in every wrapper, state dtypes,
RMSprop's momentum and centred options (each against optax on the same inputs)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn.optim import AdamState, RMSpropState, RMSpropVariantState, flat
from jaxlearn.optim import inject_hyperparams as jl_inject
from jaxlearn.optim.fused import update_and_apply
from jaxlearn.optim.nonfinite import skip_nonfinite
from tests.optim_trees import grad_stream, nested_params
from tests.rule_cases import CASES, names_where

RULES = list(jl.RULES)
EXTRA = {"value": jnp.float32(1.5), "grad": None, "value_fn": lambda p: p}  # line-search style


def small_tree(dtype=jnp.float32):
    return {"w": jnp.linspace(-1.0, 1.0, 6, dtype=dtype).reshape(2, 3), "b": jnp.ones(2, dtype)}


def grads_like(tree, seed):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), tree)


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def run(opt, params, grads, jit=False, **extra):
    """Updates and final state of ``opt`` over a gradient stream (params fixed)."""
    update = lambda g, s, p: opt.update(g, s, p, **extra)  # noqa: E731 (extras closed over)
    update = jax.jit(update) if jit else update
    state = opt.init(params)
    out = []
    for g in grads:
        u, state = update(g, state, params)
        out.append(u)
    return out, state


# --- extra arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("name", RULES)
def test_extra_args_are_accepted_and_ignored(name):
    """update, update_and_apply (method and function), flat mode: with extra keyword arguments
    the same bits as without, as optax's GradientTransformationExtraArgs."""
    opt = jl.RULES[name](lr=0.1)
    assert isinstance(opt, optax.GradientTransformationExtraArgs)
    params, grads = small_tree(), grads_like(small_tree(), 0)
    state = opt.init(params)
    want_u, want_s = opt.update(grads, state, params)
    want_p = jl.apply_updates(params, want_u)
    assert_trees_equal(opt.update(grads, state, params, **EXTRA), (want_u, want_s))
    assert_trees_equal(opt.update(grads, state, value=1.0), (want_u, want_s))  # params omitted
    assert_trees_equal(opt.update_and_apply(grads, state, params, **EXTRA), (want_p, want_s))
    assert_trees_equal(update_and_apply(opt, grads, state, params, **EXTRA), (want_p, want_s))
    fopt = flat(opt)
    fstate = fopt.init(params)
    got_u, _ = fopt.update(grads, fstate, params, **EXTRA)
    assert_trees_equal(got_u, want_u)
    assert_trees_equal(fopt.update_and_apply(grads, fstate, params, **EXTRA)[0], want_p)
    # ... and under jit, where the extra arguments are traced (jit against jit: XLA's fused
    # arithmetic may round differently from eager, op-by-op arithmetic).
    got = jax.jit(lambda g, s, p, v: opt.update(g, s, p, value=v))(grads, state, params, 2.0)
    assert_trees_equal(got, jax.jit(opt.update)(grads, state, params))


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda: optax.chain(optax.clip_by_global_norm(1.0), jl.adam(0.1)), id="chain"),
        pytest.param(lambda: optax.inject_hyperparams(jl.rmsprop)(lr=0.1), id="inject"),
        pytest.param(
            lambda: optax.inject_hyperparams(jl.rmsprop)(lr=0.1, momentum=0.5), id="inject-mom"
        ),
        pytest.param(
            lambda: jl_inject(jl.rmsprop)(lr=0.1, momentum=0.5, centered=True), id="jl.inject"
        ),
        pytest.param(lambda: skip_nonfinite(jl.momentum(0.1)), id="skip_nonfinite"),
        pytest.param(
            lambda: skip_nonfinite(optax.chain(jl.nesterov(0.1), optax.scale(0.5))),
            id="skip_nonfinite(chain)",
        ),
    ],
)
def test_extra_args_pass_through_every_wrapper(wrap):
    opt = wrap()
    params = small_tree()
    grads = [grads_like(params, s) for s in range(3)]
    want, want_state = run(opt, params, grads)
    got, got_state = run(opt, params, grads, **EXTRA)
    assert_trees_equal(got, want)
    assert_trees_equal(got_state, want_state)
    # The fused function takes them too (falling back to update + apply for optax wrappers).
    state = opt.init(params)
    new, _ = update_and_apply(opt, grads[0], state, params, value=jnp.float32(0.0))
    assert_trees_equal(new, jl.apply_updates(params, opt.update(grads[0], state, params)[0]))


# --- RMSprop's momentum and centred options ---------------------------------------------

RMS_OPTIONS = [(0.9, False), (0.0, True), (0.9, True)]


@pytest.mark.parametrize("momentum, centered", RMS_OPTIONS)
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_rmsprop_options_are_optax_rmsprop_bit_for_bit(request, precision, momentum, centered):
    """optax's order of operations: the same bits as optax.rmsprop(eps_in_sqrt=False, ...),
    with a constant rate and a schedule, in float32 and float64; the state equals optax's."""
    if precision == "float64":
        request.getfixturevalue("x64")
    dtype = np.dtype(precision)
    params = nested_params(dtype)
    # jax arrays: optax on NumPy 0-d leaves would compute in NumPy (float64 under NumPy 1.x).
    grads = jax.tree.map(jnp.asarray, grad_stream(params, 6))
    for lr in (0.02, optax.linear_schedule(0.02, 0.001, 4)):
        ours = jl.rmsprop(lr, 0.95, 1e-4, momentum=momentum, centered=centered)
        theirs = optax.rmsprop(
            lr, decay=0.95, eps=1e-4, eps_in_sqrt=False, momentum=momentum or None,
            centered=centered,
        )  # fmt: skip
        u_ours, s_ours = run(ours, params, grads)
        u_theirs, s_theirs = run(theirs, params, grads)
        for a, b in zip(u_ours, u_theirs, strict=True):
            assert_trees_equal(a, b)
        assert isinstance(s_ours, RMSpropVariantState)
        assert_trees_equal(s_ours.mean_square, s_theirs[0].nu)
        if centered:
            assert_trees_equal(s_ours.mean_grad, s_theirs[0].mu)
        else:
            assert s_ours.mean_grad is None
        if momentum:
            assert_trees_equal(s_ours.velocity, s_theirs[2].trace)
        else:
            assert s_ours.velocity is None


def test_rmsprop_options_differ_from_the_book_form_and_each_other():
    params = small_tree()
    grads = [grads_like(params, s) for s in range(4)]
    book, state = run(jl.rmsprop(0.02), params, grads)
    assert isinstance(state, RMSpropState)
    finals = [
        run(jl.rmsprop(0.02, momentum=m, centered=c), params, grads)[0][-1]["w"]
        for m, c in RMS_OPTIONS
    ]
    for i, a in enumerate([book[-1]["w"], *finals]):
        for b in finals[i:][1:]:
            assert float(jnp.max(jnp.abs(a - b))) > 1e-4


def test_rmsprop_momentum_under_inject_hyperparams():
    """A traced momentum: the state made by init decides whether there is a velocity.
    (Injected, 1 − ρ is computed from a float32 ρ, not in Python's double precision as for a
    Python float: float32 rounding apart, as for optax.rmsprop under inject_hyperparams.)"""
    params = small_tree()
    grads = [grads_like(params, s) for s in range(4)]
    plain, _ = run(jl.rmsprop(0.02, momentum=0.5, centered=True), params, grads)
    injected, state = run(
        optax.inject_hyperparams(jl.rmsprop)(lr=0.02, momentum=0.5, centered=True), params, grads
    )
    assert state.inner_state.velocity is not None
    for a, b in zip(injected, plain, strict=True):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_allclose(x, y, rtol=1e-5)
    assert (
        float(
            jnp.max(jnp.abs(injected[-1]["w"] - run(jl.rmsprop(0.02), params, grads)[0][-1]["w"]))
        )
        > 1e-3
    )
    # Momentum injected as 0 at init: the book's form, as jl.rmsprop(0.02).
    book, _ = run(jl.rmsprop(0.02), params, grads)
    injected, state = run(optax.inject_hyperparams(jl.rmsprop)(lr=0.02), params, grads)
    assert isinstance(state.inner_state, RMSpropState)
    for a, b in zip(injected, book, strict=True):
        assert_trees_equal(a, b)
    # init traced too (jit(init)): a velocity is kept, zero momentum leaves it at u.
    opt = optax.inject_hyperparams(jl.rmsprop)(lr=0.02)
    assert jax.jit(opt.init)(params).inner_state.velocity is not None


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\)"),
        ({"momentum": -0.5}, ValueError, "momentum must be in"),
        ({"centered": 1}, TypeError, "centered must be a bool, got int"),
        (
            {"accumulator_dtype": jnp.int32},
            TypeError,
            "accumulator_dtype must be None or a floating or complex dtype",
        ),
    ],
)
def test_rmsprop_option_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        jl.rmsprop(**kwargs)


# --- state dtypes ------------------------------------------------------------------------

#: The rules with a state-dtype option (tests/rule_cases.py: the option, its accumulators).
STATE_DTYPE = {name: CASES[name].state_dtype for name in names_where(lambda c: c.state_dtype)}


def make(name, state_dtype=None, **kw):
    option = STATE_DTYPE[name][0]
    return jl.RULES[name](lr=0.05, **({option: state_dtype} if state_dtype else {}), **kw)


@pytest.mark.parametrize("name", list(STATE_DTYPE))
@pytest.mark.parametrize("low", [jnp.bfloat16, jnp.float16])
def test_float32_state_for_low_precision_params_is_the_float32_run(name, low):
    """bf16/f16 params with a float32 state compute in float32 and keep the state there: the
    state is the float32 run's bit for bit, the update its rounding to the params' dtype.
    (Adam's v keeps the params' dtype, as optax's nu: there only m is the float32 run's.)"""
    params = small_tree(low)
    grads = [grads_like(params, s) for s in range(5)]
    up = lambda t: jax.tree.map(lambda x: x.astype(jnp.float32), t)  # noqa: E731
    got, got_state = run(make(name, jnp.float32), params, grads)
    want, want_state = run(make(name), up(params), [up(g) for g in grads])
    for slot in STATE_DTYPE[name][1]:
        assert_trees_equal(getattr(got_state, slot), getattr(want_state, slot))
    if name == "adam":
        assert all(x.dtype == low for x in jax.tree.leaves(got_state.v))
        for a, b in zip(got, want, strict=True):  # v rounded to the low precision each step
            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
                np.testing.assert_allclose(np.float32(x), y, rtol=0.05, atol=1e-3)
        return
    for a, b in zip(got, want, strict=True):
        assert_trees_equal(a, jax.tree.map(lambda x: x.astype(low), b))


@pytest.mark.parametrize("name", list(STATE_DTYPE))
def test_bfloat16_state_is_the_float32_run_rounded_each_step(name):
    """A bf16 state for float32 params: each step computes in float32 from the stored bf16
    values and rounds the new state to bf16; the update is not rounded."""
    params = small_tree()
    grads = [grads_like(params, s) for s in range(5)]
    opt, ref = make(name, jnp.bfloat16), make(name)
    slots = STATE_DTYPE[name][1]
    state, ref_state = opt.init(params), ref.init(params)
    for g in grads:
        u, state = opt.update(g, state, params)
        u_ref, ref_state = ref.update(g, ref_state, params)
        assert_trees_equal(u, u_ref)
        rounded = {
            s: jax.tree.map(lambda x: x.astype(jnp.bfloat16), getattr(ref_state, s)) for s in slots
        }
        for s in slots:
            assert_trees_equal(getattr(state, s), rounded[s])
        ref_state = ref_state._replace(
            **{s: jax.tree.map(lambda x: x.astype(jnp.float32), t) for s, t in rounded.items()}
        )


def test_rmsprop_accumulator_dtype_sets_every_accumulator():
    opt = jl.rmsprop(momentum=0.9, centered=True, accumulator_dtype=jnp.bfloat16)
    state = opt.init(small_tree())
    for slot in ("mean_square", "mean_grad", "velocity"):
        assert {x.dtype for x in jax.tree.leaves(getattr(state, slot))} == {jnp.dtype("bfloat16")}


@pytest.mark.parametrize(
    "ours, theirs, rtol",
    [
        # the same formula (optax's order), float32 state of float64 params
        (
            lambda: jl.rmsprop(0.02, 0.9, 1e-4, momentum=0.9, accumulator_dtype=jnp.float32),
            lambda: None,
            0.0,
        ),
        (
            lambda: jl.adam(0.01, eps=0.0, mu_dtype=jnp.float32),
            lambda: optax.adam(0.01, eps=0.0, mu_dtype=jnp.float32),
            1e-6,
        ),
        (
            lambda: jl.momentum(0.03, 0.85, accumulator_dtype=jnp.float32),
            lambda: optax.sgd(0.03, 0.85, accumulator_dtype=jnp.float32),
            1e-5,
        ),
        (
            lambda: jl.nesterov(0.03, 0.85, accumulator_dtype=jnp.float32),
            lambda: optax.sgd(0.03, 0.85, nesterov=True, accumulator_dtype=jnp.float32),
            1e-5,
        ),
    ],
    ids=["rmsprop", "adam", "momentum", "nesterov"],
)
def test_float32_state_of_float64_params_against_optax(x64, ours, theirs, rtol):
    """optax's state-dtype options on the same inputs. Momentum/Nesterov store v = −η·t where
    optax stores t, so their float32 roundings differ: within 1e-5 of the step's largest update
    over 20 steps; Adam's book form rounds differently from optax's in float64 before m is
    rounded to float32: within 1e-6. RMSprop (optax has no such option): within 1e-5 of its
    float64 run."""
    params = nested_params()
    grads = grad_stream(params, 20)
    ours = ours()
    if theirs() is None:  # RMSprop: optax has no accumulator_dtype; compare our own float64 run
        _, state = run(ours, params, grads)
        for leaf in jax.tree.leaves((state.mean_square, state.velocity)):
            assert leaf.dtype == jnp.float32
        want = optax.rmsprop(0.02, 0.9, 1e-4, eps_in_sqrt=False, momentum=0.9)
        got, want = run(ours, params, grads)[0], run(want, params, grads)[0]
        for a, b in zip(got, want, strict=True):
            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
                np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-9)
        return
    theirs = theirs()
    u_ours, s_ours = run(ours, params, grads)
    u_theirs, s_theirs = run(theirs, params, grads)
    f32 = {jnp.dtype("float32")}
    if isinstance(s_ours, AdamState):
        assert {x.dtype for x in jax.tree.leaves(s_ours.m)} == f32
        assert {x.dtype for x in jax.tree.leaves(s_ours.v)} == {jnp.dtype("float64")}
        assert {x.dtype for x in jax.tree.leaves(s_theirs[0].nu)} == {jnp.dtype("float64")}
    else:
        assert {x.dtype for x in jax.tree.leaves(s_ours.velocity)} == f32
        assert {x.dtype for x in jax.tree.leaves(s_theirs[0].trace)} == f32
    for a, b in zip(u_ours, u_theirs, strict=True):
        scale = max(float(np.max(np.abs(y))) for y in jax.tree.leaves(b))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            assert x.dtype == y.dtype == jnp.float64
            np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale)


#: optax's rules with a state-dtype option (optax's adagrad and rmsprop have none)
OPTAX_STATE_DTYPE = names_where(lambda c: c.optax_state_dtype_twin)


@pytest.mark.parametrize("name", OPTAX_STATE_DTYPE)
def test_bfloat16_state_against_optax_where_optax_has_the_option(name):
    """bf16 first moment / velocity of float32 params beside optax's: same dtypes; values
    within bf16 rounding compounded over 10 steps (max |difference| ≤ 10% of max |update|)."""
    params = small_tree()
    grads = [grads_like(params, s) for s in range(10)]
    ours, theirs = CASES[name].optax_state_dtype_twin(jnp.bfloat16)
    u_ours, s_ours = run(ours, params, grads)
    u_theirs, s_theirs = run(theirs, params, grads)
    slot = STATE_DTYPE[name][1][0]
    theirs_slot = s_theirs[0].mu if name == "adam" else s_theirs[0].trace
    for x, y in zip(jax.tree.leaves(getattr(s_ours, slot)), jax.tree.leaves(theirs_slot)):
        assert x.dtype == y.dtype == jnp.bfloat16
    for a, b in zip(u_ours, u_theirs, strict=True):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            assert float(jnp.max(jnp.abs(x - y))) <= 0.1 * float(jnp.max(jnp.abs(y)))


#: optax's ``alias_test.test_explicit_dtype`` sweeps these parameter and state dtypes (None: the
#: default, float32 parameters / the parameters' dtype for the state).
EXPLICIT_DTYPES = ["bfloat16", "float32", "complex64", None]


def first_moment_of_optax(state):
    """optax's first moment: ``mu`` of scale_by_adam, ``trace`` of sgd's momentum."""
    return state[0].mu if hasattr(state[0], "mu") else state[0].trace


@pytest.mark.parametrize("name", OPTAX_STATE_DTYPE)
@pytest.mark.parametrize("state_dtype", EXPLICIT_DTYPES)
@pytest.mark.parametrize("params_dtype", EXPLICIT_DTYPES)
def test_explicit_state_dtype_as_optax(name, params_dtype, state_dtype):
    """optax's test_explicit_dtype, against optax itself: the first moment is stored in exactly
    the dtype asked for (complex64 too, for real parameters), or the parameters' for None, and
    the updates are optax's, in the gradient's dtype (optax's come out complex for a complex
    state of real parameters, with a zero imaginary part). Two differences, pinned, both where
    optax casts a complex moment to a real dtype and drops its imaginary part: for complex
    parameters a float32 state is complex64 (the complex dtype of that precision, so the
    numbers are those of the default state), and a bfloat16 one, which has no complex
    counterpart, is a ValueError naming the leaf at init."""
    pd = jnp.dtype(params_dtype or "float32")
    params = {"w": jnp.array([0.5, -1.5, 2.0], pd)}
    shift = 0.25j if jnp.issubdtype(pd, jnp.complexfloating) else 0.25
    grads = [{"w": params["w"] * (k + 1) - shift * k} for k in range(4)]
    ours, theirs = CASES[name].optax_state_dtype_twin(state_dtype)
    slot = CASES[name].state_dtype[1][0]
    if jnp.issubdtype(pd, jnp.complexfloating) and state_dtype == "bfloat16":
        with pytest.raises(ValueError, match=r"params\['w'\] \(complex64\) is complex, and "
                           r"there is no complex bfloat16"):  # fmt: skip
            ours.init(params)
        return
    if jnp.issubdtype(pd, jnp.complexfloating) and state_dtype == "float32":
        assert first_moment_of_optax(theirs.init(params))["w"].dtype == jnp.float32
        u_ours, s_ours = run(ours, params, grads)
        assert getattr(s_ours, slot)["w"].dtype == jnp.complex64
        default_state = CASES[name].optax_state_dtype_twin(None)[0]
        assert_trees_equal(u_ours, run(default_state, params, grads)[0])
        return
    want = jnp.dtype(state_dtype) if state_dtype else pd
    assert getattr(ours.init(params), slot)["w"].dtype == want
    assert first_moment_of_optax(theirs.init(params))["w"].dtype == want
    u_ours, s_ours = run(ours, params, grads)
    u_theirs, s_theirs = run(theirs, params, grads)
    assert getattr(s_ours, slot)["w"].dtype == first_moment_of_optax(s_theirs)["w"].dtype == want
    # float32: the book's Adam rounds differently from optax's (as in test_optim_optax.py);
    # bf16: optax computes in bf16, jaxlearn in float32 (10% as in the test above).
    low = jnp.dtype("bfloat16") in (pd, want)
    for a, b in zip(u_ours, u_theirs, strict=True):
        x, y = a["w"], b["w"]
        assert x.dtype == pd
        if jnp.iscomplexobj(y) and not jnp.iscomplexobj(x):
            np.testing.assert_array_equal(np.imag(y), 0)
            y = jnp.real(y)
        scale = float(jnp.max(jnp.abs(y)))
        np.testing.assert_allclose(
            np.asarray(x, np.complex128), np.asarray(y, np.complex128), rtol=0,
            atol=(0.1 if low else 2e-5) * scale,
        )  # fmt: skip


@pytest.mark.parametrize("params_dtype", ["float32", "complex64"])
@pytest.mark.parametrize(
    "name, options",
    [(n, {}) for n in names_where(lambda c: c.state_dtype and not c.optax_state_dtype_twin)]
    + [("rmsprop", {"momentum": 0.9, "centered": True})],
)
def test_complex_accumulator_dtype_where_optax_has_no_option(name, options, params_dtype):
    """AdaGrad and RMSprop (optax has no state-dtype option for them) accept a complex dtype as
    the other rules do: a second moment ``h`` is real, stored in that dtype's precision
    (complex64: float32); RMSprop's ``m`` and ``v`` are stored complex64, as optax's first
    moments. The numbers are those of the float32 state (to float32 rounding)."""
    option = CASES[name].state_dtype[0]
    params = small_tree(jnp.dtype(params_dtype))
    grads = [grads_like(params, s) for s in range(4)]
    opt = jl.RULES[name](lr=0.05, **options, **{option: jnp.complex64})
    ref = jl.RULES[name](lr=0.05, **options, **{option: jnp.float32})
    u, state = run(opt, params, grads)
    u_ref, state_ref = run(ref, params, grads)
    for slot in opt.rule.slots:
        want = "float32" if slot in opt.rule.real_slots else "complex64"
        assert {x.dtype for x in jax.tree.leaves(getattr(state, slot))} == {jnp.dtype(want)}
        for x, y in zip(*(jax.tree.leaves(getattr(t, slot)) for t in (state, state_ref))):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    for a, b in zip(u, u_ref, strict=True):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            assert x.dtype == y.dtype == jnp.dtype(params_dtype)
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_state_dtype_errors():
    with pytest.raises(TypeError, match="mu_dtype must be None or a floating or complex dtype"):
        jl.adam(mu_dtype=jnp.int8)
    with pytest.raises(TypeError, match="accumulator_dtype must be None .* got 'x'"):
        jl.momentum(accumulator_dtype="x")
    # A complex first moment has no bfloat16: named at init, with the leaf.
    opt = jl.adam(mu_dtype=jnp.bfloat16)
    with pytest.raises(ValueError, match=r"the m of params\['z'\] \(complex64\) is complex"):
        opt.init({"x": jnp.ones(2), "z": jnp.ones(2, jnp.complex64)})
    # Under inject_hyperparams a dtype given as a string is a static argument, as in optax.
    state = optax.inject_hyperparams(jl.adam)(lr=0.01, mu_dtype="bfloat16").init(small_tree())
    assert state.inner_state.m["w"].dtype == jnp.bfloat16
    assert state.inner_state.v["w"].dtype == jnp.float32
    # ... and in jaxlearn's own inject_hyperparams, with flags passed through as they are.
    opt = jl_inject(jl.adam)(lr=0.01, mu_dtype="bfloat16")
    assert opt.init(small_tree()).inner_state.m["w"].dtype == jnp.bfloat16
    opt = jl_inject(jl.rmsprop)(lr=0.01, centered=True, accumulator_dtype=jnp.bfloat16)
    state = opt.init(small_tree())
    assert set(state.hyperparams) == {"lr"}
    assert state.inner_state.mean_grad["w"].dtype == jnp.bfloat16
    # A second moment is real: a bfloat16 one is fine for complex parameters.
    state = jl.adagrad(accumulator_dtype=jnp.bfloat16).init({"z": jnp.ones(2, jnp.complex64)})
    assert state.sum_of_squares["z"].dtype == jnp.bfloat16
