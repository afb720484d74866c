"""Hyper-parameters kept in the optimizer state: one compiled step for every value, ``vmap``-able.

``inject_hyperparams(factory)(lr=0.1)`` builds ``factory(lr=0.1)`` but keeps ``lr`` as an array in
the optimizer state and rebuilds the rule from the state on every update. So

* changing ``lr`` between steps is a change of data (``state.hyperparams['lr'] = …``): no
  recompilation;
* K configurations with K learning rates are one ``vmap`` over ``init``::

      opt = inject_hyperparams(jl.sgd)
      states = jax.vmap(lambda lr, p: opt(lr=lr).init(p))(lrs, stacked_params)

  and every configuration's update reads its own ``lr`` from its own state. This is how
  :func:`jaxlearn.train.train_many` trains K learning rates (and weight-decay λ) at once.

It is jaxlearn's twin of ``optax.inject_hyperparams`` (which also accepts jaxlearn's rules), with
two differences: it keeps the rule's fused ``update_and_apply`` step, and callable arguments
(schedules) are passed to the factory as they are rather than evaluated per step (jaxlearn's
rules evaluate schedules themselves).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlearn._checks import per_configuration
from jaxlearn.optim.base import PyTree, Transformation, apply_updates, as_scalar

__all__ = ["HyperparamsState", "Injected", "inject_hyperparams"]


class HyperparamsState(NamedTuple):
    """The state of an injected optimizer.

    Attributes:
      hyperparams: ``{name: 0-d array}``, the factory's numeric arguments (float32, or float64
        under x64). Replace a value to change it for the following steps.
      inner_state: the state of ``factory(**hyperparams)``.
    """

    hyperparams: dict[str, jax.Array]
    inner_state: Any


@dataclasses.dataclass(frozen=True)
class Injected:
    """``factory`` with its numeric arguments moved into the optimizer state.

    Calling it, ``Injected(factory)(**arguments)``, gives the ``(init, update)`` pair; the
    ``update`` and ``update_and_apply`` methods need no arguments, since they read them from the
    state. Two ``Injected`` of the same factory compare equal, so a compiled program keyed on
    one is reused for the other (and for any values).
    """

    factory: Callable[..., optax.GradientTransformation]

    def __call__(self, **arguments: Any) -> Transformation:
        numeric = {k: v for k, v in arguments.items() if _is_number(v)}
        static = {k: v for k, v in arguments.items() if not _is_number(v)}
        this = self if not static else Injected(_with_static(self.factory, static))

        def init(params: PyTree) -> HyperparamsState:
            return HyperparamsState(
                {k: as_scalar(v) for k, v in numeric.items()},
                self.factory(**static, **numeric).init(params),
            )

        transformation = Transformation(init, this.update)
        transformation.update_and_apply = this.update_and_apply
        transformation.rule = None
        transformation.hyperparams = dict(arguments)
        return transformation

    def inner(self, state: HyperparamsState) -> optax.GradientTransformation:
        """The rule built from the hyper-parameters held in ``state``."""
        if not isinstance(state, HyperparamsState):
            raise TypeError(
                f"inject_hyperparams({_name(self.factory)}): state must be a HyperparamsState "
                f"(from this optimizer's init), got {type(state).__name__}"
            )
        return self.factory(**state.hyperparams)

    def update(
        self, grads: PyTree, state: HyperparamsState, params: PyTree | None = None, **extra: Any
    ) -> tuple[PyTree, HyperparamsState]:
        """``(updates, new_state)`` of the rule built from ``state.hyperparams``."""
        inner = optax.with_extra_args_support(self.inner(state))
        updates, inner_state = inner.update(grads, state.inner_state, params, **extra)
        return updates, state._replace(inner_state=inner_state)

    def update_and_apply(
        self, grads: PyTree, state: HyperparamsState, params: PyTree, **extra: Any
    ) -> tuple[PyTree, HyperparamsState]:
        """``(params + updates, new_state)``, through the rule's fused step when it has one."""
        inner = self.inner(state)
        fused = getattr(inner, "update_and_apply", None)
        if fused is not None:
            new_params, inner_state = fused(grads, state.inner_state, params)
        else:
            updates, inner_state = optax.with_extra_args_support(inner).update(
                grads, state.inner_state, params, **extra
            )
            new_params = apply_updates(params, updates)
        return new_params, state._replace(inner_state=inner_state)


def _is_number(value: Any) -> bool:
    """A value that goes into the state: a real number or numeric 0-d array. Bools (flags such
    as RMSprop's ``centered``), strings and dtypes (``mu_dtype="bfloat16"``), None and
    callables (schedules) are passed to the factory as they are, as optax does."""
    if isinstance(value, (bool, np.bool_)) or callable(value):
        return False
    if isinstance(value, numbers.Real):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.number) and dtype != jnp.bool_


def _with_static(factory: Callable, static: Mapping[str, Any]) -> Callable:
    def build(**numeric: Any) -> optax.GradientTransformation:
        return factory(**static, **numeric)

    build.__name__ = _name(factory)
    return build


def _name(factory: Callable) -> str:
    return getattr(factory, "__name__", type(factory).__name__)


def inject_hyperparams(factory: Callable[..., optax.GradientTransformation]) -> Injected:
    r"""``factory`` with its numeric arguments kept in the optimizer state.

    .. math:: \mathrm{state} = (\{\eta, \dots\},\ s), \qquad
        (\Delta W, s') = \mathrm{factory}(\eta, \dots).\mathrm{update}(g, s, W)

    ``inject_hyperparams(factory)(**arguments)`` is an ``(init, update)`` pair (plus the fused
    ``update_and_apply``) equal to ``factory(**arguments)`` step for step; numbers go into
    ``state.hyperparams`` (as float32 0-d arrays, float64 under x64); callables (schedules),
    bools (``centered=True``), dtypes and strings (``mu_dtype="bfloat16"``) and None are
    passed through unchanged. ``factory`` is any function returning an optax
    ``GradientTransformation``: a jaxlearn rule (``jl.adam``), an optax alias (``optax.adam``)
    or your own (e.g. ``lambda lr, weight_decay: optax.chain(jl.add_weight_decay(weight_decay),
    jl.sgd(lr))``).

    optax equivalent: ``optax.inject_hyperparams(factory)(**arguments)`` (same idea; optax also
    evaluates callable arguments per step and drops the fused step).

    >>> import jax, jax.numpy as jnp, jaxlearn as jl
    >>> opt = inject_hyperparams(jl.sgd)(lr=0.1)
    >>> params = {'w': jnp.ones(2)}
    >>> state = opt.init(params)
    >>> state.hyperparams['lr']
    Array(0.1, dtype=float32)
    >>> params, state = opt.update_and_apply({'w': jnp.ones(2)}, state, params)
    >>> params['w']
    Array([0.9, 0.9], dtype=float32)
    >>> lrs = jnp.array([0.0, 0.5])   # two configurations, one vmap over init
    >>> states = jax.vmap(lambda lr: inject_hyperparams(jl.sgd)(lr=lr).init(params))(lrs)
    >>> states.hyperparams['lr']
    Array([0. , 0.5], dtype=float32)
    """
    if not callable(factory) or hasattr(factory, "init"):
        raise TypeError(
            "inject_hyperparams needs a factory that builds an optimizer (jl.sgd, optax.adam, "
            f"your own function), got {type(factory).__name__}"
        )
    return Injected(factory)


def stack_hyperparams(values: Mapping[str, Any], k: int) -> dict[str, jax.Array]:
    """``{name: (k,) array}`` from scalars (repeated) or length-k sequences, checked.

    >>> stack_hyperparams({'lr': 0.1, 'weight_decay': [0.0, 1e-3]}, 2)['lr']
    Array([0.1, 0.1], dtype=float32)
    """
    out = {}
    for name, value in values.items():
        if callable(value):
            raise TypeError(
                f"hyperparams[{name!r}]: per-configuration values must be numbers, got a "
                "callable (pass schedules to the factory, not as a varied hyper-parameter)"
            )
        out[name] = per_configuration(f"hyperparams[{name!r}]", value, k, jnp.result_type(float))
    return out
