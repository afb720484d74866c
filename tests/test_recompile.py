"""No recompilation after the first step of a jitted training loop.

Checked two ways: jax's compile log (``jax.log_compiles()``, captured with caplog: every XLA
compilation logs "Compiling <name> ...") and the jitted function's ``_cache_size()``. Covered:
every rule with a learning-rate schedule, ``optax.inject_hyperparams`` with the rate changed
between steps, ``skip_nonfinite`` when a NaN gradient arrives, and a state reloaded from a
checkpoint.
"""

from __future__ import annotations

import logging
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlearn as jl
from jaxlearn import checkpoint
from jaxlearn.optim.nonfinite import skip_nonfinite

STEPS = 5


def _problem():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(8, 3)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(8,)), jnp.float32)
    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    return x, y, params


def _make_step(opt):
    @jax.jit
    def step(params, state, x, y, poison):
        def loss(p):
            return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

        grads = jax.grad(loss)(params)
        grads = jax.tree.map(lambda g: g * poison, grads)  # poison = NaN injects a bad step
        updates, state = opt.update(grads, state, params)
        return jl.apply_updates(params, updates), state

    return step


class CompileLog:
    """The names of the functions jax compiles while the context is open."""

    def __init__(self, caplog):
        self.caplog = caplog

    def __enter__(self):
        self.caplog.clear()
        self._ctx = jax.log_compiles()
        self._ctx.__enter__()
        self.caplog.set_level(logging.DEBUG, logger="jax")
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)

    def compiled(self, name="step"):
        # "Compiling jit(step) ..." in newer jax, "Compiling step ..." in jax 0.6.
        pattern = re.compile(rf"Compiling (\w+\()?{name}\b")
        return [r.getMessage() for r in self.caplog.records if pattern.match(r.getMessage())]


def _loop(step, params, state, x, y, log, poison_at=(), between=None):
    """Run the loop; return how many compilations of ``step`` happened after step 1."""
    one = jnp.float32(1.0)
    nan = jnp.float32(jnp.nan)
    for k in range(STEPS):
        if k == 1:
            after_first = len(log.compiled())
            size = step._cache_size()
        if between is not None:
            state = between(k, state)
        params, state = step(params, state, x, y, nan if k in poison_at else one)
    jax.block_until_ready(params)
    return len(log.compiled()) - after_first, step._cache_size() - size, params, state


SCHEDULES = {
    "exponential_decay": optax.exponential_decay(0.1, 1, 0.5),
    "piecewise": optax.piecewise_constant_schedule(0.1, {2: 0.1, 3: 10.0}),
    "lambda": lambda count: 0.1 / (1.0 + count),
}


@pytest.mark.parametrize("rule", list(jl.RULES))
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_schedule_does_not_recompile(caplog, rule, schedule):
    x, y, params = _problem()
    opt = jl.RULES[rule](lr=SCHEDULES[schedule])
    step = _make_step(opt)
    with CompileLog(caplog) as log:
        n_log, n_cache, *_ = _loop(step, params, opt.init(params), x, y, log)
        assert len(log.compiled()) == 1  # the log does see the first compilation
    assert (n_log, n_cache) == (0, 0)


@pytest.mark.parametrize("rule", ["momentum", "adam"])
def test_inject_hyperparams_rate_change_does_not_recompile(caplog, rule):
    x, y, params = _problem()
    opt = optax.inject_hyperparams(jl.RULES[rule])(lr=0.1)
    step = _make_step(opt)

    def set_lr(k, state):
        lr = state.hyperparams["lr"]
        # the same dtype (and weak type) as the stored value: a new value, the same signature
        state.hyperparams["lr"] = jnp.asarray(0.1 / (k + 1), lr.dtype)
        return state

    with CompileLog(caplog) as log:
        n_log, n_cache, _, state = _loop(step, params, opt.init(params), x, y, log, between=set_lr)
    assert (n_log, n_cache) == (0, 0)
    assert float(state.hyperparams["lr"]) == pytest.approx(0.1 / STEPS)


def test_inject_hyperparams_python_float_is_a_new_signature(caplog):
    """The pitfall, pinned: a Python float is weakly typed, the stored rate is not, so setting
    ``hyperparams['lr'] = 0.05`` compiles the step once more (then it is cached)."""
    x, y, params = _problem()
    opt = optax.inject_hyperparams(jl.sgd)(lr=0.1)
    step = _make_step(opt)
    assert not opt.init(params).hyperparams["lr"].weak_type

    def set_lr(k, state):
        if k == 2:
            state.hyperparams["lr"] = 0.05
        return state

    with CompileLog(caplog) as log:
        n_log, n_cache, *_ = _loop(step, params, opt.init(params), x, y, log, between=set_lr)
    assert (n_log, n_cache) == (1, 1)


def test_nan_step_in_skip_nonfinite_does_not_recompile(caplog):
    x, y, params = _problem()
    opt = skip_nonfinite(jl.adam(0.1), max_consecutive=2)
    step = _make_step(opt)
    with CompileLog(caplog) as log:
        n_log, n_cache, p, state = _loop(
            step, params, opt.init(params), x, y, log, poison_at=(2, 3)
        )
    assert (n_log, n_cache) == (0, 0)
    assert int(state.skipped) == 2 and np.isfinite(np.asarray(p["w"])).all()


def test_state_loaded_from_checkpoint_does_not_recompile(caplog, tmp_path):
    x, y, params = _problem()
    opt = optax.chain(
        optax.clip_by_global_norm(1.0),
        skip_nonfinite(optax.inject_hyperparams(jl.rmsprop)(lr=optax.linear_schedule(0.1, 0.0, 9))),
    )
    step = _make_step(opt)
    one = jnp.float32(1.0)
    with CompileLog(caplog) as log:
        p, s = step(params, opt.init(params), x, y, one)
        p, s = step(p, s, x, y, one)
        checkpoint.save(tmp_path / "c", (p, s))
        p, s = checkpoint.load(tmp_path / "c", like=(params, opt.init(params)))
        for _ in range(3):
            p, s = step(p, s, x, y, one)
        jax.block_until_ready(p)
        assert len(log.compiled()) == 1
    assert step._cache_size() == 1
