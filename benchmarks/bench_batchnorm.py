"""Time jitted forward+backward of Batch Normalization: jaxlearn (closed-form custom_vjp and
autodiff backward) vs a plain autodiff forward vs ``flax.linen.BatchNorm``; then the one-pass
variance (``use_fast_variance=True``) of jaxlearn and flax beside their two-pass forms.

    python benchmarks/bench_batchnorm.py [--repeats 50]

Each row: median wall time of one jitted call computing the loss sum(y * w), its gradients with
respect to x, gamma and beta, and the new running statistics; after two warm-up calls.
"""

from __future__ import annotations

import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlearn.nn.batchnorm import batch_norm, batchnorm_init

SHAPES = {"(256, 4096)": (256, 4096), "(128, 32, 32, 64) NHWC": (128, 32, 32, 64)}


def plain_autodiff(x, params, state, momentum=0.9, eps=1e-6):
    """The textbook forward written directly in jnp, differentiated by jax.grad."""
    red = tuple(range(x.ndim - 1))
    mu = jnp.mean(x, red)
    xc = x - mu
    var = jnp.mean(xc * xc, red)
    y = params["gamma"] * xc / jnp.sqrt(var + eps) + params["beta"]
    new = {
        "mean": momentum * state["mean"] + (1 - momentum) * jax.lax.stop_gradient(mu),
        "var": momentum * state["var"] + (1 - momentum) * jax.lax.stop_gradient(var),
    }
    return y, new


def make_steps(features: int):
    params, state = batchnorm_init(features)

    def step_of(forward):
        def loss(x, p, w):
            y, new = forward(x, p, state)
            return jnp.sum(y * w), new

        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))

    module = nn.BatchNorm(
        use_running_average=False, momentum=0.9, epsilon=1e-6, use_fast_variance=False
    )
    variables = module.init(jax.random.key(0), jnp.zeros((2, features)))

    def flax_forward(x, p, _state):
        y, upd = module.apply(
            {
                "params": {"scale": p["gamma"], "bias": p["beta"]},
                **{"batch_stats": variables["batch_stats"]},
            },
            x,
            mutable=["batch_stats"],
        )
        return y, upd["batch_stats"]

    fast_module = module.clone(use_fast_variance=True)

    def flax_fast_forward(x, p, _state):
        y, upd = fast_module.apply(
            {
                "params": {"scale": p["gamma"], "bias": p["beta"]},
                "batch_stats": variables["batch_stats"],
            },
            x,
            mutable=["batch_stats"],
        )
        return y, upd["batch_stats"]

    return params, {
        "jaxlearn closed_form": step_of(
            lambda x, p, s: batch_norm(x, p, s, train=True, backward="closed_form")
        ),
        "jaxlearn autodiff": step_of(
            lambda x, p, s: batch_norm(x, p, s, train=True, backward="autodiff")
        ),
        "plain autodiff": step_of(plain_autodiff),
        "flax.linen.BatchNorm": step_of(flax_forward),
        "jaxlearn closed_form 1-pass": step_of(
            lambda x, p, s: batch_norm(x, p, s, train=True, use_fast_variance=True)
        ),
        "flax 1-pass (its default)": step_of(flax_fast_forward),
    }


def time_call(fn, *args, repeats: int) -> float:
    for _ in range(2):  # warm-up: compile + first run
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()})")
    print(f"{'shape':<26}{'implementation':<30}{'median ms':>10}")
    for label, shape in SHAPES.items():
        kx, kw = jax.random.split(jax.random.key(0))
        x = jax.random.normal(kx, shape) * 2.0 + 0.5
        w = jax.random.normal(kw, shape)
        params, steps = make_steps(shape[-1])
        for name, fn in steps.items():
            ms = 1e3 * time_call(fn, x, params, w, repeats=args.repeats)
            print(f"{label:<26}{name:<30}{ms:>10.3f}")


if __name__ == "__main__":
    main()
