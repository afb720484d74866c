"""Batch Normalization as a pure function (the book's ``BatchNormalization`` layer).

Training (statistics over the reduced axes, biased, two-pass)::

    mu = mean(x)            var = mean((x - mu)**2)
    x_hat = (x - mu) / sqrt(var + eps)          y = gamma * x_hat + beta
    running <- momentum * running + (1 - momentum) * batch      (for mean and var)

Inference uses ``running_mean``/``running_var`` in place of the batch statistics.

Layouts are chosen with ``axis``, the feature axis or axes that are *kept* (every other axis is
reduced):

===========================================  ==================  =====================
input                                        normalisation        ``axis``
===========================================  ==================  =====================
(N, D)                                       per feature (book)  ``-1`` (default)
(N, H, W, C)  NHWC                           per channel         ``-1`` (default)
(N, C, H, W)  NCHW                           per channel         ``1``
(N, C, H, W)  NCHW                           per activation      ``(1, 2, 3)`` (book)
===========================================  ==================  =====================

The book's per-activation mode on images is its ``x.reshape(N, -1)``: ``axis=(1, 2, 3)`` gives
the same numbers without the reshape, with ``gamma`` of shape ``(C, H, W)`` or ``(C*H*W,)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import jax
import jax.numpy as jnp
from jax import lax

from jaxlearn._checks import check_non_negative, check_unit_interval
from jaxlearn._compat import axis_size, varying_axes
from jaxlearn._util import compute_dtype, is_concrete

Array = jax.Array
Params = dict[str, Array]
State = dict[str, Array]
Backward = Literal["closed_form", "autodiff"]


def batchnorm_init(
    num_features: int | Sequence[int], dtype: Any = jnp.float32
) -> tuple[Params, State]:
    """Parameters and running statistics of a Batch Normalization layer.

    ``params = {'gamma': 1, 'beta': 0}`` and ``state = {'mean': 0, 'var': 1}``, each of shape
    ``(num_features,)`` (an int) or ``num_features`` (a tuple, e.g. ``(C, H, W)`` for the book's
    per-activation mode on images; ``C*H*W`` as an int works too).

    Difference from the book: the book starts ``running_var`` at 0, so an untrained network in
    inference mode divides its input by ``sqrt(0 + eps) = 1e-3`` and blows activations up a
    thousandfold. jaxlearn starts it at 1, as flax (``nn.BatchNorm``) and PyTorch do; pass
    ``state['var'] * 0`` to reproduce the book exactly.

    Example:
        >>> params, state = batchnorm_init(3)
        >>> print(params['gamma'], params['beta'], state['mean'], state['var'])
        [1. 1. 1.] [0. 0. 0.] [0. 0. 0.] [1. 1. 1.]
        >>> batchnorm_init((2, 4, 4))[0]['gamma'].shape
        (2, 4, 4)
    """
    shape = (num_features,) if isinstance(num_features, int) else tuple(num_features)
    if not shape or not all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape
    ):
        raise ValueError(
            f"num_features must be a positive int or a tuple of positive ints, got {num_features!r}"
        )
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {jnp.dtype(dtype)}")
    params = {"gamma": jnp.ones(shape, dtype), "beta": jnp.zeros(shape, dtype)}
    state = {"mean": jnp.zeros(shape, dtype), "var": jnp.ones(shape, dtype)}
    return params, state


def _resolve_axes(shape: tuple[int, ...], axis: int | Sequence[int]) -> tuple[tuple, tuple]:
    """(feature_axes, reduce_axes), both sorted non-negative, or a ValueError naming the problem."""
    ndim = len(shape)
    if ndim < 2:
        raise ValueError(
            f"batch_norm needs input of rank >= 2 (batch, features...), got shape {shape}"
        )
    axes = (axis,) if isinstance(axis, int) else tuple(axis) if isinstance(axis, Sequence) else ()
    if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"axis must be an int or a non-empty tuple of ints, got {axis!r}")
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"axis {a} is out of range for input of rank {ndim} (shape {shape}); "
                "wrong layout? NCHW per channel is axis=1, NHWC axis=-1, the book's "
                "per-activation mode axis=(1, 2, 3)"
            )
    feature = tuple(sorted({a % ndim for a in axes}))
    if len(feature) != len(axes):
        raise ValueError(f"axis {axis!r} names the same axis twice")
    reduce = tuple(a for a in range(ndim) if a not in feature)
    if not reduce:
        raise ValueError(f"axis {axis!r} keeps every axis of shape {shape}: nothing to reduce")
    return feature, reduce


def _feature_leaf(name: str, leaf: Any, feature_shape: tuple, x_shape: tuple, axis: Any) -> None:
    """Accept a leaf of the feature shape, or its flat (C*H*W,) form (the book's layout)."""
    shape = jnp.shape(leaf)
    size = math.prod(feature_shape)
    if shape != feature_shape and shape != (size,):
        raise ValueError(
            f"{name} has shape {shape} but x of shape {x_shape} with axis={axis!r} has "
            f"{size} features of shape {feature_shape}: feature-size mismatch between x and "
            "params/state"
        )


def _moments(xf: Array, reduce: tuple, axis_name: Any) -> tuple[Array, Array, Array]:
    """Mean, centred input and biased variance; global across devices when axis_name is set.

    Two-pass (mean first, then mean of squared deviations) because E[x²]−E[x]² cancels
    catastrophically for inputs far from zero. Across devices: the global mean is the mean of the
    local means (equal shard sizes), then the global variance is the mean over devices of
    mean((x − μ_global)²) — still two-pass, still exact.
    """
    mu = jnp.mean(xf, reduce, keepdims=True)
    if axis_name is not None:
        mu = lax.pmean(mu, axis_name)
    xc = xf - mu
    var = jnp.mean(xc * xc, reduce, keepdims=True)
    if axis_name is not None:
        var = lax.pmean(var, axis_name)
    return mu, xc, var


def _train_plain(x, gamma, beta, eps, reduce, axis_name):
    """Plain training forward (differentiated by autodiff); outputs (y, mu, var)."""
    xf = x.astype(compute_dtype(x.dtype))
    mu, xc, var = _moments(xf, reduce, axis_name)
    y = gamma * (xc / jnp.sqrt(var + eps)) + beta
    return y.astype(x.dtype), mu, var


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _train_closed_form(x, gamma, beta, eps, reduce, axis_name):
    return _train_plain(x, gamma, beta, eps, reduce, axis_name)


def _train_fwd(x, gamma, beta, eps, reduce, axis_name):
    xf = x.astype(compute_dtype(x.dtype))
    mu, xc, var = _moments(xf, reduce, axis_name)
    std = jnp.sqrt(var + eps)
    y = gamma * (xc / std) + beta
    # Keep x (not xc, x_hat): the smallest residual; the backward recomputes xc in one fused op.
    return (y.astype(x.dtype), mu, var), (x, mu, std, gamma, beta)


def _train_bwd(eps, reduce, axis_name, res, cts):
    """The book's closed-form backward, with its sums gathered into two.

    The book (N = batch, xc = x − μ, x̂ = xc/std)::

        dβ = Σ dy;  dγ = Σ x̂·dy;  dx̂ = γ·dy;  dxc = dx̂/std;  dstd = −Σ dx̂·xc/std²
        dvar = 0.5·dstd/std;  dxc += (2/N)·xc·dvar;  dμ = Σ dxc;  dx = dxc − dμ/N

    Substituting (Σ xc = 0, so dμ = γ·Σdy/std) gives the same gradient as

        dx = (γ/std) · (dy − Σdy/N − x̂ · Σ(x̂·dy)/N) = (γ/std) · (dy − (dβ + x̂·dγ)/N)

    which needs only dβ and dγ (one fused pass over x and dy) and one elementwise pass, where
    the book's order needs three dependent passes; that is what makes it faster than autodiff.
    ``tests/test_batchnorm.py`` checks it against the book's lines (NumPy port) and jax.grad.
    Across devices the sums and N are global (psum); dγ, dβ of each device stay local, as
    autodiff gives them.
    """
    x, mu, std, gamma, beta = res
    # mu and var leave the layer only through stop_gradient (the running statistics), so
    # their cotangents are zero and are ignored here.
    dy = cts[0].astype(mu.dtype)
    xhat = (x.astype(mu.dtype) - mu) / std
    dbeta = jnp.sum(dy, reduce, keepdims=True)
    dgamma = jnp.sum(xhat * dy, reduce, keepdims=True)
    n = math.prod(x.shape[a] for a in reduce)
    sum_dy, sum_xhat_dy = dbeta, dgamma
    if axis_name is not None:
        sum_dy, sum_xhat_dy = lax.psum((dbeta, dgamma), axis_name)
        n = n * axis_size(axis_name)
    dx = (gamma / std) * (dy - (sum_dy + xhat * sum_xhat_dy) / n)
    dgamma, dbeta = (_match_vma(d, p, x, axis_name) for d, p in ((dgamma, gamma), (dbeta, beta)))
    return dx.astype(x.dtype), dgamma.astype(gamma.dtype), dbeta.astype(beta.dtype)


def _match_vma(ct: Array, primal: Array, x: Array, axis_name: Any) -> Array:
    """psum the cotangent of a device-invariant parameter, as shard_map's autodiff does.

    Inside ``shard_map`` a replicated ``gamma`` is invariant over ``axis_name`` while ``x``
    varies; autodiff transposes the implicit broadcast into a psum, and a custom_vjp must return
    a cotangent of the same (invariant) type. Under ``pmap`` nothing is tracked (x does not
    show as varying) and cotangents stay per-device, as autodiff's do there.
    """
    if axis_name is None:
        return ct
    names = axis_name if isinstance(axis_name, tuple) else (axis_name,)
    vx, vp = varying_axes(x), varying_axes(primal)
    if vx and vp is not None and any(n in vx for n in names):
        if not any(n in vp for n in names):
            return lax.psum(ct, axis_name)
    return ct


_train_closed_form.defvjp(_train_fwd, _train_bwd)


def batch_norm(
    x: Array,
    params: Params,
    state: State,
    *,
    train: bool,
    momentum: float = 0.9,
    eps: float = 1e-6,
    axis: int | Sequence[int] = -1,
    axis_name: Any = None,
    backward: Backward = "closed_form",
) -> tuple[Array, State]:
    """Batch Normalization forward; returns ``(y, new_state)``.

    Training: ``y = gamma * (x - mu) / sqrt(var + eps) + beta`` with the batch's biased, two-pass
    statistics over every axis except ``axis`` (see the module docstring for layouts), and
    ``new_state = momentum * state + (1 - momentum) * (mu, var)``. Inference (``train=False``):
    the running statistics replace ``(mu, var)`` and ``state`` is returned unchanged.
    Defaults are the book's: ``momentum=0.9``, ``eps=1e-6`` (the book's ``10e-7``).

    - ``axis_name``: average the batch statistics across devices (``pmap``/``shard_map``) with
      ``lax.pmean``; N devices then match one device on the concatenated batch (outputs, running
      statistics and gradients).
    - ``backward='closed_form'``: the book's backward as a ``jax.custom_vjp`` (default: it
      needs two reductions where autodiff needs more, and times faster than autodiff and flax
      in ``benchmarks/bench_batchnorm.py``); ``'autodiff'``: ``jax.grad`` of the plain
      forward. They agree to float rounding. A traced ``eps`` always uses autodiff.
    - Precision: bf16/f16 ``x`` gives bf16/f16 ``y``; statistics are computed in float32.
    - Gradients flow to ``x``, ``gamma`` and ``beta``; ``state`` gets none (``stop_gradient``).
    - Errors (``ValueError``, on static shapes before any work): feature-size mismatch,
      rank < 2, bad ``axis``, or a training batch of one (every gradient through it would be 0).

    flax equivalent: ``flax.linen.BatchNorm(use_running_average=not train, axis=axis,
    momentum=0.9, epsilon=1e-6, use_fast_variance=False)`` (same numbers; flax keeps the state
    in a ``batch_stats`` collection instead of returning it).

    Example:
        >>> import jax.numpy as jnp
        >>> params, state = batchnorm_init(2)
        >>> x = jnp.array([[1.0, 10.0], [3.0, 30.0]])
        >>> y, state = batch_norm(x, params, state, train=True)
        >>> print(jnp.round(y, 3))
        [[-1. -1.]
         [ 1.  1.]]
        >>> print(jnp.round(state['mean'], 3), jnp.round(state['var'], 3))
        [0.2 2. ] [ 1. 10.9]
        >>> y, _ = batch_norm(x, params, state, train=False)
        >>> y.shape
        (2, 2)
    """
    x = jnp.asarray(x)
    feature, reduce = _resolve_axes(x.shape, axis)
    feature_shape = tuple(x.shape[a] for a in feature)
    for group, keys in (("params", ("gamma", "beta")), ("state", ("mean", "var"))):
        tree = params if group == "params" else state
        for k in keys:
            if k not in tree:
                raise ValueError(f"{group} must have key {k!r}, got keys {sorted(tree)}")
            _feature_leaf(f"{group}[{k!r}]", tree[k], feature_shape, x.shape, axis)
    check_unit_interval("momentum", momentum)
    check_non_negative("eps", eps)
    if backward not in ("closed_form", "autodiff"):
        raise ValueError(f"backward must be 'closed_form' or 'autodiff', got {backward!r}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x must be floating point, got dtype {x.dtype}")

    cdt = compute_dtype(x.dtype)
    bshape = tuple(x.shape[a] if a in feature else 1 for a in range(x.ndim))

    def bcast(leaf):  # feature-shaped (or flat) leaf -> broadcastable against x
        return jnp.reshape(leaf, bshape)

    gamma, beta = bcast(params["gamma"]), bcast(params["beta"])
    if not train:
        mean = bcast(lax.stop_gradient(state["mean"])).astype(cdt)
        var = bcast(lax.stop_gradient(state["var"])).astype(cdt)
        xhat = (x.astype(cdt) - mean) / jnp.sqrt(var + eps)
        return (gamma * xhat + beta).astype(x.dtype), state

    n = math.prod(x.shape[a] for a in reduce)
    if axis_name is not None:
        n *= axis_size(axis_name)
    if n < 2:
        raise ValueError(
            f"batch_norm(train=True) got a batch of one (x shape {x.shape}, reduced axes "
            f"{reduce}): x - mean is 0 and every gradient through the layer would be 0. "
            "Use a batch of at least 2, or train=False"
        )

    if backward == "closed_form" and is_concrete(eps):
        y, mu, var = _train_closed_form(x, gamma, beta, float(eps), reduce, axis_name)
    else:
        y, mu, var = _train_plain(x, gamma, beta, eps, reduce, axis_name)

    def update(old, batch):  # running statistics: no gradient, kept in the state's dtype/shape
        new = momentum * old + (1.0 - momentum) * jnp.reshape(batch, jnp.shape(old))
        return lax.stop_gradient(new).astype(jnp.result_type(old))

    new_state = {"mean": update(state["mean"], mu), "var": update(state["var"], var)}
    return y, new_state
