"""Noisy test functions: an ill-conditioned quadratic and three two-dimensional landscapes.

Their "data" is noise: each example is a noise vector, and a mini-batch's loss is the mean of
per-example losses, so the gradient is the true one plus zero-mean noise whose size falls with
the batch — the stochastic setting of a real network, with a landscape one can reason about.
The validation and test splits hold fresh noise (the quadratic) or no noise at all (the 2-D
functions: one zero example, so the metric is the function itself).

- :class:`NoisyQuadratic`: DeepOBS's ``quadratic_deep`` idea — ``½(θ − x)ᵀ Q (θ − x)`` in 100
  dimensions with 90 Hessian eigenvalues in (0, 1) and 10 in (30, 60) (the "bulk and outliers"
  spectrum reported for deep networks), rotated by a fixed random rotation; θ starts at 1.
- :class:`NoisyFunction2D`: ``f(u, v) + u·x + v·y`` with ``(x, y) ~ N(0, σ²)`` per example, as
  DeepOBS's ``two_d_*`` problems: Rosenbrock from (−0.5, 1.5), Beale from (−4.5, 4.5), and the
  book's ``f(x, y) = x²/20 + y²`` from (−7, 2).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from jaxlearn.suite.problem import Problem, Target

Array = jax.Array

__all__ = ["FUNCTIONS_2D", "NoisyFunction2D", "NoisyQuadratic", "quadratic_hessian"]


@functools.lru_cache(maxsize=4)
def quadratic_hessian(dim: int, seed: int) -> np.ndarray:
    """``Q = Rᵀ diag(λ) R``: 90 % of the eigenvalues uniform in (0, 1), 10 % in (30, 60), ``R``
    a Haar-random rotation (``scipy.stats.special_ortho_group``), all from ``seed``.

    >>> q = quadratic_hessian(10, 0)
    >>> bool(np.allclose(q, q.T)), int((np.linalg.eigvalsh(q) > 30).sum())
    (True, 1)
    """
    rng = np.random.default_rng(seed)
    n_big = dim // 10
    eigenvalues = np.concatenate([rng.uniform(0, 1, dim - n_big), rng.uniform(30, 60, n_big)])
    rotation = scipy.stats.special_ortho_group.rvs(dim, random_state=rng)
    return (rotation.T * eigenvalues) @ rotation


@dataclasses.dataclass(frozen=True)
class NoisyQuadratic(Problem):
    r"""``L(θ; x) = ½ (θ − x)ᵀ Q (θ − x)``, ``x ~ N(0, σ² I)``, θ₀ = 1 (DeepOBS's
    ``quadratic_deep``). The metric ``'loss'`` is that per-example value; its minimum in
    expectation is ``½ σ² tr Q`` at θ = 0."""

    name: str = "quadratic"
    description: str = "noisy ill-conditioned quadratic, 100-D (DeepOBS quadratic_deep)"
    dim: int = 100
    noise: float = 0.6
    train_size: int = 1000
    eval_size: int = 1000
    seed: int = 42
    batch_size: int = 128
    steps: int = 1000
    eval_every: int = 50
    quick_steps: int = 200
    target: Target = Target("loss", "min", 84.0)
    quick_target: Target = Target("loss", "min", 90.0)

    def init(self, key: Array) -> tuple[dict, dict]:
        return {"theta": jnp.ones(self.dim, jnp.float32)}, {}

    def _losses(self, theta: Array, x: Array) -> Array:
        q = jnp.asarray(quadratic_hessian(self.dim, self.seed), jnp.float32)
        d = theta - x
        return 0.5 * jnp.einsum("bi,ij,bj->b", d, q, d)

    def loss(self, params, state, x, t, *, train, key=None, axis_name=None):
        return jnp.mean(self._losses(params["theta"], x)), state

    def metrics(self, params, state, x, t):
        return {"loss": self._losses(params["theta"], x)}

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(self.seed + 1)
        out = {}
        for split, n in (("train", self.train_size), ("valid", self.eval_size),
                         ("test", self.eval_size)):  # fmt: skip
            x = (self.noise * rng.standard_normal((n, self.dim))).astype(np.float32)
            out[split] = (x, np.zeros(n, np.float32))
        return out


def rosenbrock(u: Array, v: Array) -> Array:
    """``(1 − u)² + 100 (v − u²)²``; minimum 0 at (1, 1)."""
    return (1 - u) ** 2 + 100 * (v - u**2) ** 2


def beale(u: Array, v: Array) -> Array:
    """``(1.5 − u + uv)² + (2.25 − u + uv²)² + (2.625 − u + uv³)²``; minimum 0 at (3, 0.5)."""
    return (1.5 - u + u * v) ** 2 + (2.25 - u + u * v**2) ** 2 + (2.625 - u + u * v**3) ** 2


def book_function(u: Array, v: Array) -> Array:
    """The book's ``f(x, y) = x²/20 + y²`` (figure 6-8's landscape); minimum 0 at (0, 0)."""
    return u**2 / 20 + v**2


#: name -> (function, starting point)
FUNCTIONS_2D: dict[str, tuple[Any, tuple[float, float]]] = {
    "rosenbrock": (rosenbrock, (-0.5, 1.5)),
    "beale": (beale, (-4.5, 4.5)),
    "book_function": (book_function, (-7.0, 2.0)),
}


@dataclasses.dataclass(frozen=True)
class NoisyFunction2D(Problem):
    r"""``L(u, v; x, y) = f(u, v) + u·x + v·y`` with ``(x, y) ~ N(0, σ²)`` per training example
    (DeepOBS's noisy 2-D problems); validation and test are the noiseless ``f`` (one zero
    example). ``function`` names one of :data:`FUNCTIONS_2D`; the metric is ``'f'``."""

    function: str = "rosenbrock"
    noise: float = 1.0
    train_size: int = 10_000
    seed: int = 7
    batch_size: int = 128
    steps: int = 1000
    eval_every: int = 20
    quick_steps: int = 200

    def init(self, key: Array) -> tuple[dict, dict]:
        u, v = FUNCTIONS_2D[self.function][1]
        return {"u": jnp.float32(u), "v": jnp.float32(v)}, {}

    def _values(self, params, x):
        f = FUNCTIONS_2D[self.function][0]
        u, v = params["u"], params["v"]
        return f(u, v) + u * x[:, 0] + v * x[:, 1]

    def loss(self, params, state, x, t, *, train, key=None, axis_name=None):
        return jnp.mean(self._values(params, x)), state

    def metrics(self, params, state, x, t):
        return {"f": self._values(params, x)}

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        x = (self.noise * rng.standard_normal((self.train_size, 2))).astype(np.float32)
        zero = (np.zeros((1, 2), np.float32), np.zeros(1, np.float32))
        return {"train": (x, np.zeros(len(x), np.float32)), "valid": zero, "test": zero}
