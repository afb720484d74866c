"""Batch Normalization as a pure function (the book's ``BatchNormalization`` layer).

Training (statistics over the reduced axes, biased, two-pass)::

    mu = mean(x)            var = mean((x - mu)**2)
    y = (x - mu) * (rsqrt(var + eps) * gamma) + beta     # the book's gamma * x_hat + beta
    running <- momentum * running + (1 - momentum) * batch      (for mean and var)

Inference uses ``running_mean``/``running_var`` in place of the batch statistics. ``y`` is
computed in ``flax.linen.BatchNorm``'s order of operations and dtypes, so the two give the same
bits for the same inputs and settings; flax's options (``mask``, ``dtype``,
``use_fast_variance``, ``axis_name``, ``axis_index_groups``) are :func:`batch_norm`'s too.

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
import operator
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
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


def _stats(xs, reduce, mask, fast, axis_name, groups):
    """flax's ``_compute_stats``, operation for operation: ``(mean, var)`` over ``reduce``.

    ``xs`` is already in the statistics dtype. Two-pass (the default) computes
    ``mean(|x − μ|²)``; ``fast`` (flax's ``use_fast_variance``) computes
    ``max(0, mean(|x|²) − |μ|²)`` in one pass, which cancels catastrophically for inputs far
    from zero. ``mask`` (bool, broadcastable to ``xs``) restricts both means to its True
    entries. Across devices each mean is ``lax.pmean``'d over ``axis_name`` (within
    ``axis_index_groups``): with equal shard sizes and no mask, exactly the statistics of the
    concatenated batch.
    """

    def mean(*arrays):
        mus = tuple(jnp.mean(a, reduce, where=mask, keepdims=True) for a in arrays)
        if axis_name is None:
            return mus if len(mus) > 1 else mus[0]
        if len(mus) > 1:  # one collective for both, as flax does
            stacked = lax.pmean(jnp.stack(mus), axis_name, axis_index_groups=groups)
            return tuple(stacked[i] for i in range(len(mus)))
        return lax.pmean(mus[0], axis_name, axis_index_groups=groups)

    if fast:
        mu, mu2 = mean(xs, lax.square(xs))
        return mu, jnp.maximum(0.0, mu2 - lax.square(mu))
    mu = mean(xs)
    return mu, mean(lax.square(xs - mu))


def _normalize(x, mu, var, gamma, beta, eps):
    """flax's ``_normalize`` order: ``(x − μ) · (rsqrt(var + ε) · γ) + β``, in the dtype jnp's
    promotion gives (x's, the statistics' and the parameters' dtypes); also returns the
    inverse standard deviation ``rsqrt(var + ε)``."""
    inv = lax.rsqrt(var + eps)
    return (x - mu) * (inv * gamma) + beta, inv


def _train_plain(x, gamma, beta, mask, eps, reduce, sdt, fast, axis_name, groups, out_dtype):
    """Plain training forward (differentiated by autodiff); outputs (y, mu, var)."""
    mu, var = _stats(x.astype(sdt), reduce, mask, fast, axis_name, groups)
    y, _ = _normalize(x, mu, var, gamma, beta, eps)
    return y.astype(out_dtype), mu, var


@partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6, 7, 8, 9, 10))
def _train_closed_form(x, gamma, beta, mask, eps, reduce, sdt, fast, axis_name, groups, out_dtype):
    return _train_plain(x, gamma, beta, mask, eps, reduce, sdt, fast, axis_name, groups, out_dtype)


def _train_fwd(x, gamma, beta, mask, eps, reduce, sdt, fast, axis_name, groups, out_dtype):
    mu, var = _stats(x.astype(sdt), reduce, mask, fast, axis_name, groups)
    y, _ = _normalize(x, mu, var, gamma, beta, eps)
    # Keep x (not x − μ, x̂): the smallest residual; the backward recomputes x̂ in one fused op.
    # It divides by std = √(var + ε) rather than multiplying by the forward's rsqrt: on XLA:CPU
    # (jax 0.10) sharing rsqrt(var + ε)·γ between the passes made XLA materialise its
    # broadcast, 1.5× slower on the NHWC benchmark; dividing keeps the book's speed.
    std = jnp.sqrt(var + eps)
    return (y.astype(out_dtype), mu, var), (x, mu, std, gamma, beta, mask)


def _train_bwd(eps, reduce, sdt, fast, axis_name, groups, out_dtype, res, cts):
    """The book's closed-form backward, with its sums gathered into two.

    The book (N = batch, xc = x − μ, x̂ = xc/std)::

        dβ = Σ dy;  dγ = Σ x̂·dy;  dx̂ = γ·dy;  dxc = dx̂/std;  dstd = −Σ dx̂·xc/std²
        dvar = 0.5·dstd/std;  dxc += (2/N)·xc·dvar;  dμ = Σ dxc;  dx = dxc − dμ/N

    Substituting (Σ xc = 0, so dμ = γ·Σdy/std) gives the same gradient as

        dx = (γ/std) · (dy − Σdy/N − x̂ · Σ(x̂·dy)/N) = (γ/std) · (dy − (dβ + x̂·dγ)/N)

    which needs only dβ and dγ (one fused pass over x and dy) and one elementwise pass, where
    the book's order needs three dependent passes; that is what makes it faster than autodiff.
    In general μ = Σ aᵢ xᵢ and var = Σ aᵢ (xᵢ − μ)² with weights aᵢ summing to 1, and the same
    substitution gives dxᵢ = (γ/std)·(dyᵢ − aᵢ·(Σdy + x̂ᵢ·Σx̂·dy)), the sums over *every*
    element (a masked-out row's output still depends on μ and var): aᵢ = 1/N plain,
    maskᵢ/count with a mask, and 1/(D·local count) across D devices (each device's mean
    weighs 1/D, as ``lax.pmean`` does). The one-pass variance has the same derivative
    (clamping at 0 apart). ``tests/test_batchnorm*.py`` check it against the book's lines
    (NumPy port) and jax.grad for every option. Across devices the sums are global (psum
    within the groups); dγ, dβ of each device stay local, as autodiff gives them.
    """
    x, mu, std, gamma, beta, mask = res
    # mu and var leave the layer only through stop_gradient (the running statistics), so
    # their cotangents are zero and are ignored here.
    dy = cts[0].astype(jnp.result_type(x, mu, gamma, beta))  # the dtype y was computed in
    xhat = (x - mu) / std
    dbeta = jnp.sum(dy, reduce, keepdims=True)
    dgamma = jnp.sum(xhat * dy, reduce, keepdims=True)
    if mask is None:
        weight, n = None, math.prod(x.shape[a] for a in reduce)
    else:
        weight = jnp.broadcast_to(mask, x.shape).astype(mu.dtype)
        n = jnp.sum(weight, reduce, keepdims=True)
    sum_dy, sum_xhat_dy = dbeta, dgamma
    if axis_name is not None:
        sum_dy, sum_xhat_dy = lax.psum((dbeta, dgamma), axis_name, axis_index_groups=groups)
        n = n * (len(groups[0]) if groups else axis_size(axis_name))
    centred = (sum_dy + xhat * sum_xhat_dy) / n
    dx = (gamma / std) * (dy - (centred if weight is None else weight * centred))
    dgamma, dbeta = (_match_vma(d, p, x, axis_name) for d, p in ((dgamma, gamma), (dbeta, beta)))
    return dx.astype(x.dtype), dgamma.astype(gamma.dtype), dbeta.astype(beta.dtype), None


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
    mask: Array | None = None,
    dtype: Any = None,
    use_fast_variance: bool = False,
    axis_index_groups: Sequence[Sequence[int]] | None = None,
) -> tuple[Array, State]:
    r"""Batch Normalization forward; returns ``(y, new_state)``.

    Training, with the batch's biased statistics over every axis except ``axis`` (see the
    module docstring for layouts):

    .. math::
        \mu = \frac{1}{N}\sum_i x_i, \qquad
        \sigma^2 = \frac{1}{N}\sum_i (x_i - \mu)^2, \qquad
        y = (x - \mu)\,\bigl(\mathrm{rsqrt}(\sigma^2 + \varepsilon)\,\gamma\bigr) + \beta

    (the book's :math:`\gamma (x - \mu)/\sqrt{\sigma^2 + \varepsilon} + \beta`, computed in
    flax's order so the outputs are flax's bit for bit), and
    ``new_state = momentum * state + (1 - momentum) * (mu, var)``. Inference (``train=False``):
    the running statistics replace ``(mu, var)`` and ``state`` is returned unchanged.
    Defaults are the book's: ``momentum=0.9``, ``eps=1e-6`` (the book's ``10e-7``).

    - ``axis_name``: average the batch statistics across devices (``pmap``/``shard_map``) with
      ``lax.pmean``; N devices then match one device on the concatenated batch (outputs, running
      statistics and gradients).
    - ``axis_index_groups``: with ``axis_name``, average within each group of device indices
      only, e.g. ``[[0, 1], [2, 3]]`` normalises devices 0–1 and 2–3 separately (groups of
      equal size; ``pmap`` only, as ``lax.pmean``'s argument). flax: ``axis_index_groups``.
    - ``mask``: a boolean array broadcastable to ``x``; the statistics use only its True
      entries (padded batches), :math:`\mu = \sum_i m_i x_i / \sum_i m_i`,
      :math:`\sigma^2 = \sum_i m_i (x_i - \mu)^2 / \sum_i m_i`, and every entry is then
      normalised with them. A feature with no True entry gets NaN statistics, as in flax.
      Across devices each device's masked mean weighs the same (flax's ``pmean``). Ignored in
      inference. flax: ``BatchNorm.__call__(..., mask=mask)``.
    - ``use_fast_variance``: one pass,
      :math:`\sigma^2 = \max\bigl(0, \tfrac{1}{N}\sum_i x_i^2 - \mu^2\bigr)`, instead of
      two. It loses precision for inputs far from zero (cancellation); off by default (flax's
      default is on). flax: ``use_fast_variance``.
    - ``dtype``: the output dtype (default: ``x``'s); the statistics are computed in
      ``promote_types(dtype, float32)`` (default ``promote_types(x.dtype, float32)``), as flax's
      ``dtype``. flax's default output is ``result_type(x, scale, bias)`` instead: for bf16
      ``x`` with float32 parameters flax returns float32 where jaxlearn keeps bf16; pass
      ``dtype=jnp.float32`` for flax's.
    - ``backward='closed_form'``: the book's backward as a ``jax.custom_vjp`` (default: it
      needs two reductions where autodiff needs more, and times faster than autodiff and flax
      in ``benchmarks/bench_batchnorm.py``), for every option above; ``'autodiff'``:
      ``jax.grad`` of the plain forward. They agree to float rounding. A traced ``eps`` always
      uses autodiff.
    - Precision: bf16/f16 ``x`` gives bf16/f16 ``y`` (unless ``dtype``); statistics are
      computed in float32 at least.
    - Gradients flow to ``x``, ``gamma`` and ``beta``; ``state`` gets none (``stop_gradient``).
    - Errors (raised on static shapes before any work): ``ValueError`` for a feature-size
      mismatch, rank < 2, bad ``axis``, a training batch of one (every gradient through it would
      be 0), a ``mask`` that does not broadcast to ``x``, ``axis_index_groups`` without
      ``axis_name`` or of unequal sizes; ``TypeError`` for a non-boolean ``mask`` or a
      non-floating ``dtype``.

    flax equivalent: ``flax.linen.BatchNorm(use_running_average=not train, axis=axis,
    momentum=momentum, epsilon=eps, dtype=dtype, use_fast_variance=use_fast_variance,
    axis_name=axis_name, axis_index_groups=axis_index_groups)`` called with ``mask=mask``: the
    same outputs and running statistics bit for bit (flax keeps the state in a
    ``batch_stats`` collection instead of returning it).

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
        >>> padded = jnp.array([[1.0, 10.0], [3.0, 30.0], [0.0, 0.0]])  # last row: padding
        >>> y, _ = batch_norm(padded, params, batchnorm_init(2)[1], train=True,
        ...                   mask=jnp.array([[True], [True], [False]]))
        >>> print(jnp.round(y[:2], 3))  # the statistics of the first two rows only
        [[-1. -1.]
         [ 1.  1.]]
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
    out_dtype = _check_dtype(dtype, x.dtype)
    if not isinstance(use_fast_variance, (bool, np.bool_)):
        raise TypeError(f"use_fast_variance must be a bool, got {type(use_fast_variance).__name__}")
    mask = _check_mask(mask, x.shape)
    groups = _check_groups(axis_index_groups, axis_name)

    bshape = tuple(x.shape[a] if a in feature else 1 for a in range(x.ndim))

    def bcast(leaf):  # feature-shaped (or flat) leaf -> broadcastable against x
        return jnp.reshape(leaf, bshape)

    gamma, beta = bcast(params["gamma"]), bcast(params["beta"])
    if not train:

        def running(stat):  # in its own dtype, at least float32 (flax's are float32)
            stat = bcast(lax.stop_gradient(state[stat]))
            return stat.astype(compute_dtype(stat.dtype))

        y, _ = _normalize(x, running("mean"), running("var"), gamma, beta, eps)
        return y.astype(out_dtype), state

    n = math.prod(x.shape[a] for a in reduce)
    if axis_name is not None:
        n *= len(groups[0]) if groups else axis_size(axis_name)
    if n < 2:
        raise ValueError(
            f"batch_norm(train=True) got a batch of one (x shape {x.shape}, reduced axes "
            f"{reduce}): x - mean is 0 and every gradient through the layer would be 0. "
            "Use a batch of at least 2, or train=False"
        )

    sdt = compute_dtype(x.dtype if dtype is None else dtype)  # the statistics' dtype
    static = (reduce, sdt, bool(use_fast_variance), axis_name, groups, out_dtype)
    if backward == "closed_form" and is_concrete(eps):
        y, mu, var = _train_closed_form(x, gamma, beta, mask, float(eps), *static)
    else:
        y, mu, var = _train_plain(x, gamma, beta, mask, eps, *static)

    def update(old, batch):  # running statistics: no gradient, kept in the state's dtype/shape
        new = momentum * old + (1.0 - momentum) * jnp.reshape(batch, jnp.shape(old))
        return lax.stop_gradient(new).astype(jnp.result_type(old))

    new_state = {"mean": update(state["mean"], mu), "var": update(state["var"], var)}
    return y, new_state


def _check_dtype(dtype: Any, x_dtype: Any) -> jnp.dtype:
    """The output dtype: ``dtype`` (a floating dtype) or x's."""
    if dtype is None:
        return jnp.dtype(x_dtype)
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"dtype must be None or a floating dtype, got {dtype!r}")
    return dt


def _check_mask(mask: Any, x_shape: tuple) -> Array | None:
    """None, or a boolean array that broadcasts to ``x_shape``."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    if mask.dtype != jnp.bool_:
        raise TypeError(f"mask must be a boolean array, got dtype {mask.dtype}")
    try:
        shape = jnp.broadcast_shapes(mask.shape, x_shape)
    except ValueError:
        shape = None
    if shape != tuple(x_shape):
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to x's shape {x_shape}")
    return mask


def _check_groups(groups: Any, axis_name: Any) -> tuple[tuple[int, ...], ...] | None:
    """None, or the groups as a tuple of equal-sized tuples of ints (hashable, for custom_vjp)."""
    if groups is None:
        return None
    if axis_name is None:
        raise ValueError("axis_index_groups needs axis_name (the axis whose devices it groups)")
    try:
        out = tuple(tuple(operator.index(i) for i in g) for g in groups)
    except TypeError:
        out = None
    if not out or not out[0] or any(len(g) != len(out[0]) for g in out):
        raise ValueError(
            f"axis_index_groups must be non-empty groups of device indices of equal size, "
            f"got {groups!r}"
        )
    return out
