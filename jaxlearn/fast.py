"""Performance entry points: the fused step, donated jitted steps and the flat multi-tensor mode.

Everything here computes exactly what the chapter's API computes (``opt.update`` then
``jl.apply_updates``), only with fewer passes over memory or fewer buffers:

- :func:`fused_step` / :func:`make_step` — one optimizer step (``jl.update_and_apply``:
  ``(W + ΔW, new_state)``, ``W + ΔW`` computed inside each rule's per-leaf pass), or a whole
  gradient-and-update step, as a ``jax.jit`` function that *donates* the parameters and
  optimizer state, so XLA updates them in place;
- :func:`flat`, :func:`ravel`, :class:`FlatBuffers`, :class:`FlatTransformation` — multi-tensor
  mode: a whole pytree as one
  1-D buffer per dtype, so a tree of thousands of small leaves costs a handful of loops;
- :func:`native_available`, :func:`native_status` — whether the fused step runs on CPU through
  the compiled single-pass kernels (``docs/native.md``), and why not.

``benchmarks/README.md`` measures each against optax, PyTorch and the book's NumPy code.

>>> import jax.numpy as jnp, jaxlearn as jl
>>> from jaxlearn import fast
>>> step = fast.fused_step(jl.sgd(0.5))
>>> params = {'w': jnp.ones(2)}
>>> params, state = step(params, jl.sgd(0.5).init(params), {'w': jnp.ones(2)})
>>> params['w']
Array([0.5, 0.5], dtype=float32)
"""

from jaxlearn.optim.flat import FlatBuffers, FlatTransformation, flat, ravel
from jaxlearn.optim.fused import fused_step, make_step
from jaxlearn.optim.native import native_available, native_status

__all__ = [
    "FlatBuffers",
    "FlatTransformation",
    "flat",
    "fused_step",
    "make_step",
    "native_available",
    "native_status",
    "ravel",
]
