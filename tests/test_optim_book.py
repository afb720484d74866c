"""Every update rule against the independent NumPy port of the book's classes."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from tests.book_optimizers import BOOK
from tests.optim_trees import flat_dict, grad_stream, nested_params
from tests.rule_cases import CASES, NAMES

STEPS = 45


def run_jaxlearn(opt, params, grads, jit=True):
    state = opt.init(params)

    def step(params, state, g):
        updates, state = opt.update(g, state, params)
        return jl.apply_updates(params, updates), state

    step = jax.jit(step) if jit else step
    for g in grads:
        params, state = step(params, state, g)
    return params, state


def run_book(book_opt, params, grads, lr_schedule=None):
    p = flat_dict(params)
    for i, g in enumerate(grads):
        if lr_schedule is not None:
            book_opt.lr = float(lr_schedule(jnp.asarray(i, jnp.int32)))  # the count jaxlearn passes
        book_opt.update(p, flat_dict(g))
    return p


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hyper", ["defaults", "custom"])
def test_rule_matches_book_port(x64, name, hyper):
    kwargs = {} if hyper == "defaults" else CASES[name].custom
    params = nested_params()
    grads = grad_stream(params, STEPS)
    got, state = run_jaxlearn(jl.RULES[name](**kwargs), params, grads)
    want = run_book(BOOK[name](**kwargs), params, grads)
    got = flat_dict(got)
    assert list(got) == list(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-12, err_msg=key)
    # The run moved the parameters (a rule that did nothing would fail above unless lr = 0).
    assert not np.allclose(got["['layer']['W']"], flat_dict(params)["['layer']['W']"])
    assert state.count.dtype == np.int32 and state.count.shape == () and int(state.count) == STEPS


@pytest.mark.parametrize("name", NAMES)
def test_schedule_enters_where_eta_stands(x64, name):
    """η_t = schedule(count), count 0 on the first update, replaces η in the book's formula."""
    # Values exact in binary, so the schedule itself adds no float32 rounding (optax evaluates
    # schedules of an int32 count in float32, and jit may fuse that differently from eager).
    schedule = optax.piecewise_constant_schedule(0.0625, {7: 0.5, 20: 0.25, 33: 4.0})
    params = nested_params()
    grads = grad_stream(params, STEPS)
    got, _ = run_jaxlearn(jl.RULES[name](lr=schedule), params, grads)
    want = run_book(BOOK[name](), params, grads, lr_schedule=schedule)
    got = flat_dict(got)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_the_books(name):
    parameters = inspect.signature(jl.RULES[name]).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.kind is not p.KEYWORD_ONLY}
    assert defaults == CASES[name].defaults
    # The options beyond the book (keyword-only), each off by default so the book's numbers hold.
    extensions = {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}
    assert extensions == CASES[name].options


def test_eager_equals_book_too(x64):
    params = nested_params()
    grads = grad_stream(params, 5)
    got, _ = run_jaxlearn(jl.adam(), params, grads, jit=False)
    want = run_book(BOOK["adam"](), params, grads)
    for key, value in flat_dict(got).items():
        np.testing.assert_allclose(value, want[key], rtol=1e-9)
