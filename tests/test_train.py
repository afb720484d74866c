"""jaxlearn.train: the jitted step, the compiled loop, and vmap over configurations."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlearn.optim as jlo
from jaxlearn.nn import mlp
from jaxlearn.nn.mlp import init_many
from jaxlearn.nn.regularization import with_weight_decay
from jaxlearn.results import to_jsonable
from jaxlearn.train import RunConfig, make_train_step, train, train_many, train_step
from jaxlearn.train.batches import batch_with_replacement, batch_without_replacement


def toy_data(n=240, d=12, seed=0):
    """A linearly separable 3-class problem: the class is the argmax of 3 fixed projections."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    proj = rng.normal(size=(d, 3)).astype(np.float32)
    t = (x @ proj).argmax(axis=1).astype(np.int32)
    return (x[: n * 3 // 4], t[: n * 3 // 4]), (x[n * 3 // 4 :], t[n * 3 // 4 :])


def tree_close(a, b, **kw):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


# --- the step ------------------------------------------------------------------------------


def test_train_step_is_sgd_on_the_book_loss():
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3, weight_decay_lambda=0.05)
    (x, t), _ = toy_data()
    grads, _ = jax.grad(mlp.loss, argnums=1, has_aux=True)(
        net, params, state, x[:16], t[:16], train=True
    )
    new, _, _, value = train_step(
        net, jlo.sgd(0.1), params, state, jlo.sgd(0.1).init(params), (x[:16], t[:16])
    )
    expected = jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)
    tree_close(new, expected, rtol=1e-6, atol=1e-7)
    loss_value, _ = mlp.loss(net, params, state, x[:16], t[:16], train=True)
    assert float(value) == pytest.approx(float(loss_value), rel=1e-6)


def test_optimizer_weight_decay_equals_the_networks_lambda():
    """λ in the optimizer state (with_weight_decay, injected) == the network's λ in the loss."""
    (x, t), _ = toy_data()
    with_lambda, params, state = mlp.init(jax.random.key(0), 12, [8], 3, weight_decay_lambda=0.1)
    plain = mlp.make(12, [8], 3)
    opt = jlo.sgd(0.1)
    a = train_step(with_lambda, opt, params, state, opt.init(params), (x[:16], t[:16]))
    decayed = jlo.inject_hyperparams(with_weight_decay(jlo.sgd))(lr=0.1, weight_decay=0.1)
    b = train_step(plain, decayed, params, state, decayed.init(params), (x[:16], t[:16]))
    tree_close(a[0], b[0], rtol=1e-6, atol=1e-7)
    # The optimizer's λ acts on the gradient only; the network's λ is part of its loss.
    penalty = 0.5 * 0.1 * sum(float(jnp.sum(params[k] ** 2)) for k in ("W1", "W2"))
    assert float(a[3]) == pytest.approx(float(b[3]) + penalty, rel=1e-6)
    assert float(b[2].hyperparams["weight_decay"]) == pytest.approx(0.1)


def test_make_train_step_donates_and_matches_the_pure_step():
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    (x, t), _ = toy_data()
    opt = jlo.momentum(0.05)
    expected = train_step(net, opt, params, state, opt.init(params), (x[:16], t[:16]))
    injected = jlo.inject_hyperparams(jlo.momentum)
    step = make_train_step(net, injected(lr=0.05))
    p_in = jax.tree.map(jnp.array, params)
    got = step(p_in, state, injected(lr=0.05).init(params), x[:16], t[:16])
    tree_close(got[0], expected[0], rtol=1e-6)
    assert p_in["W1"].is_deleted()  # donated: its buffer now holds the new weights
    with pytest.raises(TypeError, match="opt must be an"):
        make_train_step(net, "momentum")


def test_train_step_uses_the_fused_update():
    """The step calls the rule's update_and_apply (not update + apply_updates)."""
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    (x, t), _ = toy_data()
    opt = jlo.adam(0.01)
    calls = []
    fused = opt.update_and_apply
    opt.update_and_apply = lambda *a: calls.append(1) or fused(*a)
    new, *_ = train_step(net, opt, params, state, opt.init(params), (x[:16], t[:16]))
    assert calls == [1]
    plain = jlo.adam(0.01)
    batch = (x[:16], t[:16])
    ref, *_ = train_step(net, optax_only(plain), params, state, plain.init(params), batch)
    tree_close(new, ref, rtol=0, atol=0)  # bit for bit: the same arithmetic


def optax_only(opt):
    """The same rule as a plain optax GradientTransformation (no fused step)."""
    import optax

    return optax.GradientTransformation(opt.init, opt.update)


# --- batches -------------------------------------------------------------------------------


def test_batches_without_replacement_cover_each_epoch_exactly_once():
    key, n, b = jax.random.key(3), 10, 3  # 3 batches an epoch, one example left out

    def run(perm, i):
        idx, perm = batch_without_replacement(key, i, perm, n, b)
        return perm, idx

    _, idx = jax.lax.scan(run, jnp.zeros(n, jnp.int32), jnp.arange(6))
    for epoch in (idx[:3], idx[3:]):
        flat = np.asarray(epoch).ravel()
        assert len(set(flat.tolist())) == 9 and flat.min() >= 0 and flat.max() < n
    assert not np.array_equal(idx[:3], idx[3:])  # a fresh permutation each epoch


def test_batches_with_replacement_are_uniform_and_keyed():
    key = jax.random.key(0)
    idx = jax.vmap(lambda i: batch_with_replacement(key, i, 5, 200))(jnp.arange(50))
    counts = np.bincount(np.asarray(idx).ravel(), minlength=5)
    assert counts.sum() == 10_000 and np.all(np.abs(counts / 10_000 - 0.2) < 0.02)
    assert np.array_equal(idx[7], batch_with_replacement(key, jnp.int32(7), 5, 200))


# --- the compiled loop ---------------------------------------------------------------------


def test_train_learns_and_records_history():
    data = toy_data()
    net, params, state = mlp.init(jax.random.key(0), 12, [16], 3)
    r = train(
        net, params, state, jlo.adam(0.01), data, key=jax.random.key(1), epochs=30,
        batch_size=12, progress=False,
    )  # fmt: skip
    assert r.loss.shape == (450,) and r.train_acc.shape == r.test_acc.shape == (30,)
    assert np.array_equal(r.eval_iterations, np.arange(1, 31) * 15)  # 180 // 12 an epoch
    assert r.loss[-20:].mean() < 0.5 * r.loss[:5].mean()
    assert r.train_acc[-1] > 0.95 and r.test_acc[-1] > 0.8
    # The recorded accuracy is the final network's.
    acc = mlp.accuracy(net, r.params, r.state, jnp.asarray(data[0][0]), jnp.asarray(data[0][1]))
    assert float(acc) == pytest.approx(float(r.train_acc[-1]))
    json.dumps(to_jsonable(r.history()))


def test_train_is_deterministic_keyed_and_leaves_inputs_alone():
    data = toy_data()
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3, use_dropout=True)
    before = jax.tree.map(np.array, params)
    kw = dict(iterations=40, batch_size=8, progress=False)
    a = train(net, params, state, jlo.sgd(0.1), data, key=jax.random.key(1), **kw)
    b = train(net, params, state, jlo.sgd(0.1), data, key=jax.random.key(1), **kw)
    c = train(net, params, state, jlo.sgd(0.1), data, key=jax.random.key(2), **kw)
    assert np.array_equal(a.loss, b.loss)
    assert not np.allclose(a.loss, c.loss)
    tree_close(params, before, rtol=0, atol=0)  # not donated, not changed


def test_loop_results_do_not_depend_on_how_the_run_is_split():
    """40 iterations as 20 compiled calls of 2, 2 calls of 20 (evaluating) or 1 call of 40
    give the same run (batches are keyed by the iteration number), with and without
    replacement."""
    data = toy_data()
    for replace in (True, False):
        net, params, state = mlp.init(jax.random.key(0), 12, [8], 3, use_batchnorm=True)
        opt = jlo.sgd(0.1)
        kw = dict(key=jax.random.key(5), iterations=40, batch_size=8, replace=replace)
        plans = {e: RunConfig(eval_every=e, **{k: v for k, v in kw.items() if k != "key"}).plan(
            180) for e in (0, 20, 40)}  # fmt: skip
        assert [p.n_blocks // p.blocks_per_call for p in plans.values()] == [20, 2, 1]
        runs = [train(net, params, state, opt, data, eval_every=e, progress=e == 0, **kw)
                for e in plans]  # fmt: skip
        for r in runs[1:]:
            np.testing.assert_allclose(r.loss, runs[0].loss, rtol=1e-5)
            tree_close(r.params, runs[0].params, rtol=1e-5, atol=1e-6)
        assert not np.allclose(runs[0].state["mean1"], 0)  # BatchNorm statistics were updated
        assert runs[1].train_acc.shape == (2,) and runs[2].train_acc.shape == (1,)
        assert runs[1].train_acc[-1] == runs[2].train_acc[-1]


def test_learning_rate_lives_in_the_optimizer_state():
    """hyperparams= puts lr in the optimizer state: same run as a ready optimizer, and a new
    value reuses the compiled program (no recompilation)."""
    from jaxlearn.train.program import program

    data = toy_data()
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    kw = dict(key=jax.random.key(1), iterations=20, batch_size=8, progress=False)
    fixed = train(net, params, state, jlo.sgd(0.05), data, **kw)
    rule = train(net, params, state, jlo.sgd, data, hyperparams={"lr": 0.05}, **kw)
    named = train(net, params, state, "sgd", data, hyperparams={"lr": 0.05}, **kw)
    np.testing.assert_array_equal(rule.loss, fixed.loss)
    np.testing.assert_array_equal(named.loss, fixed.loss)
    assert float(rule.opt_state.hyperparams["lr"]) == pytest.approx(0.05)
    compiled = program.cache_info().currsize
    zero = train(net, params, state, jlo.sgd, data, hyperparams={"lr": 0.0}, **kw)
    assert program.cache_info().currsize == compiled  # the same program, lr=0 in the state
    tree_close(zero.params, params, rtol=0, atol=0)


def test_optax_optimizers_ready_or_as_factories():
    """optax's transformations train as they are, and its factories take lr= too."""
    import optax

    data = toy_data()
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    kw = dict(key=jax.random.key(1), iterations=20, batch_size=8, progress=False)
    ours = train(net, params, state, jlo.momentum(0.05), data, **kw)
    ready = train(net, params, state, optax.sgd(0.05, momentum=0.9), data, **kw)
    factory = train(net, params, state, optax.adam, data,
                    hyperparams={"learning_rate": 0.01}, **kw)  # fmt: skip
    adam_ready = train(net, params, state, optax.adam(0.01), data, **kw)
    np.testing.assert_allclose(ready.loss, ours.loss, rtol=1e-5)  # REFERENCE: same algorithm
    np.testing.assert_allclose(factory.loss, adam_ready.loss, rtol=1e-6)
    with pytest.raises(ValueError, match=r"adam\(\) cannot be built without arguments"):
        train(net, params, state, optax.adam, data, **kw)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(iterations=10, epochs=2), "exactly one of iterations= and epochs="),
        (dict(), "exactly one of iterations= and epochs="),
        (dict(iterations=10, eval_every=3), "eval_every"),
        (dict(iterations=0), "iterations must be a positive int"),
        (dict(iterations=10, batch_size=0), "batch_size"),
        (dict(iterations=10, batch_size=500, replace=False), "batch_size"),
        (dict(iterations=10, hyperparams={"lr": 0.1}), "hyperparams= needs opt to be a factory"),
        (dict(iterations=10, eval_every=-1), "eval_every must be an int >= 0"),
    ],
)
def test_train_errors_name_the_argument(kwargs, message):
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    with pytest.raises(ValueError, match=message):
        train(net, params, state, jlo.sgd(0.1), toy_data(), key=jax.random.key(0),
              progress=False, **kwargs)  # fmt: skip


def test_run_config_is_one_object_and_options_override_it():
    data = toy_data()
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    config = RunConfig(iterations=12, batch_size=8, progress=False)
    a = train(net, params, state, jlo.sgd(0.1), data, key=jax.random.key(0), config=config)
    b = train(net, params, state, jlo.sgd(0.1), data, key=jax.random.key(0), iterations=12,
              batch_size=8, progress=False)  # fmt: skip
    np.testing.assert_array_equal(a.loss, b.loss)
    c = train(net, params, state, jlo.sgd(0.1), data, key=jax.random.key(0), config=config,
              iterations=6)  # fmt: skip
    np.testing.assert_array_equal(c.loss, a.loss[:6])
    with pytest.raises(TypeError, match="unknown training option 'batchsize'"):
        train(net, params, state, jlo.sgd(0.1), data, key=jax.random.key(0), iterations=2,
              batchsize=8)  # fmt: skip
    with pytest.raises(ValueError, match=r"hyperparams\['lr'\]: train takes one value"):
        train(net, params, state, "sgd", data, key=jax.random.key(0), iterations=2,
              hyperparams={"lr": [0.1, 0.2]})  # fmt: skip


def test_train_checks_data_and_net():
    net, params, state = mlp.init(jax.random.key(0), 5, [8], 3)
    with pytest.raises(ValueError, match="x_train: 12 features"):
        train(net, params, state, "sgd", toy_data(), key=jax.random.key(0), iterations=2)
    (x, t), _ = toy_data()
    with pytest.raises(ValueError, match="x_train: 180 examples but 179 labels"):
        train(net, params, state, "sgd", (x[:, :5], t[:-1]), key=jax.random.key(0), iterations=2)
    with pytest.raises(ValueError, match="unknown update rule"):
        train(net, params, state, "sgdd", (x[:, :5], t), key=jax.random.key(0), iterations=2)


# --- vmap over configurations --------------------------------------------------------------


def test_train_many_equals_separate_runs(exact_matmuls):
    """Each of K vmapped configurations (own init, lr, λ, key) == its own train() run."""
    data = toy_data()
    net = mlp.make(12, [8], 3, use_batchnorm=True)
    k = 3
    params, state = init_many(net, jax.random.key(0), k)
    lr = jnp.array([0.01, 0.1, 0.3])
    wd = jnp.array([0.0, 1e-3, 0.1])
    keys = jax.random.split(jax.random.key(1), k)
    kw = dict(epochs=6, batch_size=12, progress=False)
    opt = with_weight_decay(jlo.sgd)
    many = train_many(net, params, state, opt, data, key=keys,
                      hyperparams={"lr": lr, "weight_decay": wd}, **kw)  # fmt: skip
    assert many.loss.shape == (k, 90) and many.test_acc.shape == (k, 6)
    np.testing.assert_array_equal(many.opt_state.hyperparams["weight_decay"], wd)
    for i in range(k):
        p_i, s_i = jax.tree.map(lambda a, i=i: a[i], (params, state))
        hp = {"lr": float(lr[i]), "weight_decay": float(wd[i])}
        one = train(net, p_i, s_i, opt, data, key=keys[i], hyperparams=hp, **kw)
        np.testing.assert_allclose(many.loss[i], one.loss, rtol=2e-4, atol=1e-5)
        np.testing.assert_allclose(many.test_acc[i], one.test_acc, atol=1e-6)
        tree_close(jax.tree.map(lambda a, i=i: a[i], many.params), one.params, rtol=1e-3,
                   atol=1e-5)  # fmt: skip
    assert many.loss[2, -15:].mean() < many.loss[0, -15:].mean()  # lr 0.3 beats lr 0.01


def test_train_many_shared_batches_and_split_key():
    data = toy_data()
    net = mlp.make(12, [8], 3)
    params, state = init_many(net, jax.random.key(0), 2)
    params = jax.tree.map(lambda a: jnp.stack([a[0], a[0]]), params)  # identical networks
    kw = dict(iterations=12, batch_size=8, progress=False, hyperparams={"lr": 0.1})
    shared = train_many(net, params, state, "sgd", data, key=jax.random.key(1),
                        share_batches=True, **kw)  # fmt: skip
    np.testing.assert_allclose(shared.loss[0], shared.loss[1], rtol=1e-6)
    split = train_many(net, params, state, "sgd", data, key=jax.random.key(1), **kw)
    assert not np.allclose(split.loss[0], split.loss[1])  # own mini-batches per configuration


@pytest.mark.parametrize("replace", [False, True])
def test_train_many_with_shared_batches_trains_each_configuration_as_train_does(replace):
    """One key for K configurations: each one's run is ``train``'s with that key (the epoch's
    permutation, passed unbatched to the vmapped program, is the one every run draws)."""
    data = toy_data()
    net = mlp.make(12, [8], 3)
    params, state = init_many(net, jax.random.key(0), 3)
    lrs = [0.01, 0.1, 0.3]
    kw = dict(epochs=3, batch_size=12, progress=False, replace=replace)
    many = train_many(net, params, state, "sgd", data, key=jax.random.key(1),
                      share_batches=True, hyperparams={"lr": lrs}, **kw)  # fmt: skip
    for i, lr in enumerate(lrs):
        p_i, s_i = jax.tree.map(lambda a, i=i: a[i], (params, state))
        one = train(net, p_i, s_i, "sgd", data, key=jax.random.key(1), hyperparams={"lr": lr},
                    **kw)  # fmt: skip
        np.testing.assert_allclose(many.loss[i], one.loss, rtol=2e-4, atol=1e-5)
        np.testing.assert_allclose(many.test_acc[i], one.test_acc, atol=1e-6)


@pytest.mark.parametrize("share_batches", [False, True])
def test_trials_at_once_trains_the_same_runs_in_groups(exact_matmuls, share_batches):
    """K = 5 configurations two at a time (two groups and a remainder of one) give each
    configuration the run it gets in one vmap: the groups change where the work happens,
    not what it computes."""
    data = toy_data()
    net = mlp.make(12, [8], 3, use_batchnorm=True)
    params, state = init_many(net, jax.random.key(0), 5)
    key = jax.random.key(1) if share_batches else jax.random.split(jax.random.key(1), 5)
    kw = dict(epochs=3, batch_size=12, progress=False, share_batches=share_batches,
              hyperparams={"lr": jnp.array([0.01, 0.03, 0.1, 0.2, 0.3])})  # fmt: skip
    whole = train_many(net, params, state, jlo.momentum, data, key=key, **kw)
    grouped = train_many(net, params, state, jlo.momentum, data, key=key, trials_at_once=2,
                         **kw)  # fmt: skip
    np.testing.assert_allclose(grouped.loss, whole.loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grouped.test_acc, whole.test_acc, atol=1e-6)
    tree_close(grouped.params, whole.params, rtol=1e-4, atol=1e-6)
    tree_close(grouped.opt_state, whole.opt_state, rtol=1e-4, atol=1e-6)
    assert not np.allclose(whole.loss[0], whole.loss[4])  # the configurations differ


def test_train_many_errors():
    data = toy_data()
    net = mlp.make(12, [8], 3)
    params, state = init_many(net, jax.random.key(0), 3)
    kw = dict(iterations=4, batch_size=8, progress=False)
    with pytest.raises(ValueError, match=r"hyperparams\['lr'\]: expected a scalar or shape \(3,\)"):
        train_many(net, params, state, "sgd", data, key=jax.random.key(0),
                   hyperparams={"lr": [0.1, 0.2]}, **kw)  # fmt: skip
    with pytest.raises(ValueError, match="key: expected one PRNG key"):
        train_many(net, params, state, "sgd", data, key=jax.random.split(jax.random.key(0), 2),
                   **kw)  # fmt: skip
    with pytest.raises(ValueError, match="trials_at_once must be a positive int, got 0"):
        train_many(net, params, state, "sgd", data, key=jax.random.key(0), trials_at_once=0,
                   **kw)  # fmt: skip
    single, s1 = mlp.init_params(net, jax.random.key(0))
    with pytest.raises(ValueError, match="trials_at_once: train_many takes it"):
        train(net, single, s1, "sgd", data, key=jax.random.key(0), trials_at_once=2, **kw)
    with pytest.raises(ValueError, match="stacked along a leading K axis"):
        train_many(net, single, s1, "sgd", data, key=jax.random.key(0), **kw)


def test_init_many_scales_and_seeds():
    net = mlp.make(12, [8], 3, use_batchnorm=True)
    params, state = init_many(net, jax.random.key(0), 4, weight_scale=[1.0, 0.1, 0.01, 1.0])
    assert params["W1"].shape == (4, 12, 8) and state["var1"].shape == (4, 8)
    unit, _ = init_many(net, jax.random.key(0), 4, weight_scale=1.0)
    np.testing.assert_allclose(params["W2"][2], 0.01 * unit["W2"][2], rtol=1e-6)
    assert not np.allclose(unit["W1"][0], unit["W1"][3])  # each configuration its own draw
    he, _ = init_many(net, jax.random.key(0), 200)
    assert float(he["W1"].std()) == pytest.approx(np.sqrt(2 / 12), rel=0.05)
    with pytest.raises(ValueError, match="num must be a positive int"):
        init_many(net, jax.random.key(0), 0)
