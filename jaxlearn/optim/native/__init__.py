r"""Single-pass CPU kernels behind the fused optimizer step, still a pure JAX transformation.

The C++ kernels (``kernels.cc``, ``loops.inc``, called through ``jax.ffi``) make one pass per
leaf that reads W, g and the state once and writes W and the state once, in place, vectorised,
on XLA's intra-op thread pool, where XLA:CPU moves 10–11 arrays for Adam's 7. They are the CPU
implementation of :func:`jaxlearn.optim.update_and_apply` for jaxlearn's rules (so of
``fused_step``, ``make_step``, flat mode and the training step), with the XLA path as the
reference and the automatic fallback, leaf by leaf. ``jit``, ``vmap``, ``grad`` and
``shard_map`` work unchanged.

By concern: ``_library.py`` loads the library, reads its table of kernels and holds the on/off
switch and the status; ``_dispatch.py`` decides which leaves go to which kernel call;
``_ffi.py`` makes the call. ``README.md`` beside this file says how to add a kernel;
``docs/native.md`` is the one description of when the kernels apply (and when XLA does), why
their results are bit-identical to the XLA path on a CPU with FMA, and how they are built.
"""

from jaxlearn.optim.native._dispatch import run_rule
from jaxlearn.optim.native._library import (
    ENV_VAR,
    native_available,
    native_status,
    use_kernels,
)

__all__ = ["ENV_VAR", "native_available", "native_status", "run_rule", "use_kernels"]
