"""Run in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=4.

For pmap and shard_map, each with the closed-form and the autodiff backward: batch_norm with
axis_name on 4 shards must give the outputs, running statistics and gradients of one device on
the concatenated batch. Then flax's options across devices under pmap: axis_index_groups (each
group of 2 devices is one device on its half of the batch), and a mask (closed form against
autodiff, outputs against flax.linen.BatchNorm bit for bit). Prints one OK line per check;
raises otherwise.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxlearn.nn.batchnorm import batch_norm, batchnorm_init


def local_loss_of(state, **options):
    def local_loss(x, p, w, axis_name, backward):
        y, new = batch_norm(
            x, p, state, train=True, axis_name=axis_name, backward=backward, **options
        )
        return jnp.sum(jnp.sin(y) * w), (y, new)

    return local_loss


def main() -> None:
    jax.config.update("jax_enable_x64", True)  # a fresh subprocess: nothing to restore
    D = 4
    assert jax.device_count() == D, jax.devices()

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(16, 3, 5)) * 3 + 1)  # per-channel over (batch, 3)
    w = jnp.asarray(rng.normal(size=(16, 3, 5)))
    _, state = batchnorm_init(5, jnp.float64)
    params = {"gamma": jnp.asarray(rng.normal(size=5) + 1), "beta": jnp.asarray(rng.normal(size=5))}

    local_loss = local_loss_of(state)

    def close(a, b, what):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12, err_msg=what
        )

    # One device, whole batch: the sum of all shard losses.
    ref_grad, (ref_y, ref_state) = jax.grad(local_loss, argnums=(0, 1), has_aux=True)(
        x, params, w, None, "closed_form"
    )

    for backward in ("closed_form", "autodiff"):
        # pmap: per-device loss; grad of x is the gradient of the total loss (psum transposes to
        # psum), grads of gamma/beta are per device and sum to the one-device gradient.
        def dev(xs, p, ws, backward=backward):
            return jax.grad(local_loss, argnums=(0, 1), has_aux=True)(xs, p, ws, "i", backward)

        (gx, gp), (y, new) = jax.pmap(dev, axis_name="i", in_axes=(0, None, 0))(
            x.reshape(D, 4, 3, 5), params, w.reshape(D, 4, 3, 5)
        )
        close(y.reshape(x.shape), ref_y, "pmap y")
        for k in ("mean", "var"):
            for d in range(D):
                close(new[k][d], ref_state[k], f"pmap running {k}")
        close(gx.reshape(x.shape), ref_grad[0], "pmap dx")
        for k in ("gamma", "beta"):
            close(gp[k].sum(0), ref_grad[1][k], f"pmap d{k}")
        print(f"OK pmap {backward}")

        # shard_map: the loss is psum'd, replicated gamma/beta get the summed gradient.
        mesh = jax.make_mesh((D,), ("i",))

        def shard(xs, p, ws, backward=backward):
            def total(xs, p):
                loss, aux = local_loss(xs, p, ws, "i", backward)
                return jax.lax.psum(loss, "i"), aux

            return jax.grad(total, argnums=(0, 1), has_aux=True)(xs, p)

        f = jax.jit(
            jax.shard_map(
                shard,
                mesh=mesh,
                in_specs=(P("i"), P(), P("i")),
                out_specs=((P("i"), P()), (P("i"), P())),
            )
        )
        sharded = NamedSharding(mesh, P("i"))
        (gx, gp), (y, new) = f(jax.device_put(x, sharded), params, jax.device_put(w, sharded))
        close(y, ref_y, "shard_map y")
        for k in ("mean", "var"):
            close(new[k], ref_state[k], f"shard_map running {k}")
        close(gx, ref_grad[0], "shard_map dx")
        for k in ("gamma", "beta"):
            close(gp[k], ref_grad[1][k], f"shard_map d{k}")
        print(f"OK shard_map {backward}")

    options(x, w, params, state, close)


def options(x, w, params, state, close) -> None:
    """axis_index_groups and mask across 4 devices under pmap."""
    import flax.linen as nn

    D, groups = 4, [[0, 1], [2, 3]]
    shards = x.reshape(D, 4, 3, 5), w.reshape(D, 4, 3, 5)
    local_loss = local_loss_of(state, axis_index_groups=groups)
    for backward in ("closed_form", "autodiff"):

        def dev(xs, p, ws, backward=backward):
            return jax.grad(local_loss, argnums=(0, 1), has_aux=True)(xs, p, ws, "i", backward)

        (gx, gp), (y, new) = jax.pmap(dev, axis_name="i", in_axes=(0, None, 0))(
            *shards[:1], params, shards[1]
        )
        for half in range(2):  # devices 2h, 2h+1 == one device on their 8 rows
            rows, devs = slice(8 * half, 8 * half + 8), slice(2 * half, 2 * half + 2)
            ref_grad, (ref_y, ref_state) = jax.grad(local_loss_of(state), (0, 1), has_aux=True)(
                x[rows], params, w[rows], None, "closed_form"
            )
            close(y[devs].reshape(8, 3, 5), ref_y, "groups y")
            close(gx[devs].reshape(8, 3, 5), ref_grad[0], "groups dx")
            for k in ("mean", "var"):
                close(new[k][2 * half], ref_state[k], f"groups running {k}")
            for k in ("gamma", "beta"):
                close(gp[k][devs].sum(0), ref_grad[1][k], f"groups d{k}")
        print(f"OK pmap axis_index_groups {backward}")

    # A mask across devices (with groups): closed form == autodiff, outputs == flax's bits.
    mask = jnp.asarray(np.random.default_rng(1).random((D, 4, 1, 1)) > 0.3).at[:, :2].set(True)
    out = {}
    for backward in ("closed_form", "autodiff"):

        def dev(xs, p, ws, m, backward=backward):
            loss = local_loss_of(state, mask=m, axis_index_groups=groups)
            return jax.grad(loss, argnums=(0, 1), has_aux=True)(xs, p, ws, "i", backward)

        out[backward] = jax.pmap(dev, axis_name="i", in_axes=(0, None, 0, 0))(
            shards[0], params, shards[1], mask
        )
    for a, b in zip(jax.tree.leaves(out["closed_form"]), jax.tree.leaves(out["autodiff"])):
        close(a, b, "masked closed form vs autodiff")
    module = nn.BatchNorm(
        momentum=0.9, epsilon=1e-6, use_fast_variance=False, axis_name="i",
        axis_index_groups=groups, dtype=jnp.float64,
    )  # fmt: skip
    variables = {"params": {"scale": params["gamma"], "bias": params["beta"]}}
    variables["batch_stats"] = state

    def flax_dev(xs, m):
        y, upd = module.apply(
            variables, xs, use_running_average=False, mask=m, mutable=["batch_stats"]
        )
        return y, upd["batch_stats"]

    y_flax, new_flax = jax.pmap(flax_dev, axis_name="i")(shards[0], mask)
    y, new = out["closed_form"][1]
    np.testing.assert_array_equal(np.asarray(y), np.asarray(y_flax), "masked y vs flax")
    for k in ("mean", "var"):
        np.testing.assert_array_equal(np.asarray(new[k]), np.asarray(new_flax[k]), k)
    print("OK pmap mask vs flax")


if __name__ == "__main__":  # imported by pytest --doctest-modules: do nothing then
    main()
