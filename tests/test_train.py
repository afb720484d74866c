"""jaxlearn.train: the jitted step, the compiled loop, and vmap over configurations."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlearn.optim as jlo
from jaxlearn.nn import mlp
from jaxlearn.results import to_jsonable
from jaxlearn.train import (
    init_many,
    make_epoch,
    make_train_step,
    train,
    train_many,
    train_step,
)
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
        net, jlo.sgd(0.1), params, state, jlo.sgd(0.1).init(params), x[:16], t[:16]
    )
    expected = jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)
    tree_close(new, expected, rtol=1e-6, atol=1e-7)
    loss_value, _ = mlp.loss(net, params, state, x[:16], t[:16], train=True)
    assert float(value) == pytest.approx(float(loss_value), rel=1e-6)


def test_traced_weight_decay_equals_the_networks_lambda():
    (x, t), _ = toy_data()
    with_lambda, params, state = mlp.init(jax.random.key(0), 12, [8], 3, weight_decay_lambda=0.1)
    plain = mlp.make(12, [8], 3)
    opt = jlo.sgd(0.1)
    a = train_step(with_lambda, opt, params, state, opt.init(params), x[:16], t[:16])
    b = train_step(plain, opt, params, state, opt.init(params), x[:16], t[:16], None, 0.1)
    tree_close(a[0], b[0], rtol=1e-6, atol=1e-7)
    assert float(a[3]) == pytest.approx(float(b[3]), rel=1e-6)


def test_make_train_step_donates_and_matches_the_pure_step():
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    (x, t), _ = toy_data()
    opt = jlo.momentum(0.05)
    expected = train_step(net, opt, params, state, opt.init(params), x[:16], t[:16])
    step = make_train_step(net, "momentum")
    p_in = jax.tree.map(jnp.array, params)
    got = step(p_in, state, opt.init(params), x[:16], t[:16], lr=0.05)
    tree_close(got[0], expected[0], rtol=1e-6)
    assert p_in["W1"].is_deleted()  # donated: its buffer now holds the new weights


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
    """train() over 40 iterations == two make_epoch calls of 20 (batches keyed by iteration)."""
    data = toy_data()
    (x, t), _ = data
    for replace in (True, False):
        net, params, state = mlp.init(jax.random.key(0), 12, [8], 3, use_batchnorm=True)
        opt = jlo.sgd(0.1)
        key = jax.random.key(5)
        r = train(
            net, params, state, opt, data, key=key, iterations=40, batch_size=8,
            replace=replace, progress=True,
        )  # fmt: skip
        epoch = make_epoch(net, opt, batch_size=8, iterations=20, replace=replace)
        p, s, o = jax.tree.map(jnp.array, (params, state, opt.init(params)))
        p, s, o, l1 = epoch(p, s, o, jnp.asarray(x), jnp.asarray(t), key)
        p, s, o, l2 = epoch(p, s, o, jnp.asarray(x), jnp.asarray(t), key, 20)
        np.testing.assert_allclose(np.r_[l1, l2], r.loss, rtol=1e-5)
        tree_close(p, r.params, rtol=1e-5, atol=1e-6)
        assert not np.allclose(s["mean1"], 0)  # Batch Norm running statistics were updated


def test_rule_learning_rate_is_a_runtime_argument():
    data = toy_data()
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    kw = dict(key=jax.random.key(1), iterations=20, batch_size=8, progress=False)
    fixed = train(net, params, state, jlo.sgd(0.05), data, **kw)
    rule = train(net, params, state, jlo.sgd, data, lr=0.05, **kw)
    named = train(net, params, state, "sgd", data, lr=0.05, **kw)
    np.testing.assert_allclose(rule.loss, fixed.loss, rtol=1e-6)
    np.testing.assert_allclose(named.loss, fixed.loss, rtol=1e-6)
    zero = train(net, params, state, jlo.sgd, data, lr=0.0, **kw)
    tree_close(zero.params, params, rtol=0, atol=0)


def test_optax_optimizers_ready_or_as_factories():
    """optax's transformations train as they are, and its factories take lr= too."""
    import optax

    data = toy_data()
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    kw = dict(key=jax.random.key(1), iterations=20, batch_size=8, progress=False)
    ours = train(net, params, state, jlo.momentum(0.05), data, **kw)
    ready = train(net, params, state, optax.sgd(0.05, momentum=0.9), data, **kw)
    factory = train(net, params, state, optax.adam, data, lr=0.01, **kw)
    adam_ready = train(net, params, state, optax.adam(0.01), data, **kw)
    np.testing.assert_allclose(ready.loss, ours.loss, rtol=1e-5)  # REFERENCE: same algorithm
    np.testing.assert_allclose(factory.loss, adam_ready.loss, rtol=1e-6)
    with pytest.raises(ValueError, match="needs lr="):
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
        (dict(iterations=10, lr=0.1), "lr= needs opt to be a rule"),
    ],
)
def test_train_errors_name_the_argument(kwargs, message):
    net, params, state = mlp.init(jax.random.key(0), 12, [8], 3)
    with pytest.raises(ValueError, match=message):
        train(net, params, state, jlo.sgd(0.1), toy_data(), key=jax.random.key(0),
              progress=False, **kwargs)  # fmt: skip


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
    many = train_many(net, params, state, jlo.sgd, data, key=keys, lr=lr, weight_decay=wd, **kw)
    assert many.loss.shape == (k, 90) and many.test_acc.shape == (k, 6)
    for i in range(k):
        p_i, s_i = jax.tree.map(lambda a, i=i: a[i], (params, state))
        one = train(net, p_i, s_i, jlo.sgd, data, key=keys[i], lr=float(lr[i]),
                    weight_decay=float(wd[i]), **kw)  # fmt: skip
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
    kw = dict(iterations=12, batch_size=8, progress=False, lr=0.1)
    shared = train_many(net, params, state, "sgd", data, key=jax.random.key(1),
                        share_batches=True, **kw)  # fmt: skip
    np.testing.assert_allclose(shared.loss[0], shared.loss[1], rtol=1e-6)
    split = train_many(net, params, state, "sgd", data, key=jax.random.key(1), **kw)
    assert not np.allclose(split.loss[0], split.loss[1])  # own mini-batches per configuration


def test_train_many_errors():
    data = toy_data()
    net = mlp.make(12, [8], 3)
    params, state = init_many(net, jax.random.key(0), 3)
    kw = dict(iterations=4, batch_size=8, progress=False)
    with pytest.raises(ValueError, match=r"lr: expected a scalar or shape \(3,\)"):
        train_many(net, params, state, "sgd", data, key=jax.random.key(0), lr=[0.1, 0.2], **kw)
    with pytest.raises(ValueError, match="key: expected one PRNG key"):
        train_many(net, params, state, "sgd", data, key=jax.random.split(jax.random.key(0), 2),
                   **kw)  # fmt: skip
    single, s1 = mlp.init_params(net, jax.random.key(0))
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
